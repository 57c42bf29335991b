"""`make watch`: re-grade the current exercise on every save, and move on when it passes.

Where it starts and where it moves on to is decided by the files as they are on disk: an
exercise is skipped only if its last grading passed and its file has not changed since.
"""

from __future__ import annotations

import watchfiles
from rich.console import Console
from rich.text import Text

from grader import report, runner
from grader.manifest import Exercise, Kit
from grader.progress import Progress, State, digest


def _next(kit: Kit, after: Exercise, progress: Progress) -> Exercise | None:
    """The next exercise that does not pass as its file is now: a later one, else an
    earlier one (broken since it passed, or skipped with EX=)."""
    index = kit.exercises.index(after)
    order = kit.exercises[index + 1 :] + kit.exercises[:index]
    return next((e for e in order if progress.state(kit, e) is not State.DONE), None)


def watch(kit: Kit, console: Console, exercise: Exercise | None) -> int:
    """Loop until every exercise passes or the student presses Ctrl-C."""
    exercise = exercise or Progress.load(kit).current(kit)
    # One watcher for the whole session: a save made while grading is not missed.
    # It yields every 0.2 s even without a change: the file's digest is looked at each
    # time, so a save made before the watcher had started is not missed either.
    saves = watchfiles.watch(
        kit.root / "starter",
        watch_filter=watchfiles.PythonFilter(),
        yield_on_timeout=True,
        rust_timeout=200,
    )
    try:
        while exercise is not None:
            graded = digest(kit.starter(exercise))
            result = runner.grade(kit, exercise, kit.starter(exercise), isolated=False)
            # Loaded afresh: the student may have asked for a hint in another terminal.
            progress = Progress.load(kit)
            progress.record(exercise, result, graded)
            progress.save(kit)
            console.clear()
            reader = report.Reader(hints_seen=progress.hints_seen)
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
            while digest(kit.starter(exercise)) == graded:  # else: saved while grading
                next(saves)
    except KeyboardInterrupt:
        console.print("\nStopped watching.")
        return 0
    console.print(Text("\nEvery exercise passes. Well done!", "bold green"))
    return 0
