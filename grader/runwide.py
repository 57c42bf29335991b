"""Run-wide checks: judged once per run, after every other check, from what the whole
run showed rather than from a script of their own.

They are checks like any other to everything downstream: collected with the others
(each with its points, its sentence from its docstring), each with one result. The
engine's own, `never_blocks_event_loop` (see loopcheck.py), is one entry; a kit's
extension (see the manifest) may add more. Registering does not import pytest: the
grader's process counts their points too (see dist.total_points).

    @run_wide(points=1.0)
    def never_blocks_event_loop(run: Grading) -> Verdict:
        \"\"\"The server never blocks its event loop: …\"\"\"
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from grader.results import Check, CheckResult, Outcome

if TYPE_CHECKING:
    from grader.grading import Grading

# The engine's own, imported whenever the registry is read.
BUILT_IN = ("grader.loopcheck",)


@dataclass(frozen=True)
class Verdict:
    """What a run-wide check decided: its outcome, and why when it did not pass."""

    outcome: Outcome
    rationale: str = ""
    help: str | None = None


Judge = Callable[["Grading"], Verdict]


@dataclass(frozen=True)
class RunWide:
    check: Check
    judge: Judge


_REGISTRY: dict[str, RunWide] = {}


def run_wide(*, points: float = 1.0, hidden: bool = False) -> Callable[[Judge], Judge]:
    """Register a function as a run-wide check; its docstring is the sentence students
    read. It is called once every other check is done, unless the app never started."""

    def register(judge: Judge) -> Judge:
        doc = " ".join((judge.__doc__ or judge.__name__).split())
        check = Check(judge.__name__, doc, points=points, hidden=hidden)
        _REGISTRY[f"{judge.__module__}.{judge.__name__}"] = RunWide(check, judge)
        return judge

    return register


def registered(extensions: tuple[str, ...] = ()) -> tuple[RunWide, ...]:
    """The run-wide checks of a kit with these `extensions` (see Kit.extensions): the
    engine's own, then those the extensions registered, each imported if not yet."""
    for module in (*BUILT_IN, *extensions):
        importlib.import_module(module)
    # By module: a process that read several kits holds the run-wide checks of each.
    return tuple(
        entry
        for modules in (BUILT_IN, extensions)
        for entry in _REGISTRY.values()
        if _within(entry.judge.__module__, modules)
    )


def _within(module: str, packages: tuple[str, ...]) -> bool:
    return any(module == p or module.startswith(f"{p}.") for p in packages)


def judge(entry: RunWide, check: Check, grading: Grading) -> CheckResult:
    """`entry`'s result, as `check` (its points as the manifest has them)."""
    if grading.could_not_start is not None:
        return CheckResult.of(check, Outcome.SKIPPED, rationale=grading.could_not_start.message)
    verdict = entry.judge(grading)
    return CheckResult.of(check, verdict.outcome, rationale=verdict.rationale, help=verdict.help)
