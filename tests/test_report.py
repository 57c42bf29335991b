"""report: what a student (or an instructor) reads for each outcome, rendered as text."""

from __future__ import annotations

from rich.console import Console, RenderableType

from grader import report
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome, Verification
from tests.conftest import ROOT

FAKE = Kit.load(ROOT / "tests" / "data" / "fakecourse")
ECHO = FAKE.get("echo")

ACCEPTS = CheckResult("accepts", "A client is accepted.", Outcome.PASSED)
ECHOES = CheckResult(
    "echoes",
    "A message comes back.",
    Outcome.FAILED,
    rationale="alice should have received 'hello'",
    expected="'hello'",
    actual="nothing within 2 s",
    steps=("alice connected to /ws/alice", "alice sent 'hello'"),
    server_output="INFO: connection open",
    help="Send back the text you received.",
    detail="a traceback for the instructor",
)
SKIPPED = CheckResult(
    "later", "Builds on echoes.", Outcome.SKIPPED, rationale="skipped until …", waited_for="echoes"
)
SLOW = CheckResult("prompt", "Answers at once.", Outcome.TIMED_OUT, rationale="did not finish")
BROKE = CheckResult("broke", "Runs at all.", Outcome.ERRORED, rationale="the grader hit an error")
SECRET = CheckResult("secret", "A secret check.", Outcome.PASSED, hidden=True)


def text(renderable: RenderableType) -> str:
    console = Console(record=True, width=120, color_system=None)
    console.print(renderable)
    return console.export_text()


def exercise(*checks: CheckResult, error: str | None = None) -> ExerciseResult:
    return ExerciseResult("echo", "Echo", checks=checks, error=error, hints=ECHO.hints)


def line_of(shown: str, description: str) -> str:
    return next(line for line in shown.splitlines() if description in line)


def test_a_passed_check_is_one_line_with_its_mark() -> None:
    shown = text(report.exercise_report(exercise(ACCEPTS)))
    assert line_of(shown, ACCEPTS.description).strip() == "✓ A client is accepted."
    assert "1/1 checks passed" in shown
    assert "hint" not in shown  # nothing to fix, no hint


def test_a_failed_check_shows_what_happened_expected_arrived_and_a_hint() -> None:
    shown = text(report.exercise_report(exercise(ACCEPTS, ECHOES)))
    assert line_of(shown, ECHOES.description).strip() == "✗ A message comes back."
    rows = {" ".join(line.split()) for line in shown.splitlines()}
    for label, value in [
        ("what happened", "alice connected to /ws/alice"),
        ("problem", ECHOES.rationale),
        ("expected", "'hello'"),
        ("arrived", "nothing within 2 s"),
        ("server said", "INFO: connection open"),
        ("hint", "Send back the text you received."),
    ]:
        assert f"{label} {value}" in rows, label
    assert "a traceback for the instructor" not in shown  # the detail is the instructor's
    assert "1/2 checks passed" in shown
    # The course's first hint, since the student has asked for none yet.
    assert "hint 1/1" in shown and ECHO.hints[0] in shown


def test_the_instructor_also_sees_the_detail() -> None:
    shown = text(report.exercise_report(exercise(ECHOES), reader=report.Reader(instructor=True)))
    assert "detail" in line_of(shown, "a traceback for the instructor")


def test_a_skipped_check_says_it_waits_and_explains_nothing_else() -> None:
    shown = text(report.exercise_report(exercise(ECHOES, SKIPPED)))
    line = line_of(shown, SKIPPED.description)
    assert line.strip() == "– Builds on echoes.  (skipped until the checks it builds on pass)"
    assert shown.count("problem") == 1  # only the failed check's


def test_a_timed_out_and_an_errored_check_say_so_on_their_line() -> None:
    shown = text(report.exercise_report(exercise(SLOW, BROKE)))
    assert line_of(shown, SLOW.description).strip() == "⏱ Answers at once.  (timed out)"
    assert line_of(shown, BROKE.description).strip() == "! Runs at all.  (could not run)"
    assert "did not finish" in line_of(shown, "problem")


def test_an_app_that_cannot_start_is_told_to_fix_that_first() -> None:
    skipped = CheckResult("accepts", "A client is accepted.", Outcome.SKIPPED)
    shown = text(report.exercise_report(exercise(skipped, error="the app could not start")))
    assert "! the app could not start" in shown
    assert "Fix this first" in shown and skipped.description not in shown


def test_a_student_sees_hidden_checks_only_counted_an_instructor_sees_them() -> None:
    result = exercise(ACCEPTS, SECRET)
    student = text(report.exercise_report(result))
    assert SECRET.description not in student
    assert "+ 1 hidden check, graded by your instructor" in student
    assert "1/1 checks passed" in student
    instructor = text(report.exercise_report(result, reader=report.Reader(instructor=True)))
    assert line_of(instructor, SECRET.description).strip() == "✓ A secret check.  (hidden)"
    assert "2/2 checks passed" in instructor and "hidden check," not in instructor
    # The progress table counts the same checks as the report under it.
    progress = text(report.progress_report(list(FAKE.exercises), [exercise(ACCEPTS, SECRET)]))
    assert "1/1" in line_of(progress, ECHO.title)


def test_text_from_a_submission_cannot_paint_the_terminal() -> None:
    painted = CheckResult("x", "x", Outcome.FAILED, rationale="r", server_output="\x1b[31mred[/]")
    shown = text(report.exercise_report(exercise(painted)))
    assert "\\x1b[31mred[/]" in shown and "\x1b" not in shown


def test_verify_says_ok_or_surprise_by_the_one_rule() -> None:
    passed, failed = exercise(ACCEPTS), exercise(ECHOES)
    rows = [
        Verification("sound", passed, failed),
        Verification("unsolvable", failed, failed),
        Verification("already-solved", passed, passed),
        Verification("may-pass", passed, passed, starter_may_pass=True),
    ]
    shown = text(report.verify_table(rows))
    verdicts = {row.exercise: line_of(shown, row.exercise).split("│")[-2].strip() for row in rows}
    assert verdicts == {
        "sound": "ok",
        "unsolvable": "SURPRISE",
        "already-solved": "SURPRISE",
        "may-pass": "ok",
    }
    assert "1/1 passed" in line_of(shown, "sound") and "0/1 failed" in line_of(shown, "sound")
