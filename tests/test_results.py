"""results: what a check and an exercise come to (score, status, reason), and back from JSON."""

from __future__ import annotations

import json
from typing import Any

import pytest

from grader.results import Check, CheckResult, ExerciseResult, Outcome, Submitted, Verification


def check(name: str, outcome: Outcome, points: float = 1.0, **more: Any) -> CheckResult:
    return CheckResult(name, f"{name} works.", outcome, points=points, **more)


PASSED = check("accepts", Outcome.PASSED, 2.0)
FAILED = check("echoes", Outcome.FAILED, rationale="alice should have received 'hello'")
SKIPPED = check("echoes", Outcome.SKIPPED, rationale="skipped until …", waited_for="accepts")
TIMED_OUT = check("prompt", Outcome.TIMED_OUT, rationale="the check did not finish within 1 s")


def exercise(*checks: CheckResult, **more: Any) -> ExerciseResult:
    return ExerciseResult("echo", "Echo", checks=checks, **more)


@pytest.mark.parametrize("outcome", list(Outcome))
def test_a_check_scores_all_its_points_only_when_it_passed(outcome: Outcome) -> None:
    result = check("c", outcome, 3.0)
    assert result.passed is (outcome is Outcome.PASSED)
    assert result.score == (3.0 if outcome is Outcome.PASSED else 0.0)


def test_an_exercise_passes_when_every_check_does_and_nothing_went_wrong() -> None:
    assert exercise(PASSED, PASSED).passed
    assert not exercise(PASSED, SKIPPED).passed  # a skipped check is not a passed one
    assert not exercise().passed  # no check ran: nothing was shown to work
    assert not exercise(PASSED, error="the app could not start").passed


def test_score_and_most_add_up_the_points_of_the_checks() -> None:
    result = exercise(PASSED, FAILED, SKIPPED)
    assert (result.score, result.max_score) == (2.0, 4.0)


@pytest.mark.parametrize(
    ("result", "status"),
    [
        (exercise(PASSED), "passed"),
        (exercise(PASSED, FAILED), "failed"),
        (exercise(SKIPPED, error="the app could not start"), "could not run"),
        (exercise(FAILED, submitted=Submitted.UNCHANGED), "unchanged starter"),
        (exercise(SKIPPED, submitted=Submitted.MISSING, error="no echo.py"), "missing"),
        (exercise(SKIPPED, submitted=Submitted.REFUSED, error="binary"), "not gradable"),
    ],
)
def test_the_status_says_in_a_word_what_became_of_the_exercise(
    result: ExerciseResult, status: str
) -> None:
    assert result.status == status


def test_the_reason_is_the_error_or_the_first_check_that_did_not_pass() -> None:
    assert exercise(PASSED).reason == ""
    assert exercise(FAILED, error="the app could not start").reason == "the app could not start"
    # Skipped checks are passed over: the reason is the check that failed first.
    assert exercise(PASSED, SKIPPED, TIMED_OUT, FAILED).reason == (
        "prompt works. timed out: the check did not finish within 1 s"
    )


def test_a_result_survives_the_trip_through_json_unchanged() -> None:
    failed = check(
        "echoes", Outcome.FAILED, expected="'hello'", actual="nothing", steps=("a", "b"), help="h"
    )
    result = exercise(PASSED, failed, SKIPPED, error="boom", error_detail="trace", duration=1.5)
    again = ExerciseResult.from_dict(result.to_dict())
    assert again == result
    assert again.checks[1].steps == ("a", "b") and again.checks[2].waited_for == "accepts"


def test_fields_a_newer_grader_wrote_are_passed_over() -> None:
    data = {**PASSED.to_dict(), "flakiness": 0.1}
    assert CheckResult.from_dict(data) == PASSED


@pytest.mark.parametrize(
    ("solution", "starter", "may_pass", "ok"),
    [
        (exercise(PASSED), exercise(FAILED), False, True),
        (exercise(PASSED), exercise(PASSED), False, False),  # nothing to do for a student
        (exercise(PASSED), exercise(PASSED), True, True),  # skip_check_unsolved
        (exercise(FAILED), exercise(FAILED), False, False),  # no way to do it
        (exercise(FAILED), exercise(FAILED), True, False),
    ],
)
def test_verify_is_ok_when_the_solution_passes_and_the_starter_fails_unless_it_may_pass(
    solution: ExerciseResult, starter: ExerciseResult, may_pass: bool, ok: bool
) -> None:
    assert Verification("echo", solution, starter, may_pass).ok is ok


# An exercise as grade.json held it before results.Check existed (written by the grader of
# issue 19): it must load, and be written back byte for byte.
SAVED = (
    '{"exercise": "echo", "title": "Echo", "checks": [{"name": "accepts", "description": '
    '"accepts works.", "outcome": "passed", "points": 2.0, "hidden": false, "rationale": "", '
    '"expected": null, "actual": null, "steps": ["alice connected"], "server_output": "", '
    '"help": null, "detail": "", "duration": 0.12, "waited_for": ""}, {"name": '
    '"never_blocks_event_loop", "description": "The server never blocks its event loop.", '
    '"outcome": "failed", "points": 1.0, "hidden": true, "rationale": "blocked 0.5 s", '
    '"expected": "x", "actual": "y", "steps": [], "server_output": "out", "help": "h", '
    '"detail": "d", "duration": 0.0, "waited_for": ""}], "error": null, "error_detail": "", '
    '"duration": 1.5, "score": 2.0, "max_score": 3.0, "passed": false, "submitted": "file", '
    '"flags": []}'
)


def test_a_result_saved_by_an_earlier_grader_loads_and_is_written_back_byte_for_byte() -> None:
    loaded = ExerciseResult.from_dict(json.loads(SAVED))
    assert json.dumps(loaded.to_dict()) == SAVED
    assert loaded.checks[1].check == Check(
        "never_blocks_event_loop", "The server never blocks its event loop.", 1.0, hidden=True
    )


def test_a_result_made_of_a_check_says_what_the_check_is() -> None:
    accepts = Check("accepts", "accepts works.", points=2.0, hidden=True)
    made = CheckResult.of(accepts, Outcome.FAILED, rationale="no", duration=0.5)
    assert made == CheckResult(
        "accepts", "accepts works.", Outcome.FAILED, 2.0, True, "no", duration=0.5
    )
    assert made.check == accepts
