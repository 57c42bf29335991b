"""The kit's manifest, `lessons/exercises.toml`: which exercises exist, in what order.

The manifest is the single source of truth; every other part of the kit (starter,
solution, checks, lesson text) is found through it. Parsing fails loudly on anything
incomplete, so a broken kit never reaches a student.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path

from grader.errors import GraderError, UsageError

MANIFEST = Path("lessons") / "exercises.toml"


@dataclass(frozen=True)
class Exercise:
    id: str
    """The key used everywhere: `make check EX=<id>`, file names, exports."""
    title: str
    file: str
    """The student's file, the same name in starter/ and solutions/."""
    checks: str
    """The check module in checks/ (hidden ones live in checks/hidden/ under the same name)."""
    lesson: str
    """The lesson text in lessons/."""
    hints: tuple[str, ...]
    """Progressive: a nudge, then the concept, then near-code."""
    preload: tuple[str, ...] = ()
    """Libraries the app imports, loaded once before servers are forked."""
    timeout: float = 45.0
    """The bound on grading the whole exercise, in seconds."""
    endpoint: str = "/ws/{client_id}"
    """The WebSocket path, with {placeholders} the chat page of `make serve` asks for."""
    services: tuple[str, ...] = ()
    """Backing services `make serve` starts beside the app (only "redis" is known)."""
    processes: int = 1
    """How many copies of the app `make serve` runs, on consecutive ports."""
    skip_check_unsolved: bool = False
    """Set when the untouched starter is allowed to pass some checks' file."""
    weight: float = 1.0
    """What the exercise counts for: every check's points are multiplied by it."""
    points: tuple[tuple[str, float], ...] = ()
    """What a check is worth, where not 1 (a `points` table: check name = points); a
    check's own @check(points=…) is overridden by this."""
    env: tuple[tuple[str, str], ...] = ()
    """Environment variables every server of this exercise gets (a table in the manifest);
    a sandboxed server sees nothing else of the grader's environment."""

    @property
    def module(self) -> str:
        return Path(self.file).stem

    def points_by_check(self) -> dict[str, float]:
        """What the manifest says checks are worth, weight included; "*" for the rest."""
        return {"*": self.weight, **{name: p * self.weight for name, p in self.points}}


@dataclass(frozen=True)
class Kit:
    """A course on disk: its root folder and its exercises, in order."""

    root: Path
    title: str
    """The course's name."""
    exercises: tuple[Exercise, ...]

    @classmethod
    def load(cls, root: Path) -> Kit:
        path = root / MANIFEST
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GraderError(
                f"no manifest at {path}: run the grader from the kit's folder"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise GraderError(f"{path} is not valid TOML: {exc}") from None
        exercises = tuple(_exercise(entry, root) for entry in data.get("exercises", []))
        ids = [e.id for e in exercises]
        if not exercises:
            raise GraderError(f"{path} lists no exercises")
        if len(set(ids)) != len(ids):
            raise GraderError(f"{path} lists an exercise id twice: {ids}")
        return cls(root=root, title=data.get("title", root.name), exercises=exercises)

    def get(self, exercise_id: str) -> Exercise:
        for exercise in self.exercises:
            if exercise.id == exercise_id:
                return exercise
        known = ", ".join(e.id for e in self.exercises)
        raise UsageError(f"unknown exercise {exercise_id!r}; choose one of: {known}")

    def select(self, exercise_id: str | None) -> tuple[Exercise, ...]:
        return self.exercises if not exercise_id else (self.get(exercise_id),)

    def starter(self, exercise: Exercise) -> Path:
        return self.root / "starter" / exercise.file

    def solution(self, exercise: Exercise) -> Path:
        return self.root / "solutions" / exercise.file

    def check_files(self, exercise: Exercise) -> list[Path]:
        """The visible checks, then the hidden ones if this edition has them."""
        files = [
            self.root / "checks" / exercise.checks,
            self.root / "checks" / "hidden" / exercise.checks,
        ]
        return [f for f in files if f.exists()]

    def lesson(self, exercise: Exercise) -> Path:
        return self.root / "lessons" / exercise.lesson


def _exercise(entry: dict, root: Path) -> Exercise:
    missing = [k for k in ("id", "title", "file", "hints") if not entry.get(k)]
    if missing:
        raise GraderError(f"an exercise in {MANIFEST} lacks {', '.join(missing)}: {entry}")
    hints = tuple(entry["hints"])
    if any(not h.strip() for h in hints):
        raise GraderError(f"exercise {entry['id']!r} has an empty hint in {MANIFEST}")
    return Exercise(
        id=entry["id"],
        title=entry["title"],
        file=entry["file"],
        checks=entry.get("checks", entry["file"]),
        lesson=entry.get("lesson", f"{entry['id']}.md"),
        hints=hints,
        preload=tuple(entry.get("preload", ())),
        timeout=float(entry.get("timeout", 45.0)),
        endpoint=entry.get("endpoint", "/ws/{client_id}"),
        services=tuple(entry.get("services", ())),
        processes=int(entry.get("processes", 1)),
        env=tuple((str(k), str(v)) for k, v in entry.get("env", {}).items()),
        points=tuple((str(k), float(v)) for k, v in entry.get("points", {}).items()),
        weight=float(entry.get("weight", 1.0)),
        skip_check_unsolved=bool(entry.get("skip_check_unsolved", False)),
    )
