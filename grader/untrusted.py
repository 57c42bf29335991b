"""What a submission wrote, handled as untrusted: read with bounds, shown made safe.

Reading. Whatever the student's code can reach (its report pipe, its events, the zygote
it can take over, without a sandbox even the results file) may hold a line of any length
or depth. `json.loads` answers a deep one with RecursionError and a huge one with
MemoryError, which callers expecting ValueError would take for a bug in the kit; and a
value that parses but nests deeply can still overflow the stack of whatever walks it
later. Here each of those is a ValueError: the data was not what the grader expects.

Showing. Text that came from a submission (its output, its frames, the names of its
files and folders) is shown in a terminal, a web page, a spreadsheet so that it reads
as what it is: no control sequence acts, and no invisible character (a bidirectional
override or mark, a zero-width space, a line separator) hides or reorders what is
shown. Each is shown as its escape instead: \\x1b, \\u200e.
"""

from __future__ import annotations

import json
import re
from typing import Any

MAX_DEPTH = 32  # no message the grader exchanges nests deeper than a few levels


def loads(data: bytes | str, limit: int) -> Any:
    """`data` as JSON, if it is at most `limit` long and nests at most MAX_DEPTH deep;
    otherwise ValueError."""
    if len(data) > limit:
        raise ValueError(f"longer than {limit} bytes")
    try:
        value = json.loads(data)
    except (RecursionError, MemoryError):
        raise ValueError("nested too deeply, or too large, to read") from None
    if depth(value) > MAX_DEPTH:
        raise ValueError(f"nested deeper than {MAX_DEPTH} levels")
    return value


def depth(value: Any) -> int:
    """How deeply lists and dicts nest in `value` (0 for a scalar); iterative, so a
    value of any depth is measured without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if isinstance(item, list):
            level += 1
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:  # deeper than that is known to be too deep
                stack.extend((child, level) for child in item)
    return deepest

# Control characters (but newline and tab); the bidirectional marks, embeddings,
# overrides and isolates (U+061C, U+200E-F, U+202A-E, U+2066-9) that can make text read
# differently from what it is; and what takes no room (soft hyphen, zero-width space
# and joiners, word joiner, invisible operators, byte order mark) or breaks a line
# unseen (U+2028, U+2029).
_UNSAFE = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e"
    "\u2060-\u206f\ufeff\ufff9-\ufffb]"
)


def escape_controls(text: str) -> str:
    """`text` with every control or invisible character made visible (ESC shows as \\x1b,
    a right-to-left mark as \\u200e)."""
    return _UNSAFE.sub(lambda m: _escape(m.group()), text)


def _escape(char: str) -> str:
    return repr(char)[1:-1] if not char.isprintable() else f"\\u{ord(char):04x}"


def invisible(char: str) -> bool:
    """Whether `char` is whitespace or shows as nothing (see escape_controls)."""
    return char.isspace() or _UNSAFE.fullmatch(char) is not None
