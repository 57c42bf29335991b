"""What instructors run: verify, grade a class, and the grade exports."""

from __future__ import annotations

import csv
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import exports
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT

BROKEN = ROOT / "tests" / "corpus" / "broken"


def grader(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "grader", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin"},
    )


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    """A folder of submissions with every kind of bad input an instructor meets."""
    subs = tmp_path / "submissions"
    solution = ROOT / "solutions" / "broadcast.py"
    layout = {
        "ada": solution,
        "bob": ROOT / "starter" / "broadcast.py",
        "zoë van der berg": solution,  # spaces and unicode in the path
        "hangs": BROKEN / "hangs_at_import.py",
        "writer": None,
        "binary": None,
        "wrong name": None,
        "empty": None,
        "linker": None,
    }
    for student, source in layout.items():
        (subs / student).mkdir(parents=True)
        if source:
            shutil.copy(source, subs / student / "broadcast.py")
    (subs / "wrong name" / "Broadcast-final.py").write_text(solution.read_text())
    (subs / "binary" / "broadcast.py").write_bytes(bytes(range(256)) * 8)
    (subs / "linker" / "broadcast.py").symlink_to(solution)  # outside the submission
    (subs / "writer" / "broadcast.py").write_text(
        "from pathlib import Path\n"
        f"for target in [{str(ROOT / 'GRADING-WAS-HERE')!r}, {str(subs / 'ada' / 'x.txt')!r}]:\n"
        "    try:\n        Path(target).write_text('x')\n    except OSError:\n        pass\n"
        + solution.read_text()
    )
    return subs


def test_grading_a_class_writes_every_export_with_a_verdict_per_student(
    classroom: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grades"
    done = grader("grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out))
    assert done.returncode == 1, done.stdout + done.stderr
    rows = {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}
    assert rows.keys() == {p.name for p in classroom.iterdir()}
    assert {s: rows[s]["broadcast"] for s in rows} == {
        "ada": "8",
        "zoë van der berg": "8",
        "writer": "8",
        "bob": "0",
        "hangs": "0",
        "binary": "0",
        "wrong name": "0",
        "empty": "0",
        "linker": "0",
    }
    assert {r["max"] for r in rows.values()} == {"8"}
    for student, needle in [
        ("hangs", "did not finish importing"),
        ("binary", "null bytes"),
        ("wrong name", "found: Broadcast-final.py"),
        ("empty", "found: no files"),
        ("linker", "pointing outside"),
    ]:
        results = json.loads((out / student / "results.json").read_text())
        assert needle in results["tests"][0]["output"], student
        ET.parse(out / student / "junit.xml")  # well-formed, even for binary input
    # The submission that tried to write outside its folder could not.
    assert not (ROOT / "GRADING-WAS-HERE").exists()
    assert not (classroom / "ada" / "x.txt").exists()


def test_regrading_the_same_folder_gives_the_same_grades(classroom: Path, tmp_path: Path) -> None:
    for run in ("first", "second"):
        grader(
            "grade",
            "--submissions",
            str(classroom),
            "-e",
            "broadcast",
            "--out",
            str(tmp_path / run),
        )
    assert (tmp_path / "first" / "gradebook.csv").read_text() == (
        tmp_path / "second" / "gradebook.csv"
    ).read_text()


def test_an_empty_submissions_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = grader("grade", "--submissions", str(tmp_path))
    assert done.returncode == 2 and "is empty" in done.stderr


def test_verify_proves_solutions_pass_and_starters_fail() -> None:
    done = grader("verify", "-e", "broadcast")
    assert done.returncode == 0, done.stdout
    assert (
        "8/8 passed" in done.stdout
        and "0/8 failed" in done.stdout
        and "SURPRISE" not in done.stdout
    )


def result(outcome: Outcome, hidden: bool = False, **extra) -> CheckResult:
    return CheckResult(
        name="greets", description="greets the newcomer", outcome=outcome, hidden=hidden, **extra
    )


def test_gradescope_export_marks_hidden_checks_after_published() -> None:
    exercise = ExerciseResult(
        "broadcast",
        "Broadcast",
        (
            result(Outcome.PASSED),
            result(Outcome.FAILED, hidden=True, rationale="nope"),
        ),
    )
    data = exports.gradescope([exercise])
    assert [t["visibility"] for t in data["tests"]] == ["visible", "after_published"]
    assert (data["score"], data["max_score"]) == (1, 2)


def test_junit_export_escapes_control_characters_and_counts_outcomes() -> None:
    exercise = ExerciseResult(
        "broadcast",
        "Broadcast",
        (
            result(Outcome.FAILED, rationale="bell \x07 in output", actual="'\x00'"),
            result(Outcome.TIMED_OUT),
            result(Outcome.ERRORED),
            result(Outcome.SKIPPED),
            result(Outcome.PASSED),
        ),
    )
    suite = ET.fromstring(exports.junit_xml("ada", [exercise]).split("?>", 1)[1])[0]
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "1", "1")
    assert "#x07" in suite[0][0].get("message")
