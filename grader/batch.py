"""Grade many submissions at once: a folder of students, or the kit's own references.

Each (student, exercise) pair is one job for runner.grade, run in parallel. A job
that hangs or crashes costs its own time bound and becomes a result; the batch goes on.
Ctrl-C ends the running jobs within a second and returns what is done.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import traceback
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Generic, TypeVar

from grader import runner, submission, untrusted, uploads
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
    flags: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """What the instructor should look at, by exercise id: graded, but flagged."""

    def job(self, exercise: Exercise) -> tuple[Path, str | None]:
        """The file to grade for `exercise`, and why not, if it cannot be."""
        file = self.files.get(exercise.id, self.entry / exercise.file)
        return file, self.problem or self.problems.get(exercise.id)

    def findings(self) -> str:
        """What was found besides the files, for the fingerprint of saved results. Not
        the flags: they change with other students' files, and are set again on kept
        results without grading (see Gradebook.restamp)."""
        return str((self.problem, self.problems))

    def flagged(self, result: ExerciseResult) -> ExerciseResult:
        """`result` with this student's flags for its exercise."""
        flags = self.flags.get(result.exercise, ())
        return dataclasses.replace(result, flags=result.flags + flags) if flags else result

    def flag(self, exercise_id: str, *flags: str) -> Student:
        mine = {**self.flags, exercise_id: self.flags.get(exercise_id, ()) + flags}
        return dataclasses.replace(self, flags=mine)


@dataclass(frozen=True)
class _Entry:
    """What becomes one student: an entry of the folder, or the files (or folders) a
    learning platform's bulk download names after one person."""

    paths: tuple[Path, ...]
    person: str | None = None
    """The person a platform named, for a group of its entries."""
    originals: tuple[str, ...] = ()
    """Each path's name as handed in (for a group)."""
    platform: str = ""


@dataclass(frozen=True)
class _Scan:
    """What one reading of a submissions folder looks for."""

    kit: Kit
    folder: Path
    exercises: tuple[Exercise, ...]
    one_exercise: bool

    def named_for_another(self, name: str, exercise: Exercise) -> tuple[str, ...]:
        """A flag for a file graded as `exercise` but named for another of the kit's."""
        other = uploads.named_for(name, {e.id: e.module for e in self.kit.exercises})
        if other is None or other == exercise.id:
            return ()
        return (f"named for exercise {other}, graded as {exercise.id}",)


def discover(
    kit: Kit, folder: Path, exercises: tuple[Exercise, ...], one_exercise: bool
) -> list[Student]:
    """Read a submissions folder: a folder per student, `<student>.py` with one exercise,
    or what Canvas and Moodle download (see uploads). What the system left there
    (`.DS_Store`, `__MACOSX/`, hidden entries) is passed over.

    Every other entry gets a row of its own, whatever its name: see `names`. What the
    instructor should look at (a near-miss file name, two spellings of one name, a file
    identical to the reference or to another student's) is flagged on the student.
    """
    if not folder.is_dir():
        raise UsageError(f"no such folder: {folder}")
    listed = sorted(folder.iterdir())
    paths = [p for p in listed if not uploads.is_junk(p.name)]
    if not paths:
        what = "holds only system files (.DS_Store…)" if listed else "is empty"
        raise UsageError(f"{folder} {what}: put one folder (or .py file) per student in it")
    scan = _Scan(kit, folder, exercises, one_exercise)
    entries = _entries(paths)
    labelled = zip(_distinct([_labels(e) for e in entries]), entries, strict=True)
    students = [_student(scan, name, e) for name, e in labelled]
    return _identical(scan, _spellings(scan, students, entries))


def names(entries: list[Path]) -> list[str]:
    """A distinct, printable name for each entry: `carol.py` is "carol", unless that
    would be another's name too (`bob/` beside `bob.py`): then both keep their full
    names, and a name that still repeats gets a number. Names are composed (NFC)."""
    return _distinct([_labels(_Entry((e,))) for e in entries])


def _labels(entry: _Entry) -> tuple[str, str]:
    """An entry's full name and its short one (a lone file's without `.py`)."""
    # One name for one entry (see untrusted.escape_name): the backslash is escaped too,
    # bytes that are not UTF-8 show as their surrogates (\udcff), never as a shared
    # replacement mark, and what shows as nothing (U+034F, U+3164) shows as its escape,
    # so `bob`, `bob<U+034F>` and a folder literally named `bob\u034f` stay three students.
    if entry.person is not None:
        person = untrusted.escape_name(entry.person)
        return person, person
    [path] = entry.paths
    full = untrusted.escape_name(uploads.nfc(path.name))
    if path.suffix == ".py" and not _is_folder(path):
        return full, untrusted.escape_name(uploads.nfc(path.stem))
    return full, full


