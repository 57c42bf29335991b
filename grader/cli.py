"""The grader's command line; the only module that prints to the terminal or exits.

Exit status: 0 everything passed, 1 something failed or could not run, 2 usage error.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

# What only some commands use (pytest, asyncio, uvicorn, watchfiles, markdown) is imported in
# them: every `make check` starts this process, and waits for what it imports.
from grader import (
    caps,
    classreport,
    exports,
    gradebook,
    loopwatch,
    report,
    runner,
    sandbox,
    submission,
    timing,
    uploads,
)
from grader.errors import GraderError, UsageError
from grader.gradebook import Gradebook, fingerprint, read_roster, scheme
from grader.manifest import Exercise, Kit
from grader.progress import Progress as StudentProgress
from grader.progress import Record, State, digest
from grader.results import ExerciseResult, Verification
from grader.sandbox import Sandbox

# `doctor` exits 0 when submissions get the sandbox, 1 when bubblewrap is missing or
# broken, and this when it works but the machine refuses it namespaces.
DOCTOR_FORBIDDEN = 3

console = Console(highlight=False)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    _never_raise_on_output()
    try:
        try:  # refused up front: every wait of the run would be stretched by it
            timing.parse(os.environ.get(timing.VARIABLE, "1"))
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        kit = Kit.load(Path(args.root).resolve())
        command: Callable[[Kit, argparse.Namespace], int] = args.command
        return command(kit, args)
    except GraderError as exc:
        Console(stderr=True, highlight=False, soft_wrap=True).print(
            Text("error: ", "bold red") + report.plain(str(exc))
        )
        return exc.exit_code
    except KeyboardInterrupt:
        return 130
    except Exception:  # the last line of defence: say it is our fault
        Console(stderr=True).print_exception()
        Console(stderr=True, highlight=False).print(
            "[bold red]This is a bug in the grader, not in your code.[/] "
            "Please send the text above to your instructor."
        )
        return 1


def _never_raise_on_output() -> None:
    """Text from a submission is escaped before it is shown (see untrusted), and a
    character that still cannot be encoded (a lone surrogate, a terminal that is not
    UTF-8) is printed as its escape: printing a submission's words never crashes the kit."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


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
    _hidden_arg(check)
    _sandbox_arg(check)
    check.set_defaults(command=cmd_check)

    verify = sub.add_parser(
        "verify", help="prove the kit: its files meet the rules, solutions pass, starters fail"
    )
    _exercise_arg(verify)
    _sandbox_arg(verify)
    verify.set_defaults(command=cmd_verify)

    grade = sub.add_parser("grade", help="grade a folder of submissions, one per student")
    grade.add_argument("--submissions", type=Path, required=True, help="the folder of students")
    _exercise_arg(grade)
    grade.add_argument("--out", type=Path, default=Path("grades"), help="where to write grades")
    grade.add_argument("--jobs", type=int, default=None, help="parallel jobs (default: cores)")
    grade.add_argument(
        "--only", action="append", metavar="NAME", help="grade only this student (repeatable)"
    )
    grade.add_argument(
        "--force",
        action="store_true",
        help="grade again students already graded from the same files",
    )
    grade.add_argument(
        "--roster", type=Path, help="a CSV with a 'student' column; its columns join the gradebook"
    )
    _hidden_arg(grade)
    _sandbox_arg(grade)
    grade.set_defaults(command=cmd_grade)

    export = sub.add_parser(
        "export", help="rebuild every export of a graded class from its kept grades (no grading)"
    )
    export.add_argument("--out", type=Path, default=Path("grades"), help="the graded folder")
    export.add_argument(
        "--roster", type=Path, help="a CSV with a 'student' column; its columns join the gradebook"
    )
    _hidden_arg(export)
    export.set_defaults(command=cmd_export)

    compare = sub.add_parser("compare", help="a submission beside the reference solution")
    compare.add_argument("--exercise", "-e", required=True, help="exercise id")
    compare.add_argument("--submission", type=Path, required=True, help="folder or .py file")
    _sandbox_arg(compare)
    compare.set_defaults(command=cmd_compare)

    doctor = sub.add_parser("doctor", help="which isolation this machine gives submissions")
    doctor.set_defaults(command=cmd_doctor)

    dist_ = sub.add_parser(
        "dist", help="build the student edition (no solutions, no hidden checks)"
    )
    dist_.add_argument("--out", type=Path, default=Path("dist"))
    dist_.set_defaults(command=cmd_dist)

    gradescope = sub.add_parser("gradescope", help="build a Gradescope autograder zip")
    gradescope.add_argument("--out", type=Path, default=Path("dist"))
    gradescope.add_argument(
        "--exercise", "-e", default=None, help="the exercises it grades: id[,id…] (default: all)"
    )
    _hidden_arg(gradescope)
    gradescope.set_defaults(command=cmd_gradescope)

    serve = sub.add_parser(
        "serve", help="run your app with auto-reload, and the course's page at /"
    )
    _exercise_arg(serve)
    serve.add_argument(
        "--submission", type=Path, help="a folder laid out like starter/, or one .py file"
    )
    serve.add_argument("--port", type=int, default=8000)
    serve.set_defaults(command=cmd_serve)

    hint = sub.add_parser(
        "hint", help="the first failing check's hint, then the exercise's, one at a time"
    )
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


