"""One grading run, as the checks process holds it: the job, its sandbox and zygote,
and what the checks have found so far."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from grader import caps, channel, drain, loopwatch, quoting
from grader.evidence import Blocked
from grader.job import Job
from grader.manifest import in_hidden_folder
from grader.results import Check, Outcome
from grader.sandbox import Sandbox
from grader.server import AppServer, CouldNotStart
from grader.zygote import Reset, SandboxGone, Zygote


class Grading:
    """State of one grading run inside the checks process."""

    def __init__(self, job: Job, key: bytes) -> None:
        self.job = job
        folders = list(job.cgroups)
        job_caps = caps.CgroupCaps("cgroup", folders, owner=False) if folders else caps.JobCaps()
        self.sandbox = Sandbox(job.scratch, job_caps, isolated=job.isolated, uid=job.uid)
        self.student_file = str(self.sandbox.submission(job.file))
        """The file's path as tracebacks from the server show it."""
        self.display = job.display or job.file
        """The file's path as the student knows it."""
        self.results = channel.Writer(job.results, key)
        self.outcomes: dict[str, Outcome] = {}
        self.descriptions: dict[str, str] = {}
        self.could_not_start: CouldNotStart | None = None
        self._count = 0
        # Started before any student code runs: a job at its process cap cannot stop it.
        self.pipes = drain.Drain()
        self.source = quoting.source_lines(job.scratch / "submission" / job.file)
        """The grader's own copy of the submission's lines, to quote them."""
        self.loopwatch = loopwatch.LoopWatch()
        """Decides never_blocks_event_loop: each server's loop, seen from outside."""
        self.witnessed: list[tuple[bool, Blocked]] = []
        """(hidden, event): each block the witnesses reported, by whether a hidden
        check's server reported it."""
        self.zygote = Zygote.start(
            self.sandbox, job.file, job.module, ",".join(job.preload), self.pipes
        )

    def final(self, check: Check, check_file: Path | None = None) -> Check:
        """`check` as this run grades it: hidden if its file is, worth what the manifest
        says (its own points times the exercise's weight where the manifest is silent)."""
        hidden = check.hidden or (check_file is not None and in_hidden_folder(check_file))
        points = self.job.points.get(check.name, check.points * self.job.points.get("*", 1.0))
        return dataclasses.replace(check, points=float(points), hidden=hidden)

    def new_server(
        self, overrides: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> AppServer:
        self._count += 1
        return AppServer(
            self.zygote,
            self.job.scratch / f"server-{self._count}.events",
            pipes=self.pipes,
            file_name=self.job.file,
            overrides=overrides,
            env={**self.job.env, **(env or {})},
            job_caps=self.sandbox.caps,
        )

    def reset(self) -> None:
        """Kill everything the last check's servers started."""
        try:
            self.zygote.request(Reset())
        except SandboxGone:
            pass
