"""Grades in the formats other tools read; pure functions of finished results."""

from __future__ import annotations

from typing import Any

from grader.results import CheckResult, ExerciseResult

VISIBLE, AFTER_PUBLISHED = "visible", "after_published"


def gradescope(results: list[ExerciseResult]) -> dict[str, Any]:
    """Gradescope's autograder `results.json` shape: one test per check."""
    tests: list[dict[str, Any]] = []
    for exercise in results:
        if exercise.error:
            tests.append(
                {
                    "name": f"{exercise.exercise}: the app starts",
                    "score": 0,
                    "max_score": 0,
                    "status": "failed",
                    "output": exercise.error,
                    "visibility": VISIBLE,
                }
            )
        tests.extend(_gradescope_test(exercise, c) for c in exercise.checks)
    return {
        "score": sum(r.score for r in results),
        "max_score": sum(r.max_score for r in results),
        "execution_time": round(sum(r.duration for r in results), 3),
        "tests": tests,
    }


def _gradescope_test(exercise: ExerciseResult, check: CheckResult) -> dict[str, Any]:
    return {
        "name": f"{exercise.exercise}: {check.description}",
        "score": check.score,
        "max_score": check.points,
        "status": "passed" if check.passed else "failed",
        "output": failure_text(check),
        "visibility": AFTER_PUBLISHED if check.hidden else VISIBLE,
    }


def failure_text(check: CheckResult) -> str:
    """A failure as plain text: the same facts the terminal report shows."""
    if check.passed:
        return ""
    lines = [f"{check.outcome.value}: {check.rationale}"]
    if check.steps:
        lines += ["what happened:", *(f"  {s}" for s in check.steps)]
    if check.expected is not None:
        lines.append(f"expected: {check.expected}")
    if check.actual is not None:
        lines.append(f"arrived:  {check.actual}")
    if check.server_output:
        lines += ["server said:", *(f"  {s}" for s in check.server_output.splitlines())]
    if check.help:
        lines.append(f"hint: {check.help}")
    return "\n".join(lines)