def _distinct(labels: list[tuple[str, str]]) -> list[str]:
    full = [f for f, _ in labels]
    short = [s for _, s in labels]
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


def _entries(paths: list[Path]) -> list[_Entry]:
    """One entry per path, but one per person for what a platform named (in the place
    of that person's first path)."""
    entries: list[_Entry] = []
    groups: dict[str, int] = {}
    for path in paths:
        found = uploads.upload(path.name, _is_folder(path))
        if found is None:
            entries.append(_Entry((path,)))
            continue
        if found.key not in groups:
            groups[found.key] = len(entries)
            entries.append(_Entry((), found.person, platform=found.platform))
        at = groups[found.key]
        group = entries[at]
        entries[at] = dataclasses.replace(
            group, paths=(*group.paths, path), originals=(*group.originals, found.original)
        )
    return entries


def _student(scan: _Scan, name: str, entry: _Entry) -> Student:
    """The entry's row; whatever it is (a link to itself, a folder not ours to enter),
    looking at it never raises: one entry cannot stop the batch."""
    path = entry.paths[0]
    try:
        if entry.person is None:
            return _look(scan, name, path)
        held = [p for p, o in zip(entry.paths, entry.originals, strict=True) if not o]
        if held:  # Moodle's folder of the files (a second one holds the online text)
            path = min(held, key=lambda p: "_assignsubmission_file" not in p.name)
            return _look(scan, name, path)
        return _flat(scan, name, entry)
    except OSError as exc:
        why = os.strerror(exc.errno).lower() if exc.errno else str(exc)
        return Student(name, path, problem=f"{name} cannot be read ({why})")


def _look(scan: _Scan, name: str, entry: Path) -> Student:
    # realpath, not resolve: a link to itself is refused, it does not raise.
    if entry.is_symlink() and not _inside(entry, scan.folder):
        return Student(
            name, entry, problem="a link pointing outside the submissions folder (not followed)"
        )
    if entry.is_dir():
        found = {e.id: _locate(entry, e) for e in scan.exercises}
        return Student(
            name,
            entry,
            files={i: f.path for i, (f, _) in found.items()},
            problems={i: f.problem for i, (f, _) in found.items() if f.problem},
            flags={i: flags for i, (_, flags) in found.items() if flags},
        )
    shown = untrusted.escape_name(entry.name)
    if entry.suffix == ".py":  # what is not a regular file is refused when read, by name
        if not scan.one_exercise:
            return Student(name, entry, problem=f"{shown} is a lone file: grade it with EX=<id>")
        [exercise] = scan.exercises
        other = scan.named_for_another(entry.name, exercise)
        return Student(
            name, entry, {exercise.id: entry}, flags={exercise.id: other} if other else {}
        )
    return Student(name, entry, problem=f"{shown} is neither a folder nor a .py file")


def _locate(folder: Path, exercise: Exercise) -> tuple[submission.Found, tuple[str, ...]]:
    """The exercise's file in a student's folder (see submission.locate); without one,
    the only file almost named like it, graded and flagged."""
    found = submission.locate(folder, exercise.file)
    if found.problem or os.path.lexists(found.path):
        return found, ()
    near = [p for p in submission.files(folder) if uploads.near_miss(p.name, exercise.file)]
    shown = [untrusted.escape_name(str(p.relative_to(folder))) for p in near]
    if len(near) == 1:
        return submission.checked(near[0], folder), (_renamed(shown[0], exercise),)
    return found, (_ambiguous(shown, exercise),) if near else ()


def _flat(scan: _Scan, name: str, entry: _Entry) -> Student:
    """A person's files, side by side in the folder as a platform names them: each
    exercise's is the one handed in under its name (or almost: see _pick)."""
    home = scan.folder / f"{entry.person} ({entry.platform} files)"  # where the missing are not
    while os.path.lexists(home):
        home = home.with_name(home.name + "~")
    handed = list(zip(entry.originals, entry.paths, strict=True))
    student = Student(name, home)
    for exercise in scan.exercises:
        path, problem, flags = _pick(scan, handed, exercise, entry.platform)
        student = dataclasses.replace(
            student,
            files={**student.files, **({exercise.id: path} if path else {})},
            problems={**student.problems, **({exercise.id: problem} if problem else {})},
        )
        student = student.flag(exercise.id, *flags) if flags else student
    return student


