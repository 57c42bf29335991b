"""Render results for a student with rich: pure functions from results to renderables.

Whatever came from a submission (frames, server output, names of files and folders) is
rendered with `plain`: its control characters escaped, its brackets never read as markup.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.padding import Padding
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from grader.classreport import ClassSummary
from grader.manifest import Exercise
from grader.progress import Failing, Record, State
from grader.results import CheckResult, ExerciseResult, Outcome, Verification
from grader.untrusted import escape_controls as escape_controls  # re-exported

SHOWN_STEPS = 12
# An exercise in the progress table, when it is not the current one.
STATES = {
    State.DONE: ("✓", "green"),
    State.FAILING: ("✗", "red"),
    State.CHANGED: ("…", "yellow"),
    State.NOT_STARTED: ("·", "dim"),
}
MARKS = {
    Outcome.PASSED: ("✓", "green"),
    Outcome.FAILED: ("✗", "red"),
    Outcome.TIMED_OUT: ("⏱", "red"),
    Outcome.ERRORED: ("!", "red"),
    Outcome.SKIPPED: ("–", "dim"),
}


def plain(text: str, style: str = "") -> Text:
    """Untrusted text, safe for the terminal: no markup, no control characters."""
    return Text(escape_controls(text), style)


@dataclass(frozen=True)
class Reader:
    """Who reads a report. A student sees hidden checks only counted, and the footer
    shows the last hint they asked for; an instructor sees everything, hints aside."""

    instructor: bool = False
    hints_seen: Mapping[str, int] = field(default_factory=dict)
    """How many hints of each exercise (by id) the student has asked for."""

    def sees(self, check: CheckResult) -> bool:
        """Whether this reader is shown the check itself, not only counted among hidden ones."""
        return self.instructor or not check.hidden


def visible_whitespace(expected: str, actual: str) -> tuple[str, str]:
    """When two strings differ only in spaces, show the spaces as '·' in both."""
    if expected != actual and expected.split() == actual.split():
        return expected.replace(" ", "·"), actual.replace(" ", "·")
    return expected, actual


def check_line(
    result: CheckResult, *, details: bool = True, reader: Reader | None = None
) -> RenderableType:
    reader = reader or Reader()
    mark, style = MARKS[result.outcome]
    line = Text.assemble((f" {mark} ", style), result.description)
    if result.points != 1:
        line.append(f"  ({result.points:g} points)", style="dim")
    if result.hidden:
        line.append("  (hidden)", style="dim")
    if result.outcome is Outcome.TIMED_OUT:
        line.append("  (timed out)", style="red")
    if result.outcome is Outcome.ERRORED:
        line.append("  (could not run)", style="red")
    if not details or result.passed:
        return line
    if result.outcome is Outcome.SKIPPED:
        line.append("  (skipped until the checks it builds on pass)", style="dim")
        return line
    return Group(line, Padding(_explain(result, reader), (0, 0, 1, 5)))


def _explain(result: CheckResult, reader: Reader) -> RenderableType:
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if result.steps:
        shown = result.steps[-SHOWN_STEPS:]
        earlier = len(result.steps) - len(shown)
        lines = ([f"… {earlier} earlier steps"] if earlier else []) + list(shown)
        grid.add_row("what happened", plain("\n".join(lines)))
    grid.add_row("problem", plain(result.rationale, "red"))
    if result.expected is not None and result.actual is not None:
        expected, actual = visible_whitespace(result.expected, result.actual)
        grid.add_row("expected", plain(expected, "green"))
        grid.add_row("arrived", plain(actual, "yellow"))
    if result.server_output:
        grid.add_row("server said", plain(result.server_output, "dim"))
    if result.help:
        grid.add_row("hint", plain(result.help, "cyan"))
    if reader.instructor and result.detail:
        grid.add_row("detail", plain(result.detail, "dim"))
    return grid


def exercise_report(
    result: ExerciseResult, *, details: bool = True, reader: Reader | None = None
) -> RenderableType:
    """One exercise: a line per check, the failures explained, and the hint reached.

    A student sees their hidden checks only counted ("1 hidden check, graded by your
    instructor"); an instructor sees them like any other.
    """
    reader = reader or Reader()
    shown = [c for c in result.checks if reader.sees(c)]
    hidden = len(result.checks) - len(shown)
    passed = sum(c.passed for c in shown)
    score = f"{passed}/{len(shown)} checks passed"
    if any(c.points != 1 for c in shown):
        earned, most = sum(c.score for c in shown), sum(c.points for c in shown)
        score += f", {earned:g}/{most:g} points"
    header = Text.assemble(
        (f"{result.exercise}", "bold"),
        f" · {result.title}   ",
        (score, "green" if result.passed else "yellow"),
        (f"  ({result.duration:.1f} s)", "dim"),
    )
    parts: list[RenderableType] = [header]
    if result.error:
        parts.append(plain(f" ! {result.error}", "bold red"))
        if result.error_detail:
            parts.append(Padding(plain(result.error_detail, "dim"), (0, 0, 0, 5)))
        if all(c.outcome is Outcome.SKIPPED for c in result.checks):
            parts.append(Text("   Fix this first: no check can run until the app starts.", "cyan"))
            return Group(*parts)
    parts.extend(check_line(c, details=details, reader=reader) for c in shown)
    if hidden:
        checks = "check" if hidden == 1 else "checks"
        parts.append(Text(f" + {hidden} hidden {checks}, graded by your instructor", "dim"))
    if details and not result.passed and result.hints and not reader.instructor:
        number = min(max(reader.hints_seen.get(result.exercise, 0), 1), len(result.hints))
        more = "more: make hint" if number < len(result.hints) else "the last one"
        parts.append(
            Text.assemble(
                (f"\n hint {number}/{len(result.hints)}", "bold cyan"),
                (f"  ({more}; the lesson: make lesson)", "dim"),
            )
        )
        parts.append(Padding(hint_text(result.hints[number - 1]), (0, 0, 0, 3)))
    return Group(*parts)


def progress_report(
    exercises: list[Exercise],
    results: list[ExerciseResult],
    reader: Reader | None = None,
    recorded: Mapping[str, State] | None = None,
) -> RenderableType:
    """Every exercise with its state, a progress bar, and what to do next.

    `results` may stop at the current exercise: each one after it shows its state in
    `recorded` (the student's last grading of it, if its file is unchanged since), or
    else "not started".
    """
    reader = reader or Reader()
    recorded = recorded or {}
    graded = {r.exercise: r for r in results}
    current = next((r for r in results if not r.passed), None)
    table = Table(box=None, show_header=False, padding=(0, 2))
    done = 0
    for exercise in exercises:
        result = graded.get(exercise.id)
        if result is None:
            state = recorded.get(exercise.id, State.NOT_STARTED)
        elif result.passed:
            state = State.DONE
        else:
            state = State.FAILING
        done += state is State.DONE
        mark = (
            Text("▶ current", "bold yellow")
            if result is not None and result is current
            else Text(f"{STATES[state][0]} {state.value}", STATES[state][1])
        )
        shown = [c for c in result.checks if reader.sees(c)] if result else []
        score = f"{sum(c.passed for c in shown)}/{len(shown)}" if result else ""
        table.add_row(mark, Text(exercise.id, "bold"), Text(exercise.title), score)
    bar = Group(
        ProgressBar(total=len(exercises), completed=done, width=40),
        Text(f"{done} of {len(exercises)} exercises done"),
    )
    parts: list[RenderableType] = [table, bar]
    if current is not None:
        parts += [
            Text(""),
            exercise_report(current, reader=reader),
            Text(
                f"\nNext: fix {current.exercise}, then run make check "
                f"(or make watch to re-check on every save).",
                "bold",
            ),
        ]
    elif done == len(exercises):
        parts.append(Text("\nEvery exercise passes. Well done!", "bold green"))
    return Group(*parts)


def hint_text(text: str) -> Text:
    """A hint as written: its lines are kept whole (hints are laid out for 80 columns)."""
    return Text(text.strip("\n"), "cyan", no_wrap=True, overflow="ellipsis")


def hint(
    exercise: Exercise, number: int, text: str, graded: Record | None = None
) -> RenderableType:
    """One of the exercise's own hints, below what its last grading (`graded`) found."""
    total = len(exercise.hints)
    more = "run make hint again for the next one" if number < total else "that was the last hint"
    parts: list[RenderableType] = [
        Text.assemble(
            ("hint ", "bold cyan"),
            f"{number}/{total} for ",
            (exercise.id, "bold"),
            f" · {exercise.title}",
        )
    ]
    if graded is not None:
        parts.append(_graded_line(graded))
    parts += [
        Padding(hint_text(text), (1, 2)),
        Text(f"({more}; the lesson: make lesson)", "dim"),
    ]
    return Group(*parts)


def _graded_line(graded: Record) -> RenderableType:
    if graded.passed:
        return Text("Every check passes as your file is now; a hint all the same:", "green")
    if graded.failing is None:
        return Text("The checks you can see pass; a hidden one does not.", "yellow")
    line = Text.assemble(("first failing check: ", "dim"), plain(graded.failing.description))
    if graded.failing.help:  # its own hint came first (check_hint)
        return line
    return Group(line, Text.assemble(("problem: ", "dim"), plain(graded.failing.rationale, "red")))


def check_hint(exercise: Exercise, failing: Failing) -> RenderableType:
    """The first check that fails, with the hint its report printed: what `make hint`
    shows before the exercise's own hints."""
    grid = Table.grid(padding=(0, 2))
    grid.add_column(style="bold", no_wrap=True)
    grid.add_column()
    if failing.rationale:
        grid.add_row("problem", plain(failing.rationale, "red"))
    grid.add_row("hint", plain(failing.help or "", "cyan"))
    return Group(
        Text.assemble(
            ("hint ", "bold cyan"),
            "for the first failing check of ",
            (exercise.id, "bold"),
            f" · {exercise.title}",
        ),
        Padding(
            Group(Text.assemble((" ✗ ", "red"), plain(failing.description)), Padding(grid, (0, 3))),
            (1, 0),
        ),
        Text("(run make hint again for the exercise's own hints; the lesson: make lesson)", "dim"),
    )


def _verdict(result: ExerciseResult) -> Text:
    if result.passed:
        return Text("passed", "green")
    if result.error:
        return Text("could not run", "red")
    if any(c.outcome is Outcome.TIMED_OUT for c in result.checks):
        return Text("timed out", "red")
    return Text("failed", "yellow")


def verify_table(rows: list[Verification]) -> Table:
    """Per exercise: the solution must pass, the starter must fail (see Verification.ok)."""
    table = Table(title="make verify")
    for column in ("exercise", "solution", "starter", "verdict"):
        table.add_column(column)
    for row in rows:
        solution, starter = row.solution, row.starter
        table.add_row(
            row.exercise,
            Text(f"{solution.score:g}/{solution.max_score:g} ") + _verdict(solution),
            Text(f"{starter.score:g}/{starter.max_score:g} ") + _verdict(starter),
            Text("ok", "green") if row.ok else Text("SURPRISE", "bold red"),
        )
    return table


FLAG = "⚑"  # beside a student with flags (a near-miss file name, an identical file…)


def grades_table(
    grades: dict[str, list[ExerciseResult]], ids: list[str], width: int = 120
) -> Table:
    """One row per student, one line each: score per exercise (where `width` has space
    for them), total, time, verdict (cut short: gradebook.csv and report.html say it all)."""
    table = Table(title="grades")
    if any(r.flags for results in grades.values() for r in results):
        table.caption = f"{FLAG} flagged: see the flags column of gradebook.csv"
    every = width >= 40 + 9 * len(ids)
    table.add_column("student", overflow="fold")
    for exercise_id in ids if every else ():
        table.add_column(exercise_id, justify="right", no_wrap=True)
    table.add_column("total", justify="right", no_wrap=True)
    if every:
        table.add_column("time", justify="right", no_wrap=True)
    table.add_column("verdict", no_wrap=True)
    left = max(12, width - (40 + 9 * len(ids) if every else 30))
    for student, results in sorted(grades.items()):
        by_id = {r.exercise: r for r in results}
        total = sum(r.score for r in results)
        most = sum(r.max_score for r in results)
        unrun = [f"{r.exercise} {r.status}" for r in results if r.error]
        failed = sum(not c.passed for r in results for c in r.checks if not r.error)
        if unrun:
            verdict = plain(_shorten("; ".join(unrun), left), "red")
        elif failed:
            verdict = Text(f"{failed} checks did not pass", "yellow")
        else:
            verdict = Text("passed", "green")
        scores = [f"{by_id[e].score:g}/{by_id[e].max_score:g}" if e in by_id else "–" for e in ids]
        flagged = sum(len(r.flags) for r in results)
        table.add_row(
            # Never cut: two students may differ only at the end of their names.
            plain(student) + (Text(f" {FLAG}{flagged}", "magenta") if flagged else ""),
            *(scores if every else ()),
            f"{total:g}/{most:g}",
            *([f"{sum(r.duration for r in results):.1f} s"] if every else ()),
            verdict,
        )
    return table


def _shorten(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def doctor_table(rows: list[tuple[str, str, bool]]) -> Table:
    """What the machine offers for isolating submissions: one row per part."""
    table = Table(title="grader doctor", show_header=False)
    table.add_column()
    table.add_column()
    table.add_column()
    for name, words, good in rows:
        table.add_row(
            Text("✓", "green") if good else Text("✗", "yellow"), Text(name, "bold"), plain(words)
        )
    return table


def class_table(summary: ClassSummary, most: int = 10, width: int = 120) -> Table:
    """The checks the class fails most, as in report.html, a line each at `width`."""
    table = Table(title="what the class gets wrong (the full list: report.html)")
    for column in ("exercise", "check", "failed", "first", "most common reason"):
        table.add_column(column, justify="right" if column in ("failed", "first") else "left")
    left = max(12, width - 60)
    for check in [c for c in summary.checks if c.failed][:most]:
        table.add_row(
            check.exercise,
            Text(_shorten(check.name, 24)),
            f"{check.failed}/{check.ran}",
            str(check.first_failure),
            plain(_shorten(check.commonest, left)),
        )
    return table
