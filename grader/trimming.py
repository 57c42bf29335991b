"""A server's output cut down to what a student can act on: their own prints, and of
each traceback their frames and the error.

Frames from libraries fold into one line, a traceback repeated is told once, a chain
keeps its last traceback (where the student's code failed), and the whole is bounded
(MAX_LINES lines of at most MAX_LINE characters, read from at most MAX_READ).
"""

from __future__ import annotations

import re

MAX_LINES = 24
MAX_READ = 1 << 20  # characters of output read at most: split, each line costs memory
MAX_LINE = 400  # characters of one line: a server may print a megabyte on one

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
    if len(output) > MAX_READ:  # a flood: only its end can be shown
        output = output[-MAX_READ:].partition("\n")[2]
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