Pick = tuple[Path | None, str | None, tuple[str, ...]]
"""(the file to grade, why it cannot be, the flags)"""


def _pick(scan: _Scan, handed: list[tuple[str, Path]], exercise: Exercise, platform: str) -> Pick:
    """The file a person handed in for `exercise`, of (original name, path) pairs: the
    one under its name; else the only one almost under it (Canvas's own `-1` for a
    file handed in again is not flagged); else, with one exercise, their only .py."""
    wanted = exercise.file
    exact = [(o, p) for o, p in handed if o == wanted]
    if len(exact) > 1:
        return exact[0][1], f"{len(exact)} files named {wanted}: hand in one", ()
    if exact:
        return exact[0][1], None, ()
    near = [(o, p, k) for o, p in handed if (k := uploads.near_miss(o, wanted))]
    shown = [untrusted.escape_name(o) for o, _, _ in near]
    if len(near) == 1:
        canvas_again = platform == "Canvas" and near[0][2] == "numbered"
        return near[0][1], None, () if canvas_again else (_renamed(shown[0], exercise),)
    if near:
        return None, None, (_ambiguous(shown, exercise),)
    python = [(o, p) for o, p in handed if o.casefold().endswith(".py")]
    if scan.one_exercise and len(python) == 1:
        original, path = python[0]
        other = scan.named_for_another(original, exercise)
        return path, None, other or (_renamed(untrusted.escape_name(original), exercise),)
    return None, None, ()


def _renamed(shown: str, exercise: Exercise) -> str:
    return f"graded {shown}: the exercise's file is {exercise.file}; on Gradescope it would score 0"


def _ambiguous(shown: list[str], exercise: Exercise) -> str:
    return f"{len(shown)} files almost named {exercise.file} ({', '.join(shown[:4])}): none graded"


def _spellings(scan: _Scan, students: list[Student], entries: list[_Entry]) -> list[Student]:
    """Flag the entries whose names differ only in their Unicode spelling (`José`
    composed and decomposed): told apart and graded apart, never merged unseen."""
    spelt: dict[str, list[int]] = {}
    for i, entry in enumerate(entries):
        if entry.person is None:
            spelt.setdefault(uploads.nfc(entry.paths[0].name), []).append(i)
    flagged = list(students)
    for same in spelt.values():
        if len(same) < 2:
            continue
        for i in same:
            others = ", ".join(students[j].name for j in same if j != i)
            flag = (
                f"near-duplicate: {others} is the same name spelt another way (Unicode "
                "NFC/NFD); graded apart: merge them by hand if they are one student"
            )
            for exercise in scan.exercises:
                flagged[i] = flagged[i].flag(exercise.id, flag)
    return flagged


def _identical(scan: _Scan, students: list[Student]) -> list[Student]:
    """Flag (never penalise) a file identical to the reference solution, and files
    identical between students (the untouched starter and empty files aside)."""
    flagged = list(students)
    for exercise in scan.exercises:
        starter, solution = (
            _digest(scan.kit.starter(exercise)),
            _digest(scan.kit.solution(exercise)),
        )
        alike: dict[str, list[int]] = {}
        for i, student in enumerate(students):
            file, problem = student.job(exercise)
            digest = None if problem else _digest(file)
            if digest is None or digest == starter:
                continue
            alike.setdefault(digest, []).append(i)
            if digest == solution:
                flagged[i] = flagged[i].flag(
                    exercise.id, f"identical to the reference solution (solutions/{exercise.file})"
                )
        for same in (s for s in alike.values() if len(s) > 1):
            for i in same:
                others = [students[j].name for j in same if j != i]
                shown = ", ".join(others[:3]) + (
                    f" and {len(others) - 3} more" if len(others) > 3 else ""
                )
                flagged[i] = flagged[i].flag(
                    exercise.id, f"identical to {exercise.file} of {shown}"
                )
    return flagged


def _digest(path: Path) -> str | None:
    """The sha256 of a file as the grader reads it (see submission.read); None if it
    cannot be read or holds only whitespace (nothing two students could share)."""
    contents = submission.read(path)
    if not contents.ok or not contents.data.strip():
        return None
    return hashlib.sha256(contents.data).hexdigest()


def _inside(link: Path, folder: Path) -> bool:
    return Path(os.path.realpath(link)).is_relative_to(os.path.realpath(folder))


def _is_folder(entry: Path) -> bool:
    try:
        return entry.is_dir()
    except OSError:  # a link into a folder not ours to enter
        return False
