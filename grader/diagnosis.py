"""Turn what a server did into what a student needs: their own frames, and advice
that names the real cause.

`trim` cuts a server's output down to the student's own prints and frames. `explain`
reads the evidence of a failed check, the most specific first: what the grader's
witness saw inside the server (a coroutine never awaited, a call Starlette refused, a
handshake refused and why, the event loop blocked), then the server's output, then the
frames themselves (JSON where text was expected); only if none of it speaks does the
check's own help stand alone.
"""

from __future__ import annotations

import ast
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LINES = 24
MAX_LINE = 400  # characters of one line: a server may print a megabyte on one

# Framework errors in a server's output, and what they mean in the lesson's words.
HINTS: tuple[tuple[str, str], ...] = (
    (
        'Need to call "accept" first',
        "Call `await websocket.accept()` before sending or receiving on a connection.",
    ),
    (
        'Cannot call "send" once a close message has been sent',
        "A message was sent on a connection that had already closed: remove connections "
        "in disconnect() before broadcasting to the rest.",
    ),
    (
        "ClientDisconnected",
        "A message was sent to a client that had already gone: remove connections in "
        "disconnect() before broadcasting to the rest.",
    ),
    (
        'Cannot call "receive" once a disconnect message has been received',
        "The receive loop kept going after the client left: let WebSocketDisconnect end it.",
    ),
    (
        "x not in list",
        "disconnect() removed a connection that was not in the list: is it called twice?",
    ),
    (
        "changed size during iteration",
        "The collection changed while broadcast() looped over it: loop over a copy, "
        "`for connection in list(self.active_connections):`.",
    ),
    (
        "RuntimeError: Expected ASGI message",
        "The endpoint sent or closed at the wrong moment of the WebSocket lifecycle.",
    ),
)


@dataclass(frozen=True)
class Evidence:
    """What a failed check has to go on, besides the check's own help."""

    events: Sequence[dict[str, Any]] = ()
    """What the witnesses in the check's servers reported (see witness.py)."""
    output: str = ""
    """What the check's servers printed."""
    wanted: str | None = None
    got: str | bytes | None = None
    """The frame the check expected, and the one that arrived instead."""
    path: str | None = None
    """The path of the connection the check failed on, if it failed on one."""


@dataclass(frozen=True)
class Advice:
    text: str
    complete: bool = True
    """False for a plain fact ("your app refused it at line 12") that the check's own
    help should follow."""


def explain(evidence: Evidence, file_name: str) -> Advice | None:
    """Advice from what actually happened, the most specific evidence first."""
    for rule in RULES:
        advice = rule(evidence, file_name)
        if advice is not None:
            return advice
    return None


def _at(event: dict[str, Any], file_name: str) -> str:
    """ "broadcast.py line 17 (`time.sleep(0.3)`)" """
    if not event.get("line"):
        return "your code"
    code = f" (`{event['code']}`)" if event.get("code") else ""
    return f"{file_name} line {event['line']}{code}"


def _first(evidence: Evidence, kind: str) -> dict[str, Any] | None:
    return next((e for e in evidence.events if e.get("kind") == kind), None)


def _unawaited(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "unawaited")
    if event is None:
        return None
    name = re.search(r"coroutine '(?:\w+\.)*(\w+)'", event.get("what", ""))
    code = event.get("code") or (f"{name[1]}(…)" if name else "the call")
    return Advice(
        f"`{code}` at {file_name} line {event.get('line', '?')} is never awaited. Calling an "
        "async function only creates a coroutine, and nothing happens until it is awaited: "
        f"write `await {code}`."
    )


_MISUSES = (
    (
        'Cannot call "receive" once a disconnect message has been received',
        "The receive at {where} ran again after the client had left, {count} times: the "
        "receive loop must end on WebSocketDisconnect, and an `except` that catches it and "
        "carries on keeps the loop spinning.",
    ),
    (
        '"websocket.accept"',
        "{where} uses a connection that was never accepted: call `await websocket.accept()` "
        "first, in connect().",
    ),
    (
        'Need to call "accept" first',
        "{where} uses a connection that was never accepted: call `await websocket.accept()` "
        "first, in connect().",
    ),
    (
        'Cannot call "send" once a close message has been sent',
        "{where} sends on a connection that has already closed: remove a connection in "
        "disconnect() before broadcasting to the rest.",
    ),
)


def _misuse(evidence: Evidence, file_name: str) -> Advice | None:
    for event in evidence.events:
        if event.get("kind") != "misuse" or not event.get("line"):
            continue
        for needle, advice in _MISUSES:
            if needle in event.get("error", ""):
                counts = [
                    e.get("count", 1)
                    for e in evidence.events
                    if e.get("kind") == "misuse" and e.get("line") == event["line"]
                ]
                count = f"at least {max(counts)}" if max(counts) > 1 else "1"
                return Advice(advice.format(where=_at(event, file_name), count=count))
    return None


