"""runner: one submission of the fake course graded end to end, and results assembled from
whatever the checks process managed to report."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from grader import channel, runner
from grader.manifest import Kit
from grader.results import Check, CheckResult, ExerciseResult, Outcome, Submitted
from tests.conftest import ROOT

FAKE = Kit.load(ROOT / "tests" / "data" / "fakecourse")
ECHO = FAKE.get("echo")
CHECKS = ("accepts", "echoes", "answers_promptly", "never_blocks_event_loop")
COLLECTED = channel.Collected(
    tuple(Check(name, f"{name}.", points=2.0 if name == "echoes" else 1.0) for name in CHECKS)
)


def test_the_solution_passes_every_check() -> None:
    result = runner.grade(FAKE, ECHO, FAKE.solution(ECHO), isolated=False)
    assert [(c.name, c.outcome) for c in result.checks] == [(n, Outcome.PASSED) for n in CHECKS]
    assert result.passed and result.submitted is Submitted.FILE and result.error is None
    assert result.hints == ECHO.hints


def test_the_untouched_starter_is_graded_and_known_for_what_it_is() -> None:
    result = runner.grade(FAKE, ECHO, FAKE.starter(ECHO), isolated=False)
    assert result.submitted is Submitted.UNCHANGED and result.status == "unchanged starter"
    assert not result.passed and len(result.checks) == len(CHECKS)


def test_a_missing_file_still_lists_every_check_with_its_points(tmp_path: Path) -> None:
    result = runner.grade(FAKE, ECHO, tmp_path / "echo.py", isolated=False)
    assert result.submitted is Submitted.MISSING
    assert result.error == f"there is no echo.py in {tmp_path} (it holds: no files)"
    assert [c.name for c in result.checks] == list(CHECKS)
    assert {c.outcome for c in result.checks} == {Outcome.SKIPPED}


def assemble(records: channel.Records, *, timed_out: bool = False) -> ExerciseResult:
    return runner._assemble(ECHO, records, timed_out, "the checks' output", time.monotonic())


def test_checks_that_never_loaded_are_a_kit_error_with_the_output() -> None:
    result = assemble(channel.Records())
    assert result.checks == () and not result.passed
    assert result.error is not None and "the checks could not be loaded" in result.error
    assert result.error_detail == "the checks' output"


def test_a_check_without_a_result_timed_out_when_the_exercise_ran_out_of_time() -> None:
    passed = CheckResult("accepts", "accepts.", Outcome.PASSED)
    result = assemble(channel.Records(COLLECTED, {"accepts": passed}), timed_out=True)
    assert result.checks[0] == passed
    assert [c.outcome for c in result.checks[1:]] == [Outcome.TIMED_OUT] * 3
    late = result.checks[1]
    assert late.rationale == "grading stopped: the exercise took longer than 20 s"
    assert (late.name, late.description, late.points) == ("echoes", "echoes.", 2.0)
    assert result.error is None  # the time bound explains it: no kit error on top
    assert result.max_score == 5.0


def test_a_check_without_a_result_could_not_run_when_the_checks_process_died() -> None:
    passed = CheckResult("accepts", "accepts.", Outcome.PASSED)
    result = assemble(channel.Records(COLLECTED, {"accepts": passed}))
    assert [c.outcome for c in result.checks[1:]] == [Outcome.ERRORED] * 3
    assert result.checks[1].rationale == "the checks process ended before this check ran"
    assert result.error is not None and "the checks stopped unexpectedly" in result.error


def test_why_nothing_could_run_is_the_exercise_s_error() -> None:
    skipped = {
        name: CheckResult(name, f"{name}.", Outcome.SKIPPED, rationale="no app") for name in CHECKS
    }
    error = channel.RunError("the app could not start: boom", "Traceback …")
    result = assemble(channel.Records(COLLECTED, skipped, error))
    assert (result.error, result.error_detail) == ("the app could not start: boom", "Traceback …")
    assert result.status == "could not run"


def test_a_kit_named_by_a_relative_path_is_graded_as_the_same_kit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(ROOT)
    kit = Kit.load(Path("tests/data/fakecourse"))
    assert kit.root == FAKE.root
    echo = kit.get("echo")
    result = runner.grade(kit, echo, kit.solution(echo), isolated=False)
    assert result.passed and len(result.checks) == len(CHECKS), result


def test_an_exercise_whose_checks_are_missing_says_so(tmp_path: Path) -> None:
    shutil.copytree(FAKE.root, tmp_path / "course")
    (tmp_path / "course" / "checks" / "echo.py").unlink()
    kit = Kit.load(tmp_path / "course")
    echo = kit.get("echo")
    result = runner.grade(kit, echo, kit.solution(echo), isolated=False)
    assert not result.checks and result.error is not None
    assert result.error.startswith("the kit has no checks: ") and result.error.endswith(
        "checks/echo.py is missing"
    )
