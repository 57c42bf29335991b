"""Server output is cut down to what a student can act on, and evidence is turned into
advice (in the chat lesson's words: checks/_chat/advice.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import os

import pytest

import checks._chat.advice as chat
from grader import diagnosis, evidence, trimming
from grader.report import visible_whitespace

STUDENT = "/tmp/sandbox/broadcast.py"
TRACEBACK = f"""ERROR:    Exception in ASGI application
Traceback (most recent call last):
  File "/venv/site-packages/uvicorn/protocols/websockets/impl.py", line 10, in run_asgi
    result = await self.app(self.scope, self.asgi_receive, self.asgi_send)
  File "{STUDENT}", line 38, in websocket_endpoint
    await manager.broadcast(f"Client #{{client_id}} left")
  File "/venv/site-packages/starlette/websockets.py", line 85, in send
    raise WebSocketDisconnected(...)
starlette.websockets.WebSocketDisconnected: Cannot call "send" once a close message has been sent.
"""


def test_library_frames_fold_and_student_frames_stay() -> None:
    trimmed = trimming.trim(TRACEBACK, STUDENT)
    assert "broadcast.py, line 38, in websocket_endpoint" in trimmed
    assert "await manager.broadcast" in trimmed
    assert "site-packages" not in trimmed and "… 1 frames in libraries" in trimmed
    assert trimmed.endswith("once a close message has been sent.")


def test_a_repeated_error_is_shown_once_and_counted() -> None:
    trimmed = trimming.trim("hello from print\n" + TRACEBACK * 3, STUDENT)
    assert trimmed.count("Traceback") == 1
    assert "(the same error happened 2 more times)" in trimmed
    assert trimmed.startswith("hello from print")


def test_of_a_chain_only_the_last_traceback_is_kept() -> None:
    first = f"""Traceback (most recent call last):
  File "{STUDENT}", line 30, in websocket_endpoint
    data = await websocket.receive_text()
KeyError: 'first'

During handling of the above exception, another exception occurred:

"""
    trimmed = trimming.trim(first + TRACEBACK.split("\n", 1)[1], STUDENT)
    assert "KeyError" not in trimmed and "During handling" not in trimmed
    assert 'Cannot call "send"' in trimmed and trimmed.count("Traceback") == 1


def explain(events=(), **given) -> str | None:
    """The advice for this evidence; an event may be given as the fields of its line."""
    typed = [e if isinstance(e, evidence.Event) else evidence.parse(e) for e in events]
    advice = diagnosis.explain(diagnosis.Evidence(events=typed, **given), "broadcast.py")
    return advice.text if advice else None


def test_known_framework_errors_map_to_hints() -> None:
    assert "remove connections" in explain(output=TRACEBACK)
    assert explain(output="all quiet") is None
    assert trimming.has_errors(TRACEBACK) and not trimming.has_errors("INFO: ok")


def test_the_most_specific_evidence_wins_over_the_output() -> None:
    unawaited = {
        "kind": "unawaited",
        "what": "coroutine 'WebSocket.send_text' was never awaited",
        "line": 17,
        "code": "connection.send_text(message)",
    }
    said = explain(events=[unawaited], output=TRACEBACK)
    assert "`connection.send_text(message)` at broadcast.py line 17 is never awaited" in said
    assert "await connection.send_text(message)" in said


def test_a_loop_over_a_changed_collection_is_told_to_copy_what_it_loops_over() -> None:
    raised = {
        "kind": "raised",
        "error": "RuntimeError: dictionary changed size during iteration",
        "line": 37,
        "code": "for ws in self.rooms.get(room, {}):  # every member",
        "path": "/ws/lobby/amy",
    }
    said = explain(events=[raised])
    assert "changed size during iteration at broadcast.py line 37" in said
    assert "`for ws in list(self.rooms.get(room, {})):`" in said
    # Without the `for` line, the general hint.
    said = explain(events=[{**raised, "code": "await ws.send_text(message)"}])
    assert "Loop over a copy" in said and "list(self.rooms" not in said


def test_a_refused_handshake_is_explained_by_the_route_or_the_validation() -> None:
    no_route = {"kind": "refused", "path": "/ws/alice", "routes": ["/chat/{client_id}"]}
    said = explain(events=[no_route], path="/ws/alice")
    assert "No WebSocket route of your app matches /ws/alice: it has /chat/{client_id}" in said
    validation = {
        "kind": "refused",
        "path": "/ws/alice",
        "routes": ["/ws/{client_id}"],
        "route": "/ws/{client_id}",
        "close_code": 1008,
        "reason": "[{'type': 'int_parsing', 'loc': ['path', 'client_id'], 'msg': 'Input "
        "should be a valid integer', 'input': 'alice'}]",
        "parameters": {"client_id": "int"},
    }
    said = explain(events=[validation], path="/ws/alice?x=1")
    assert "client_id is declared `int`, and 'alice' is not valid" in said
    # A refusal on another path (a stranger turned away, say) explains nothing here.
    assert explain(events=[no_route], path="/ws/bob") is None


def test_frames_that_are_json_or_differ_in_spaces_or_case_are_named() -> None:
    assert "not `send_json(message)`" in explain(wanted="hi", got='"hi"')
    assert "only in spaces" in explain(wanted="a b", got="a  b")
    assert "upper and lower case" in explain(wanted="Hi", got="hi")
    assert explain(wanted="hi", got="bye") is None


def test_blocked_loop_names_the_longest_block_and_its_line() -> None:
    blocks = [
        {"kind": "blocked", "seconds": 0.12, "line": 3, "code": "x()"},
        {"kind": "blocked", "seconds": 0.31, "line": 17, "code": "time.sleep(0.3)"},
    ]
    said = explain(events=blocks)
    assert said.startswith("The event loop was blocked for 0.31 s at broadcast.py line 17")
    assert "`time.sleep(0.3)`" in said


def test_a_block_at_a_redis_call_without_await_blames_the_synchronous_client() -> None:
    advice = diagnosis.blocked_advice
    assert advice("self.publisher.publish(CHANNEL, payload)") == chat.SYNC_REDIS_ADVICE
    assert advice("for message in pubsub.listen():") == chat.SYNC_REDIS_ADVICE
    assert advice("await self.redis.publish(CHANNEL, payload)") == diagnosis.BLOCKED_ADVICE
    assert advice("async for message in pubsub.listen():") == diagnosis.BLOCKED_ADVICE
    assert advice("time.sleep(0.3)") == diagnosis.BLOCKED_ADVICE
    said = explain(events=[{"kind": "blocked", "seconds": 2.0, "line": 9, "code": "r.publish(m)"}])
    assert "`r.publish(m)`" in said and "`redis.asyncio`" in said


def test_exception_groups_and_uvicorn_error_lines_keep_the_students_frames() -> None:
    group = """ERROR:    Traceback (most recent call last):
  File "/lib/starlette/routing.py", line 677, in lifespan
    async with self.lifespan_context(app) as maybe_state:
  File "/tmp/sandbox/broadcast.py", line 80, in lifespan
    await manager.start()
