"""The student's lines, as the grader quotes them: read by the grader itself.

Events from the witness (witness.py) carry a line number and the code on it, both
written inside the student's process, which can write anything there: a hidden check's
inputs, say, for a visible check's message to show. So the grader never quotes that
text: it reads the line from its own copy of the submission, by number, and only a
number within the file.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

MAX_QUOTE = 200  # characters of a quoted line
MAX_SOURCE = 1 << 20  # bytes of the submission read

# Which field holds the code on which line, in an event.
_PAIRS = (
    ("line", "code"),
    ("closed_line", "closed_code"),
    ("task_line", "task_code"),
    ("target_closed_line", "target_closed_code"),
    ("from_line", "from_code"),
)


def source_lines(path: Path) -> tuple[str, ...]:
    """The lines of the grader's copy of the submission (none if it cannot be read)."""
    try:
        with path.open("rb") as file:
            return tuple(file.read(MAX_SOURCE).decode(errors="replace").splitlines())
    except OSError:
        return ()


def quote(source: Sequence[str], line: object) -> str:
    """Line `line` (from 1) of `source`, stripped and bounded; "" if there is none."""
    if not isinstance(line, int) or isinstance(line, bool) or not 0 < line <= len(source):
        return ""
    text = source[line - 1].strip()
    return text if len(text) <= MAX_QUOTE else text[: MAX_QUOTE - 1] + "…"


def ground(event: dict[str, Any], source: Sequence[str]) -> dict[str, Any]:
    """`event` with every quoted line read from `source`; a line number outside the
    file is dropped with its code."""
    grounded = dict(event)
    for line, code in _PAIRS:
        if line in grounded or code in grounded:
            text = quote(source, grounded.get(line))
            if text:
                grounded[code] = text
            else:
                grounded.pop(line, None)
                grounded.pop(code, None)
    for places in ("tasks", "startup"):
        if isinstance(grounded.get(places), list):
            grounded[places] = [
                {**place, "code": quote(source, place.get("line"))}
                for place in grounded[places]
                if isinstance(place, dict)
            ]
    return grounded
