"""An extension of the fake course, listed in a copy of its manifest by tests/test_runwide.py:
the checks process imports it before collecting checks, and the run-wide check it adds
is there to say so."""

from __future__ import annotations

from typing import Any

from grader.results import Outcome
from grader.runwide import Verdict, run_wide


@run_wide(points=0.5)
def extensions_are_imported(run: Any) -> Verdict:
    """The kit's extensions were imported before the checks were collected."""
    return Verdict(Outcome.PASSED)
