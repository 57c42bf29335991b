"""Errors the grader itself reports to the person at the keyboard.

    GraderError          something is wrong with how the grader was asked to run
    └── UsageError       a wrong exercise id, a missing path, a bad option (exit status 2)

A submission that fails or cannot run is never an exception here: it is a result
(see `results.py`). Every message ends with what to do next.
"""

from __future__ import annotations


class GraderError(Exception):
    """The grader cannot do what was asked; the message says why and what to do."""

    exit_code = 1


class UsageError(GraderError):
    """The command line names something that does not exist."""

    exit_code = 2
