"""Caps on what one graded submission (a job) may use: memory, processes, output.

Where the machine lets the grader make a cgroup (as root, cgroup v1 or v2), each job
gets one, with a memory cap and a process cap for everything the submission starts,
and its events (an out-of-memory kill, a refused fork) become verdicts. Elsewhere the
same numbers are applied per process with rlimits. On top, every server process has its
own address-space and file-size limits, and the checks process stops one that prints
more than its share (see drain.py), so the common cases (a MemoryError, a flood of
output) fail with a precise message before a job-wide cap is reached. The checks
process itself counts toward the job's memory cap, not its other caps: what a
submission makes it hold is the job's, and the job's processes and CPU are the
submission's to use up without starving the checks.
"""

from __future__ import annotations

import contextlib
import os
import resource
import signal
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

MEMORY_PER_JOB = 1 << 30  # everything the submission runs, together
PROCESSES_PER_JOB = 256  # processes and threads, together
CPUS_PER_JOB = 1  # so that a busy submission cannot slow its neighbours down
MEMORY_PER_PROCESS = 1 << 30  # address space of one server process
OUTPUT_PER_PROCESS = 16 << 20  # what one server may write to its log

CGROUP_ROOT = Path("/sys/fs/cgroup")


def size(n: int) -> str:
    """A number of bytes in words: "1 GiB", "16 MiB"."""
    return f"{n >> 30} GiB" if n >= 1 << 30 and not n % (1 << 30) else f"{n >> 20} MiB"


def limit_process(processes: int | None = None) -> None:
    """Per-process limits for a server: memory, output, no core files (and processes)."""
    limits = [
        (resource.RLIMIT_AS, MEMORY_PER_PROCESS),
        (resource.RLIMIT_FSIZE, OUTPUT_PER_PROCESS),
        (resource.RLIMIT_CORE, 0),
    ]
    if processes is not None:
        limits.append((resource.RLIMIT_NPROC, processes))
    for limit, value in limits:
        with contextlib.suppress(ValueError, OSError):  # macOS refuses some limits
            resource.setrlimit(limit, (value, value))


@dataclass(frozen=True)
class Events:
    """What the caps stopped during a job."""

    out_of_memory: int = 0
    forks_refused: int = 0

    def since(self, before: Events) -> list[str]:
        """What the caps stopped between `before` and these, in words."""
        said = []
        if self.out_of_memory > before.out_of_memory:
            said.append(
                f"the submission went over its memory cap of {size(MEMORY_PER_JOB)}: "
                "the kernel killed one of its processes"
            )
        if self.forks_refused > before.forks_refused:
            said.append(
                f"the submission reached its cap of {PROCESSES_PER_JOB} processes and threads: "
                "starting another was refused"
            )
        return said


class JobCaps:
    """The caps of one job. `enter(argv)` runs a command inside them."""

    kind = "per-process limits"

    def enter(self, argv: list[str]) -> list[str]:
        return argv

    def enter_checks(self, argv: list[str]) -> list[str]:
        """`argv` as the job's checks process: counted in its memory, not its processes
        nor its CPU (those are the submission's to use up)."""
        return argv

    def process_limit(self) -> int | None:
        """An RLIMIT_NPROC for each server, where no cgroup counts processes."""
        if not _per_user_cap():
            return None
        # The count is per user, shared with everything else the user runs: leave some.
        return _tasks_of(os.getuid()) + PROCESSES_PER_JOB

    def events(self) -> Events:
        return Events()

    def close(self) -> None:
        pass

    def describe(self) -> str:
        if _per_user_cap():
            processes = (
                f"at most {PROCESSES_PER_JOB} more processes than you run, shared by all jobs"
            )
        else:
            processes = "processes not capped (as root, or where they cannot be counted)"
        return f"{self.kind}: {size(MEMORY_PER_PROCESS)} per process, {processes}"


