"""What one check's run comes to: its CheckResult, from what pytest reported, what the
check raised and what its servers said and saw."""

from __future__ import annotations

import traceback
from pathlib import Path
from typing import TypedDict

import pytest

from grader import diagnosis, trimming
from grader.checks import CheckSpec, Failure, ServerErrors
from grader.client import ACCEPTED
from grader.grading import Grading
from grader.launcher import Launcher
from grader.results import CheckResult, Outcome
from grader.server import CouldNotStart


class CheckTimedOut(Exception):
    pass


class _ServerContext(TypedDict, total=False):
    """What the servers of a failed check said; nothing for a check without servers."""

    steps: tuple[str, ...]
    server_output: str


def result(
    spec: CheckSpec,
    report: pytest.TestReport,
    error: BaseException | None,
    launcher: Launcher | None,
    grading: Grading,
) -> CheckResult:
    check = spec.check
    duration = round(report.duration, 3)
    if report.skipped:
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        waited_for = next(
            (p for p in spec.depends if grading.outcomes.get(p) is not Outcome.PASSED), ""
        )
        return CheckResult.of(
            check,
            Outcome.SKIPPED,
            rationale=reason.removeprefix("Skipped: "),
            waited_for=waited_for if grading.could_not_start is None else "",
            duration=duration,
        )
    if report.passed:  # the script is kept too: `compare` shows it beside a failing one
        steps = tuple(launcher.transcript) if launcher else ()
        return CheckResult.of(check, Outcome.PASSED, steps=steps, duration=duration)
    if isinstance(error, CouldNotStart):
        return CheckResult.of(
            check,
            Outcome.ERRORED,
            rationale=f"the app could not start: {error.message}",
            detail=error.detail,
            duration=duration,
        )
    context, advice = _server_context(launcher, grading, error)
    if isinstance(error, Failure):
        return CheckResult.of(
            check,
            Outcome.FAILED,
            rationale=error.rationale,
            expected=error.expected,
            actual=error.actual,
            help=_help(advice, error.help)
            or (error.fallback if isinstance(error, ServerErrors) else None),
            duration=duration,
            **context,
        )
    if isinstance(error, CheckTimedOut):
        return CheckResult.of(
            check,
            Outcome.TIMED_OUT,
            rationale=str(error),
            help=_help(advice, None),
            duration=duration,
            **context,
        )
    detail = "".join(traceback.format_exception(error)) if error else str(report.longrepr)
    return CheckResult.of(
        check,
        Outcome.ERRORED,
        rationale="the grader hit an unexpected error (a bug in the kit; "
        "please tell your instructor)",
        detail=detail,
        duration=duration,
        **context,
    )


def _server_context(
    launcher: Launcher | None, grading: Grading, error: BaseException | None
) -> tuple[_ServerContext, diagnosis.Advice | None]:
    """What the servers of a failed check said, trimmed, and advice from the evidence."""
    if launcher is None or not launcher.servers:
        return {}, None
    outputs, parts = [], []
    for live, output, died in launcher.outputs:
        outputs.append(output)
        trimmed = trimming.trim(output, grading.student_file, grading.display)
        if died:
            trimmed = (trimmed + "\n" if trimmed else "") + f"(the server {died})"
        if trimmed and len(launcher.servers) > 1:
            trimmed = f"[server {live.label}]\n{trimmed}"
        parts.append(trimmed)
    caps_after = grading.sandbox.caps.events()
    parts += [f"({words})" for words in caps_after.since(launcher.caps_before)]
    frames = error.frames if isinstance(error, Failure) else None
    evidence = diagnosis.Evidence(
        events=launcher.events,
        output="\n".join(outputs),
        wanted=frames[0] if frames else None,
        got=frames[1] if frames else None,
        path=error.path if isinstance(error, Failure) else None,
        endpoint=grading.job.endpoint,
        about_errors=isinstance(error, ServerErrors),
        accepted=isinstance(error, Failure) and error.actual == ACCEPTED,
        source=grading.source,
        values=tuple(launcher.transcript.values),
    )
    context = _ServerContext(
        steps=tuple(launcher.transcript[-60:]),
        server_output="\n".join(p for p in parts if p),
    )
    return context, diagnosis.explain(evidence, Path(grading.display).name)


def _help(advice: diagnosis.Advice | None, own: str | None) -> str | None:
    """The evidence's advice first; the check's own help only where it adds to it."""
    if advice is None:
        return own
    if advice.complete or not own:
        return advice.text
    return f"{advice.text} {own}"
