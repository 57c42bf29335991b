"""The command line: exit statuses, usage errors, the JSON export, feedback text."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.conftest import run_grader as grader


def test_solution_passes_with_status_0_and_writes_gradescope_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    done = grader("check", "-e", "broadcast", "--submission", "solutions", "--json", str(out))
    assert done.returncode == 0, done.stdout + done.stderr
    # 9 visible checks, 1 hidden, and the engine's own: the event loop never blocks
    assert "11/11 checks passed" in done.stdout
    results = json.loads(out.read_text())
    assert results["score"] == sum(t["max_score"] for t in results["tests"]) == 11
    hidden = [t for t in results["tests"] if t["visibility"] == "after_published"]
    assert len(hidden) == 1 and hidden[0]["name"].startswith("broadcast: Client ids")
    assert {"score", "execution_time", "tests"} <= results.keys()
    test = results["tests"][0]
    assert test.keys() == {
        "name",
        "score",
        "max_score",
        "status",
        "output",
        "visibility",
        "extra_data",
    }
    assert {t["status"] for t in results["tests"]} == {"passed"}


def test_starter_fails_with_status_1_and_explains_without_a_traceback() -> None:
    done = grader("check", "-e", "broadcast")
    assert done.returncode == 1
    assert "✗" in done.stdout and "hint" in done.stdout
    assert "NotImplementedError: TODO: ConnectionManager.connect" in done.stdout
    assert "site-packages" not in done.stdout  # library frames are folded away
    assert "plugin.py" not in done.stdout and "grader/" not in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["check", "-e", "nope"], "unknown exercise 'nope'"),
        (["check", "--submission", "no/such/dir"], "no such file or folder"),
        (["check", "--submission", "pyproject.toml"], "is not a .py file"),
        (["check", "--submission", "tests/corpus/broken/no_app.py"], "which exercise"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = grader(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_the_students_file_is_named_as_they_know_it_not_where_it_ran(tmp_path: Path) -> None:
    file = tmp_path / "my_chat.py"
    file.write_text((ROOT / "tests/corpus/broadcast/wrong/send_text_not_awaited.py").read_text())
    done = grader("check", "-e", "broadcast", "--submission", str(file))
    assert "my_chat.py line 32" in done.stdout
    assert "/submission/" not in done.stdout and "grader-" not in done.stdout


def test_a_submission_that_cannot_start_gets_one_clear_message() -> None:
    done = grader("check", "-e", "broadcast", "--submission", "tests/corpus/broken/syntax_error.py")
    assert done.returncode == 1
    assert "syntax error at line 8" in done.stdout
    assert "Traceback" not in done.stdout


def test_a_file_named_like_the_exercise_needs_no_exercise_id(tmp_path: Path) -> None:
    file = tmp_path / "broadcast.py"
    file.write_text((ROOT / "solutions" / "broadcast.py").read_text())
    done = grader("check", "--submission", str(file))
    assert done.returncode == 0, done.stdout


def test_a_folder_without_the_exercise_file_cannot_run(tmp_path: Path) -> None:
    done = grader("check", "-e", "broadcast", "--submission", str(tmp_path))
    assert done.returncode == 1
    assert "there is no broadcast.py" in done.stdout


@pytest.mark.parametrize("command", ["check", "hint", "lesson", "watch", "serve", "verify"])
def test_every_command_says_in_one_line_that_an_exercise_is_unknown(command: str) -> None:
    done = grader(command, "-e", "no-such-exercise")
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1
    assert "unknown exercise 'no-such-exercise'" in done.stderr
