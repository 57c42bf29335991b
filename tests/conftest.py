"""Shared fixtures for the kit's own tests."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from grader.manifest import Kit
from grader.processes import PR_SET_CHILD_SUBREAPER, prctl

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit.load(ROOT)


# Every test process adopts the orphans of what it starts (Linux's child subreaper): a
# process that outlives a grading run, wherever it hid, ends up below the test.
prctl(PR_SET_CHILD_SUBREAPER, 1)


def leftovers() -> list[psutil.Process]:
    """Live processes below this test process (orphans come here: see above)."""
    found = []
    for proc in psutil.Process().children(recursive=True):
        try:
            if proc.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(proc.pid, os.WNOHANG)
            else:
                found.append(proc)
        except (psutil.Error, ChildProcessError):
            continue
    return found


def settles_without_leftovers(within: float = 5.0) -> bool:
    """Whether every process below this one is gone within `within` s (exit takes a moment)."""
    deadline = time.monotonic() + within
    while leftovers():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_grader(
    *args: str, root: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The grader's command line, as a script calls it, in a plain environment.

    It runs in the kit's folder: a copy that has its own grader/ is graded by it.
    """
    return subprocess.run(
        [sys.executable, "-m", "grader", "--root", str(root), *args],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
