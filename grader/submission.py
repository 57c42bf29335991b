"""Find the student's file for an exercise from what the command line names.

A submission is either a folder laid out like starter/ (the file is looked up by its
name in the manifest) or one .py file standing for one exercise's file.
"""

from __future__ import annotations

from pathlib import Path

from grader.errors import UsageError
from grader.manifest import Exercise, Kit


def resolve(
    kit: Kit, exercise_id: str | None, submission: Path | None
) -> list[tuple[Exercise, Path]]:
    """The exercises to grade, each with the file that stands for it."""
    if submission is None:
        return [(e, kit.starter(e)) for e in kit.select(exercise_id)]
    if not submission.exists():
        raise UsageError(f"no such file or folder: {submission}")
    if submission.is_dir():
        return [(e, submission / e.file) for e in kit.select(exercise_id)]
    if submission.suffix != ".py":
        raise UsageError(
            f"{submission} is not a .py file; give a .py file or a folder like starter/"
        )
    if exercise_id:
        return [(kit.get(exercise_id), submission)]
    for exercise in kit.exercises:
        if exercise.file == submission.name:
            return [(exercise, submission)]
    raise UsageError(f"which exercise is {submission.name} for? add EX=<id> (or --exercise <id>)")
