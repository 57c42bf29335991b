"""The kit's manifest, `lessons/exercises.toml`: which exercises exist, in what order.

The manifest is the single source of truth; every other part of the kit (starter,
solution, checks, lesson text) is found through it. Parsing fails loudly on anything
incomplete, mistyped or unknown (a field nothing reads is refused, not ignored), so a
broken kit never reaches a student.

At the top level, beside `title` and the `[[exercises]]` tables, an optional
`extensions = ["checks._chat", …]` names modules of the kit (dotted names, found from
the kit's root) that the checks process imports before it collects any check: a
lesson's shared helpers, or checks that register themselves with the engine.
"""

from __future__ import annotations

import importlib
import re
import sys
import tomllib
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from grader.errors import GraderError, UsageError

MANIFEST = Path("lessons") / "exercises.toml"
HIDDEN = "hidden"
"""The folder below checks/ whose checks are hidden: graded, left out of the student
edition, and shown to a student only counted."""


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
    """The route students connect to, with {placeholders} the page of `make serve` asks for."""
    services: tuple[str, ...] = ()
    """Backing services `make serve` starts beside the app, by the names the course's
    extensions register them under (see grader/services.py)."""
    processes: int = 1
    """How many copies of the app `make serve` runs, on consecutive ports."""
    skip_check_unsolved: bool = False
    """Set when the untouched starter may pass every check (an exercise whose starter
    already works): `verify` then does not call a passing starter a surprise."""
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
    extensions: tuple[str, ...] = ()
    """The course's own modules (dotted names below the kit's folder, say "checks._chat"),
    imported by the checks process and by the commands that need what they register:
    advice for the diagnosis, backing services, the page of `make serve`."""

    def load_extensions(self) -> None:
        """Import the course's extensions, the kit's folder first on the import path."""
        if str(self.root) not in sys.path:
            sys.path.insert(0, str(self.root))
        for name in self.extensions:
            importlib.import_module(name)

    def extension_paths(self) -> list[Path]:
        """The folder (a package) or the file (a module) of each extension."""
        found = []
        for name in self.extensions:
            path = self.root.joinpath(*name.split("."))
            if path.is_dir():
                found.append(path)
            elif path.with_suffix(".py").is_file():
                found.append(path.with_suffix(".py"))
            else:
                raise GraderError(
                    f"the manifest's extension {name} is neither {path}/ nor {path}.py"
                )
        return found

    def extension_sources(self) -> list[Path]:
        """Every file of the extensions, in a stable order: what grades depend on."""
        files = []
        for path in self.extension_paths():
            inside = path.rglob("*") if path.is_dir() else [path]
            files += [f for f in inside if f.is_file() and "__pycache__" not in f.parts]
        return sorted(files)

    @classmethod
    def load(cls, root: Path) -> Kit:
        # Absolute: the checks process runs in the job's scratch folder, where a
        # relative path to the kit's check files would name nothing.
        root = root.resolve()
        path = root / MANIFEST
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise GraderError(
                f"no manifest at {path}: run the grader from the kit's folder"
            ) from None
        except tomllib.TOMLDecodeError as exc:
            raise GraderError(f"{path} is not valid TOML: {exc}") from None
        _refuse_unknown(data, {"title", "exercises", "extensions"}, "the course")
        _expect(data, "title", "the course")
        extensions = data.get("extensions", [])
        if not isinstance(extensions, list) or not all(
            isinstance(e, str) and _DOTTED.fullmatch(e) for e in extensions
        ):
            raise GraderError(
                f'{path}: extensions must be a list of module names ("checks._chat"), '
                f"not {extensions!r}"
            )
        if not isinstance(data.get("exercises", []), list):
            raise GraderError(f"{path}: exercises must be a list of [[exercises]] tables")
        exercises = tuple(_exercise(entry) for entry in data.get("exercises", []))
        ids = [e.id for e in exercises]
        if not exercises:
            raise GraderError(f"{path} lists no exercises: add an [[exercises]] table")
        twice = sorted({i for i in ids if ids.count(i) > 1})
        if twice:
            raise GraderError(f"{path} lists the exercise id {', '.join(twice)} twice: rename one")
        return cls(
            root=root,
            title=data.get("title", root.name),
            exercises=exercises,
            extensions=tuple(extensions),
        )

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
            self.root / "checks" / HIDDEN / exercise.checks,
        ]
        return [f for f in files if f.exists()]

    def lesson(self, exercise: Exercise) -> Path:
        return self.root / "lessons" / exercise.lesson


def in_hidden_folder(check_file: Path) -> bool:
    """Whether a check file holds hidden checks (whatever their decorators say)."""
    return check_file.parent.name == HIDDEN


_DOTTED = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")

# What each field must be, as TOML gives it, and how to say so.
_TEXT = (str, "a string")
_LIST = (list, "a list")
_NUMBER = ((int, float), "a number")
_TYPES: dict[str, tuple[type | tuple[type, ...], str]] = {
    **dict.fromkeys(("id", "title", "file", "checks", "lesson", "endpoint"), _TEXT),
    **dict.fromkeys(("hints", "preload", "services"), _LIST),
    **dict.fromkeys(("timeout", "weight"), _NUMBER),
    "processes": (int, "a whole number"),
    "skip_check_unsolved": (bool, "true or false"),
    **dict.fromkeys(("env", "points"), (dict, "a table")),
}


def _refuse_unknown(table: dict[str, Any], known: set[str], where: str) -> None:
    unknown = sorted(set(table) - known)
    if unknown:
        raise GraderError(
            f"{where} in {MANIFEST} has a field the grader does not know: "
            f"{', '.join(unknown)}; remove it or fix its spelling (the fields: "
            f"{', '.join(sorted(known))})"
        )


def _expect(table: dict[str, Any], key: str, where: str) -> None:
    kind, words = _TYPES[key]
    value = table.get(key)
    # bool is an int to Python, but `timeout = true` is a mistake, not a number.
    if value is not None and (
        not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
    ):
        raise GraderError(f"{where} in {MANIFEST}: {key} must be {words}, not {value!r}")


def _exercise(entry: dict[str, Any]) -> Exercise:
    missing = [k for k in ("id", "title", "file", "hints") if not entry.get(k)]
    if missing:
        raise GraderError(f"an exercise in {MANIFEST} lacks {', '.join(missing)}: {entry}")
    where = f"exercise {entry['id']!r}"
    _refuse_unknown(entry, {f.name for f in fields(Exercise)}, where)
    for key in _TYPES:
        _expect(entry, key, where)
    hints = tuple(entry["hints"])
    if any(not isinstance(h, str) or not h.strip() for h in hints):
        raise GraderError(f"{where} has an empty hint in {MANIFEST}: write it or remove it")
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
