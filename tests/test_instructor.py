"""What instructors run: verify, grade a class, the exports, the class report, compare,
the student edition and the Gradescope autograder."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import xmlschema

from grader import classreport, dist, exports, kitrules
from grader.gradebook import Gradebook
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT
from tests.conftest import run_grader as grader

BROKEN = ROOT / "tests" / "corpus" / "broken"
WRONG = ROOT / "tests" / "corpus" / "broadcast" / "wrong"
JUNIT = xmlschema.XMLSchema(ROOT / "tests" / "data" / "junit.xsd")
# Gradescope's results.json, as its autograder specification lists the fields.
GRADESCOPE_TOP = {"score", "execution_time", "output", "output_format", "test_output_format",
                  "test_name_format", "visibility", "stdout_visibility", "extra_data", "tests",
                  "leaderboard"}  # fmt: skip
GRADESCOPE_TEST = {"score", "max_score", "status", "name", "name_format", "number", "output",
                   "output_format", "tags", "visibility", "extra_data"}  # fmt: skip


@pytest.fixture
def classroom(tmp_path: Path) -> Path:
    """A class of twelve: right, wrong in the ways students are, and every kind of bad
    input an instructor meets."""
    subs = tmp_path / "submissions"
    solution = ROOT / "solutions" / "broadcast.py"
    layout = {
        "ada": solution,
        "bob": ROOT / "starter" / "broadcast.py",  # untouched
        "zoë van der berg": solution,  # spaces and unicode in the path
        "hangs": BROKEN / "hangs_at_import.py",
        "cleo": WRONG / "send_json.py",
        "dan": WRONG / "no_left_announcement.py",
        "eve": WRONG / "excludes_sender.py",
        "=1+1": solution,  # a name a spreadsheet would run as a formula
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
    return subs


def grade_class(classroom: Path, out: Path, *args: str):  # type: ignore[no-untyped-def]
    return grader(
        "grade", "--submissions", str(classroom), "-e", "broadcast", "--out", str(out), *args
    )


def gradebook(out: Path) -> dict[str, dict[str, str]]:
    return {r["student"]: r for r in csv.DictReader((out / "gradebook.csv").open())}


def test_grading_a_class_writes_every_export_and_each_says_why(
    classroom: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grades"
    roster = tmp_path / "roster.csv"
    roster.write_text("student,id,email\nada,1001,ada@uni.edu\nfrank,1006,frank@uni.edu\n")
    done = grade_class(classroom, out, "--roster", str(roster))
    # Grading completed: how the students did is in the exports, not in the status.
    assert done.returncode == 0, done.stdout + done.stderr
    rows = gradebook(out)
    safe = exports.spreadsheet_safe
    assert rows.keys() == {safe(p.name) for p in classroom.iterdir()} | {"frank"}
    statuses = {s: rows[s]["broadcast status"] for s in rows}
    assert statuses == {
        "ada": "passed",
        "zoë van der berg": "passed",
        "'=1+1": "passed",  # shown as text, never run
        "bob": "unchanged starter",
        "hangs": "could not run",
        "cleo": "failed",
        "dan": "failed",
        "eve": "failed",
        "binary": "could not run",
        "wrong name": "missing",
        "empty": "missing",
        "linker": "not gradable",
        "frank": "no submission",
    }
    assert rows["ada"]["percent"] == "100.0" and rows["ada"]["id"] == "1001"
    assert rows["frank"]["email"] == "frank@uni.edu"
    assert "Broadcast-final.py" in rows["wrong name"]["reason"]
    for student, needle in [
        ("hangs", "did not finish importing"),
        ("binary", "null bytes"),
        ("linker", "pointing outside"),
    ]:
        results = json.loads((out / "students" / student / "results.json").read_text())
        assert needle in results["tests"][0]["output"], student
    for folder in (out / "students").iterdir():
        JUNIT.validate(folder / "junit.xml")  # valid, even for binary input
        results = json.loads((folder / "results.json").read_text())
        assert results.keys() <= GRADESCOPE_TOP
        assert all(test.keys() <= GRADESCOPE_TEST for test in results["tests"])
        assert (folder / "feedback.html").read_text().startswith("<!DOCTYPE html>")


def test_every_export_counts_the_same_tests_the_same_way(classroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades"
    grade_class(classroom, out)
    for student in ("hangs", "cleo", "empty"):
        folder = out / "students" / student
        suite = ET.parse(folder / "junit.xml").getroot()[0]
        cases = suite.findall("testcase")
        tests = json.loads((folder / "results.json").read_text())["tests"]
        assert int(suite.get("tests")) == len(cases) == len(tests), student
        skipped = [t for t in tests if t["extra_data"]["outcome"] == "skipped"]
        assert int(suite.get("skipped")) == len(skipped), student
        score = float(suite.find("properties/property[@name='score']").get("value"))
        assert score == sum(t["score"] for t in tests), student
    # A check skipped after one it builds on failed reads so in both formats.
    cleo = json.loads((out / "students" / "cleo" / "results.json").read_text())["tests"]
    after = next(t for t in cleo if t["extra_data"]["outcome"] == "skipped")
    assert after["output"].startswith("skipped: it builds on ")
    junit = (out / "students" / "cleo" / "junit.xml").read_text()
    assert 'skipped message="skipped: it builds on ' in junit


def test_regrading_one_student_keeps_the_others_and_unchanged_ones_are_kept(
    classroom: Path, tmp_path: Path
) -> None:
    out = tmp_path / "grades"
    grade_class(classroom, out)
    before = gradebook(out)
    shutil.copy(ROOT / "solutions" / "broadcast.py", classroom / "bob" / "broadcast.py")
    done = grade_class(classroom, out, "--only", "bob")
    assert "Graded 1 of 1" in done.stdout
    after = gradebook(out)
    assert after["bob"]["broadcast status"] == "passed"
    assert {s: r for s, r in after.items() if s != "bob"} == {
        s: r for s, r in before.items() if s != "bob"
    }
    again = grade_class(classroom, out)  # nothing changed since: nothing is graded again
    assert "Graded 0 of 0 submissions; kept 12 results" in again.stdout, again.stdout
    # ... but flags follow the class as it is: bob's file is now the others' too.
    unflagged = {s: {k: v for k, v in r.items() if k != "flags"} for s, r in after.items()}
    now = gradebook(out)
    assert {s: {k: v for k, v in r.items() if k != "flags"} for s, r in now.items()} == unflagged
    assert "bob" in now["ada"]["flags"]


def test_the_class_report_shows_what_the_class_gets_wrong(classroom: Path, tmp_path: Path) -> None:
    out = tmp_path / "grades"
    (classroom / "<script>alert(1)<\\script>").mkdir()
    done = grade_class(classroom, out)
    page = (out / "report.html").read_text()
    # One self-contained page: charts drawn inline, nothing fetched from elsewhere.
    assert page.count("<svg") == 2
    assert not re.search(r"""(src|href)=["']https?:""", page)
    assert "<script>" not in page and "&lt;script&gt;" in page
    assert 'href="students/ada/feedback.html"' in page
    # Most failed first, in the page and in the terminal alike; the untouched starter
    # and the files that are missing or refused are not among those counted.
    summary = classreport.summarize(Gradebook(out).all(), ["broadcast"])
    failed = [c.failed for c in summary.checks]
    assert failed == sorted(failed, reverse=True) and failed[0] > 0
    assert {c.ran + c.skipped for c in summary.checks} == {8}  # of 13: bob and four no-files
    shown = re.findall(r'<td title="(\w+)">', page)
    assert shown == [c.name for c in summary.checks]
    assert "what the class gets wrong" in done.stdout and summary.checks[0].name in done.stdout


