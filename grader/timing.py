"""How long checks wait: every bound is stretched by GRADER_TIME_SCALE on a slow machine.

Read when a wait starts, not at import, so a process that sets the variable late (a
test, a plugin) still gets what it asked for.
"""

from __future__ import annotations

import math
import os

VARIABLE = "GRADER_TIME_SCALE"


def parse(value: str) -> float:
    """A time scale from its text: a positive, finite number, or ValueError saying so."""
    try:
        scale = float(value)
    except ValueError:
        scale = math.nan
    if not (scale > 0 and math.isfinite(scale)):
        raise ValueError(f"{VARIABLE} must be a positive number, not {value!r}")
    return scale


def time_scale() -> float:
    """The scale in force (1 when unset; the command line refuses a bad value up front)."""
    try:
        return parse(os.environ.get(VARIABLE, "1"))
    except ValueError:
        return 1.0


def scaled(seconds: float) -> float:
    """`seconds`, stretched by the time scale."""
    return seconds * time_scale()


WITHIN = 2.0
"""How long a check waits for a frame, before scaling."""
CONNECT_WITHIN = 3.0
"""How long a check waits for a handshake, before scaling."""