class CgroupCaps(JobCaps):
    """A fresh cgroup (one folder per controller hierarchy) for one job."""

    def __init__(
        self,
        kind: str,
        folders: list[Path],
        cpus: int | None = None,
        *,
        owner: bool = True,
        checks: list[Path] | None = None,
        owned: list[Path] | None = None,
    ) -> None:
        self.kind = kind
        self.folders = folders
        """Where the submission runs: every cap applies."""
        self.checks = checks or []
        """Where the checks process runs: in the job's memory cap, and no other."""
        self.owned = owned or folders
        """Every folder of the job, innermost first: what close() empties and removes."""
        self.cpus = cpus
        self.owner = owner
        """Whether close() removes it: only the grader, which made it, does."""

    def enter(self, argv: list[str]) -> list[str]:
        return _join(self.folders, argv)

    def enter_checks(self, argv: list[str]) -> list[str]:
        return _join(self.checks, argv) if self.checks else argv

    def process_limit(self) -> int | None:
        return None

    def events(self) -> Events:
        memory = pids = 0
        for folder in self.folders:
            memory += _counter(folder / "memory.events", "oom_kill")
            memory += _counter(folder / "memory.oom_control", "oom_kill")
            pids += _counter(folder / "pids.events", "max")
        return Events(out_of_memory=memory, forks_refused=pids)

    def close(self) -> None:
        """Kill whatever is left inside, then remove the cgroup."""
        if not self.owner:
            return
        deadline = time.monotonic() + 5
        for folder in self.owned:
            while folder.exists():
                pids = _pids(folder)
                if (folder / "cgroup.kill").exists():
                    with contextlib.suppress(OSError):
                        (folder / "cgroup.kill").write_text("1")
                for pid in pids:
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)
                try:
                    folder.rmdir()
                except OSError:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.02)

    def describe(self) -> str:
        cpus = f", {self.cpus} CPU" if self.cpus else ""
        return (
            f"{self.kind}: {size(MEMORY_PER_JOB)}, {PROCESSES_PER_JOB} processes{cpus} per job, "
            f"{size(MEMORY_PER_PROCESS)} per process"
        )


def _join(folders: list[Path], argv: list[str]) -> list[str]:
    # The shell joins the cgroup, then becomes the command: nothing it starts can
    # begin outside, as it could if the command were moved after it started.
    procs = [str(f / "cgroup.procs") for f in folders]
    script = 'while [ "$1" != -- ]; do echo $$ >"$1" || exit 125; shift; done; shift; exec "$@"'
    return ["/bin/sh", "-c", script, "sh", *procs, "--", *argv]


def for_job() -> JobCaps:
    """A cgroup for a new job if the machine lets us make one, else per-process limits."""
    name = f"grader-{uuid.uuid4().hex[:12]}"
    for make in (_cgroup_v2, _cgroup_v1):
        with contextlib.suppress(OSError, ValueError):
            caps = make(name)
            if caps is not None:
                return caps
    return JobCaps()


def probe() -> JobCaps:
    """The caps a job gets here, made and removed again (so it is known they work)."""
    job = for_job()
    job.close()
    return job