def _refused(evidence: Evidence, file_name: str) -> Advice | None:
    """Why the handshake the check failed on was refused."""
    path = (evidence.path or "").split("?")[0]
    refusals = [e for e in evidence.events if e.get("kind") == "refused" and e.get("path") == path]
    if not path or not refusals:
        return None
    event = refusals[-1]
    if "route" not in event:
        routes = ", ".join(event.get("routes") or []) or "none at all"
        return Advice(
            f"No WebSocket route of your app matches {path}: it has {routes}. Check the "
            "path in @app.websocket(...)."
        )
    problem = _validation(event.get("reason", ""))
    if problem is not None:
        name, message, value = problem
        declared = event.get("parameters", {}).get(name)
        as_declared = f"{name} is declared `{declared}`, and " if declared else ""
        return Advice(
            f"FastAPI refused {path} before your endpoint ran: {as_declared}{value!r} is "
            f"not valid ({message}). Declare it `{name}: str`: an id is any text."
        )
    if event.get("line"):
        return Advice(
            f"Your app refused {path} before accepting it, at {_at(event, file_name)}.", False
        )
    if event.get("returned"):
        return Advice(f"Your endpoint for {path} returned without accepting the connection.", False)
    return None


def _validation(reason: str) -> tuple[str, str, str] | None:
    """(parameter, message, value) from the close reason FastAPI gives a failed validation."""
    try:
        errors = ast.literal_eval(reason)
    except (ValueError, SyntaxError):
        return None
    for error in errors if isinstance(errors, list) else ():
        if isinstance(error, dict) and error.get("loc"):
            return str(error["loc"][-1]), str(error.get("msg", "")), str(error.get("input", ""))
    return None


BLOCKED_ADVICE = (
    "While the loop stands still no client is served: use `await asyncio.sleep(…)`, "
    "never `time.sleep(…)`, and run blocking work with `await asyncio.to_thread(…)`."
)


def _blocked(evidence: Evidence, file_name: str) -> Advice | None:
    blocks = [e for e in evidence.events if e.get("kind") == "blocked"]
    if not blocks:
        return None
    worst = max(blocks, key=lambda e: e.get("seconds", 0))
    return Advice(f"{_capital(blocked_words(worst, file_name))}. {BLOCKED_ADVICE}")


def _capital(text: str) -> str:
    return text[:1].upper() + text[1:]


def blocked_words(event: dict[str, Any], file_name: str) -> str:
    """ "the event loop was blocked for 0.30 s at broadcast.py line 17 (`time.sleep(0.3)`)" """
    seconds = event.get("seconds", 0)
    return f"the event loop was blocked for {seconds:.2f} s at {_at(event, file_name)}"


def _output(evidence: Evidence, file_name: str) -> Advice | None:
    for needle, advice in HINTS:
        if needle in evidence.output:
            return Advice(advice)
    return None


def _frames(evidence: Evidence, file_name: str) -> Advice | None:
    wanted, got = evidence.wanted, evidence.got
    if wanted is None or not isinstance(got, str):
        return None
    if got == json.dumps(wanted) or got == json.dumps(wanted, ensure_ascii=False):
        return Advice(
            "What arrived is the expected text encoded as JSON, in quotes: send it with "
            "`send_text(message)`, not `send_json(message)`."
        )
    if got.split() == wanted.split():
        return Advice("What arrived differs only in spaces: send the text exactly as given.")
    if got.lower() == wanted.lower():
        return Advice(
            "What arrived differs only in upper and lower case: send the text exactly as given."
        )
    return None


def _copied(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "copied")
    if event is None:
        return None
    setting = event.get("setting")
    return Advice(
        f"At {_at(event, file_name)} your module copies {setting} when it is imported. The checks "
        f"change {setting} after the import, as a deployment would, and the copy keeps the "
        f"old value: read {setting} where you use it, inside the function."
    )


def _ended(evidence: Evidence, file_name: str) -> Advice | None:
    event = _first(evidence, "ended")
    if event is None:
        return None
    sent = "without sending anything" if not event.get("sent") else "while the client was there"
    return Advice(
        f"Your endpoint for {event.get('path')} returned {sent}, and returning closes the "
        "connection.",
        False,
    )


# Where a chat's tasks rest when all is well: waiting for a client, or for work.
_IDLE = ("receive", "iter_text", ".get()", "sleep(", "wait_closed")


def _waiting(evidence: Evidence, file_name: str) -> Advice | None:
    """Where the server's tasks were stuck when nothing arrived: a send or a close
    first, then anything but the usual places to wait."""
    tasks = [t for e in evidence.events if e.get("kind") == "waiting" for t in e.get("tasks", [])]
    busy = [t for t in tasks if not any(idle in t.get("code", "") for idle in _IDLE)]
    busy.sort(key=lambda t: not any(w in t.get("code", "") for w in ("send", "close(")))
    if not busy:
        return None
    stuck = f"When the check gave up, your server was still waiting at {_at(busy[0], file_name)}."
    if ".close(" in busy[0].get("code", ""):
        return Advice(
            f"{stuck} A close waits until the client takes the close frame, which a client "
            "that does not read never does: start it as a task (`asyncio.create_task(…)`), "
            "keep the task, and do not wait for it."
        )
    return Advice(stuck, False)


