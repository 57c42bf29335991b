"""plugin: inside the checks process, through the fake course: a check whose prerequisite
did not pass is skipped with a reason, one over its own time bound times out, and a
failure carries what was expected and the check's help."""

from __future__ import annotations

import pytest

from grader import runner
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT

FAKE = Kit.load(ROOT / "tests" / "data" / "fakecourse")
ECHO = FAKE.get("echo")
# An echo that accepts and never answers (see the file).
SILENT = FAKE.root / "submissions" / "silent.py"


@pytest.fixture(scope="module")
def starter() -> ExerciseResult:
    return runner.grade(FAKE, ECHO, FAKE.starter(ECHO), isolated=False)


@pytest.fixture(scope="module")
def silent() -> ExerciseResult:
    return runner.grade(FAKE, ECHO, SILENT, isolated=False)


def by_name(result: ExerciseResult) -> dict[str, CheckResult]:
    return {c.name: c for c in result.checks}


def test_a_check_whose_prerequisite_failed_is_skipped_naming_it(starter: ExerciseResult) -> None:
    checks = by_name(starter)
    assert checks["accepts"].outcome is Outcome.FAILED
    echoes = checks["echoes"]
    assert echoes.outcome is Outcome.SKIPPED
    assert echoes.waited_for == "accepts"
    assert echoes.rationale == f"skipped until “{checks['accepts'].description}” passes"


def test_a_check_without_prerequisites_runs_even_when_others_failed(
    starter: ExerciseResult,
) -> None:
    prompt = by_name(starter)["answers_promptly"]
    assert prompt.outcome is Outcome.FAILED and prompt.waited_for == ""
    assert "refused with HTTP 500" in prompt.rationale


def test_a_check_over_its_own_time_bound_times_out(silent: ExerciseResult) -> None:
    prompt = by_name(silent)["answers_promptly"]
    assert prompt.outcome is Outcome.TIMED_OUT
    assert prompt.rationale == "the check did not finish within 1 s"
    # Stopped at its own bound (1 s), not at the 30 s its receive would have waited.
    assert 1.0 <= prompt.duration < 10.0
    assert "bob sent 'ping'" in prompt.steps


def test_a_prerequisite_that_passed_lets_its_dependent_run_and_fail_with_the_facts(
    silent: ExerciseResult,
) -> None:
    checks = by_name(silent)
    assert checks["accepts"].outcome is Outcome.PASSED
    echoes = checks["echoes"]
    assert echoes.outcome is Outcome.FAILED and echoes.waited_for == ""
    assert echoes.expected == "'hello'" and str(echoes.actual).startswith("nothing within ")
    assert echoes.help is not None and "Send back the text you received." in echoes.help
    assert echoes.steps[:2] == ("alice connected to /ws/alice", "alice sent 'hello'")


def test_the_event_loop_check_needs_a_check_that_put_the_server_to_work(
    starter: ExerciseResult, silent: ExerciseResult
) -> None:
    idle = by_name(starter)["never_blocks_event_loop"]
    assert idle.outcome is Outcome.SKIPPED
    assert idle.rationale == "skipped until a check that puts the server to work passes"
    assert by_name(silent)["never_blocks_event_loop"].outcome is Outcome.PASSED
