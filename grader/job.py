"""The job file: all the checks process is told about one job, declared once.

The runner writes it as JSON into the job's scratch folder (a folder only the grader
may enter) and hands the checks process its path, `--grader-job=PATH`; the plugin reads
it back at configure time. Nothing of it is on a command line, where `ps` would show it.
Reading refuses a field it does not know, a missing one and a mistyped one (see wire.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from grader import wire

FILE_NAME = "job.json"
OPTION = "--grader-job"


@dataclass(frozen=True)
class Job:
    """One submission of one exercise, as the checks process grades it."""

    scratch: Path
    """The job's folder: submission/ holds the copy of the file."""
    file: str
    """The student's file name, as the exercise names it."""
    display: str
    """The student's file as they name it, for messages."""
    module: str
    """The module name to import the file as."""
    results: Path
    """Where to append the results channel."""
    preload: tuple[str, ...]
    """Modules the zygote imports once, before it forks servers."""
    env: dict[str, str]
    """What every server gets in its environment."""
    endpoint: str
    """The exercise's WebSocket route."""
    points: dict[str, float]
    """Points by check name, "*" for the rest (see Exercise.points_by_check)."""
    cgroups: tuple[Path, ...]
    """The job's cgroup folders; none where the machine has no cgroups for us."""
    isolated: bool
    """Whether servers run in the sandbox."""
    uid: int | None
    """The kernel uid of the job's sandboxes, when we are root."""
    missing: str | None
    """Why there is no file to grade, if there is none."""
    extensions: tuple[str, ...]
    """Modules of the kit the checks process imports before it collects checks."""

    def save(self) -> Path:
        """Write the job into its scratch folder; the path to hand the checks process."""
        path = self.scratch / FILE_NAME
        path.write_text(json.dumps(wire.encode(self), indent=1), encoding="utf-8")
        return path

    @classmethod
    def load(cls, path: Path) -> Job:
        """The job at `path`; wire.WireError if it is not one."""
        return wire.decode(cls, json.loads(path.read_text(encoding="utf-8")))
