"""Reading JSON that a submission could have written: bounded, and never the kit's fault.

Whatever the student's code can reach (its report pipe, its events, the zygote it can
take over, without a sandbox even the results file) may hold a line of any length or
depth. `json.loads` answers a deep one with RecursionError and a huge one with
MemoryError, which callers expecting ValueError would take for a bug in the kit; and a
value that parses but nests deeply can still overflow the stack of whatever walks it
later. Here each of those is a ValueError: the data was not what the grader expects.
"""

from __future__ import annotations

import json
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
