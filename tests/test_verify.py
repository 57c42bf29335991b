"""`verify` on the fake course: its solution passes and its starter fails, and a course
where that is not so is a surprise (unless the manifest allows a passing starter)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

from tests.conftest import ROOT
from tests.conftest import run_grader as grader

FAKE = ROOT / "tests" / "data" / "fakecourse"


def fake_course(tmp_path: Path, starter: str = "starter", solution: str = "solutions") -> Path:
    """A copy of the fake course whose starter and solution come from those folders."""
    root = tmp_path / "course"
    shutil.copytree(FAKE, root, ignore=shutil.ignore_patterns("submissions", "__pycache__"))
    for folder, source in (("starter", starter), ("solutions", solution)):
        shutil.copy(FAKE / source / "echo.py", root / folder / "echo.py")
    return root


def verdict(stdout: str) -> list[str]:
    """The verify table's row for echo: exercise, solution, starter, verdict."""
    row = next(line for line in stdout.splitlines() if line.startswith("│ echo "))
    return [" ".join(cell.split()) for cell in row.strip("│").split("│")]


def test_the_fake_course_verifies_its_solution_passes_and_its_starter_fails() -> None:
    done = grader("verify", root=FAKE, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("isolation: ")
    assert verdict(done.stdout) == ["echo", "4/4 passed", "0/4 failed", "ok"]


def test_a_starter_that_already_passes_is_a_surprise(tmp_path: Path) -> None:
    done = grader("verify", root=fake_course(tmp_path, starter="solutions"), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "4/4 passed", "4/4 passed", "SURPRISE"]


def test_unless_the_manifest_says_the_starter_may_pass(tmp_path: Path) -> None:
    root = fake_course(tmp_path, starter="solutions")
    manifest = root / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text() + "skip_check_unsolved = true\n")
    done = grader("verify", root=root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "4/4 passed", "4/4 passed", "ok"]


def test_a_solution_that_fails_is_a_surprise_shown_in_full(tmp_path: Path) -> None:
    done = grader("verify", root=fake_course(tmp_path, solution="starter"), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "0/4 failed", "0/4 failed", "SURPRISE"]
    # The failing solution's report follows, as an instructor reads it.
    assert re.search(r"✗ A client that connects to /ws/alice is accepted\.", done.stdout)


def test_a_broken_manifest_stops_every_command_with_one_line(tmp_path: Path) -> None:
    root = fake_course(tmp_path)
    manifest = root / "lessons" / "exercises.toml"
    manifest.write_text("format_version = 2\n" + manifest.read_text())
    done = grader("verify", root=root)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: the course in lessons/exercises.toml has a field")
    assert len(done.stderr.strip().splitlines()) == 1
