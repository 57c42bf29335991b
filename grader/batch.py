"""Grade many submissions at once: a folder of students, or the kit's own references.

Each (student, exercise) pair is one job for runner.grade, run in parallel. A job
that hangs or crashes costs its own time bound and becomes a result; the batch goes on.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

from grader import runner
from grader.errors import UsageError
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult

Job = tuple[Hashable, Exercise, Path, str | None]
"""(key, exercise, file, refusal): a refusal grades the file as unrunnable, for that reason."""


def grade_many(
    kit: Kit,
    jobs: list[Job],
    workers: int | None = None,
    on_done: Callable[[Hashable, ExerciseResult], None] = lambda key, result: None,
) -> dict[Hashable, ExerciseResult]:
    """Grade every job; results keyed as the jobs are."""
    results: dict[Hashable, ExerciseResult] = {}
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2) as pool:
        futures = {
            pool.submit(runner.grade, kit, ex, file, refusal): key
            for key, ex, file, refusal in jobs
        }
        for future in as_completed(futures):
            key = futures[future]
            try:
                results[key] = future.result()
            except Exception:  # noqa: BLE001 - one job's failure must not lose the batch
                exercise = next(ex for k, ex, _, _ in jobs if k == key)
                results[key] = ExerciseResult(
                    exercise=exercise.id,
                    title=exercise.title,
                    error="the grader failed on this submission (a bug in the kit)",
                    error_detail=traceback.format_exc(),
                )
            on_done(key, results[key])
    return results


@dataclass(frozen=True)
class Student:
    """One entry of a submissions folder, and the file it offers for each exercise."""

    name: str
    files: dict[str, Path] = field(default_factory=dict)
    problem: str | None = None
    """Why this entry cannot be graded at all (a clear, per-student verdict)."""


def discover(
    kit: Kit, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> list[Student]:
    """Read a submissions folder: a folder per student, or `<student>.py` with one exercise."""
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    entries = sorted(p for p in folder.iterdir() if not p.name.startswith("."))
    if not entries:
        raise UsageError(f"{folder} is empty: put one folder (or .py file) per student in it")
    return [_student(entry, folder, exercises, one_exercise) for entry in entries]


def _student(
    entry: Path, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> Student:
    name = entry.stem if entry.is_file() and entry.suffix == ".py" else entry.name
    if entry.is_symlink() and not _inside(entry, folder):
        return Student(
            name, problem="a link pointing outside the submissions folder (not followed)"
        )
    if entry.is_dir():
        files: dict[str, Path] = {}
        for exercise in exercises:
            file = entry / exercise.file
            if file.is_symlink() and not _inside(file, entry):
                return Student(
                    name,
                    problem=f"{exercise.file} is a link pointing outside the "
                    "submission (not followed)",
                )
            if file.is_file():
                files[exercise.id] = file
        if not files:
            found = sorted(p.name for p in entry.rglob("*") if p.is_file())
            wanted = ", ".join(e.file for e in exercises)
            seen = ", ".join(found[:5]) + (" …" if len(found) > 5 else "") if found else "no files"
            return Student(name, problem=f"none of the expected files ({wanted}); found: {seen}")
        return Student(name, files)
    if entry.suffix == ".py" and entry.is_file():
        if not one_exercise:
            return Student(name, problem=f"{entry.name} is a lone file: grade it with EX=<id>")
        return Student(name, {exercises[0].id: entry})
    return Student(name, problem=f"{entry.name} is neither a folder nor a .py file")


def _inside(path: Path, folder: Path) -> bool:
    return path.resolve().is_relative_to(folder.resolve())
