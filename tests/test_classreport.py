"""The class report (report.html), drawn in a real headless Chromium at a laptop's width,
for a class built from results directly: nothing is graded."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from grader import classreport
from grader.results import CheckResult, ExerciseResult, Outcome, Submitted

BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
WIDTH = 1280
CHECKS = {
    "broadcast": {
        "greets_newcomer": 'A client that connects to /ws/alice is accepted and receives "Client '
        '#alice joined".',
        "relays_to_everyone": 'A message is relayed as "Client #alice: hello" to every client, '
        "the sender included.",
        "announces_leave": "When a client disconnects, every remaining client receives "
        '"Client #alice left".',
    },
    "rooms": {
        "joins_room": "A client that connects to /ws/lobby/alice joins the lobby and no other "
        "room, whatever it sends first.",
        "keeps_rooms_apart": "A message sent in one room never reaches a client in another.",
    },
    "presence": {"lists_members": "Asking who is here lists every member of the room, once."},
    "typing": {"shows_typing": "A typing notice reaches the others, never the one typing."},
}
STARTER_REASON = "STARTER-ONLY: the starter returns HTTP 500"
TRACEBACK = "\n".join(
    [
        "the app could not start: broadcast.py raised ImportError",
        *(f'  File "/home/{"deep/" * 12}broadcast.py", line {n}, in <module>' for n in range(22)),
        "ImportError: cannot import name 'WebSocketManager' (the very last line)",
    ]
)


@dataclass(frozen=True)
class Flagged(ExerciseResult):
    """An ExerciseResult as it will be once results carry flags."""

    flags: tuple[str, ...] = ()


def result(
    exercise: str,
    fails: Iterator[str] | tuple[str, ...] = (),
    submitted: Submitted = Submitted.FILE,
    **extra: Any,
) -> ExerciseResult:
    """Every check of `exercise` passes but those in `fails`, which fail for a reason
    that depends on how it was submitted."""
    failing = set(fails)
    if submitted is not Submitted.FILE:
        failing = set(CHECKS[exercise])
    reason = STARTER_REASON if submitted is Submitted.UNCHANGED else f"{exercise} went wrong"
    checks = tuple(
        CheckResult(
            name,
            description,
            Outcome.FAILED if name in failing else Outcome.PASSED,
            rationale=reason if name in failing else "",
        )
        for name, description in CHECKS[exercise].items()
    )
    kind = Flagged if "flags" in extra else ExerciseResult
    return kind(exercise, exercise.title(), checks, submitted=submitted, **extra)


def student(number: int) -> list[ExerciseResult]:
    """A hundred students: a fifth fail the relay; six hand in rooms, four of them wrong;
    nobody does presence or typing."""
    relay = ("relays_to_everyone",) if number < 20 else ()
    rooms = result("rooms", ("joins_room",) if number < 4 else ())
    return [
        result("broadcast", relay),
        rooms if number < 6 else result("rooms", submitted=Submitted.MISSING),
        result("presence", submitted=Submitted.MISSING),
        result("typing", submitted=Submitted.MISSING),
    ]


def nothing_but(first: ExerciseResult) -> list[ExerciseResult]:
    return [first, *(result(e, submitted=Submitted.MISSING) for e in list(CHECKS)[1:])]


@pytest.fixture(scope="module")
def summary() -> classreport.ClassSummary:
    grades = {f"s{n:03}": student(n) for n in range(99)}
    grades["longwinded"] = nothing_but(
        ExerciseResult(
            "broadcast",
            "Broadcast",
            tuple(
                CheckResult(n, d, Outcome.ERRORED, rationale="it could not start")
                for n, d in CHECKS["broadcast"].items()
            ),
            error=TRACEBACK,
        )
    )
    for name in ("bob", "carl"):  # untouched starters: they fail everything, alike
        grades[name] = nothing_but(result("broadcast", submitted=Submitted.UNCHANGED))
    grades["linker"] = nothing_but(result("broadcast", submitted=Submitted.REFUSED))
    grades["nearmiss"] = nothing_but(
        result("broadcast", submitted=Submitted.MISSING, flags=("near miss: Broadcast-final.py",))
    )
    grades["x" * 150] = student(99)  # a name with nowhere to wrap
    return classreport.summarize(grades, list(CHECKS), roster=["frank", "s000"])


@pytest.fixture(scope="module")
def page(summary: classreport.ClassSummary) -> Iterator[Any]:
    if BROWSER is None:
        pytest.skip("no Chromium: `make test` installs Debian's chromium when run as root")
    from playwright.sync_api import sync_playwright

    links = {s.name: f"students/{s.name}/feedback.html" for s in summary.present}
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=BROWSER, args=["--no-sandbox"])
        tab = browser.new_page(viewport={"width": WIDTH, "height": 800})
        tab.set_content(classreport.html(summary, "Rooms: broadcast, rooms", links))
        yield tab
        browser.close()


def figures(summary: classreport.ClassSummary, name: str) -> classreport.CheckFigures:
    return next(c for c in summary.checks if c.name == name)


def test_starters_missing_and_refused_files_stay_out_of_the_checks_figures(
    summary: classreport.ClassSummary, page: Any
) -> None:
    greets = figures(summary, "greets_newcomer")
    assert (greets.ran, greets.failed) == (101, 1)  # the one that could not run; no starter
    assert all(STARTER_REASON not in c.commonest for c in summary.checks)
    assert {c.exercise for c in summary.checks} == {"broadcast", "rooms"}  # nobody did the rest
    assert STARTER_REASON not in page.inner_text("table.checks")
    assert STARTER_REASON not in page.inner_text(".charts")


def test_the_commonest_failures_are_ranked_by_count_and_the_chart_shows_counts(
    summary: classreport.ClassSummary, page: Any
) -> None:
    failed = [c.failed for c in summary.checks]
    assert failed == sorted(failed, reverse=True)
    relay, rooms = figures(summary, "relays_to_everyone"), figures(summary, "joins_room")
    assert (relay.failed, relay.ran, rooms.failed, rooms.ran) == (21, 101, 4, 6)
    assert summary.checks.index(relay) < summary.checks.index(rooms)  # though 4/6 > 21/101
    labels = page.locator(".charts svg text").all_text_contents()
    assert "21 of 101 failed" in [t.strip() for t in labels]
    assert "4 of 6 failed" in [t.strip() for t in labels]
    chart = page.inner_text(".charts")
    assert "relays_to_everyone" not in chart  # sentences, as in the table
    assert classreport.short(relay.description, classreport.LABEL) in " ".join(labels)


def test_each_exercise_is_summed_up_counting_everyone(
    summary: classreport.ClassSummary, page: Any
) -> None:
    by_id = {e.exercise: e for e in summary.per_exercise}
    assert by_id["broadcast"] == classreport.ExerciseFigures(
        "broadcast",
        students=106,
        submitted=101,  # the hundred, and the one whose name cannot wrap
        passed=80,
        mean=by_id["broadcast"].mean,
        missing=1,
        starters=2,
        not_gradable=1,
        no_submission=1,  # frank
    )
    assert (by_id["rooms"].submitted, by_id["rooms"].passed, by_id["rooms"].missing) == (6, 2, 99)
    row = page.locator("table.exercises tr", has_text="broadcast").inner_text().split("\t")
    assert row[:4] == ["broadcast", "106", "101", "80"] and row[6:] == ["2", "1", "1"]


def test_a_student_on_the_roster_only_is_listed_with_no_submission(
    summary: classreport.ClassSummary, page: Any
) -> None:
    assert [s.name for s in summary.students].count("s000") == 1
    frank = page.locator("table.students tr", has_text="frank")
    assert frank.locator("td.no-submission").count() == len(CHECKS)
    assert "no submission" in frank.locator("td.reason").inner_text()
    assert len(summary.present) == len(summary.students) - 1  # frank has no score to average


def test_flags_are_shown_beside_the_exercise_they_are_about(page: Any) -> None:
    cell = page.locator("table.students tr", has_text="nearmiss").locator("td.missing").first
    assert "near miss: Broadcast-final.py" in cell.inner_text()


def test_the_page_fits_a_laptop_and_long_reasons_are_folded(page: Any) -> None:
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
    # What each reason cell shows, not the cell: a row is as tall as its tallest cell,
    # and a folded reason shows its summary.
    heights = page.locator("td.reason").evaluate_all(
        """cells => cells.map(cell => {
            const range = document.createRange();
            range.selectNodeContents(cell.querySelector("summary") || cell);
            return range.getBoundingClientRect().height;
        })"""
    )
    line = page.evaluate(
        "parseFloat(getComputedStyle(document.querySelector('td.reason')).lineHeight)"
    )
    assert max(heights) <= 2 * line + 1, max(heights)  # two lines at most
    folded = page.locator("table.students tr", has_text="longwinded").locator("details")
    assert "the very last line" in folded.text_content()  # all of it, a click away
    assert "the very last line" not in folded.locator("summary").inner_text()
    folded.locator("summary").click()
    assert page.evaluate("document.documentElement.scrollWidth") <= WIDTH