def _hidden_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--hidden-visibility",
        dest="hidden",
        choices=exports.VISIBILITIES,
        default="after_published",
        help="Gradescope visibility of hidden checks (default: after_published)",
    )


def _sandbox_arg(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="run submissions without bubblewrap (only where it cannot work; see doctor)",
    )


def _isolation(args: argparse.Namespace, *, trusted: bool) -> bool:
    """Whether to sandbox: always for someone else's code, refusing to go on without it
    unless --no-sandbox; the kit's own references run as they are where no sandbox is
    to be had. Prints the isolation in force as the first line."""
    probe = sandbox.probe()
    isolated = probe.works and not args.no_sandbox
    if not isolated and not trusted and not args.no_sandbox:
        raise UsageError(
            f"refusing to run a submission without isolation: {probe.reason}. "
            "Grade it anyway with --no-sandbox (make … NO_SANDBOX=1)"
        )
    console.print(report.plain(f"isolation: {_isolation_words(isolated)}", "dim"))
    return isolated


def _isolation_words(isolated: bool) -> str:
    limits = caps.probe().describe()
    if isolated:
        return f"bubblewrap sandbox per submission; {limits}"
    return f"none (plain processes); {limits}"


def cmd_check(kit: Kit, args: argparse.Namespace) -> int:
    targets = submission.resolve(kit, args.exercise, args.submission)
    # A student's own files run as they are: no sandbox can fail an honest student.
    isolated = False if args.submission is None else _isolation(args, trusted=False)
    # A student's own run stops at the first exercise that does not pass yet, as the
    # later ones build on it; grading someone's submission grades everything.
    stop_early = args.submission is None and args.exercise is None
    results: list[ExerciseResult] = []
    digests: list[str] = []
    with console.status("grading…") as status:
        for exercise, found in targets:
            status.update(f"grading {exercise.id}…")
            digests.append(digest(found.path))  # before it is read: a later save goes stale
            results.append(
                runner.grade(kit, exercise, found.path, found.problem, isolated=isolated)
            )
            if stop_early and not results[-1].passed:
                break
    states: dict[str, State] = {}
    if args.submission is None:  # the student's own files: remember what was graded
        progress = StudentProgress.load(kit)
        for (exercise, _), result, sha256 in zip(targets, results, digests, strict=False):
            progress.record(exercise, result, sha256)
        progress.save(kit)
        reader = report.Reader(hints_seen=progress.hints_seen)
        states = {e.id: progress.state(kit, e) for e, _ in targets}
    else:  # someone grading someone else's work: everything, hidden checks included
        reader = report.Reader(instructor=True)
    if len(targets) == 1:
        console.print(report.exercise_report(results[0], reader=reader))
    else:
        exercises = [e for e, _ in targets]
        console.print(report.progress_report(exercises, results, reader, states))
    if args.json:
        args.json.write_text(json.dumps(exports.gradescope(results, args.hidden), indent=2) + "\n")
    return 0 if all(r.passed for r in results) else 1


def _current(kit: Kit, args: argparse.Namespace) -> Exercise | None:
    return kit.get(args.exercise) if args.exercise else StudentProgress.load(kit).current(kit)


