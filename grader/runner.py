"""Grade one submission of one exercise: run its checks in a child pytest process.

The grader's own process never imports student code. The checks process and every
server it forks carry a run token in their environment; when the run ends, or its time
bound is reached, everything carrying the token is killed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

from grader import processes
from grader.manifest import Exercise, Kit
from grader.results import CheckResult, ExerciseResult, Outcome

RUN_VAR = "GRADER_RUN"


def grade(kit: Kit, exercise: Exercise, file: Path, refuse: str | None = None) -> ExerciseResult:
    """Run every check of `exercise` against the student's `file`; never raises for bad code.

    With `refuse`, the file is not run at all: every check is skipped for that reason
    (a malformed submission still gets a result listing every check and its points).
    """
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="grader-") as tmp:
        scratch = Path(tmp)
        sandbox = scratch / "sandbox"
        sandbox.mkdir()
        # Servers may run as `nobody` (see processes.drop_privileges): let them in.
        scratch.chmod(0o755)
        sandbox.chmod(0o1777)  # sticky: a server may add files, not replace the copy
        # The server imports a copy, so nothing it does can change the student's file.
        student = sandbox / exercise.file
        # Without a file the checks still run, so the result lists each with its points.
        missing = refuse or (
            None if file.is_file() else f"there is no {exercise.file} in {file.parent}"
        )
        if missing is None:
            shutil.copyfile(file, student)
            student.chmod(0o644)
        results = scratch / "results.jsonl"
        results.touch()
        timed_out, output = _run_checks(kit, exercise, student, scratch, results, missing)
        records = _records(results)
    return _assemble(exercise, records, timed_out, output, started)


def _run_checks(
    kit: Kit, exercise: Exercise, student: Path, scratch: Path, results: Path, missing: str | None
) -> tuple[bool, str]:
    ini = scratch / "pytest.ini"
    ini.write_text("[pytest]\n")
    command = [
        sys.executable,
        "-m",
        "pytest",
        *map(str, kit.check_files(exercise)),
        "-c",
        str(ini),
        "--rootdir",
        str(scratch),
        "-p",
        "grader.plugin",
        # checks/x.py and checks/hidden/x.py share a name: import by path, not by module.
        "--import-mode=importlib",
        "-p",
        "no:cacheprovider",
        "-p",
        "no:logging",
        "-s",
        "-q",
        "--no-header",
        "-W",
        "ignore::DeprecationWarning",
        f"--grader-submission={student}",
        f"--grader-module={exercise.module}",
        f"--grader-workdir={student.parent}",
        f"--grader-results={results}",
        f"--grader-preload={','.join(exercise.preload)}",
        *([f"--grader-missing={missing}"] if missing else []),
    ]
    token = uuid.uuid4().hex
    env = {**os.environ, RUN_VAR: token, "PYTHONDONTWRITEBYTECODE": "1"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(kit.root), env.get("PYTHONPATH")]))
    log = scratch / "checks.log"
    timed_out = False
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            cwd=scratch,
            env=env,
            start_new_session=True,
        )
        try:
            proc.wait(timeout=exercise.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
        finally:
            processes.kill_group(proc.pid)
            proc.wait()
            processes.kill_tagged(RUN_VAR, token)
    return timed_out, log.read_text(errors="replace")[-20000:]


def _records(results: Path) -> list[dict]:
    records = []
    for line in results.read_text(errors="replace").splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and "kind" in record:
            records.append(record)
    return records


def _assemble(
    exercise: Exercise, records: list[dict], timed_out: bool, output: str, started: float
) -> ExerciseResult:
    collected = next((r["checks"] for r in records if r["kind"] == "collected"), None)
    if collected is None:
        return _result(
            exercise,
            started,
            error="the checks could not be loaded (a bug in the kit: please tell your instructor)",
            detail=output,
        )
    done = {r["name"]: CheckResult.from_dict(r) for r in records if r["kind"] == "result"}
    checks = []
    for spec in collected:
        result = done.get(spec["name"])
        if result is None:
            why = (
                f"grading stopped: the exercise took longer than {exercise.timeout:g} s"
                if timed_out
                else "the checks process ended before this check ran"
            )
            result = CheckResult(
                name=spec["name"],
                description=spec["description"],
                points=spec["points"],
                hidden=spec["hidden"],
                outcome=Outcome.TIMED_OUT if timed_out else Outcome.ERRORED,
                rationale=why,
                detail="" if timed_out else output,
            )
        checks.append(result)
    error = next((r for r in records if r["kind"] == "error"), None)
    if error is None and len(done) < len(collected) and not timed_out:
        error = {
            "message": "the checks stopped unexpectedly (a bug in the kit: please tell "
            "your instructor)",
            "detail": "\n".join(output.splitlines()[-40:]),
        }
    return _result(
        exercise,
        started,
        checks=tuple(checks),
        error=error and error["message"],
        detail=error["detail"] if error else "",
    )


def _result(
    exercise: Exercise,
    started: float,
    *,
    checks: tuple[CheckResult, ...] = (),
    error: str | None = None,
    detail: str = "",
) -> ExerciseResult:
    return ExerciseResult(
        exercise=exercise.id,
        title=exercise.title,
        checks=checks,
        error=error,
        error_detail=detail,
        duration=round(time.monotonic() - started, 3),
        hints=exercise.hints,
    )
