"""The engine's own check, on every exercise: `never_blocks_event_loop`.

It judges the whole run, once every other check is done: from what each server's loop
was seen to do from outside (loopwatch.py) and what the witness inside it reported
(witness.py), quoted from the grader's own copy of the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from grader import diagnosis, loopwatch
from grader.results import Outcome
from grader.runwide import Verdict, run_wide

if TYPE_CHECKING:
    from grader.grading import Grading


@run_wide()
def never_blocks_event_loop(run: Grading) -> Verdict:
    """The server never blocks its event loop: while it serves one client, the others are
    not kept waiting (no time.sleep, no blocking call)."""
    run.loopwatch.close()
    rationale = loopwatch.verdict(
        run.witnessed, run.loopwatch.blocks(), run.source, Path(run.display).name
    )
    if rationale is not None:
        worst = loopwatch.worst_witnessed(run.witnessed, run.source)
        return Verdict(
            Outcome.FAILED, rationale, diagnosis.blocked_advice(worst.code if worst else "")
        )
    if Outcome.PASSED not in run.outcomes.values():
        return Verdict(Outcome.SKIPPED, "skipped until a check that puts the server to work passes")
    return Verdict(Outcome.PASSED)