def cmd_hint(kit: Kit, args: argparse.Namespace) -> int:
    """The hint of the first check that fails, once for each way it fails; then the
    exercise's own hints, one more each time."""
    exercise = _current(kit, args)
    if exercise is None:
        console.print("Every exercise passes: no hints needed (make hint EX=<id> gives them).")
        return 0
    graded = StudentProgress.load(kit).fresh(kit, exercise) or _grade_own(kit, exercise)
    progress = StudentProgress.load(kit)
    failing = graded.failing
    if failing is not None and failing.help and progress.help_seen.get(exercise.id) != failing.help:
        progress.help_seen[exercise.id] = failing.help
        progress.save(kit)
        console.print(report.check_hint(exercise, failing))
        return 0
    number, text = progress.next_hint(exercise)
    progress.save(kit)
    console.print(report.hint(exercise, number, text, graded))
    return 0


def _grade_own(kit: Kit, exercise: Exercise) -> Record:
    """Grade the student's file now (never graded, or changed since) and remember it."""
    sha256 = digest(kit.starter(exercise))
    with console.status(f"grading {exercise.id} to see what fails…"):
        result = runner.grade(kit, exercise, kit.starter(exercise), isolated=False)
    progress = StudentProgress.load(kit)
    progress.record(exercise, result, sha256)
    progress.save(kit)
    return progress.graded[exercise.id]


def cmd_lesson(kit: Kit, args: argparse.Namespace) -> int:
    exercise = _current(kit, args) or kit.exercises[-1]
    path = kit.lesson(exercise)
    if not path.is_file():
        raise GraderError(f"the lesson for {exercise.id} is missing ({path})")
    from rich.markdown import Markdown

    lesson = Markdown(path.read_text(encoding="utf-8"), code_theme="monokai")
    if args.no_pager or not console.is_terminal:
        console.print(lesson)
        return 0
    os.environ.setdefault("LESS", "-R")  # let less show colours
    with console.pager(styles=True):
        console.print(lesson)
    return 0


def cmd_watch(kit: Kit, args: argparse.Namespace) -> int:
    from grader import watch

    return watch.watch(kit, console, kit.get(args.exercise) if args.exercise else None)


def cmd_verify(kit: Kit, args: argparse.Namespace) -> int:
    from grader import batch, kitrules

    exercises = kit.select(args.exercise)
    # The rules first: they read files only, and grading a kit that breaks one proves little.
    broken = kitrules.problems(kit, exercises)
    if broken:
        many = "s" if len(broken) > 1 else ""
        console.print(f"{len(broken)} problem{many} with the kit's files; fix, then verify again:")
        for problem in broken:  # one line each, file:line first, as editors jump to it
            console.print(Text("  ") + report.plain(str(problem)), soft_wrap=True)
        return 1
    isolated = _isolation(args, trusted=True)
    console.print(
        f"rules: the kit's files meet all {len(kitrules.RULES)} (grader/kitrules.py)", style="dim"
    )
    jobs = [
        ((e.id, role), e, path(e), None)
        for e in exercises
        for role, path in (("solution", kit.solution), ("starter", kit.starter))
    ]
    with _progress(len(jobs), "verifying") as advance:
        done = batch.grade_many(kit, jobs, isolated=isolated, on_done=advance)
    if done.interrupted:
        return 130
    results = done.results
    rows = [
        Verification(
            e.id, results[(e.id, "solution")], results[(e.id, "starter")], e.skip_check_unsolved
        )
        for e in exercises
    ]
    console.print(report.verify_table(rows))
    for row in rows:
        if not row.solution.passed:
            console.print(
                report.exercise_report(row.solution, reader=report.Reader(instructor=True))
            )
    return 0 if all(row.ok for row in rows) else 1


