"""`make watch`: re-grade the current exercise on every save, and move on when it passes."""

from __future__ import annotations

import watchfiles
from rich.console import Console
from rich.text import Text

from grader import report, runner
from grader.manifest import Exercise, Kit
from grader.progress import Progress


def _next(kit: Kit, after: Exercise, progress: Progress) -> Exercise | None:
    later = kit.exercises[kit.exercises.index(after) + 1 :]
    return next((e for e in later if e.id not in progress.done), None)


def watch(kit: Kit, console: Console, exercise: Exercise | None) -> int:
    """Loop until every exercise passes or the student presses Ctrl-C."""
    progress = Progress.load(kit)
    exercise = exercise or progress.current(kit)
    # One watcher for the whole session: a save made while grading is not missed.
    saves = watchfiles.watch(kit.root / "starter", watch_filter=watchfiles.PythonFilter())
    try:
        while exercise is not None:
            graded = kit.starter(exercise).read_bytes()
            result = runner.grade(kit, exercise, kit.starter(exercise), isolated=False)
            progress.record(exercise, result.passed)
            progress.save(kit)
            console.clear()
            # Read again: the student may have asked for a hint in another terminal.
            reader = report.Reader(hints_seen=Progress.load(kit).hints_seen)
            console.print(report.exercise_report(result, reader=reader))
            if result.passed:
                exercise = _next(kit, exercise, progress)
                if exercise is None:
                    break
                console.print(
                    Text(f"\n✓ Passed! On to {exercise.id}: {exercise.title}", "bold green")
                )
                continue
            console.print(
                Text(
                    f"\nWatching starter/{exercise.file}: save to check again, Ctrl-C to stop.",
                    "dim",
                )
            )
            if kit.starter(exercise).read_bytes() == graded:  # else: saved while grading
                next(saves)
    except KeyboardInterrupt:
        console.print("\nStopped watching.")
        return 0
    console.print(Text("\nEvery exercise passes. Well done!", "bold green"))
    return 0
