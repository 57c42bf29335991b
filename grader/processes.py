"""Keep student processes on a leash: resource limits, and killing every process they started.

Each sandboxed process carries a token in its environment. Children inherit it, even
those that start a session of their own to escape a process-group kill, so a sweep of
the process table by token finds them all. On Linux the grader also becomes a child
subreaper, so orphans re-parent to it instead of to init.
"""

from __future__ import annotations

import ctypes
import os
import pwd
import resource
import sys

import psutil

_PR_SET_CHILD_SUBREAPER = 36


def become_subreaper() -> None:
    """Adopt orphaned descendants (Linux only; elsewhere the token sweep suffices)."""
    if not sys.platform.startswith("linux"):
        return
    try:
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def limit_resources(memory_bytes: int, output_bytes: int) -> None:
    """Cap the calling process's memory and the size of any file it writes."""
    for limit, value in (
        (resource.RLIMIT_AS, memory_bytes),
        (resource.RLIMIT_FSIZE, output_bytes),
        (resource.RLIMIT_CORE, 0),
    ):
        try:
            resource.setrlimit(limit, (value, value))
        except (ValueError, OSError):
            pass  # macOS refuses some limits; the timeouts still bound the run.


# Standard modules a submission may plausibly import. When servers drop to `nobody`
# they may be unable to read the interpreter's files (a Python under /root), so these
# are imported before the fork; a submission importing anything rarer is told why it
# failed.
STDLIB_PRELOAD = (
    "abc asyncio base64 bisect collections concurrent.futures contextlib copy csv dataclasses "
    "datetime decimal enum fractions functools hashlib heapq hmac html http ipaddress "
    "itertools json logging math operator os pathlib queue random re secrets signal socket "
    "statistics string struct textwrap threading time traceback types typing unicodedata "
    "urllib.parse uuid warnings weakref zlib zoneinfo"
).split()


def will_drop_privileges() -> bool:
    return os.geteuid() == 0


def drop_privileges(processes_limit: int = 256) -> None:
    """When running as root (CI, a grading server), become `nobody`.

    Then a submission cannot write to the instructor's files, and the process limit
    binds, which stops a fork bomb. An ordinary user has nothing to drop.
    """
    if not will_drop_privileges():
        return
    try:
        user = pwd.getpwnam("nobody")
    except KeyError:
        return
    resource.setrlimit(resource.RLIMIT_NPROC, (processes_limit, processes_limit))
    os.setgroups([])
    os.setgid(user.pw_gid)
    os.setuid(user.pw_uid)
    os.environ["HOME"] = "/nonexistent"


def _tagged(var: str, token: str) -> list[psutil.Process]:
    me = os.getpid()
    found = []
    for proc in psutil.process_iter():
        if proc.pid == me:
            continue
        try:
            if proc.environ().get(var) == token:
                found.append(proc)
        except (psutil.Error, OSError):
            continue
    return found


def kill_tagged(var: str, token: str) -> int:
    """Kill every process whose environment has `var=token`; return how many there were."""
    killed = 0
    for _ in range(20):  # a fork loop may add processes while we kill; freeze, then kill
        procs = _tagged(var, token)
        if not procs:
            break
        for proc in procs:
            try:
                proc.suspend()
            except psutil.Error:
                pass
        for proc in procs:
            try:
                proc.kill()
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=2)
        killed += len(procs)
    reap_orphans()
    return killed


def kill_descendants() -> None:
    """Kill every process below this one (in the checks process: what checks left)."""
    try:
        procs = psutil.Process().children(recursive=True)
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=2)
    reap_orphans()


def reap_orphans() -> None:
    """Collect the exit status of adopted orphans so they do not linger as zombies."""
    for child in psutil.Process().children():
        try:
            if child.status() == psutil.STATUS_ZOMBIE:
                os.waitpid(child.pid, os.WNOHANG)
        except (psutil.Error, ChildProcessError):
            pass


def kill_group(pid: int) -> None:
    """Kill the process group led by `pid`, ignoring one that is already gone."""
    try:
        os.killpg(pid, 9)
    except (ProcessLookupError, PermissionError):
        pass
