"""A second course, and not a WebSocket one: tests/data/httpcourse, an HTTP API with JSON
and a Server-Sent Events stream, graded by the engine as it is, end to end: its checks,
the diagnosis of an exception in a handler, `verify`, and a class's exports."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest

from grader import runner
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome, Submitted
from tests.conftest import ROOT
from tests.conftest import run_grader as grader

COURSE = Kit.load(ROOT / "tests" / "data" / "httpcourse")
COUNTERS = COURSE.get("counters")
SUBMISSIONS = COURSE.root / "submissions"
CHECKS = (
    "starts_empty",
    "counts_up",
    "forgets",
    "streams_changes",
    "streams_to_every_listener",
    "never_blocks_event_loop",
)


def grade(path: Path) -> ExerciseResult:
    return runner.grade(COURSE, COUNTERS, path, isolated=False)


def by_name(result: ExerciseResult) -> dict[str, CheckResult]:
    return {c.name: c for c in result.checks}


@pytest.mark.parametrize(
    "path",
    [COURSE.solution(COUNTERS), SUBMISSIONS / "right_with_a_condition.py"],
    ids=["solution", "right_with_a_condition"],
)
def test_a_right_answer_passes_every_check(path: Path) -> None:
    result = grade(path)
    assert [(c.name, c.outcome) for c in result.checks] == [(n, Outcome.PASSED) for n in CHECKS]
    assert result.passed and result.error is None


def test_the_untouched_starter_fails_with_the_handler_s_error() -> None:
    result = grade(COURSE.starter(COUNTERS))
    assert result.submitted is Submitted.UNCHANGED and not result.passed
    empty = by_name(result)["starts_empty"]
    assert empty.outcome is Outcome.FAILED
    assert empty.rationale == "GET /counters was answered with HTTP 500"
    assert empty.expected == "HTTP 200 {}"
    assert "NotImplementedError: TODO: answer every counter" in (empty.actual or "")


def test_an_exception_in_an_http_handler_is_named_with_the_student_s_line() -> None:
    path = SUBMISSIONS / "raises_on_a_new_counter.py"
    line = path.read_text().splitlines().index("    counts[name] += step.by") + 1
    counting = by_name(grade(path))["counts_up"]
    assert counting.outcome is Outcome.FAILED
    assert counting.rationale == 'POST /counters/apples {"by": 2} was answered with HTTP 500'
    assert counting.help.startswith(
        f"Your server raised KeyError: 'apples' at raises_on_a_new_counter.py line {line} "
        "(`counts[name] += step.by`) while answering POST /counters/apples"
    )
    assert counting.steps[-1] == (
        "POST /counters/apples answered 500 'Internal Server Error': the server raised "
        f"KeyError: 'apples' at line {line}"
    )
    assert f"line {line}, in count" in counting.server_output


def test_a_wrong_json_answer_shows_what_was_sent_expected_and_arrived() -> None:
    counting = by_name(grade(SUBMISSIONS / "answers_count_not_value.py"))["counts_up"]
    assert counting.outcome is Outcome.FAILED
    sent = 'POST /counters/apples {"by": 2}'
    assert counting.rationale.startswith(f"{sent} should have been answered with HTTP 200")
    assert counting.expected == 'HTTP 200 {"name": "apples", "value": 2}'
    assert counting.actual == 'HTTP 200 \'{"name":"apples","count":2}\''
    assert counting.steps == (sent, f"POST /counters/apples answered 200 {counting.actual[9:]}")


def test_an_event_that_never_comes_is_missing_from_the_stream() -> None:
    checks = by_name(grade(SUBMISSIONS / "streams_only_changes.py"))
    assert [checks[n].outcome for n in CHECKS[:3]] == [Outcome.PASSED] * 3
    streaming = checks["streams_changes"]
    assert streaming.outcome is Outcome.FAILED
    assert streaming.rationale == 'listener should have received {"value": 0}'
    assert (streaming.expected, streaming.help) == (
        '{"value": 0}',
        "Send the counter's value first.",
    )
    assert streaming.actual is not None and streaming.actual.startswith("nothing within")
    assert streaming.steps == ("listener opened the event stream at /counters/apples/events",)


def test_verify_says_the_course_is_sound() -> None:
    done = grader("verify", root=COURSE.root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    row = next(line for line in done.stdout.splitlines() if line.startswith("│ counters "))
    cells = [" ".join(cell.split()) for cell in row.strip("│").split("│")]
    assert cells == ["counters", "6/6 passed", "0/6 failed", "ok"]


def test_grading_a_class_of_the_course_writes_its_exports(tmp_path: Path) -> None:
    subs, out = tmp_path / "submissions", tmp_path / "grades"
    handed_in = {
        "ada": COURSE.solution(COUNTERS),
        "bob": SUBMISSIONS / "answers_count_not_value.py",
        "cy": SUBMISSIONS / "raises_on_a_new_counter.py",
    }
    for name, path in handed_in.items():
        (subs / name).mkdir(parents=True)
        shutil.copy(path, subs / name / "counters.py")
    done = grader(
        "grade", "--submissions", str(subs), "--out", str(out), root=COURSE.root, timeout=240
    )
    assert done.returncode == 0, done.stdout + done.stderr
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    # Each earns starts_empty and never_blocks_event_loop; ada every check.
    scores = {name: (float(r["counters"]), r["counters status"]) for name, r in rows.items()}
    assert scores == {"ada": (6, "passed"), "bob": (2, "failed"), "cy": (2, "failed")}
    assert {float(r["max"]) for r in rows.values()} == {6}
    for name in handed_in:
        folder = out / "students" / name
        assert {"grade.json", "results.json", "junit.xml", "feedback.html"} <= {
            p.name for p in folder.iterdir()
        }
    tests = json.loads((out / "students" / "cy" / "results.json").read_text())["tests"]
    (counting,) = [t for t in tests if t["extra_data"]["check"] == "counts_up"]
    assert counting["score"] == 0 and "KeyError: 'apples'" in counting["output"]
    assert (
        "counters.py line" in counting["output"] and "counts[name] += step.by" in counting["output"]
    )


def test_an_exception_in_an_event_stream_breaks_it_off_and_is_named_with_its_line() -> None:
    """The generator raises after the answer has begun: the listener sees the stream
    end, and the report names the error and the student's line."""
    path = SUBMISSIONS / "stream_adds_text_to_a_number.py"
    line = next(i for i, code in enumerate(path.read_text().splitlines(), 1) if "+ value +" in code)
    streaming = by_name(grade(path))["streams_changes"]
    assert streaming.outcome is Outcome.FAILED
    error = 'TypeError: can only concatenate str (not "int") to str'
    assert streaming.rationale == (
        "listener waited for an event, but the server broke the stream off: the server "
        f"raised {error} at line {line}"
    )
    assert streaming.help.startswith(
        f"Your server raised {error} at stream_adds_text_to_a_number.py line {line}"
    )
    # The listener got HTTP 200 and then a stream cut short, never an HTTP 500.
    assert (
        "while answering GET /counters/apples/events, after its answer had begun (HTTP 200), "
        "so the answer was cut short there" in streaming.help
    )
    assert "HTTP 500" not in streaming.help
