"""Turn a server's raw output into what a student needs: their own frames and a hint.

Starlette and uvicorn raise precise errors for the classic WebSocket mistakes; the
table below maps each to advice in the lesson's words.
"""

from __future__ import annotations

import re

MAX_LINES = 24
MAX_LINE = 400  # characters of one line: a server may print a megabyte on one

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
        "The collection changed while broadcast() looped over it: loop over a copy.",
    ),
    (
        "RuntimeError: Expected ASGI message",
        "The endpoint sent or closed at the wrong moment of the WebSocket lifecycle.",
    ),
)

_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")
_FRAME = re.compile(r'^\s*File "(?P<file>[^"]+)", line (?P<line>\d+), in (?P<func>.+)$')


def hint_for(output: str) -> str | None:
    """The advice for the first known framework error in `output`, if any."""
    for needle, advice in HINTS:
        if needle in output:
            return advice
    return None


def trim(output: str, student_file: str) -> str:
    """Keep the student's own prints and, of each traceback, their frames and the error.

    Frames from libraries are folded into one line: the student cannot act on them.
    """
    kept: list[str] = []
    lines = output.splitlines()
    last_traceback = None
    seen: set[str] = set()
    repeats = 0
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("Traceback (most recent call last)"):
            i, block = _fold_traceback(lines, i + 1, student_file)
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
    return "\n".join(kept)


def _fold_traceback(lines: list[str], i: int, student_file: str) -> tuple[int, list[str]]:
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
                block.append(f"  {_short(match['file'])}, line {match['line']}, in {match['func']}")
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
