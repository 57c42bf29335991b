"""Shared fixtures for the kit's own tests."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from grader.manifest import Kit

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture(scope="session")
def kit() -> Kit:
    return Kit.load(ROOT)


def leftovers(var: str, token: str) -> list[int]:
    """Live processes whose environment has `var=token`."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(var) == token and proc.status() != psutil.STATUS_ZOMBIE:
                found.append(proc.pid)
        except psutil.Error:
            continue
    return found


def settles_without_leftovers(var: str, token: str, within: float = 5.0) -> bool:
    """Whether every tagged process is gone within `within` s (exit takes a moment)."""
    deadline = time.monotonic() + within
    while leftovers(var, token):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def run_grader(
    *args: str, root: Path = ROOT, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    """The grader's command line, as a script calls it, in a plain environment."""
    return subprocess.run(
        [sys.executable, "-m", "grader", "--root", str(root), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={"COLUMNS": "250", "PATH": "/usr/bin:/bin", "TERM": "dumb"},
    )
