"""The student's lines, as the grader quotes them: read by the grader itself.

Events from the witness (evidence.py) carry a line number and the code on it, both
written inside the student's process, which can write anything there: a hidden check's
inputs, say, for a visible check's message to show. So the grader never quotes that
text: it reads the line from its own copy of the submission, by number, and only a
number within the file.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

MAX_QUOTE = 200  # characters of a quoted line
MAX_SOURCE = 1 << 20  # bytes of the submission read

E = TypeVar("E", bound="DataclassInstance")  # an event (evidence.py), or a part of one


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


def ground(event: E, source: Sequence[str]) -> E:
    """`event` with every quoted line read from `source` (each pair of fields `line`
    and `code`, `<what>_line` and `<what>_code`, in the events inside it too); a line
    number outside the file is dropped with its code (0 and "")."""
    changes: dict[str, Any] = {}
    names = {f.name for f in dataclasses.fields(event)}
    for name in names:
        value = getattr(event, name)
        if name == "line" or name.endswith("_line"):
            code = name.removesuffix("line") + "code"
            if code in names:
                text = quote(source, value)
                changes[name], changes[code] = (value, text) if text else (0, "")
        elif isinstance(value, tuple) and any(dataclasses.is_dataclass(v) for v in value):
            changes[name] = tuple(ground(v, source) for v in value)
    return dataclasses.replace(event, **changes)
