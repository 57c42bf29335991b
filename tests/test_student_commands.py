"""What students run besides check: hint, lesson, watch, and the progress they share."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader.manifest import Kit
from grader.progress import Failing, Progress, Record, digest
from tests.conftest import ROOT, leftovers, run_grader, settles_without_leftovers


def grader(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_grader(*args, root=root)


@pytest.fixture
def course(tmp_path: Path) -> Path:
    """A private copy of the kit, so progress and edits stay in the test."""
    for folder in ("lessons", "starter", "solutions", "checks"):
        shutil.copytree(ROOT / folder, tmp_path / folder)
    return tmp_path


def recorded(course: Path, exercise_id: str, passed: bool, **failing: str) -> None:
    """Remember a grading of the file now in starter/, as check would (without grading:
    fast); `failing` (name, description, rationale, help) is the check it saw fail."""
    kit = Kit.load(course)
    progress = Progress.load(kit)
    sha256 = digest(kit.starter(kit.get(exercise_id)))
    progress.graded[exercise_id] = Record(sha256, passed, Failing(**failing) if failing else None)
    progress.save(kit)


def solve(course: Path, exercise_id: str) -> None:
    """Record the solution as graded and passed, then put the starter back: the file has
    changed since it passed."""
    kit = Kit.load(course)
    starter = kit.starter(kit.get(exercise_id))
    kept = starter.read_bytes()
    shutil.copy(course / "solutions" / starter.name, starter)
    recorded(course, exercise_id, passed=True)
    starter.write_bytes(kept)


def test_each_hint_request_shows_one_more_hint_then_repeats_the_last(course: Path) -> None:
    recorded(course, "broadcast", passed=True)  # hints are there even when all passes
    shown = [grader(course, "hint", "-e", "broadcast").stdout for _ in range(4)]
    assert [s.split(" for ")[0] for s in shown] == ["hint 1/3", "hint 2/3", "hint 3/3", "hint 3/3"]
    assert all("Every check passes as your file is now" in s for s in shown)
    assert "that was the last hint" in shown[-1]


def test_hint_starts_from_the_hint_of_the_first_failing_check(course: Path) -> None:
    failing = dict(
        name="relays_message",
        description="A message is relayed to every client.",
        rationale="bob received nothing",
        help="broadcast() is never awaited at broadcast.py line 30.",
    )
    recorded(course, "broadcast", passed=False, **failing)
    first, second = (grader(course, "hint").stdout for _ in range(2))
    assert "first failing check of broadcast" in first
    assert failing["description"] in first and failing["help"] in first
    assert failing["rationale"] in first and "hint 1/3" not in first
    assert second.startswith("hint 1/3 for broadcast")
    assert f"first failing check: {failing['description']}" in second
    # Another way to fail, and its hint comes first again; EX= still picks the exercise.
    recorded(course, "broadcast", passed=False, **{**failing, "help": "Await it."})
    assert "Await it." in grader(course, "hint", "-e", "broadcast").stdout
    assert grader(course, "hint", "-e", "broadcast").stdout.startswith("hint 2/3 for broadcast")


def test_hint_grades_a_file_never_checked_or_changed_since(course: Path) -> None:
    solve(course, "broadcast")  # passed, but the file is the starter again
    shown = grader(course, "hint").stdout
    assert "first failing check of broadcast" in shown
    assert "NotImplementedError" in shown  # the help the report prints under that check
    state = json.loads((course / ".progress" / "state.json").read_text())["graded"]["broadcast"]
    assert not state["passed"] and state["failing"]["name"] == "greets_newcomer"
    assert state["sha256"] == digest(course / "starter" / "broadcast.py")
    assert grader(course, "hint").stdout.startswith("hint 1/3 for broadcast")  # not graded again


def test_passing_an_exercise_makes_the_next_one_current(course: Path) -> None:
    shutil.copy(course / "solutions" / "broadcast.py", course / "starter" / "broadcast.py")
    assert grader(course, "check", "-e", "broadcast").returncode == 0
    state = json.loads((course / ".progress" / "state.json").read_text())
    assert state["graded"]["broadcast"]["passed"]
    assert state["graded"]["broadcast"]["sha256"] == digest(course / "starter" / "broadcast.py")
    second = grader(course, "hint").stdout
    assert "broadcast" not in second.splitlines()[0]


def test_lesson_renders_markdown_without_a_pager_when_not_a_terminal(course: Path) -> None:
    done = grader(course, "lesson", "-e", "broadcast")
    assert done.returncode == 0
    assert "ConnectionManager" in done.stdout and "```" not in done.stdout


def test_watch_regrades_on_save_moves_on_and_stops_cleanly_on_ctrl_c(course: Path) -> None:
    log = course / "watch.log"
    env = {"COLUMNS": "200", "PATH": "/usr/bin:/bin"}
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "--root", str(course), "watch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        wait_for(log, "0/10 checks passed")
        wait_for(log, "Watching starter/broadcast.py")
        shutil.copy(course / "solutions" / "broadcast.py", course / "starter" / "broadcast.py")
        wait_for(log, "On to direct")
        wait_for(log, "Watching starter/direct.py")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert "Stopped watching." in log.read_text()
    assert settles_without_leftovers(), leftovers()


def test_watch_starts_at_the_first_exercise_not_passing_on_disk(course: Path) -> None:
    """A file broken after it passed is graded again, not trusted: watch stays on it."""
    solve(course, "broadcast")
    for exercise in Kit.load(course).exercises[1:]:
        recorded(course, exercise.id, passed=True)  # as if every later one passed
    log = course / "watch.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "grader", "--root", str(course), "watch"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env={"COLUMNS": "200", "PATH": "/usr/bin:/bin"},
        )
    try:
        wait_for(log, "Watching starter/broadcast.py")
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()
    assert "0/10 checks passed" in log.read_text()
    assert "Every exercise passes" not in log.read_text()
    assert settles_without_leftovers(), leftovers()


def wait_for(log: Path, text: str, within: float = 60) -> None:
    """Poll the output until `text` shows up (bounded: this waits on a condition, not a clock)."""
    deadline = time.monotonic() + within
    while text not in log.read_text():
        assert time.monotonic() < deadline, f"{text!r} never appeared:\n{log.read_text()}"
        time.sleep(0.05)


def test_check_without_an_exercise_shows_progress_and_stops_at_the_current_one(
    course: Path,
) -> None:
    shutil.copy(course / "solutions" / "broadcast.py", course / "starter" / "broadcast.py")
    done = grader(course, "check")
    assert done.returncode == 1
    lines = done.stdout.splitlines()
    assert any("✓ done" in line and "broadcast" in line for line in lines)
    assert any("▶ current" in line and "direct" in line for line in lines)
    last = Kit.load(course).exercises[-1].id
    assert any("· not started" in line and last in line for line in lines)
    assert f"1 of {len(Kit.load(course).exercises)} exercises done" in done.stdout
    assert "Next: fix direct" in done.stdout


def test_the_progress_table_shows_each_exercise_as_its_file_is_now(course: Path) -> None:
    solve(course, "broadcast")  # passed once, broken since: graded again, and failing
    recorded(course, "direct", passed=True)
    recorded(course, "resilient", passed=False)
    solve(course, "rooms")  # passed once, changed since, not graded by this check
    done = grader(course, "check")
    assert done.returncode == 1
    lines = done.stdout.splitlines()

    def state(exercise_id: str) -> str:
        return next(line for line in lines if f" {exercise_id} " in line).split(exercise_id)[0]

    assert "▶ current" in state("broadcast") and "0/10" in done.stdout
    assert "✓ done" in state("direct")
    assert "✗ failing" in state("resilient")
    assert "changed since last check" in state("rooms")
    assert "· not started" in state("guarded")
    assert f"1 of {len(Kit.load(course).exercises)} exercises done" in done.stdout
    assert "Every exercise passes" not in done.stdout


def test_the_footer_shows_the_last_hint_asked_for(course: Path) -> None:
    assert "hint 1/3" in grader(course, "check", "-e", "broadcast").stdout
    grader(course, "hint")  # the failing check's own hint
    grader(course, "hint")
    grader(course, "hint")
    shown = grader(course, "check", "-e", "broadcast").stdout
    assert "hint 2/3" in shown and "hint 1/3" not in shown


def test_students_see_hidden_checks_counted_instructors_see_them_whole(course: Path) -> None:
    hidden = "Client ids are announced exactly as given"
    own = grader(course, "check", "-e", "broadcast").stdout
    assert "1 hidden check, graded by your instructor" in own and hidden not in own
    graded = grader(course, "check", "-e", "broadcast", "--submission", str(course / "starter"))
    assert hidden in graded.stdout and "(hidden)" in graded.stdout
