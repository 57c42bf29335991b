"""What instructors run: verify, grade a class, and the grade exports."""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from grader import exports
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT
from tests.conftest import run_grader as grader

BROKEN = ROOT / "tests" / "corpus" / "broken"


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
        "ada": "10",
        "zoë van der berg": "10",
        "writer": "10",
        "bob": "0",
        "hangs": "0",
        "binary": "0",
        "wrong name": "0",
        "empty": "0",
        "linker": "0",
    }
    assert {r["max"] for r in rows.values()} == {"10"}
    for student, needle in [
        ("hangs", "did not finish importing"),
        ("binary", "null bytes"),
        ("wrong name", "found: Broadcast-final.py"),
        ("empty", "found: no files"),
        ("linker", "pointing outside"),
    ]:
        results = json.loads((out / "students" / student / "results.json").read_text())
        assert needle in results["tests"][0]["output"], student
        ET.parse(out / "students" / student / "junit.xml")  # well-formed, even for binary input
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
        "10/10 passed" in done.stdout
        and "0/10 failed" in done.stdout
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


def test_compare_shows_both_sources_and_the_first_divergence() -> None:
    wrong = ROOT / "tests" / "corpus" / "broken" / "never_accepts.py"
    done = grader("compare", "-e", "broadcast", "--submission", str(wrong))
    assert done.returncode == 1
    assert "source: reference ◀▶ submission" in done.stdout
    assert "first divergence" in done.stdout and "▶" in done.stdout


def test_student_edition_has_no_solutions_or_hidden_checks_and_make_check_works(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dist"
    assert grader("dist", "--out", str(out)).returncode == 0
    shutil.unpack_archive(out / "student-edition.tar.gz", tmp_path / "unpacked")
    edition = tmp_path / "unpacked" / "student-edition"
    files = {str(p.relative_to(edition)) for p in edition.rglob("*") if p.is_file()}
    assert not [f for f in files if f.startswith(("solutions", "tests", "bench", ".ci"))]
    assert not [f for f in files if "hidden" in f]
    assert {"Makefile", "README.md", "starter/broadcast.py", "checks/broadcast.py"} <= files
    # make check works there from nothing: it sets up its own .venv, as for a student.
    done = subprocess.run(
        ["make", "check", "EX=broadcast"],
        cwd=edition,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PATH": os.environ["PATH"], "COLUMNS": "200", "HOME": os.environ.get("HOME", "/root")},
    )
    # 8 and the engine's own, and no hidden one: it stays with the instructor.
    assert "0/9 checks passed" in done.stdout, done.stdout + done.stderr
    assert "hidden" not in done.stdout
    assert done.returncode == 2  # make's status when the grader says "some checks failed"


def test_gradescope_autograder_writes_results_for_a_submission(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    assert grader("gradescope", "--out", str(out)).returncode == 0
    root = tmp_path / "autograder"
    shutil.unpack_archive(out / "gradescope-autograder.zip", root / "source")
    (root / "submission").mkdir()
    shutil.copy(ROOT / "solutions" / "broadcast.py", root / "submission")
    runner = root / "source" / "run_autograder"
    runner.chmod(0o755)
    done = subprocess.run(
        ["bash", str(runner)],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "PATH": "/usr/bin:/bin",
            "AUTOGRADER_ROOT": str(root),
            "AUTOGRADER_PYTHON": sys.executable,
        },
    )
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    broadcast = [t for t in results["tests"] if t["name"].startswith("broadcast:")]
    assert broadcast and all(t["status"] == "passed" for t in broadcast)
