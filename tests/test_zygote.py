"""zygote: every request and reply crosses the socket as the same dataclass, anything else
is refused by name, and a zygote that answers out of turn is one the checks stop using."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator

import pytest

from grader import zygote
from grader.wire import WireError
from grader.zygote import (
    REPLIES,
    REQUESTS,
    Done,
    Ended,
    Failed,
    Refused,
    Reset,
    SandboxGone,
    Serve,
    Served,
    Signal,
    Status,
    Stop,
)

MESSAGES = [
    (REQUESTS, Serve(env={"REDIS_URL": "redis://x"}, overrides={"LIMIT": 2, "NAMES": ["a"]})),
    (REQUESTS, Signal(pid=7, signal=15)),
    (REQUESTS, Status(pid=7)),
    (REQUESTS, Stop(pid=7)),
    (REQUESTS, Reset()),
    (REPLIES, Served(pid=7)),
    (REPLIES, Ended(status=9)),
    (REPLIES, Ended(status=None)),
    (REPLIES, Done()),
    (REPLIES, Failed(error="OSError: no more processes")),
]


@pytest.mark.parametrize(("table", "message"), MESSAGES, ids=lambda m: type(m).__name__)
def test_every_operation_survives_the_trip_through_json_unchanged(
    table: dict, message: object
) -> None:
    data = json.loads(json.dumps(zygote.encode(message)))
    assert zygote.decode(table, data) == message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "explode"}, "unknown operation 'explode'"),
        ({"op": "reset"}, "unknown operation None"),
        ({"kind": "served", "pid": 7}, "unknown operation 'served'"),  # a reply is no request
        ({"kind": "stop", "pid": 7, "group": True}, "Stop: unknown field 'group'"),
        ({"kind": "signal", "pid": 7}, "Signal: missing field 'signal'"),
        ({"kind": "status", "pid": "7"}, "Status.pid must be a whole number, not '7'"),
        ({"kind": "serve", "env": {"A": 1}, "overrides": {}}, "Serve.env['A'] must be a string"),
    ],
)
def test_a_request_that_is_not_one_is_refused_naming_what_is_wrong(
    data: dict[str, object], message: str
) -> None:
    with pytest.raises(WireError, match=message.replace("(", r"\(").replace("[", r"\[")):
        zygote.decode(REQUESTS, data)


Talk = tuple[zygote.Zygote, socket.socket]


@pytest.fixture
def talk() -> Iterator[Talk]:
    """A Zygote whose other end is the test's socket (no process, no sandbox)."""
    ours, theirs = socket.socketpair()
    held = zygote.Zygote.__new__(zygote.Zygote)
    held._socket, held._lock, held._gone = ours, threading.Lock(), None
    held._why_gone = lambda: "gone"
    with theirs:
        yield held, theirs
    ours.close()


def answer(theirs: socket.socket, reply: dict[str, object]) -> threading.Thread:
    def serve() -> None:
        zygote.receive(theirs)
        zygote.send(theirs, reply)

    thread = threading.Thread(target=serve)
    thread.start()
    return thread


def test_a_reply_of_the_kind_asked_for_is_returned_typed(talk: Talk) -> None:
    held, theirs = talk
    answer(theirs, {"kind": "ended", "status": 0})
    assert held.request(Stop(7)) == Ended(0)


def test_a_failed_request_is_refused_with_the_zygote_s_reason(talk: Talk) -> None:
    held, theirs = talk
    answer(theirs, {"kind": "failed", "error": "OSError: no"})
    with pytest.raises(Refused, match="OSError: no"):
        held.request(Status(7))
    answer(theirs, {"kind": "done"})
    assert held.request(Reset()) == Done()  # still answering: it may be asked again


@pytest.mark.parametrize(
    "reply",
    [
        {"kind": "done"},  # a reply of another operation
        {"kind": "served", "pid": "7"},
        {"kind": "served", "pid": 7, "uid": 0},
        {"pid": 7},  # as a zygote answered before these types
    ],
)
def test_a_reply_that_does_not_fit_the_request_ends_the_conversation(
    talk: Talk, reply: dict[str, object]
) -> None:
    held, theirs = talk
    answer(theirs, reply)
    with pytest.raises(SandboxGone) as gone:
        held.request(Serve(env={}, overrides={}))
    assert not isinstance(gone.value, Refused)
    with pytest.raises(SandboxGone):  # and no later request is sent
        held.request(Reset())