def cmd_grade(kit: Kit, args: argparse.Namespace) -> int:
    from grader import batch

    exercises = kit.select(args.exercise)
    ids = [e.id for e in exercises]
    students = batch.discover(kit, args.submissions, exercises, one_exercise=bool(args.exercise))
    if args.only:
        wanted = {uploads.nfc(n) for n in args.only}
        unknown = sorted(wanted - {uploads.nfc(s.name) for s in students})
        if unknown:
            known = ", ".join(s.name for s in students[:8])
            raise UsageError(
                f"no student named {', '.join(unknown)} in {args.submissions} "
                f"(there are: {known}{' …' if len(students) > 8 else ''})"
            )
        students = [s for s in students if uploads.nfc(s.name) in wanted]
    roster = _roster(args.roster)
    book = Gradebook(args.out)
    schemes = {e.id: scheme(kit, e) for e in kit.exercises}
    # Each exercise of each student is graded again only if what its grade depends on
    # changed (their file, the checks, the manifest, the grader); ONLY= and FORCE= grade
    # the students they name again. An interrupted FORCE run resumes: what it graded
    # since it began is not graded again.
    prints = {
        (s.name, e.id): fingerprint(
            kit, e, s.job(e)[0], (s.problem, s.problems.get(e.id), s.findings())
        )
        for s in students
        for e in exercises
    }
    since = _force_since(args.out, args.force or bool(args.only))
    todo = [
        (s, e)
        for s in students
        for e in exercises
        if book.fingerprint(s.name, e.id) != prints[(s.name, e.id)]
        or (since is not None and book.graded_before(s.name, e.id, since))
    ]
    isolated = _isolation(args, trusted=False)
    jobs = [((s.name, e.id), e, *s.job(e)) for s, e in todo]
    waiting = {s.name: sum(1 for t, _ in todo if t is s) for s, _ in todo}
    graded: dict[str, dict[str, ExerciseResult]] = {name: {} for name in waiting}
    by_name = {s.name: s for s, _ in todo}
    unsaved: list[str] = []
    with _progress(len(jobs), f"grading {len(waiting)} submissions") as advance:

        def save(key: tuple[str, str], result: ExerciseResult) -> None:
            advance()
            name, exercise = key
            graded[name][exercise] = by_name[name].flagged(result)
            if len(graded[name]) == waiting[name]:  # saved at once: Ctrl-C keeps it
                try:  # a verdict that cannot be saved either (a full disk) stops no one else
                    book.save(
                        name,
                        list(graded[name].values()),
                        {e: prints[(name, e)] for e in graded[name]},
                        args.hidden,
                        schemes=schemes,
                        order=[e.id for e in kit.exercises],
                    )
                except OSError as exc:
                    unsaved.append(f"{name} ({exc.strerror or exc})")

        with _terminate_as_interrupt():
            done = batch.grade_many(kit, jobs, isolated=isolated, workers=args.jobs, on_done=save)
    if not done.interrupted:
        _force_done(args.out)
    # Flags follow the class as it is now (an identical file may have come or gone).
    order_all = [e.id for e in kit.exercises]
    for s in students:
        if s.name not in waiting:
            mine = [k.result for e, k in book.stored(s.name).items() if e in ids]
            unflagged = [dataclasses.replace(r, flags=()) for r in mine]
            book.restamp(s.name, [s.flagged(r) for r in unflagged], args.hidden, order_all)
    have_grades = graded_exercises(book)
    order = [e.id for e in kit.exercises if e.id in ids or e.id in have_grades]
    grades = book.write_summary(order, f"{kit.title}: {', '.join(order)}", roster, schemes=schemes)
    _summary(grades, order)
    finished = sum(len(graded[n]) == waiting[n] for n in waiting)
    kept = len(students) * len(ids) - len(todo)
    console.print(
        report.plain(
            f"Graded {finished} of {len(waiting)} submissions"
            + (f"; kept {kept} results graded before from the same files" if kept else "")
            + f". Written to {args.out}/: {gradebook.written()}"
        )
    )
    stale = book.stale(schemes)
    if stale:
        console.print(
            report.plain(
                f"{len(stale)} students have results graded under older checks or points "
                "(marked stale in gradebook.csv): grade those exercises again."
            ),
            style="bold yellow",
        )
    if unsaved:
        console.print(
            report.plain(f"Could not save, run again to grade them: {', '.join(unsaved)}"),
            style="bold red",
        )
    if done.interrupted:
        console.print(
            "Interrupted: what was graded is kept; run the same command again to grade the rest.",
            style="bold",
        )
        return 130
    # Grading completed: the students' results are in the exports, not in the status.
    return 1 if unsaved else 0


