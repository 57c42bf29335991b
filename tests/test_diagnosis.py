"""Server output is cut down to what a student can act on."""

from __future__ import annotations

from grader import diagnosis
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
    trimmed = diagnosis.trim(TRACEBACK, STUDENT)
    assert "broadcast.py, line 38, in websocket_endpoint" in trimmed
    assert "await manager.broadcast" in trimmed
    assert "site-packages" not in trimmed and "… 1 frames in libraries" in trimmed
    assert trimmed.endswith("once a close message has been sent.")


def test_a_repeated_error_is_shown_once_and_counted() -> None:
    trimmed = diagnosis.trim("hello from print\n" + TRACEBACK * 3, STUDENT)
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
    trimmed = diagnosis.trim(first + TRACEBACK.split("\n", 1)[1], STUDENT)
    assert "KeyError" not in trimmed and "During handling" not in trimmed
    assert 'Cannot call "send"' in trimmed and trimmed.count("Traceback") == 1


def test_known_framework_errors_map_to_hints() -> None:
    assert "remove connections" in diagnosis.hint_for(TRACEBACK)
    assert diagnosis.hint_for("all quiet") is None
    assert diagnosis.has_errors(TRACEBACK) and not diagnosis.has_errors("INFO: ok")


def test_floods_are_capped() -> None:
    trimmed = diagnosis.trim("\n".join(f"line {n}" for n in range(1000)), STUDENT)
    assert len(trimmed.splitlines()) <= diagnosis.MAX_LINES + 1
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