def test_verify_proves_solutions_pass_and_starters_fail() -> None:
    done = grader("verify", "-e", "broadcast")
    assert done.returncode == 0, done.stdout
    assert (
        "11/11 passed" in done.stdout
        and "0/11 failed" in done.stdout
        and "SURPRISE" not in done.stdout
    )


def test_an_empty_submissions_folder_is_a_usage_error(tmp_path: Path) -> None:
    done = grader("grade", "--submissions", str(tmp_path))
    assert done.returncode == 2 and "is empty" in done.stderr


def result(outcome: Outcome, hidden: bool = False, **extra) -> CheckResult:
    return CheckResult(
        name="greets", description="greets the newcomer", outcome=outcome, hidden=hidden, **extra
    )


def test_gradescope_export_follows_the_specification() -> None:
    exercise = ExerciseResult(
        "broadcast",
        "Broadcast",
        (
            result(Outcome.PASSED, points=2),
            result(Outcome.FAILED, hidden=True, rationale="nope"),
        ),
    )
    data = exports.gradescope([exercise], hidden="after_due_date")
    assert data.keys() <= GRADESCOPE_TOP and "max_score" not in data
    assert [t["visibility"] for t in data["tests"]] == ["visible", "after_due_date"]
    assert data["score"] == 2 and [t["max_score"] for t in data["tests"]] == [2, 1]


