"""A student's progress, kept in `.progress/state.json` beside the kit (not in git).

It remembers which exercises passed when the student last checked their own files,
and how many hints of each exercise they have seen, so that `make hint` can give
one more each time and every command knows which exercise is current.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grader.manifest import Exercise, Kit

STATE = Path(".progress") / "state.json"


@dataclass
class Progress:
    done: list[str] = field(default_factory=list)
    hints_seen: dict[str, int] = field(default_factory=dict)

    @classmethod
    def load(cls, kit: Kit) -> Progress:
        try:
            data = json.loads((kit.root / STATE).read_text())
            return cls(done=list(data.get("done", [])), hints_seen=dict(data.get("hints_seen", {})))
        except (OSError, ValueError):
            return cls()

    def save(self, kit: Kit) -> None:
        path = kit.root / STATE
        path.parent.mkdir(exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")

    def record(self, exercise: Exercise, passed: bool) -> None:
        if passed and exercise.id not in self.done:
            self.done.append(exercise.id)
        if not passed and exercise.id in self.done:
            self.done.remove(exercise.id)

    def current(self, kit: Kit) -> Exercise | None:
        """The first exercise not yet done, in manifest order."""
        return next((e for e in kit.exercises if e.id not in self.done), None)

    def next_hint(self, exercise: Exercise) -> tuple[int, str]:
        """The next unseen hint (1-based number, text); the last one repeats."""
        seen = self.hints_seen.get(exercise.id, 0)
        number = min(seen + 1, len(exercise.hints))
        self.hints_seen[exercise.id] = number
        return number, exercise.hints[number - 1]
