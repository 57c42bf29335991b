"""Find the student's file for an exercise from what the command line names.

A submission is either a folder (the file is looked up by its name in the manifest,
at the folder's top or, if it is not there, alone anywhere below: a whole project, a
zipped folder, a repository) or one .py file standing for one exercise's file.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from grader.errors import UsageError
from grader.manifest import Exercise, Kit

# Folders no student means to hand in: where a file of the same name is not theirs.
PASSED_OVER = {".git", "__pycache__", ".venv", "venv", "env", "node_modules", "site-packages"}
LOOK_AT_MOST = 5000  # entries of a folder tree, however deep or wide it is


@dataclass(frozen=True)
class Found:
    """Where an exercise's file is (or would be, at the top), and why it cannot be
    graded, if it cannot (several candidates, a link out of the submission)."""

    path: Path
    problem: str | None = None


def resolve(
    kit: Kit, exercise_id: str | None, submission: Path | None
) -> list[tuple[Exercise, Found]]:
    """The exercises to grade, each with the file that stands for it."""
    if submission is None:
        return [(e, Found(kit.starter(e))) for e in kit.select(exercise_id)]
    if not submission.exists():
        raise UsageError(f"no such file or folder: {submission}")
    if submission.is_dir():
        return [(e, locate(submission, e.file)) for e in kit.select(exercise_id)]
    if submission.suffix != ".py":
        raise UsageError(
            f"{submission} is not a .py file; give a .py file or a folder like starter/"
        )
    if exercise_id:
        return [(kit.get(exercise_id), Found(submission))]
    for exercise in kit.exercises:
        if exercise.file == submission.name:
            return [(exercise, Found(submission))]
    raise UsageError(f"which exercise is {submission.name} for? add EX=<id> (or --exercise <id>)")


def locate(folder: Path, name: str) -> Found:
    """The file `name` in a submission `folder`: at its top, or the only one below."""
    top = folder / name
    if top.is_file() or top.is_symlink():
        return _checked(top, folder)
    matches = [path for path in files(folder) if path.name == name]
    if len(matches) == 1:
        return _checked(matches[0], folder)
    if matches:
        shown = ", ".join(str(m.relative_to(folder)) for m in matches[:4])
        more = " …" if len(matches) > 4 else ""
        return Found(top, f"{len(matches)} files named {name} ({shown}{more}): hand in one")
    return Found(top)  # missing: the grader says so, and what the folder holds


def _checked(path: Path, folder: Path) -> Found:
    if path.is_symlink() and not path.resolve().is_relative_to(folder.resolve()):
        return Found(path, f"{path.name} is a link pointing outside the submission (not followed)")
    return Found(path)


def files(folder: Path) -> Iterator[Path]:
    """The files below `folder`, breadth first, never following a link, looking at a
    bounded number of entries (a folder nested a thousand deep costs no more than a
    small one)."""
    queue = [folder]
    looked = 0
    while queue and looked < LOOK_AT_MOST:
        current = queue.pop(0)
        try:
            entries = sorted(current.iterdir())
        except OSError:
            continue
        for entry in entries:
            looked += 1
            if entry.is_symlink():
                if not entry.is_dir():
                    yield entry
            elif entry.is_dir():
                if entry.name not in PASSED_OVER:
                    queue.append(entry)
            else:
                yield entry
            if looked >= LOOK_AT_MOST:
                return


def holds(folder: Path, most: int = 5) -> str:
    """What a folder holds, in a few names: for a message about a missing file."""
    names = sorted({p.name for p in files(folder)})
    if not names:
        return "no files"
    return ", ".join(names[:most]) + (" …" if len(names) > most else "")