def test_junit_export_is_valid_escapes_control_characters_and_counts_outcomes() -> None:
    exercise = ExerciseResult(
        "broadcast",
        "Broadcast",
        (
            result(Outcome.FAILED, rationale="bell \x07 in output", actual="'\x00'"),
            result(Outcome.TIMED_OUT),
            result(Outcome.ERRORED),
            result(Outcome.SKIPPED, waited_for="greets"),
            result(Outcome.PASSED),
        ),
        error="the app could not start",
    )
    text = exports.junit_xml("ada\x1b", [exercise])
    JUNIT.validate(text)
    suite = ET.fromstring(text.split("?>", 1)[1])[0]
    assert suite.get("tests") == "6"  # the five checks, and "the app starts"
    assert (suite.get("failures"), suite.get("errors"), suite.get("skipped")) == ("2", "2", "1")
    assert "#x07" in text


def test_gradebook_cells_are_safe_for_a_spreadsheet() -> None:
    assert exports.spreadsheet_safe("=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert exports.spreadsheet_safe("@SUM(A1)") == "'@SUM(A1)"
    assert exports.spreadsheet_safe("-1") == "-1" and exports.spreadsheet_safe("ada") == "ada"


def test_compare_shows_both_sources_and_the_first_divergence() -> None:
    wrong = ROOT / "tests" / "corpus" / "broken" / "never_accepts.py"
    done = grader("compare", "-e", "broadcast", "--submission", str(wrong))
    assert done.returncode == 1
    assert "source: reference ◀▶ submission" in done.stdout
    assert "first divergence: A client that connects to /ws/alice" in done.stdout
    # The marker is on the first step that differs (the handshake never answered), not on
    # the one both scripts share.
    marked = r"│ 2 ▶\s*│ alice received 'Client #alice joined'\s*│ could not connect"
    assert re.search(marked, done.stdout), done.stdout
    assert re.search(r"│ 1\s*│ alice connected to /ws/alice\s*│ alice connected", done.stdout)


def test_student_edition_has_only_what_students_run_and_make_check_works(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dist"
    assert grader("dist", "--out", str(out)).returncode == 0
    shutil.unpack_archive(out / "student-edition.tar.gz", tmp_path / "unpacked")
    edition = tmp_path / "unpacked" / "student-edition"
    files = {str(p.relative_to(edition)) for p in edition.rglob("*") if p.is_file()}
    assert not [f for f in files if f.startswith(("solutions", "tests", "bench", ".ci", "edition"))]
    assert not [f for f in files if "hidden" in f]
    assert {"Makefile", "README.md", "starter/broadcast.py", "checks/broadcast.py"} <= files
    readme = (edition / "README.md").read_text()
    assert "make check" in readme and "make grade" not in readme and "solutions/" not in readme
    env = {"PATH": os.environ["PATH"], "COLUMNS": "200", "HOME": os.environ.get("HOME", "/root")}

    def make(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["make", *args], cwd=edition, capture_output=True, text=True, timeout=300, env=env
        )

    targets = re.findall(r"make (\w+)", make("help").stdout)
    assert targets == ["help", "setup", "check", "watch", "hint", "lesson", "serve", "clean"]
    # make check works there from nothing: it sets up its own .venv, as for a student.
    done = make("check", "EX=broadcast")
    # 8 and the engine's own, and no hidden one: it stays with the instructor.
    assert "0/10 checks passed" in done.stdout, done.stdout + done.stderr
    assert "hidden" not in done.stdout
    assert done.returncode == 2  # make's status when the grader says "some checks failed"
    # make hint starts from the check that failed, then gives the exercise's hints.
    assert "first failing check of broadcast" in make("hint").stdout
    assert "hint 1/3" in make("hint").stdout


def test_the_student_readme_names_every_file_to_hand_in(kit: Kit) -> None:
    assert [str(p) for e in kit.exercises for p in kitrules.handing_in_names_the_file(kit, e)] == []


def run_autograder(root: Path, upload: dict[str, Path], python: str = sys.executable) -> dict:  # type: ignore[type-arg]
    """Gradescope's run, simulated: the upload in /autograder/submission."""
    shutil.rmtree(root / "submission", ignore_errors=True)
    shutil.rmtree(root / "results", ignore_errors=True)
    for name, source in upload.items():
        (root / "submission" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(source, root / "submission" / name)
    done = subprocess.run(
        ["bash", str(root / "source" / "run_autograder")],
        capture_output=True,
        text=True,
        timeout=600,
        env={
            "PATH": "/usr/bin:/bin",
            "AUTOGRADER_ROOT": str(root),
            "AUTOGRADER_PYTHON": python,
        },
    )
    assert done.returncode == 0, done.stderr
    return json.loads((root / "results" / "results.json").read_text())


def test_a_gradescope_autograder_for_one_exercise_finds_the_file_in_any_upload(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dist"
    made = grader("gradescope", "--out", str(out), "-e", "broadcast")
    assert made.returncode == 0
    root = tmp_path / "autograder"
    shutil.unpack_archive(out / "gradescope-autograder-broadcast.zip", root / "source")
    assert (root / "source" / "checks" / "hidden" / "broadcast.py").is_file()
    assert not (root / "source" / "checks" / "rooms.py").exists()
    solution = ROOT / "solutions" / "broadcast.py"
    # A zipped project folder, as GitHub or a student's zip gives it.
    results = run_autograder(root, {"chat-main/starter/broadcast.py": solution})
    assert results.keys() <= GRADESCOPE_TOP
    assert {t["name"].split(":")[0] for t in results["tests"]} == {"broadcast"}
    assert all(t["status"] == "passed" for t in results["tests"]), results
    hidden = [t for t in results["tests"] if t["visibility"] != "visible"]
    assert [t["visibility"] for t in hidden] == ["after_published"]
    # The total Gradescope's assignment must be set to: what results.json is out of.
    total = sum(t["max_score"] for t in results["tests"])
    assert f"set the assignment's total points to {total:g} " in " ".join(made.stdout.split())
    # Two candidates: refused with a word, never a guess.
    results = run_autograder(root, {"a/broadcast.py": solution, "b/broadcast.py": solution})
    assert results["score"] == 0
    assert "2 files named broadcast.py" in results["tests"][0]["output"]


@pytest.mark.parametrize(("doctor", "sandboxed"), [(0, True), (3, False), (1, None)], ids=str)
def test_the_autograder_falls_back_only_where_the_container_forbids_namespaces(
    tmp_path: Path, doctor: int, sandboxed: bool | None
) -> None:
    """doctor's status 3 (namespaces forbidden) grades in Gradescope's container alone;
    any other failure of the sandbox (not installed, broken) grades nothing."""
    root = tmp_path / "autograder"
    (root / "source").mkdir(parents=True)
    (root / "source" / "run_autograder").write_text(
        dist.RUN_AUTOGRADER.replace("{hidden}", "hidden")
    )
    calls = tmp_path / "calls"
    fake = tmp_path / "python"
    fake.write_text(
        "#!/bin/sh\n"
        f'echo "$*" >> {calls}\n'
        f'case "$*" in *doctor*) exit {doctor};; esac\n'
        'for a; do [ "$prev" = --json ] && echo \'{"score": 1}\' > "$a"; prev=$a; done\n'
    )
    fake.chmod(0o755)
    results = run_autograder(root, {"broadcast.py": ROOT / "solutions" / "broadcast.py"}, str(fake))
    checked = [line for line in calls.read_text().splitlines() if "check" in line]
    if sandboxed is None:
        assert not checked and results["score"] == 0 and "sandbox is broken" in results["output"]
    else:
        assert len(checked) == 1 and results["score"] == 1
        assert ("--no-sandbox" not in checked[0]) is sandboxed


def test_points_per_check_and_weight_per_exercise_reach_every_export(tmp_path: Path) -> None:
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".*", "tests", "__pycache__"))
    manifest = course / "lessons" / "exercises.toml"
    text = manifest.read_text().replace(
        'file = "broadcast.py"\n',
        'file = "broadcast.py"\nweight = 2\npoints = { greets_newcomer = 3 }\n',
        1,
    )
    manifest.write_text(text)
    subs = tmp_path / "submissions"
    (subs / "ada").mkdir(parents=True)
    shutil.copy(WRONG / "no_left_announcement.py", subs / "ada" / "broadcast.py")
    out = tmp_path / "grades"
    done = grader(
        "grade", "--submissions", str(subs), "-e", "broadcast", "--out", str(out), root=course
    )
    assert done.returncode == 0, done.stdout + done.stderr  # graded (ada fails announces_leave)
    tests = json.loads((out / "students" / "ada" / "results.json").read_text())["tests"]
    worth = {t["name"].split(": ", 1)[-1]: t["max_score"] for t in tests}
    assert set(worth.values()) == {6, 2}, worth  # greets_newcomer 3×2, every other check 1×2
    earned = sum(t["score"] for t in tests)
    row = gradebook(out)["ada"]
    assert float(row["broadcast"]) == earned and float(row["max"]) == sum(worth.values())
    suite = ET.parse(out / "students" / "ada" / "junit.xml").getroot()[0]
    assert suite.get("tests") == str(len(tests))
    # The points change back: ada's grade is graded again, never kept beside the new scheme.
    manifest.write_text(text.replace("weight = 2\npoints = { greets_newcomer = 3 }\n", ""))
    again = grader(
        "grade", "--submissions", str(subs), "-e", "broadcast", "--out", str(out), root=course
    )
    assert "Graded 1 of 1" in again.stdout, again.stdout
    assert float(gradebook(out)["ada"]["max"]) == len(tests)