ConnectionError: refused
  + Exception Group Traceback (most recent call last):
  |   File "/lib/anyio/_backends/_asyncio.py", line 767, in __aexit__
  |     raise BaseExceptionGroup(
  | ExceptionGroup: unhandled errors in a TaskGroup (1 sub-exception)
  +-+---------------- 1 ----------------
    | Traceback (most recent call last):
    |   File "/tmp/sandbox/broadcast.py", line 99, in reader
    |     raise ValueError("boom")
    | ValueError: boom
    +------------------------------------
"""
    trimmed = trimming.trim(group, STUDENT, "starter/broadcast.py")
    assert "broadcast.py, line 80, in lifespan" in trimmed
    assert "broadcast.py, line 99, in reader" in trimmed and "ValueError: boom" in trimmed
    assert "anyio" not in trimmed and "|" not in trimmed


def test_floods_are_capped() -> None:
    trimmed = trimming.trim("\n".join(f"line {n}" for n in range(1000)), STUDENT)
    assert len(trimmed.splitlines()) <= trimming.MAX_LINES + 1
    assert trimmed.startswith("… ") and trimmed.endswith("line 999")


def test_whitespace_only_differences_are_made_visible() -> None:
    assert visible_whitespace("Client #a:  hi", "Client #a: hi") == (
        "Client·#a:··hi",
        "Client·#a:·hi",
    )
    assert visible_whitespace("abc", "abd") == ("abc", "abd")


def test_long_frames_are_shown_around_their_first_difference() -> None:
    from grader.client import show_difference

    expected, actual = show_difference("x" * 3000, "x" * 2500 + "Q" + "x" * 499)
    assert "differ from character 2501" in expected and "Q" in actual and "Q" not in expected
    assert show_difference("short", b"\x00") == ("'short'", "a binary frame b'\\x00'")


def test_a_call_on_a_closed_connection_is_explained_by_what_closed_it() -> None:
    misuse = {
        "kind": "misuse",
        "error": 'Cannot call "send" once a close message has been sent.',
        "line": 22,
        "code": "await connection.send_text(message)",
        "path": "/ws/carol",
    }
    closed = {"after": "closed", "closed_line": 40, "closed_code": "await ws.close(1009)"}
    assert "whose client had left" in explain(events=[{**misuse, "after": "left"}])
    assert "whose endpoint had already returned" in explain(
        events=[{**misuse, "after": "returned"}]
    )
    said = explain(events=[{**misuse, **closed}])
    assert "closed at broadcast.py line 40 (`await ws.close(1009)`)" in said
    assert "remove it (disconnect) before closing it" in said
    by_task = explain(
        events=[{**misuse, **closed, "task_line": 9, "task_code": "create_task(w())"}]
    )
    assert "in the task started at broadcast.py line 9" in by_task and "Cancel it" in by_task
    receive = {**misuse, "error": 'Need to call "accept" first.', **closed}
    assert "`break` out of its loop" in explain(events=[receive])
    assert "never accepted" in explain(events=[{**receive, "after": ""}])


def test_a_task_that_died_and_an_exception_that_escaped_are_named_where_they_happened() -> None:
    died = {
        "kind": "died",
        "error": "TypeError: not int.",
        "line": 76,
        "code": "json.loads(data)",
        "task_line": 103,
        "task_code": "create_task(self.listen())",
    }
    said = explain(events=[died])
    assert said.startswith(
        "The task started at broadcast.py line 103 (`create_task(self.listen())`)"
    )
    assert "ended at broadcast.py line 76 (`json.loads(data)`) with TypeError: not int," in said
    raised = {"kind": "raised", "error": "KeyError: 'bob'", "line": 25, "path": "/ws/alice"}
    assert "was never sent" in explain(events=[raised])
    assert explain(events=[raised], about_errors=True).endswith("handler of /ws/alice.")
    digest = {
        **raised,
        "error": "TypeError: comparing strings with non-ASCII characters is not supported",
    }
    assert "token.encode()" in explain(events=[digest])


def test_a_route_with_its_parameters_swapped_is_named() -> None:
    routes = {"kind": "routes", "routes": ["/ws/{client_id}/{room}"]}
    said = explain(events=[routes], endpoint="/ws/{room}/{client_id}")
    assert (
        "Your route is `/ws/{client_id}/{room}`, but the exercise's is `/ws/{room}/{client_id}`"
        in said
    )
    assert explain(events=[routes], endpoint="/ws/{client_id}/{room}?token={t}") is None
    assert (
        explain(events=[{**routes, "routes": ["/ws/{a}/{b}"]}], endpoint="/ws/{room}/{client_id}")
        is None
    )


def test_a_shared_object_made_again_in_a_function_is_found_in_the_source(tmp_path) -> None:
    from grader.witness import Witness

    events = tmp_path / "server.events"
    with events.open("wb") as out:
        witness = Witness(out.fileno(), out.fileno(), "broadcast.py")
        witness.read_source(
            "manager = Manager()\n"
            "async def endpoint():\n    manager = Manager()\n"
            "def reset():\n    global manager\n    manager = Manager()\n"
            "def other():\n    manager = Other()\n",
            [],
        )
    found = evidence.read(events).events
    assert [(e.kind, e.line, e.function) for e in found] == [("shadowed", 3, "endpoint")]
    assert "makes a new `manager` each time it runs, instead of using the one made at line 1" in (
        explain(events=found)
    )


LIBRARY = """\
import asyncio

async def _read():
    raise ConnectionResetError("Connection lost")

async def listen():
    reader = asyncio.create_task(_read())  # the library's own task
    await asyncio.sleep(0)
    try:
        await reader
    except ConnectionResetError:
        pass
"""
APP = """\
import asyncio
import library

async def fails():
    raise ValueError("the app's own")

async def main():
    mine = asyncio.create_task(fails())
    await library.listen()
    await asyncio.gather(mine, return_exceptions=True)
"""


def test_a_task_a_library_starts_is_not_the_app_s_even_when_the_app_called_it(
    tmp_path, monkeypatch
) -> None:
    """Only tasks the student's own line asked for are watched: a client library's
    task that ends with an error (which the library handles) is its own business."""
    import importlib

    from grader.witness import Witness

    (tmp_path / "library.py").write_text(LIBRARY)
    (tmp_path / "app.py").write_text(APP)
    monkeypatch.syspath_prepend(str(tmp_path))
    app = importlib.import_module("app")
    events = tmp_path / "server.events"
    with events.open("wb") as out:
        witness = Witness(out.fileno(), out.fileno(), str(tmp_path / "app.py"))
        loop = asyncio.new_event_loop()
        loop.set_task_factory(witness.make_task)
        loop.run_until_complete(app.main())
        loop.close()
    died = [e for e in evidence.read(events).events if e.kind == "died"]
    assert [(e.error, e.task_line) for e in died] == [("ValueError: the app's own", 8)]


def test_forged_events_are_refused_whole_and_explain_nothing_wrongly(tmp_path) -> None:
    import json

    events = tmp_path / "server.events"
    forged = [
        {"kind": "blocked", "seconds": "forever", "line": "12", "code": 5},
        {"kind": "misuse", "line": 3, "error": ["x"], "after": {"a": 1}, "evil": "x" * 10},
        {"kind": "waiting", "tasks": [{"line": "x"}]},
        {"kind": "refused", "routes": "not a list", "parameters": {"a": 1}},
        [1, 2],
        {"kind": 7},
    ]
    lines = [json.dumps(e) for e in forged] + ["not json", "[" * 100_000, "x" * 5_000_000]
    events.write_text("\n".join(lines))
    reading = evidence.read(events)
    assert reading.events == [] and reading.refused == len(lines)
    assert explain(events=reading.events, path="/ws/alice", wanted="hi", got="bye") is None


def test_a_frame_made_by_a_template_with_the_wrong_fixed_text_names_that_line() -> None:
    lines = ["", 'await manager.broadcast(f"Client {client_id} joined")']
    said = explain(
        wanted="Client #alice joined", got="Client alice joined", source=lines, values=["alice"]
    )
    assert "made at broadcast.py line 2" in said and "'Client #… joined'" in said


def test_exceptions_are_explained_only_where_the_error_and_the_line_say_so() -> None:
    def raised(error: str, code: str, line: int = 3, lines: tuple[str, ...] = ()) -> str:
        event = {"kind": "raised", "error": error, "line": line, "code": code, "path": "/ws/a"}
        return explain(events=[event], source=lines)

    assert "send_text(…)" in raised("TypeError: string indices", "await ws.send(message)")
    assert "probably mean `receive_text`" in raised(
        "AttributeError: 'WebSocket' object has no attribute 'recv'", "await ws.recv()"
    )
    assert "`.get(…)`" in raised("KeyError: 'bob'", "ws = self.active[client_id]")
    # No advice fits every other error: the fact alone, never "handle this case".
    plain = raised("ValueError: bad", "x = int(data)")
    assert plain.endswith("was never sent.") and "handle this" not in plain
    lines = (
        "async def writer(queue):",
        "    message = queue.get()",
        '    print(message["text"])',
    )
    said = raised("TypeError: 'coroutine' object is not subscriptable", "", 3, lines)
    assert "`message` holds a coroutine" in said and "line 2" in said
    assert "write `await queue.get()`" in said


def test_an_await_missing_inside_a_plain_def_says_the_function_must_become_async() -> None:
    lines = ["def disconnect(self, websocket):", "    websocket.close()"]
    event = {
        "kind": "unawaited",
        "what": "coroutine 'WebSocket.close' was never awaited",
        "line": 2,
        "code": "websocket.close()",
    }
    said = explain(events=[event], source=lines)
    assert "Make it `async def disconnect`" in said and "every call of disconnect()" in said


def test_a_startup_that_never_ends_is_named_with_the_lines_it_waits_on() -> None:
    waiting = {
        "kind": "waiting",
        "tasks": [],
        "startup": [
            {"line": 121, "code": "await manager.start()"},
            {"line": 104, "code": "await self.listen()"},
        ],
    }
    said = explain(events=[waiting])
    assert said.startswith("Your app's startup never finished: it is still waiting at")
    assert "line 121 (`await manager.start()`), which waits at broadcast.py line 104" in said


def test_a_task_started_by_the_app_may_wait_on_a_close_without_blame() -> None:
    closing = {"line": 80, "code": "await websocket.close(code=1008)", "count": 1}
    background = {"kind": "waiting", "tasks": [{**closing, "background": True}]}
    assert explain(events=[background]) is None
    inline = {"kind": "waiting", "tasks": [{**closing, "background": False}]}
    assert "start it as a task" in explain(events=[inline])


def test_an_await_in_a_plain_def_that_stops_the_import_names_the_function() -> None:
    lines = ["class M:", "    def disconnect(self, ws):", "        await ws.close()"]
    message = "broadcast.py has a syntax error at line 3: 'await' outside async function"
    said = diagnosis.not_started(message, lines)
    assert said is not None and "make it `async def disconnect`" in said
    assert diagnosis.not_started("importing broadcast.py raised ValueError: x", lines) is None


def test_a_receive_dict_relayed_and_a_startup_that_raised_are_named() -> None:
    got = "Client #alice: {'type': 'websocket.receive', 'text': 'hello'}"
    assert "receive_text()" in explain(wanted="Client #alice: hello", got=got)
    failed = {
        "kind": "startup_failed",
        "error": "ConnectionError: refused",
        "line": 100,
        "code": "await self.redis.ping()",
    }
    said = explain(events=[failed])
    assert said.startswith("Your app's startup raised ConnectionError: refused at broadcast.py")
    assert "line 100 (`await self.redis.ping()`)" in said


HTTP_APP = """from fastapi import FastAPI

app = FastAPI()
rooms = {"lobby": {object(): "alice"}}


@app.get("/rooms")
async def list_rooms() -> dict[str, list[str]]:
    listed = {room: list(members) for room, members in rooms.items()}
    return listed


@app.get("/count")
def count() -> dict[str, int]:
    return {room: len(members) // 0 for room, members in rooms.items()}
"""


@pytest.fixture
def watched_http_app(tmp_path):
    """HTTP_APP, imported from tmp_path and watched: (app, its log, its events file)."""
    import importlib.util

    from grader.witness import Witness

    file = tmp_path / "rooms.py"
    file.write_text(HTTP_APP)
    spec = importlib.util.spec_from_file_location("http_rooms", file)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    log, events = tmp_path / "server.log", tmp_path / "server.events"
    log_fd = os.open(log, os.O_WRONLY | os.O_CREAT, 0o600)
    events_fd = os.open(events, os.O_WRONLY | os.O_CREAT, 0o600)
    witness = Witness(log_fd, events_fd, str(file))
    yield witness.app(module.app), log, events
    os.close(log_fd)
    os.close(events_fd)


def get(app, path: str) -> tuple[int, BaseException | None]:
    """GET `path` from an ASGI app: the status it answered, and what escaped it."""
    import asyncio

    scope = {
        **{"type": "http", "method": "GET", "path": path, "raw_path": path.encode()},
        **{"query_string": b"", "headers": [], "root_path": "", "scheme": "http"},
        **{"server": ("127.0.0.1", 80), "client": ("127.0.0.1", 1), "http_version": "1.1"},
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        sent.append(message)

    try:
        asyncio.run(app(scope, receive, send))
    except Exception as exc:
        return sent[0]["status"], exc
    return sent[0]["status"], None


def test_an_http_handler_s_exception_is_reported_at_the_student_s_line(
    watched_http_app, tmp_path
) -> None:
    import logging

    from grader.serving import not_reported
    from grader.witness import ASGI_ERROR

    app, log, events = watched_http_app
    status, error = get(app, "/count")
    assert status == 500 and isinstance(error, ZeroDivisionError)
    (raised,) = evidence.read(events).events
    assert raised == evidence.Raised(
        error="ZeroDivisionError: integer division or modulo by zero",
        line=15,
        code="return {room: len(members) // 0 for room, members in rooms.items()}",
        path="GET /count",
        answered=500,  # by the error middleware, for the handler
    )
    assert "Traceback" in log.read_text() and trimming.has_errors(log.read_text())
    trimmed = trimming.trim(log.read_text(), str(tmp_path / "rooms.py"), "rooms.py")
    assert "rooms.py, line 15, in count" in trimmed
    said = explain(events=[raised])
    assert said.startswith(
        "Your server raised ZeroDivisionError: integer division or modulo by zero at "
        "broadcast.py line 15 (`return {room: len(members) // 0 for room, members in "
        "rooms.items()}`) while answering GET /count, so the request got HTTP 500"
    )
    # What the error and the line say beyond doubt applies to a request as well.
    key = dataclasses.replace(raised, error="KeyError: 'lobby'", code="members = rooms[room]")
    said = explain(events=[key])
    assert "while answering GET /count" in said and "`.get(…)`" in said
    # uvicorn logs it too: that record is one too many, but one the witness missed is kept.
    record = logging.LogRecord("uvicorn.error", 40, "", 0, ASGI_ERROR + "\n", (), None)
    record.exc_info = (type(error), error, error.__traceback__)
    assert not not_reported(record)
    unseen = KeyError("lobby")
    record.exc_info = (KeyError, unseen, None)
    assert not_reported(record)


def test_an_answer_that_fails_response_validation_is_placed_at_the_handler_s_return(
    watched_http_app,
) -> None:
    app, log, events = watched_http_app
    status, error = get(app, "/rooms")
    assert status == 500 and type(error).__name__ == "ResponseValidationError"
    (raised,) = evidence.read(events).events
    assert raised == evidence.Raised(
        error="ResponseValidationError: response['lobby'][0]: Input should be a valid "
        "string, not an object",
        function="list_rooms",
        declared="dict[str, list[str]]",
        line=10,
        code="return listed",
        path="GET /rooms",
        answered=500,
    )
    # FastAPI's own message lists every error over many lines: it is logged in one, at
    # the return it refused, since no frame of the student's is left to show the place.
    trimmed = trimming.trim(log.read_text(), str(log.parent / "rooms.py"), "rooms.py")
    assert trimmed.endswith(
        "fastapi.exceptions.ResponseValidationError: what list_rooms() returned "
        "(File \"rooms.py\", line 10): response['lobby'][0]: Input should be a valid string, "
        "not an object"
    )
    assert explain(events=[raised]) == (
        "What list_rooms() returned at broadcast.py line 10 (`return listed`) does not fit "
        "its declared return type `dict[str, list[str]]`: response['lobby'][0]: Input should "
        "be a valid string, not an object. FastAPI checks what a route returns against that "
        "type and answers GET /rooms with HTTP 500 when it does not fit."
    )


def test_expect_no_errors_fails_when_an_http_handler_raised(watched_http_app) -> None:
    from grader.checks import ServerErrors
    from grader.client import LiveServer

    app, log, events = watched_http_app

    class Server:  # what LiveServer reads of a running server
        def log(self) -> str:
            return log.read_text()

        def events(self) -> list[evidence.Event]:
            return evidence.read(events).events

    live = LiveServer(Server())
    live.expect_no_errors()
    get(app, "/count")
    with pytest.raises(ServerErrors):
        live.expect_no_errors()
    log.write_text("")  # its traceback flooded out of the output: the report still counts
    with pytest.raises(ServerErrors):
        live.expect_no_errors()


def test_a_refusal_written_as_accept_then_close_names_both_lines() -> None:
    event = {
        "kind": "accepted_then_closed",
        "path": "/ws/bob",
        "line": 83,
        "code": "await websocket.accept()",
        "closed_line": 84,
        "closed_code": "await websocket.close(code=1008)",
    }
    said = explain(events=[event], path="/ws/bob?token=x", accepted=True)
    assert "accepted /ws/bob at broadcast.py line 83" in said and "line 84" in said
    assert explain(events=[event], path="/ws/alice", accepted=True) is None
    # A refusal of that path earlier in the check says nothing about an accepted one.
    refused = {"kind": "refused", "path": "/ws/bob", "route": "/ws/{id}", "line": 80}
    assert "refused" not in explain(events=[refused, event], path="/ws/bob", accepted=True)


def test_advice_for_another_cause_is_held_back() -> None:
    # A programming error inside a try is fixed, not caught.
    lines = ["try:", "    self.broadcast(x)", "except asyncio.QueueFull:", "    pass"]
    event = {"kind": "raised", "error": "RecursionError: maximum", "line": 2, "path": "/ws/a"}
    assert "catch" not in explain(events=[event], source=lines)
    network = {**event, "error": "ConnectionError: refused"}
    assert "does not catch ConnectionError" in explain(events=[network], source=lines)
    # Where a task waited says nothing about a frame that arrived but differs.
    waiting = {"kind": "waiting", "tasks": [{"line": 9, "code": "await r.publish(m)"}]}
    assert explain(events=[waiting], wanted="a", got="b") is None
    assert "still waiting" in explain(events=[waiting])
    # A loop that spun at a receive is told how it spins, not about time.sleep.
    assert "End the loop on WebSocketDisconnect" in diagnosis.blocked_advice(
        "data = await websocket.receive_text()"
    )


def test_a_dict_where_text_was_expected_names_the_receive_that_made_it() -> None:
    lines = ["def parse(data):", "    return data.startswith('@')", "data = await ws.receive()"]
    event = {
        "kind": "raised",
        "error": "AttributeError: 'dict' object has no attribute 'startswith'",
        "line": 2,
        "path": "/ws/a",
    }
    said = explain(events=[event], source=lines)
    assert "`receive()` at line 3" in said and "receive_text()" in said


def test_rules_are_asked_in_the_order_they_declare() -> None:
    assert [found.__name__ for _, found in sorted(diagnosis.RULES.items())] == [
        "_startup_failed",
        "_startup",
        "_shadowed",
        "_swapped_route",
        "_unawaited",
        "_misuse",
        "_died",
        "_refused",
        "_accepted_then_closed",
        "_blocked",
        "_raised",
        "_output",
        "_frames",
        "_copied",
        "_ended",
        "_waiting",
    ]
    with pytest.raises(ValueError, match="share rank 60"):
        diagnosis.rule(order=60)(lambda evidence, file_name: None)
    with pytest.raises(ValueError, match="no rule words a remedy named 'typo'"):
        diagnosis.register(wording={"typo": "x"})
