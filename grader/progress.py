"""A student's progress, kept in `.progress/state.json` beside the kit (not in git).

It remembers the last grading of each exercise of the student's own files (whether it
passed, and the first check they were shown failing), with the sha256 of the file that
was graded: a result whose file has changed since is stale and trusted by nobody, so a
file broken after it passed is never "done". It also remembers how many hints of each
exercise the student has seen, so that `make hint` can give one more each time, and
every command knows which exercise is current.
"""

from __future__ import annotations

import enum
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from grader import submission
from grader.manifest import Exercise, Kit
from grader.results import FAILING, ExerciseResult

STATE = Path(".progress") / "state.json"


class State(enum.Enum):
    """An exercise as the student's file stands now, by its last grading."""

    DONE = "done"
    FAILING = "failing"
    CHANGED = "changed since last check"
    NOT_STARTED = "not started"


@dataclass(frozen=True)
class Failing:
    """The first failing check of a grading that the student was shown (a hidden one is
    only counted), or the app that could not start: where `make hint` begins."""

    name: str
    description: str
    rationale: str = ""
    help: str | None = None
    """The hint the report printed under it, tailored to this failure."""


@dataclass(frozen=True)
class Record:
    """The last grading of one exercise, tied to the file it graded."""

    sha256: str
    passed: bool
    failing: Failing | None = None

    @classmethod
    def of(cls, result: ExerciseResult, sha256: str) -> Record:
        if result.passed:
            return cls(sha256, True)
        if result.error:
            return cls(sha256, False, Failing("the app starts", "The app starts.", result.error))
        check = next((c for c in result.checks if c.outcome in FAILING and not c.hidden), None)
        if check is None:  # only hidden checks fail: nothing the student may be shown
            return cls(sha256, False)
        failing = Failing(check.name, check.description, check.rationale, check.help)
        return cls(sha256, False, failing)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Record:
        failing = data.get("failing")
        return cls(data["sha256"], data["passed"], Failing(**failing) if failing else None)


def digest(path: Path) -> str:
    """The sha256 of the student's file as the grader reads it (see submission.read)."""
    contents = submission.read(path)
    if not contents.ok:  # still a state of its own: it goes stale when the file appears
        return "missing" if contents.missing else "not gradable"
    return hashlib.sha256(contents.data).hexdigest()


@dataclass
class Progress:
    graded: dict[str, Record] = field(default_factory=dict)
    hints_seen: dict[str, int] = field(default_factory=dict)
    help_seen: dict[str, str] = field(default_factory=dict)
    """Per exercise, the failing check's hint `make hint` showed last: shown once per failure."""

    @classmethod
    def load(cls, kit: Kit) -> Progress:
        # A state from before results were tied to files ("done": [...]) counts for nothing.
        try:
            data = json.loads((kit.root / STATE).read_text())
            return cls(
                graded={k: Record.from_dict(v) for k, v in data.get("graded", {}).items()},
                hints_seen=dict(data.get("hints_seen", {})),
                help_seen=dict(data.get("help_seen", {})),
            )
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return cls()

    def save(self, kit: Kit) -> None:
        path = kit.root / STATE
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    def record(self, exercise: Exercise, result: ExerciseResult, sha256: str) -> None:
        """Remember a grading of the file whose digest was `sha256` when it was read."""
        self.graded[exercise.id] = Record.of(result, sha256)

    def fresh(self, kit: Kit, exercise: Exercise) -> Record | None:
        """The last grading, if the file is still the one it graded."""
        record = self.graded.get(exercise.id)
        if record is None or record.sha256 != digest(kit.starter(exercise)):
            return None
        return record

    def state(self, kit: Kit, exercise: Exercise) -> State:
        if exercise.id not in self.graded:
            return State.NOT_STARTED
        record = self.fresh(kit, exercise)
        if record is None:
            return State.CHANGED
        return State.DONE if record.passed else State.FAILING

    def current(self, kit: Kit) -> Exercise | None:
        """The first exercise, in manifest order, that does not pass as its file is now."""
        return next((e for e in kit.exercises if self.state(kit, e) is not State.DONE), None)

    def next_hint(self, exercise: Exercise) -> tuple[int, str]:
        """The next unseen hint (1-based number, text); the last one repeats."""
        seen = self.hints_seen.get(exercise.id, 0)
        number = min(seen + 1, len(exercise.hints))
        self.hints_seen[exercise.id] = number
        return number, exercise.hints[number - 1]