RULES: tuple[Callable[[Evidence, str], Advice | None], ...] = (
    _unawaited,
    _misuse,
    _refused,
    _blocked,
    _output,
    _frames,
    _copied,
    _ended,
    _waiting,
)


_STARTS = ("Traceback", "ERROR:", "Exception Group Traceback")
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')


# Lines Python adds that tell a student nothing.
_NOISE = ("RuntimeWarning: Enable tracemalloc",)
# Exception groups draw their tracebacks in a margin of "|", with "+-+---- 1 ----" between.
_GROUP_MARGIN = re.compile(r"^\s*[|+] ?(?:\s*[|+] ?)*")
_GROUP_RULE = re.compile(r"^\s*\+[-+]+( \d+ -+)?\s*$")


def trim(output: str, student_file: str, shown_as: str | None = None) -> str:
    """Keep the student's own prints and, of each traceback, their frames and the error.

    Frames from libraries are folded into one line: the student cannot act on them.
    The student's file is named `shown_as` (where they keep it), not where it ran.
    """
    kept: list[str] = []
    lines = output.splitlines()
    if "Exception Group Traceback" in output:
        lines = [_GROUP_MARGIN.sub("", line) for line in lines if not _GROUP_RULE.match(line)]
    lines = [line for line in lines if not line.strip().startswith(_NOISE)]
    last_traceback = None
    seen: set[str] = set()
    repeats = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        # uvicorn logs some tracebacks on its "ERROR:" line; exception groups indent theirs.
        if "Traceback (most recent call last)" in line and line.lstrip().startswith(_STARTS):
            i, block = _fold_traceback(lines, i + 1, student_file, _short(shown_as or student_file))
            text = "\n".join(block)
            if text in seen:  # the same error again: say so once, at the end
                repeats += 1
                last_traceback = None
                if kept and kept[-1].startswith("ERROR:"):
                    kept.pop()
                continue
            seen.add(text)
            last_traceback = len(kept)
            kept.append(line)
            kept.extend(block)
            continue
        if line.startswith(_CHAINED):
            # Of a chain, the last traceback is where the student's code failed.
            if last_traceback is not None:
                del kept[last_traceback:]
            last_traceback = None
            i += 1
            continue
        if line.strip():
            kept.append(line)
        i += 1
    if repeats:
        kept.append(f"(the same error happened {repeats} more times)")
    kept = [_cut(line) for line in _dedupe_consecutive(kept)]
    if len(kept) > MAX_LINES:
        skipped = len(kept) - MAX_LINES
        kept = [f"… {skipped} earlier lines not shown"] + kept[-MAX_LINES:]
    text = "\n".join(kept)
    return text.replace(student_file, shown_as) if shown_as else text


def _fold_traceback(
    lines: list[str], i: int, student_file: str, name: str
) -> tuple[int, list[str]]:
    block: list[str] = []
    folded = 0
    while i < len(lines) and (lines[i].startswith(" ") or not lines[i].strip()):
        match = _FRAME.match(lines[i])
        if match:
            code = (
                lines[i + 1].strip()
                if i + 1 < len(lines) and not _FRAME.match(lines[i + 1])
                else ""
            )
            if match["file"] == student_file:
                if folded:
                    block.append(f"  … {folded} frames in libraries")
                    folded = 0
                block.append(f"  {name}, line {match['line']}, in {match['func']}")
                if code:
                    block.append(f"    {code}")
            else:
                folded += 1
        i += 1
    if folded:
        block.append(f"  … {folded} frames in libraries")
    # The error line ends the traceback; chained tracebacks repeat the pattern.
    if i < len(lines):
        block.append(lines[i])
        i += 1
    return i, block


def _cut(line: str) -> str:
    if len(line) <= MAX_LINE:
        return line
    return f"{line[:MAX_LINE]}… ({len(line) - MAX_LINE} more characters)"


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _dedupe_consecutive(lines: list[str]) -> list[str]:
    out: list[str] = []
    repeats = 0
    for line in lines:
        if out and line == out[-1]:
            repeats += 1
            continue
        if repeats:
            out.append(f"  (the line above repeated {repeats} more times)")
            repeats = 0
        out.append(line)
    if repeats:
        out.append(f"  (the line above repeated {repeats} more times)")
    return out


def has_errors(output: str) -> bool:
    """Whether the server logged an unhandled exception."""
    return (
        "Traceback (most recent call last)" in output or "Exception in ASGI application" in output
    )
