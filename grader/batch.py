"""Grade many submissions at once: a folder of students, or the kit's own references.

Each (student, exercise) pair is one job for runner.grade, run in parallel. A job
that hangs or crashes costs its own time bound and becomes a result; the batch goes on.
Ctrl-C ends the running jobs within a second and returns what is done.
"""

from __future__ import annotations

import os
import threading
import traceback
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from grader import runner, submission, untrusted
from grader.errors import UsageError
from grader.manifest import Exercise, Kit
from grader.results import ExerciseResult

Key = TypeVar("Key", bound=Hashable)
"""What the caller names a job by (a student and an exercise, a role…)."""
Job = tuple[Key, Exercise, Path, str | None]
"""(key, exercise, file, refusal): a refusal grades the file as unrunnable, for that reason."""


@dataclass
class Batch(Generic[Key]):
    """The results so far; `interrupted` if Ctrl-C ended the batch before every job ran."""

    results: dict[Key, ExerciseResult] = field(default_factory=dict)
    interrupted: bool = False


def grade_many(
    kit: Kit,
    jobs: Sequence[Job[Key]],
    *,
    isolated: bool,
    workers: int | None = None,
    on_done: Callable[[Key, ExerciseResult], None] = lambda key, result: None,
) -> Batch[Key]:
    """Grade every job; results keyed as the jobs are."""
    batch: Batch[Key] = Batch()
    cancel = threading.Event()
    exercises = {key: exercise for key, exercise, _, _ in jobs}
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2)
    futures: dict[Future[ExerciseResult], Key] = {
        pool.submit(runner.grade, kit, ex, file, refusal, isolated=isolated, cancel=cancel): key
        for key, ex, file, refusal in jobs
    }
    pending = set(futures)
    try:
        while pending:
            done, pending = wait(pending, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in done:
                key = futures[future]
                result = _result_of(future, exercises[key])
                if result is not None:
                    batch.results[key] = result
                    on_done(key, result)
    except KeyboardInterrupt:
        batch.interrupted = True
        cancel.set()  # running jobs end theirs within a tenth of a second
        for future in pending:
            future.cancel()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return batch


def _result_of(future: Future[ExerciseResult], exercise: Exercise) -> ExerciseResult | None:
    """The job's result; None for a job cut short by Ctrl-C (it has no grade)."""
    try:
        return future.result()
    except runner.Cancelled:
        return None
    except Exception:  # one job's failure must not lose the batch
        return ExerciseResult(
            exercise=exercise.id,
            title=exercise.title,
            error="the grader failed on this submission (a bug in the kit)",
            error_detail=traceback.format_exc(),
        )


@dataclass(frozen=True)
class Student:
    """One entry of a submissions folder, and the file it offers for each exercise."""

    name: str
    entry: Path
    files: dict[str, Path] = field(default_factory=dict)
    """Each exercise's file (which may be missing), by exercise id."""
    problems: dict[str, str] = field(default_factory=dict)
    """Why an exercise's file cannot be graded, by exercise id."""
    problem: str | None = None
    """Why this entry cannot be graded at all (a clear, per-student verdict)."""

    def job(self, exercise: Exercise) -> tuple[Path, str | None]:
        """The file to grade for `exercise`, and why not, if it cannot be."""
        file = self.files.get(exercise.id, self.entry / exercise.file)
        return file, self.problem or self.problems.get(exercise.id)


def discover(
    kit: Kit, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> list[Student]:
    """Read a submissions folder: a folder per student, or `<student>.py` with one exercise.

    Every entry gets a row of its own, whatever its name: see `names`.
    """
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    entries = sorted(folder.iterdir())
    if not entries:
        raise UsageError(f"{folder} is empty: put one folder (or .py file) per student in it")
    return [
        _student(name, entry, folder, exercises, one_exercise)
        for name, entry in zip(names(entries), entries, strict=True)
    ]


def names(entries: list[Path]) -> list[str]:
    """A distinct, printable name for each entry: `carol.py` is "carol", unless that
    would be another's name too (`bob/` beside `bob.py`): then both keep their full
    names, and a name that still repeats gets a number."""

    # One name for one entry (see untrusted.escape_name): the backslash is escaped too,
    # bytes that are not UTF-8 show as their surrogates (\udcff), never as a shared
    # replacement mark, and what shows as nothing (U+034F, U+3164) shows as its escape,
    # so `bob`, `bob<U+034F>` and a folder literally named `bob\u034f` stay three students.
    printable = untrusted.escape_name

    full = [printable(e.name) for e in entries]
    short = [
        printable(e.stem) if e.suffix == ".py" and not _is_folder(e) else name
        for e, name in zip(entries, full, strict=True)
    ]
    chosen = [
        s if short.count(s) == 1 and full.count(s) == (s == f) else f
        for s, f in zip(short, full, strict=True)
    ]
    seen: dict[str, int] = {}
    unique = []
    for name in chosen:
        seen[name] = seen.get(name, 0) + 1
        unique.append(name if seen[name] == 1 else f"{name} ({seen[name]})")
    return unique


def _student(
    name: str, entry: Path, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> Student:
    """The entry's row; whatever it is (a link to itself, a folder not ours to enter),
    looking at it never raises: one entry cannot stop the batch."""
    try:
        return _look(name, entry, folder, exercises, one_exercise)
    except OSError as exc:
        why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        return Student(name, entry, problem=f"{name} cannot be read ({why})")


def _look(
    name: str, entry: Path, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> Student:
    # realpath, not resolve: a link to itself is refused, it does not raise.
    if entry.is_symlink() and not _inside(entry, folder):
        return Student(
            name, entry, problem="a link pointing outside the submissions folder (not followed)"
        )
    if entry.is_dir():
        found = {e.id: submission.locate(entry, e.file) for e in exercises}
        return Student(
            name,
            entry,
            files={i: f.path for i, f in found.items()},
            problems={i: f.problem for i, f in found.items() if f.problem},
        )
    shown = untrusted.escape_name(entry.name)
    if entry.suffix == ".py":  # what is not a regular file is refused when read, by name
        if not one_exercise:
            return Student(name, entry, problem=f"{shown} is a lone file: grade it with EX=<id>")
        return Student(name, entry, {exercises[0].id: entry})
    return Student(name, entry, problem=f"{shown} is neither a folder nor a .py file")


def _inside(link: Path, folder: Path) -> bool:
    return Path(os.path.realpath(link)).is_relative_to(os.path.realpath(folder))


def _is_folder(entry: Path) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link into a folder not ours to enter
        return False
