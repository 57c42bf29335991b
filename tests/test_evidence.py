"""The witness's evidence on the line: every kind reads back as written, and a line that
is not exactly one of them is refused whole, and counted."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import evidence
from grader.evidence import Refused

EXAMPLES: list[evidence.Event] = [
    evidence.Blocked(since=12.5, seconds=0.3, line=17, code="time.sleep(0.3)"),
    evidence.Unawaited(what="coroutine 'WebSocket.send_text' was never awaited", line=4),
    evidence.Misuse(
        error='Cannot call "send" once a close message has been sent.',
        count=4,
        line=22,
        code="await ws.send_text(m)",
        from_line=50,
        from_code="await hub.send_all(m)",
        path="/ws/carol",
        after="closed",
        closed_line=40,
        closed_code="await ws.close(1009)",
        task_line=9,
        task_code="create_task(w())",
    ),
    evidence.Raised(
        error="ResponseValidationError: response[0]: Input should be a valid string",
        path="GET /items",
        function="list_items",
        declared="list[str]",
        line=10,
        code="return items",
        target_path="/ws/bob",
        target_after="left",
        target_closed_line=3,
        target_closed_code="await ws.close()",
    ),
    evidence.Died(error="TypeError: x", count=2, line=76, task_line=103, task_code="t()"),
    evidence.Refusal(
        path="/ws/alice",
        routes=("/ws/{client_id}", "/other"),
        close_code=1008,
        reason="[{'loc': ['path', 'client_id']}]",
        route="/ws/{client_id}",
        parameters={"client_id": "int"},
        line=80,
        code="await websocket.close(code=1008)",
    ),
    evidence.Refusal(path="/ws/x", returned=True),
    evidence.AcceptedThenClosed(path="/ws/bob", line=83, code="a()", closed_line=84),
    evidence.Ended(path="/ws/alice", sent=2),
    evidence.StartupFailed(error="ConnectionError: refused", line=100, code="await r.ping()"),
    evidence.Waiting(
        tasks=(evidence.Task(line=9, code="await q.put(m)", count=3, background=True),),
        startup=(evidence.Spot(line=121, code="await start()"),),
    ),
    evidence.Routes(routes=("/ws/{id}",)),
    evidence.Copied(setting="MAX_CONNECTIONS", line=3, code="LIMIT = MAX_CONNECTIONS"),
    evidence.Shadowed(name="hub", function="endpoint", line=9, code="hub = Hub()", defined_line=2),
]


def test_every_kind_has_an_example() -> None:
    assert {e.kind for e in EXAMPLES} == set(evidence.KINDS)


@pytest.mark.parametrize("event", EXAMPLES, ids=lambda e: e.kind)
def test_each_kind_reads_back_as_written(event: evidence.Event) -> None:
    line = evidence.encode(event)
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert evidence.decode(line) == event
    assert evidence.parse(json.loads(line)) == event


@pytest.mark.parametrize(
    ("line", "why"),
    [
        ({"kind": "teleported", "line": 3}, "no kind of evidence is named 'teleported'"),
        ({"line": 3}, "no kind of evidence is named None"),
        ({"kind": 7}, "no kind of evidence is named 7"),
        ({"kind": "ended", "path": "/ws", "sent": 0, "evil": "x"}, "unknown field 'evil'"),
        ({"kind": "ended", "path": "/ws"}, "Ended: missing field 'sent'"),
        ({"kind": "blocked", "line": 0, "code": "", "seconds": 1e999, "since": 0}, "inf is not"),
    ],
)
def test_a_line_that_is_not_exactly_an_event_is_refused_and_says_why(
    line: dict[str, object], why: str
) -> None:
    with pytest.raises(Refused) as refused:
        evidence.decode(json.dumps(line))
    assert why in str(refused.value)


@pytest.mark.parametrize(
    ("fields", "why"),
    [
        ({"kind": "blocked", "seconds": "forever"}, "Blocked.seconds must be a number"),
        ({"kind": "blocked", "seconds": 1, "line": "12"}, "Blocked.line must be a whole number"),
        ({"kind": "blocked", "seconds": 1, "line": True}, "Blocked.line must be a whole number"),
        ({"kind": "misuse", "error": ["x"]}, "Misuse.error must be a string"),
        ({"kind": "routes", "routes": "/ws"}, "Routes.routes must be a list"),
        ({"kind": "routes", "routes": ["/ws", 5]}, "Routes.routes[1] must be a string"),
        ({"kind": "waiting", "tasks": [{"line": "x"}]}, "Task.line must be a whole number"),
        ({"kind": "waiting", "tasks": [{"where": 1}]}, "Task: unknown field 'where'"),
        ({"kind": "refused", "path": "/", "parameters": {"a": 1}}, "must be a string, not 1"),
    ],
)
def test_a_value_of_another_type_is_refused_and_named(fields: dict[str, object], why: str) -> None:
    with pytest.raises(Refused) as refused:
        evidence.parse(fields)
    assert why in str(refused.value)


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        "[1, 2]",
        '{"kind": "blocked", "seconds": Infinity}',
        '{"kind": "blocked", "seconds": NaN}',
        "[" * 100_000,
        '{"kind": "ended", "path": "' + "x" * evidence.MAX_EVENT + '"}',
        b'{"kind": "ended", "path": "\xff"}',
    ],
)
def test_what_is_no_json_object_within_bounds_is_refused(line: str | bytes) -> None:
    with pytest.raises(Refused):
        evidence.decode(line)


def test_texts_and_lists_are_cut_to_their_bounds() -> None:
    forged = {"kind": "routes", "routes": ["/" + "x" * 2000] * 200}
    assert evidence.decode(json.dumps(forged)) == evidence.Routes(
        routes=("/" + "x" * (evidence.MAX_TEXT - 1),) * evidence.MAX_ITEMS
    )


def test_the_witness_cuts_texts_and_lists_as_the_reader_does() -> None:
    routes = evidence.Routes(routes=("/" + "x" * 2000,) * 200)
    event = evidence.decode(evidence.encode(routes))
    assert isinstance(event, evidence.Routes)
    assert len(event.routes) == evidence.MAX_ITEMS
    assert len(event.routes[0]) == evidence.MAX_TEXT
    error = evidence.decode(evidence.encode(evidence.StartupFailed(error="e" * 10**6)))
    assert error == evidence.StartupFailed(error="e" * evidence.MAX_TEXT)


def test_a_reader_counts_what_it_refused_and_keeps_the_rest(tmp_path: Path) -> None:
    events = tmp_path / "server.events"
    good = evidence.encode(evidence.Ended(path="/ws/a"))
    events.write_bytes(good + b'{"kind": "ended"}\n\n' + b"{\n" + good)
    reading = evidence.read(events)
    assert reading.events == [evidence.Ended(path="/ws/a")] * 2
    assert reading.refused == 2 and reading.why[0] == "Ended: missing field 'path', 'sent'"
    assert evidence.read(tmp_path / "missing.events") == evidence.Reading()


def test_two_kinds_cannot_share_a_name() -> None:
    with pytest.raises(TypeError, match="two kinds"):

        class Again(evidence.Event, kind="ended"):
            pass


def test_what_the_witness_writes_reads_back_whole(tmp_path: Path) -> None:
    import asyncio
    from collections import Counter

    from fastapi import FastAPI

    from grader.witness import Witness

    app = FastAPI()

    @app.websocket("/ws/{client_id}")
    async def endpoint() -> None:
        pass

    events = tmp_path / "server.events"
    with events.open("wb") as out:
        witness = Witness(out.fileno(), out.fileno(), str(tmp_path / "app.py"))
        witness.routes(app)
        witness._blocked(1.0, 0.3, Counter({(3, "time.sleep(1)"): 5}))
        witness.read_source("LIMIT = MAX\n", ["MAX"])

        async def ask() -> None:
            witness.waiting()

        asyncio.run(ask())
    reading = evidence.read(events)
    assert reading.refused == 0, reading.why
    assert reading.events == [
        evidence.Routes(routes=("/ws/{client_id}",)),
        evidence.Blocked(since=1.0, seconds=0.3, line=3, code="time.sleep(1)"),
        evidence.Copied(setting="MAX", line=1, code="LIMIT = MAX"),
        evidence.Waiting(tasks=()),
    ]


def test_a_number_too_large_for_a_float_is_refused_and_counted_not_raised() -> None:
    reading = evidence.Reading()
    huge = '{"kind": "blocked", "seconds": 1' + "0" * 400 + ', "line": 0, "code": "", "since": 0}'
    assert reading.add(huge) is None
    assert reading.refused == 1 and "too large" in reading.why[0]
