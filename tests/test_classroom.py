"""The student edition's GitHub Classroom workflow: a step per exercise worth what its
grader counts, whose command grades the student's file as the action runs it."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from grader import dist, runner
from grader.errors import GraderError
from grader.manifest import Kit
from tests.conftest import ROOT
from tests.conftest import run_grader as grader

ANSI = re.compile(r"\x1b\[[0-9;]*m")


def parse_yaml(text: str) -> Any:
    """The block YAML the workflow is written in: mappings, sequences of mappings, and
    plain, quoted or `|` scalars (PyYAML is not among the kit's packages)."""
    lines = [
        (len(line) - len(line.lstrip(" ")), line.strip())
        for line in text.splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    value, end = _block(lines, 0)
    assert end == len(lines), f"not parsed from line {lines[end]}"
    return value


def _block(lines: list[tuple[int, str]], i: int) -> tuple[Any, int]:
    indent, first = lines[i]
    if first.startswith("- "):
        items = []
        while i < len(lines) and lines[i][0] == indent and lines[i][1].startswith("- "):
            item = lines[i][1][2:]
            if ":" in item and not item.startswith('"'):  # a mapping that starts on the dash
                value, used = _block([(indent + 2, item), *lines[i + 1 :]], 0)
                items.append(value)
                i += used
            else:
                items.append(_scalar(item))
                i += 1
        return items, i
    mapping: dict[Any, Any] = {}
    while i < len(lines) and lines[i][0] == indent and not lines[i][1].startswith("- "):
        key, _, rest = lines[i][1].partition(":")
        rest = rest.strip()
        i += 1
        if rest == "|":
            body = []
            while i < len(lines) and lines[i][0] > indent:
                body.append(lines[i][1])
                i += 1
            mapping[_scalar(key)] = "".join(f"{line}\n" for line in body)
        elif rest:
            mapping[_scalar(key)] = _scalar(rest)
        else:
            mapping[_scalar(key)], i = _block(lines, i)
    return mapping, i


def _scalar(text: str) -> Any:
    if text.startswith('"'):
        return json.loads(text)  # what dist writes: JSON strings are YAML's double-quoted
    if text.startswith("'"):
        return text[1:-1].replace("''", "'")
    return int(text) if text.isdigit() else text


def test_the_classroom_workflow_has_a_step_per_exercise_whose_command_grades_it(
    tmp_path: Path,
) -> None:
    out = tmp_path / "dist"
    assert grader("dist", "--out", str(out)).returncode == 0
    shutil.unpack_archive(out / "student-edition.tar.gz", tmp_path / "unpacked")
    edition = tmp_path / "unpacked" / "student-edition"
    workflow = parse_yaml((edition / ".github" / "workflows" / "classroom.yml").read_text())
    job = workflow["jobs"]["run-autograding-tests"]  # the check run the reporter looks for
    steps = {step["id"]: step for step in job["steps"] if "id" in step}
    kit = Kit.load(edition)
    assert list(steps) == [e.id for e in kit.exercises]
    for exercise in kit.exercises:
        step = steps[exercise.id]
        assert step["uses"] == "classroom-resources/autograding-command-grader@v1"
        assert set(step["with"]) == {"test-name", "setup-command", "command", "timeout",
                                     "max-score"}  # fmt: skip
        # Worth what the edition's grader counts: every check, listed with its points
        # when there is nothing to run.
        counted = runner.grade(kit, exercise, tmp_path / "none.py", "counted", isolated=False)
        assert step["with"]["max-score"] == counted.max_score, exercise.id
    reporter = job["steps"][-1]
    assert reporter["uses"] == "classroom-resources/autograding-grading-reporter@v1"
    assert reporter["with"]["runners"] == ",".join(steps)
    assert reporter["env"] == {
        f"{i.upper()}_RESULTS": f"${{{{ steps.{i}.outputs.result }}}}" for i in steps
    }
    assert "redis-server" in json.dumps(job["steps"])  # for scaleout

    # broadcast's step as the action runs it: each command through the shell, in the
    # checkout, with only PATH, HOME and FORCE_COLOR. The kit's .venv stands in for the
    # one the setup would make: same pins, so `make setup` finds it done.
    (edition / ".venv").symlink_to(sys.prefix)
    step = steps["broadcast"]["with"]
    env = {"PATH": os.environ["PATH"], "HOME": str(tmp_path), "FORCE_COLOR": "true"}

    def action() -> subprocess.CompletedProcess[str]:
        def run(command: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run(
                command, shell=True, cwd=edition, env=env, capture_output=True, text=True,
                timeout=step["timeout"] * 60,
            )  # fmt: skip

        setup = run(step["setup-command"])
        assert setup.returncode == 0 and not setup.stdout, setup.stdout + setup.stderr
        return run(step["command"])

    done = action()  # the untouched starter: a check failed, so no points
    assert done.returncode == 1, done.stdout + done.stderr
    shutil.copy(ROOT / "solutions" / "broadcast.py", edition / "starter" / "broadcast.py")
    done = action()
    assert done.returncode == 0, done.stdout + done.stderr
    total = step["max-score"]
    assert f"{total}/{total} checks passed" in ANSI.sub("", done.stdout)  # all worth 1


def test_a_classroom_step_is_worth_whole_points_or_dist_says_why(tmp_path: Path) -> None:
    """The action reads max-score as a whole number: a total of 2.5 would grade as 2."""
    course = tmp_path / "course"
    shutil.copytree(ROOT, course, ignore=shutil.ignore_patterns(".*", "tests", "__pycache__"))
    manifest = course / "lessons" / "exercises.toml"
    line = 'file = "broadcast.py"\n'
    weighted = manifest.read_text().replace(line, f"{line}weight = 3\n", 1)
    manifest.write_text(weighted)
    kit = Kit.load(course)
    text = dist.classroom_workflow(kit, course / dist.CLASSROOM)
    steps = {s.get("id"): s for s in parse_yaml(text)["jobs"]["run-autograding-tests"]["steps"]}
    # broadcast's checks, hidden ones included (this is the instructor's kit), times 3.
    original = Kit.load(ROOT)
    unweighted = dist.total_points(original, original.get("broadcast"))
    assert steps["broadcast"]["with"]["max-score"] == 3 * unweighted > 3
    manifest.write_text(weighted.replace("weight = 3\n", "weight = 0.25\n"))
    with pytest.raises(GraderError, match="whole points"):
        dist.classroom_workflow(Kit.load(course), course / dist.CLASSROOM)
