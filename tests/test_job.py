"""job: what the runner tells the checks process, written once and read back exactly, and
every way a job file can be wrong refused by name."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from grader import runner
from grader.job import FILE_NAME, Job
from grader.wire import WireError
from tests.test_runner import ECHO, FAKE


def job(scratch: Path) -> Job:
    return Job(
        scratch=scratch,
        file="echo.py",
        display="work/echo.py",
        module="echo",
        results=scratch / "results",
        preload=("fastapi",),
        env={"MODE": "test"},
        endpoint="/ws/{client_id}",
        points={"*": 1.0, "echoes": 2.0},
        cgroups=(Path("/sys/fs/cgroup/a"), Path("/sys/fs/cgroup/b")),
        isolated=True,
        uid=61234,
        missing=None,
        extensions=("checks._chat",),
    )


def test_a_job_survives_the_trip_through_its_file_unchanged(tmp_path: Path) -> None:
    written = job(tmp_path)
    path = written.save()
    assert path == tmp_path / FILE_NAME
    assert Job.load(path) == written


def test_the_runner_tells_the_checks_process_what_the_manifest_and_the_run_say(
    tmp_path: Path,
) -> None:
    run = runner.Run(
        ECHO, tmp_path, "mine/echo.py", None, isolated=False, caps=runner.caps.JobCaps()
    )
    told = runner._job_file(FAKE, run)
    assert (told.file, told.module, told.display) == ("echo.py", "echo", "mine/echo.py")
    assert told.points == ECHO.points_by_check() and told.preload == ECHO.preload
    assert told.uid is None and told.cgroups == () and told.extensions == FAKE.extensions
    assert Job.load(told.save()) == told


def rewritten(tmp_path: Path, change: dict[str, object], drop: str = "") -> Path:
    path = job(tmp_path).save()
    data = json.loads(path.read_text())
    data.update(change)
    data.pop(drop, None)
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(
    ("change", "drop", "message"),
    [
        ({"timeout": 3}, "", "Job: unknown field 'timeout'"),
        ({}, "extensions", "Job: missing field 'extensions'"),
        ({"uid": "61234"}, "", "Job.uid must be a whole number, not '61234'"),
        ({"isolated": 1}, "", "Job.isolated must be a bool, not 1"),
        ({"uid": True}, "", "Job.uid must be a whole number, not True"),
        ({"preload": "fastapi"}, "", "Job.preload must be a list, not 'fastapi'"),
        ({"points": {"echoes": "2"}}, "", "Job.points['echoes'] must be a number, not '2'"),
        ({"env": ["MODE=test"]}, "", "Job.env must be an object"),
    ],
)
def test_a_job_file_that_is_not_a_job_is_refused_naming_the_field(
    tmp_path: Path, change: dict[str, object], drop: str, message: str
) -> None:
    with pytest.raises(WireError) as refused:
        Job.load(rewritten(tmp_path, change, drop))
    assert message in str(refused.value)
