"""What a class gets wrong: figures over every student's results, and OUT/report.html.

`summarize` is a pure function of the results; `html` draws its charts with matplotlib
and fills a Jinja template (which escapes every name a student chose) into one page
that needs nothing else: charts inline, styles inline, links to each student's feedback.
"""

from __future__ import annotations

import io
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from grader.results import FAILING, ExerciseResult, Outcome, Submitted
from grader.untrusted import escape_controls

if TYPE_CHECKING:  # matplotlib is imported only when a report is drawn (an extra)
    from matplotlib.axis import Axis
    from matplotlib.figure import Figure

TEMPLATE = Path(__file__).with_name("static") / "report.html.j2"


# Only a file the student wrote says what the class gets wrong: a missing file, an
# untouched starter or a refused one fails every check the same way, and a few of them
# would top every statistic. They are counted in each exercise's summary instead.
GRADED = Submitted.FILE
NO_SUBMISSION = "no submission"
LABEL = 40
"""How much of a check's sentence the chart shows beside its bar."""


@dataclass(frozen=True)
class CheckFigures:
    exercise: str
    name: str
    description: str
    ran: int
    """Students whose own submission this check was run against."""
    failed: int
    skipped: int
    first_failure: int
    """Students for whom it is the first check of the exercise that failed."""
    commonest: str
    """The most common reason it failed, and how many had it."""

    @property
    def rate(self) -> float:
        return self.failed / self.ran if self.ran else 0.0


@dataclass(frozen=True)
class ExerciseFigures:
    """One exercise over the whole class, everyone counted: what the checks' figures leave out."""

    exercise: str
    students: int
    submitted: int
    """A file of their own (one that ran, or could not)."""
    passed: int
    mean: float
    """The mean score (%) of those who submitted."""
    missing: int
    starters: int
    not_gradable: int
    no_submission: int
    """No result at all: on the roster only, or not graded for this exercise."""


@dataclass(frozen=True)
class StudentRow:
    name: str
    score: float
    most: float
    statuses: tuple[str, ...]
    reasons: tuple[str, ...] = ()
    """Why each exercise that did not pass did not, as "exercise: reason"."""
    flags: tuple[tuple[str, ...], ...] = ()
    """What the grader noticed about each exercise's submission (a near-miss name…)."""
    absent: bool = False
    """On the roster, but nothing was handed in."""

    @property
    def percent(self) -> float:
        return 100 * self.score / self.most if self.most else 0.0

    @property
    def reason(self) -> str:
        return NO_SUBMISSION if self.absent else " | ".join(self.reasons)


@dataclass(frozen=True)
class ClassSummary:
    exercises: tuple[str, ...]
    students: tuple[StudentRow, ...]
    checks: tuple[CheckFigures, ...] = field(default=())
    """Most failed first (by how many students failed it)."""
    per_exercise: tuple[ExerciseFigures, ...] = field(default=())

    @property
    def present(self) -> tuple[StudentRow, ...]:
        """Students who handed in something: the ones a score means anything for."""
        return tuple(s for s in self.students if not s.absent)

    @property
    def mean(self) -> float:
        present = self.present
        return sum(s.percent for s in present) / len(present) if present else 0.0


def summarize(
    grades: Mapping[str, Sequence[ExerciseResult]],
    exercises: Sequence[str],
    roster: Iterable[str] = (),
) -> ClassSummary:
    """`roster` names everyone expected; those with no results are listed as absent."""
    students = [_student(name, results, exercises) for name, results in grades.items()]
    students += [_absent(name, exercises) for name in roster if name not in grades]
    students.sort(key=lambda s: s.name)
    everyone = {s.name: grades.get(s.name, ()) for s in students}
    return ClassSummary(
        tuple(exercises),
        tuple(students),
        _checks(grades),
        tuple(_exercise(e, everyone) for e in exercises),
    )


def _student(name: str, results: Sequence[ExerciseResult], exercises: Sequence[str]) -> StudentRow:
    by_id = {r.exercise: r for r in results}
    return StudentRow(
        name,
        sum(r.score for r in results),
        sum(r.max_score for r in results),
        tuple(by_id[e].status if e in by_id else NO_SUBMISSION for e in exercises),
        tuple(f"{r.exercise}: {r.reason}" for r in results if r.reason),
        # getattr: flags are newer than some saved results and than this module
        tuple(tuple(getattr(by_id.get(e), "flags", ())) for e in exercises),
    )


def _absent(name: str, exercises: Sequence[str]) -> StudentRow:
    return StudentRow(name, 0, 0, tuple(NO_SUBMISSION for _ in exercises), absent=True)


def _exercise(exercise: str, everyone: Mapping[str, Sequence[ExerciseResult]]) -> ExerciseFigures:
    mine = [r for results in everyone.values() for r in results if r.exercise == exercise]
    kinds = Counter(r.submitted for r in mine)
    graded = [r for r in mine if r.submitted is GRADED]
    percents = [100 * r.score / r.max_score if r.max_score else 0.0 for r in graded]
    return ExerciseFigures(
        exercise,
        students=len(everyone),
        submitted=len(graded),
        passed=sum(r.passed for r in graded),
        mean=sum(percents) / len(percents) if percents else 0.0,
        missing=kinds[Submitted.MISSING],
        starters=kinds[Submitted.UNCHANGED],
        not_gradable=kinds[Submitted.REFUSED],
        no_submission=len(everyone) - len(mine),
    )


