"""Keeping processes together and ending them: a whole tree at once, on any platform
psutil knows, with Linux's prctl(2) where it exists."""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import time
from collections.abc import Callable

import psutil

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_SET_CHILD_SUBREAPER = 36


def prctl(option: int, value: int) -> None:
    """Linux's prctl(2); nothing elsewhere."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)


def end_with(parent: int) -> None:
    """Have the kernel kill this process when `parent` (whose child it is) ends, and end
    it now if that has happened already (Linux; elsewhere only the latter)."""
    prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:
        os._exit(70)


def alive(proc: psutil.Process) -> bool:
    """Whether `proc` still runs (a zombie does not)."""
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def kill_tree(pid: int, *, including: bool = False, rounds: int = 50) -> None:
    """Kill every descendant of `pid` (and `pid` itself if `including`).

    All are stopped before any is killed, and the tree is walked again until it is
    empty, so neither a fork loop nor a process that forks as its parent dies escapes.
    Children of ours that end are left for their owner to reap.
    """

    def tree() -> list[psutil.Process]:
        root = psutil.Process(pid)
        return [*root.children(recursive=True), *([root] if including else [])]

    _kill_all(tree, rounds)


def kill_user(uid: int, rounds: int = 50) -> None:
    """Kill every process whose real uid is `uid`, wherever it now hangs in the tree:
    a uid that belongs to one job alone (see sandbox.job_uid) marks all it started."""

    def of_user() -> list[psutil.Process]:
        found = psutil.process_iter(["uids"])
        return [p for p in found if p.info["uids"] is not None and p.info["uids"].real == uid]

    _kill_all(of_user, rounds)


def _kill_all(find: Callable[[], list[psutil.Process]], rounds: int) -> None:
    for _ in range(rounds):
        try:
            procs = find()
        except psutil.Error:
            return
        procs = [p for p in procs if alive(p)]
        if not procs:
            return
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for proc in procs:
                with contextlib.suppress(psutil.Error):
                    proc.send_signal(sig)
        # Polled, not waited for: waiting would reap our own children, whose status
        # their owner wants to read.
        deadline = time.monotonic() + 1
        while any(alive(p) for p in procs) and time.monotonic() < deadline:
            time.sleep(0.005)