def cmd_export(kit: Kit, args: argparse.Namespace) -> int:
    """Every export again, from the grades kept in OUT: nothing is graded."""
    book = Gradebook(args.out)
    if not book.everything():
        raise UsageError(f"no grades in {args.out}: grade a class there first (make grade)")
    schemes = {e.id: scheme(kit, e) for e in kit.exercises}
    graded = graded_exercises(book)
    order = [e.id for e in kit.exercises if e.id in graded]
    grades = book.write_summary(
        order,
        f"{kit.title}: {', '.join(order)}",
        _roster(args.roster),
        schemes=schemes,
        hidden=args.hidden,
    )
    _summary(grades, order)
    console.print(
        report.plain(
            f"Rebuilt from {len(grades)} students' kept grades in {args.out}/: "
            f"{gradebook.written()}"
        )
    )
    return 0


def graded_exercises(book: Gradebook) -> set[str]:
    """Every exercise some student in `book` has a grade for (every grade.json read once)."""
    return {exercise for stored in book.everything().values() for exercise in stored}


def _summary(grades: dict[str, list[ExerciseResult]], order: list[str]) -> None:
    """The class in the terminal, a line per student and per check."""
    console.print(report.grades_table(grades, order, console.width))
    console.print(report.class_table(classreport.summarize(grades, order), width=console.width))


FORCE = ".force"  # OUT/.force: when a FORCE (or ONLY) run began, until it completes


