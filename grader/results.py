"""What grading produces: one CheckResult per check, one ExerciseResult per exercise, and
for `verify` one Verification per exercise.

Everything downstream (the student report, the exports) is a pure function of these.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field, fields
from typing import Any


class Outcome(enum.Enum):
    PASSED = "passed"
    FAILED = "failed"
    TIMED_OUT = "timed out"
    ERRORED = "could not run"
    SKIPPED = "skipped"


FAILING = (Outcome.FAILED, Outcome.TIMED_OUT, Outcome.ERRORED)


@dataclass(frozen=True)
class Check:
    """What a check is, as every result of it says: made once, when checks are collected
    (its points and visibility then final), and carried to every export."""

    name: str
    """The check's function name: stable, used in exports and corpus labels."""
    description: str
    """The sentence the student reads (the check's docstring)."""
    points: float = 1.0
    """What the check is worth; it scores all of them or none."""
    hidden: bool = False
    """Hidden checks show only their name and outcome to students."""


@dataclass(frozen=True)
class CheckResult:
    """One check's result. Its fields are what grade.json and the results channel hold:
    results saved by any earlier grader must still load (see from_dict)."""

    name: str
    """The check's function name: stable, used in exports and corpus labels."""
    description: str
    """The sentence the student reads (the check's docstring)."""
    outcome: Outcome
    points: float = 1.0
    """What the check is worth; it scores all of them or none."""
    hidden: bool = False
    """Hidden checks show only their name and outcome to students."""
    rationale: str = ""
    """Why it failed, in one sentence."""
    expected: str | None = None
    actual: str | None = None
    steps: tuple[str, ...] = ()
    """The script that led to the failure: who connected, sent, received."""
    server_output: str = ""
    """The student's server output that matters, trimmed."""
    help: str | None = None
    """A hint tailored to this failure."""
    detail: str = ""
    """Instructor-only detail, such as a grader traceback."""
    duration: float = 0.0
    waited_for: str = ""
    """For a check skipped because one it builds on did not pass: that check's name."""

    @classmethod
    def of(cls, check: Check, outcome: Outcome, **facts: Any) -> CheckResult:
        """The result of `check`: the one way the engine makes one (`facts` are the
        fields below `hidden`: rationale, steps, duration…)."""
        return cls(
            name=check.name,
            description=check.description,
            outcome=outcome,
            points=check.points,
            hidden=check.hidden,
            **facts,
        )

    @property
    def check(self) -> Check:
        return Check(self.name, self.description, self.points, self.hidden)

    @property
    def passed(self) -> bool:
        return self.outcome is Outcome.PASSED

    @property
    def score(self) -> float:
        return self.points if self.passed else 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["steps"] = list(self.steps)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values["outcome"] = Outcome(values["outcome"])
        values["steps"] = tuple(values.get("steps", ()))
        return cls(**values)


class Submitted(enum.Enum):
    """What the student handed in for an exercise."""

    FILE = "file"
    MISSING = "missing"
    """No file for the exercise."""
    UNCHANGED = "unchanged starter"
    """The starter, untouched."""
    REFUSED = "not gradable"
    """Something that cannot be graded (a binary file, a link out of the folder…)."""


@dataclass(frozen=True)
class ExerciseResult:
    exercise: str
    title: str
    checks: tuple[CheckResult, ...] = ()
    error: str | None = None
    """Why the submission could not run at all (syntax error, no `app`, …)."""
    error_detail: str = ""
    duration: float = 0.0
    hints: tuple[str, ...] = field(default=(), compare=False)
    submitted: Submitted = Submitted.FILE
    flags: tuple[str, ...] = ()
    """What the instructor should look at, whatever the grade: a file graded under a
    near-miss name, a submission identical to the reference or to another student's."""

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.checks) and all(c.passed for c in self.checks)

    @property
    def status(self) -> str:
        """One word or two for a gradebook: passed, failed, could not run, missing…"""
        if self.passed:
            return "passed"
        if self.submitted is not Submitted.FILE:
            status: str = self.submitted.value  # narrowing makes it Any to mypy (#14092)
            return status
        return "could not run" if self.error else "failed"

    @property
    def reason(self) -> str:
        """Why it did not pass, in one line: the error, or the first check that failed."""
        if self.passed:
            return ""
        if self.error:
            return self.error
        failed = next((c for c in self.checks if c.outcome in FAILING), None)
        return f"{failed.description} {failed.outcome.value}: {failed.rationale}" if failed else ""

    @property
    def score(self) -> float:
        return sum(c.score for c in self.checks)

    @property
    def max_score(self) -> float:
        return sum(c.points for c in self.checks)

    def to_dict(self) -> dict[str, Any]:
        return {
            "exercise": self.exercise,
            "title": self.title,
            "checks": [c.to_dict() for c in self.checks],
            "error": self.error,
            "error_detail": self.error_detail,
            "duration": self.duration,
            "score": self.score,
            "max_score": self.max_score,
            "passed": self.passed,
            "submitted": self.submitted.value,
            "flags": list(self.flags),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ExerciseResult:
        return cls(
            exercise=data["exercise"],
            title=data["title"],
            checks=tuple(CheckResult.from_dict(c) for c in data["checks"]),
            error=data.get("error"),
            error_detail=data.get("error_detail", ""),
            duration=data.get("duration", 0.0),
            submitted=Submitted(data.get("submitted", "file")),
            flags=tuple(data.get("flags", ())),  # absent from results saved before flags
        )


@dataclass(frozen=True)
class Verification:
    """`verify` on one exercise: its reference solution and its untouched starter, graded."""

    exercise: str
    solution: ExerciseResult
    starter: ExerciseResult
    starter_may_pass: bool = False
    """The manifest's `skip_check_unsolved`: a passing starter is then no surprise."""

    @property
    def ok(self) -> bool:
        """The kit is sound here: the solution passes, and the starter fails (unless it
        may pass), so a student has something to do and a way to do it."""
        return self.solution.passed and (self.starter_may_pass or not self.starter.passed)