def _cgroup_v2(name: str) -> CgroupCaps | None:
    if not (CGROUP_ROOT / "cgroup.controllers").exists():
        return None
    own = _own_cgroup("") or "/"
    # Our own cgroup if we may divide it (a container's root), else the machine's (root).
    for parent in dict.fromkeys([CGROUP_ROOT / own.lstrip("/"), CGROUP_ROOT]):
        wanted = {"memory", "pids"}
        available = set((parent / "cgroup.controllers").read_text().split())
        if not wanted <= available:
            continue
        enabled = set((parent / "cgroup.subtree_control").read_text().split())
        if not wanted <= enabled:
            try:
                (parent / "cgroup.subtree_control").write_text("+memory +pids")
            except OSError:
                continue
        if "cpu" in available and "cpu" not in enabled:
            with contextlib.suppress(OSError):
                (parent / "cgroup.subtree_control").write_text("+cpu")
        folder = parent / name
        try:
            folder.mkdir()
        except OSError:
            continue
        # The job's memory cap on the folder, its other caps on the submission's below it;
        # the checks process beside the submission (a cgroup v2 with folders below it
        # holds no process itself), in the memory cap only.
        submission, checks = folder / "submission", folder / "checks"
        caps = CgroupCaps("cgroup v2", [folder])
        try:
            (folder / "memory.max").write_text(str(MEMORY_PER_JOB))
            with contextlib.suppress(OSError):
                (folder / "memory.swap.max").write_text("0")
            (folder / "cgroup.subtree_control").write_text("+memory +pids")
            with contextlib.suppress(OSError):
                (folder / "cgroup.subtree_control").write_text("+cpu")
            submission.mkdir()
            caps.owned = [submission, folder]
            checks.mkdir()
            caps = CgroupCaps(
                "cgroup v2", [submission], checks=[checks], owned=[submission, checks, folder]
            )
            with contextlib.suppress(OSError):  # where the cpu controller is delegated too
                (submission / "cpu.max").write_text(f"{CPUS_PER_JOB * 100000} 100000")
                caps.cpus = CPUS_PER_JOB
            (submission / "pids.max").write_text(str(PROCESSES_PER_JOB))
        except OSError:
            caps.close()
            continue
        return caps
    return None


def _cgroup_v1(name: str) -> CgroupCaps | None:
    folders: list[Path] = []
    try:
        for controller in ("memory", "pids", "cpu"):
            mount = CGROUP_ROOT / controller
            own = _own_cgroup(controller)
            if own is None or not (mount / "cgroup.procs").exists():
                if controller == "cpu":
                    break  # a CPU cap is a courtesy to neighbours, not a safety cap
                raise OSError(f"no {controller} controller")
            folder = mount / own.lstrip("/") / name
            folder.mkdir()
            folders.append(folder)
        memory, pids = folders[:2]
        (memory / "memory.limit_in_bytes").write_text(str(MEMORY_PER_JOB))
        with contextlib.suppress(OSError):  # only where swap is accounted
            (memory / "memory.memsw.limit_in_bytes").write_text(str(MEMORY_PER_JOB))
        (pids / "pids.max").write_text(str(PROCESSES_PER_JOB))
        for cpu in folders[2:]:
            (cpu / "cpu.cfs_period_us").write_text("100000")
            (cpu / "cpu.cfs_quota_us").write_text(str(CPUS_PER_JOB * 100000))
    except OSError:
        CgroupCaps("cgroup v1", folders).close()
        return None
    # The checks process joins the memory folder only: v1 keeps each controller apart.
    cpus = CPUS_PER_JOB if len(folders) == 3 else None
    return CgroupCaps("cgroup v1", folders, cpus, checks=folders[:1])


def _own_cgroup(controller: str) -> str | None:
    """This process's cgroup in the hierarchy of `controller` ("" for cgroup v2)."""
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        if controller in controllers.split(",") or (not controller and not controllers):
            return path
    return None


def _counter(file: Path, key: str) -> int:
    try:
        for line in file.read_text().splitlines():
            name, _, value = line.partition(" ")
            if name == key:
                return int(value)
    except (OSError, ValueError):
        pass
    return 0


def _pids(folder: Path) -> list[int]:
    try:
        return [int(p) for p in (folder / "cgroup.procs").read_text().split()]
    except (OSError, ValueError):
        return []


def _per_user_cap() -> bool:
    """Whether an RLIMIT_NPROC can cap a job: not for root (exempt), nor where the
    processes and threads the user runs cannot be counted (no /proc)."""
    return os.geteuid() != 0 and Path("/proc/self/task").is_dir()


def _tasks_of(uid: int) -> int:
    """How many processes and threads `uid` runs: what RLIMIT_NPROC counts."""
    count = 0
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if entry.stat().st_uid == uid:
                    count += len(os.listdir(entry / "task"))
    return count