def _checks(grades: Mapping[str, Sequence[ExerciseResult]]) -> tuple[CheckFigures, ...]:
    ran: Counter[tuple[str, str]] = Counter()
    failed: Counter[tuple[str, str]] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    first: Counter[tuple[str, str]] = Counter()
    reasons: dict[tuple[str, str], Counter[str]] = {}
    described: dict[tuple[str, str], str] = {}
    for results in grades.values():
        for result in (r for r in results if r.submitted is GRADED):
            first_failed = next((c for c in result.checks if c.outcome in FAILING), None)
            if first_failed is not None:
                first[(result.exercise, first_failed.name)] += 1
            for check in result.checks:
                key = (result.exercise, check.name)
                described[key] = check.description
                if check.outcome is Outcome.SKIPPED:
                    skipped[key] += 1
                    continue
                ran[key] += 1
                if check.outcome in FAILING:
                    failed[key] += 1
                    reasons.setdefault(key, Counter())[_gist(check.rationale)] += 1
    checks = [
        CheckFigures(
            key[0],
            key[1],
            described[key],
            ran[key],
            failed[key],
            skipped[key],
            first[key],
            _commonest(reasons.get(key)),
        )
        for key in described
    ]
    # By how many failed, not by rate: "4 of 6" must not top "20 of 100".
    checks.sort(key=lambda c: (-c.failed, -c.rate, c.exercise, c.name))
    return tuple(checks)


def _gist(rationale: str) -> str:
    """A reason without the parts that differ from one student to the next."""
    return rationale.split(" within ")[0][:160]


def _commonest(reasons: Counter[str] | None) -> str:
    if not reasons:
        return ""
    text, count = reasons.most_common(1)[0]
    return f"{text} ({count})"


def short(text: str, most: int = 72) -> str:
    """The start of `text` that fits a table cell: its first line, cut at a word."""
    line = text.strip().split("\n", 1)[0].strip()
    cut = len(line) > most or line != text.strip()
    if len(line) > most:
        line = line[: most + 1].rsplit(" ", 1)[0] if " " in line[:most] else line[:most]
    return f"{line.rstrip(' .,:;')}…" if cut else line


def html(summary: ClassSummary, title: str, feedback: Mapping[str, str]) -> str:
    """The class report as one self-contained page; `feedback` maps a student to the
    relative link of their feedback page."""
    import jinja2
    import markupsafe  # jinja2's own dependency: what its autoescape trusts

    environment = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        # Names and reasons come from submissions: no bidirectional override or
        # zero-width character may reorder or hide them (the charts are ours, kept).
        finalize=lambda value: (
            escape_controls(value)
            if isinstance(value, str) and not isinstance(value, markupsafe.Markup)
            else value
        ),
    )
    environment.filters["short"] = short
    template = environment.from_string(TEMPLATE.read_text(encoding="utf-8"))
    return template.render(
        title=title,
        summary=summary,
        feedback=feedback,
        distribution=markupsafe.Markup(_distribution_svg(summary)),
        failures=markupsafe.Markup(_failures_svg(summary)),
    )


def _figure(width: float, height: float) -> Figure:
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100, layout="constrained")


def _svg(figure: Figure) -> str:
    import matplotlib

    buffer = io.StringIO()
    # Text as text, not outlines: the page can be searched, and the counts read aloud.
    with matplotlib.rc_context({"svg.fonttype": "none"}):
        figure.savefig(buffer, format="svg")
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _whole_numbers(axis: Axis) -> None:
    from matplotlib.ticker import MaxNLocator

    locator = axis.get_major_locator()
    if isinstance(locator, MaxNLocator):  # AutoLocator, the default: whole students only
        locator.set_params(integer=True)


def _distribution_svg(summary: ClassSummary) -> str:
    figure = _figure(4.6, 3.0)
    axes = figure.subplots()
    axes.hist(
        [s.percent for s in summary.present],
        bins=[0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 100.001],
        color="#3b7dd8",
        edgecolor="white",
    )
    axes.set_xlabel("score (%)")
    axes.set_ylabel("students")
    axes.set_xlim(0, 100)
    _whole_numbers(axes.yaxis)
    return _svg(figure)


def _failures_svg(summary: ClassSummary, most: int = 15) -> str:
    shown = [c for c in summary.checks if c.failed][:most][::-1]
    figure = _figure(6.2, 0.35 * max(len(shown), 1) + 1.0)
    axes = figure.subplots()
    # The table's sentence, cut short: the function name means nothing to a reader.
    labels = [f"{c.exercise}: {short(c.description, LABEL)}" for c in shown]
    bars = axes.barh(range(len(shown)), [c.failed for c in shown], color="#d8533b")
    axes.bar_label(bars, [f" {c.failed} of {c.ran} failed" for c in shown], fontsize=9)
    axes.set_yticks(range(len(shown)), labels, fontsize=9)
    axes.set_xlabel("students who failed it")
    # Space after the longest bar for its count.
    axes.set_xlim(0, max((c.failed for c in shown), default=1) * 1.45)
    _whole_numbers(axes.xaxis)
    if not shown:
        axes.text(0.5, 0.5, "no check failed", ha="center", va="center", transform=axes.transAxes)
        axes.set_yticks([])
    return _svg(figure)
