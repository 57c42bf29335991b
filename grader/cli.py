"""The grader's command line; the only module that prints to the terminal or exits.

Exit status: 0 everything passed, 1 something failed or could not run, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.markdown import Markdown

from grader import exports, report, runner, submission, watch
from grader.errors import GraderError
from grader.manifest import Exercise, Kit
from grader.progress import Progress
from grader.results import ExerciseResult

console = Console(highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        kit = Kit.load(Path(args.root).resolve())
        return args.command(kit, args)
    except GraderError as exc:
        Console(stderr=True, highlight=False).print(f"[bold red]error:[/] {exc}")
        return exc.exit_code
    except KeyboardInterrupt:
        return 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m grader", description=__doc__)
    parser.add_argument("--root", default=".", help="the kit's folder (default: here)")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    check = sub.add_parser("check", help="grade a submission (default: your files in starter/)")
    _exercise_arg(check)
    check.add_argument(
        "--submission", type=Path, help="a folder laid out like starter/, or one .py file"
    )
    check.add_argument("--json", type=Path, help="also write Gradescope results.json here")
    check.set_defaults(command=cmd_check)

    hint = sub.add_parser("hint", help="show the next hint for the current exercise")
    _exercise_arg(hint)
    hint.set_defaults(command=cmd_hint)

    lesson = sub.add_parser("lesson", help="read the lesson for the current exercise")
    _exercise_arg(lesson)
    lesson.add_argument("--no-pager", action="store_true", help="print instead of paging")
    lesson.set_defaults(command=cmd_lesson)

    watch_ = sub.add_parser("watch", help="re-check your file on every save")
    _exercise_arg(watch_)
    watch_.set_defaults(command=cmd_watch)
    return parser


def _exercise_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--exercise", "-e", default=None, help="exercise id (default: all)")


def cmd_check(kit: Kit, args: argparse.Namespace) -> int:
    targets = submission.resolve(kit, args.exercise, args.submission)
    results: list[ExerciseResult] = []
    with console.status("grading…") as status:
        for exercise, file in targets:
            status.update(f"grading {exercise.id}…")
            results.append(runner.grade(kit, exercise, file))
    if args.submission is None:  # the student's own files: remember what passes
        progress = Progress.load(kit)
        for (exercise, _), result in zip(targets, results, strict=True):
            progress.record(exercise, result.passed)
        progress.save(kit)
    if len(results) == 1:
        console.print(report.exercise_report(results[0]))
    else:
        console.print(report.progress_report(results))
    if args.json:
        args.json.write_text(json.dumps(exports.gradescope(results), indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1


def _current(kit: Kit, args: argparse.Namespace) -> Exercise | None:
    return kit.get(args.exercise) if args.exercise else Progress.load(kit).current(kit)


def cmd_hint(kit: Kit, args: argparse.Namespace) -> int:
    exercise = _current(kit, args)
    if exercise is None:
        console.print("Every exercise passes: no hints needed.")
        return 0
    progress = Progress.load(kit)
    number, text = progress.next_hint(exercise)
    progress.save(kit)
    console.print(report.hint(exercise, number, text))
    return 0


def cmd_lesson(kit: Kit, args: argparse.Namespace) -> int:
    exercise = _current(kit, args) or kit.exercises[-1]
    path = kit.lesson(exercise)
    if not path.is_file():
        raise GraderError(f"the lesson for {exercise.id} is missing ({path})")
    lesson = Markdown(path.read_text(encoding="utf-8"), code_theme="monokai")
    if args.no_pager or not console.is_terminal:
        console.print(lesson)
        return 0
    os.environ.setdefault("LESS", "-R")  # let less show colours
    with console.pager(styles=True):
        console.print(lesson)
    return 0


def cmd_watch(kit: Kit, args: argparse.Namespace) -> int:
    return watch.watch(kit, console, kit.get(args.exercise) if args.exercise else None)
