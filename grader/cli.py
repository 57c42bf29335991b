"""The grader's command line; the only module that prints to the terminal or exits.

Exit status: 0 everything passed, 1 something failed or could not run, 2 usage error.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console

from grader import exports, report, runner, submission
from grader.errors import GraderError
from grader.manifest import Kit
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
    if len(results) == 1:
        console.print(report.exercise_report(results[0]))
    else:
        console.print(report.progress_report(results))
    if args.json:
        args.json.write_text(json.dumps(exports.gradescope(results), indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1