def _force_since(out: Path, force: bool) -> float | None:
    """When the FORCE run to resume began (or this one, now); None without FORCE."""
    if not force:
        return None
    marker = out / FORCE
    try:
        return float(marker.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        out.mkdir(parents=True, exist_ok=True)
        now = time.time()
        marker.write_text(f"{now}\n")
        return now


def _force_done(out: Path) -> None:
    with contextlib.suppress(OSError):
        (out / FORCE).unlink()


@contextlib.contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM stops a batch as Ctrl-C does: what is graded is kept and exported."""

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _roster(path: Path | None) -> dict[str, dict[str, str]] | None:
    if path is None:
        return None
    try:
        return read_roster(path)
    except (OSError, ValueError, KeyError) as exc:
        raise UsageError(f"cannot read the roster: {exc}") from None


@contextlib.contextmanager
def _progress(total: int, label: str) -> Iterator[Callable[..., None]]:
    from rich.progress import MofNCompleteColumn, Progress

    with Progress(
        *Progress.get_default_columns(), MofNCompleteColumn(), console=console, transient=True
    ) as bar:
        task = bar.add_task(label, total=total)
        yield lambda *_: bar.advance(task)


def cmd_compare(kit: Kit, args: argparse.Namespace) -> int:
    from grader import batch, compare

    [(exercise, found)] = submission.resolve(kit, args.exercise, args.submission)
    file = found.path
    reference_file = kit.solution(exercise)
    if not reference_file.is_file():
        raise GraderError(f"this edition has no solutions/ (looked for {reference_file})")
    isolated = _isolation(args, trusted=False)
    jobs = [
        ("reference", exercise, reference_file, None),
        ("submission", exercise, file, found.problem),
    ]
    with _progress(2, "running both") as advance:
        done = batch.grade_many(kit, jobs, isolated=isolated, on_done=advance)
    if done.interrupted:
        return 130
    results = done.results
    # Only what the grader itself would grade is shown: never what a link points at.
    contents = submission.read(file) if found.problem is None else submission.Contents()
    text = contents.data.decode(errors="replace") if contents.ok else ""
    console.print(compare.source_diff(reference_file.read_text(), text))
    console.print(compare.behaviour(results["reference"], results["submission"]))
    return 0 if results["submission"].passed else 1


def cmd_doctor(kit: Kit, args: argparse.Namespace) -> int:
    from grader import services

    probe = sandbox.probe()
    job = caps.probe()
    limits = job.describe()
    kit.load_extensions()
    rows = [
        ("bubblewrap", probe.version or "not found", probe.works),
        (
            "namespaces",
            "each submission gets its own user, pid, network, ipc and mount namespaces, "
            + (
                "as an unused kernel uid of its own (never root)"
                if os.geteuid() == 0
                else "as you (never root)"
            )
            if probe.works
            else probe.reason,
            probe.works,
        ),
        ("caps", limits, isinstance(job, caps.CgroupCaps)),
        *(
            (
                kind.program,
                shutil.which(kind.program)
                or f"not found (exercises with services = {kind.name} need it)",
                bool(shutil.which(kind.program)),
            )
            for kind in services.known()
        ),
        ("python", f"{sys.version.split()[0]} at {sys.executable}", True),
        (
            "event loop",
            f"only the witness inside each server: {unwatched}"
            if (unwatched := loopwatch.probe())
            else "watched from outside each server (/proc/<pid>/task/<tid>/syscall)",
            not unwatched,
        ),
    ]
    console.print(report.doctor_table(rows))
    if probe.works:
        console.print("Submissions you grade run in the sandbox.", style="green")
        return 0
    console.print(
        report.plain(
            "No sandbox here: grading someone else's submission is refused unless you add "
            "--no-sandbox (NO_SANDBOX=1). Students' own make check is not affected."
        ),
        style="yellow",
    )
    # 3: installed, but the machine forbids namespaces (a container); 1: not set up.
    return DOCTOR_FORBIDDEN if probe.forbidden else 1


def cmd_dist(kit: Kit, args: argparse.Namespace) -> int:
    from grader import dist

    for path in dist.student_edition(kit, args.out):
        console.print(f"wrote {path}")
    return 0


def cmd_gradescope(kit: Kit, args: argparse.Namespace) -> int:
    from grader import dist

    ids = args.exercise.split(",") if args.exercise else [e.id for e in kit.exercises]
    exercises = [kit.get(i.strip()) for i in ids]
    archive = dist.gradescope_autograder(kit, args.out, exercises, args.hidden)
    # Gradescope shows scores out of the assignment's own total, not results.json's.
    points = {e.id: dist.total_points(kit, e) for e in exercises}
    each = ", ".join(f"{i} {p:g}" for i, p in points.items())
    console.print(
        report.plain(
            f"wrote {archive}: upload it as the autograder of an assignment on "
            f"{', '.join(e.id for e in exercises)} (base image: Ubuntu 22.04 or newer), "
            f"and set the assignment's total points to {sum(points.values()):g} ({each})"
        )
    )
    return 0


def cmd_serve(kit: Kit, args: argparse.Namespace) -> int:
    from grader import devserver, services

    exercise = _current(kit, args) or kit.exercises[0]
    [(exercise, found)] = submission.resolve(kit, exercise.id, args.submission)
    file = found.path
    contents = submission.read(file)
    if found.problem or not contents.ok:
        raise UsageError(found.problem or contents.problem or f"no such file: {file}")
    kit.load_extensions()
    page = devserver.page_file()
    env = {
        **os.environ,
        devserver.ENV_FILE: str(file.resolve()),
        devserver.ENV_MODULE: exercise.module,
        devserver.ENV_ENDPOINT: exercise.endpoint,
        devserver.ENV_TITLE: f"{exercise.id} · {exercise.title}",
        devserver.ENV_PAGE: str(page or ""),
    }
    # A SIGTERM (not only Ctrl-C) must also stop the servers and services: unwind the stack.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    with contextlib.ExitStack() as stack:
        for name in exercise.services:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            service = services.kind(name).make(Sandbox(scratch, caps.JobCaps(), isolated=False))
            try:
                service.start()
            except services.ServiceMissing as exc:
                raise GraderError(str(exc)) from None
            stack.callback(service.stop)
            env.update(service.env)
            told = ", ".join(f"{k}={v}" for k, v in service.env.items())
            console.print(f"Started a private {name} service ({told})")
        ports = [args.port + n for n in range(exercise.processes)]
        procs = [_uvicorn(file, port, env) for port in ports]
        for proc in procs:
            stack.callback(_stop, proc)
        pages = ", ".join(f"[bold cyan]http://127.0.0.1:{p}/[/]" for p in ports)
        console.print(
            f"Serving [bold]{file}[/] with auto-reload ({len(procs)} process"
            f"{'es' if len(procs) > 1 else ''}) at {pages}"
            + (" — open the page in two tabs" if page else "")
            + ". Ctrl-C to stop."
        )
        try:
            while all(p.poll() is None for p in procs):
                time.sleep(0.2)
        except KeyboardInterrupt:
            console.print("\nStopping…")
    return 0


def _uvicorn(file: Path, port: int, env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "uvicorn",
            "grader.devserver:build_app",
            "--factory",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--reload",
            "--reload-dir",
            str(file.resolve().parent),
        ],
        env=env,
    )


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
