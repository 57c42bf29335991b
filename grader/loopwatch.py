"""The event loop watched from outside the server: the evidence that decides
`never_blocks_event_loop`.

The witness inside each server (witness.py) names the student's line, but it lives in
the student's process, which can silence it (point its descriptor at /dev/null) or forge
it. So the checks process, outside the sandbox, samples each running server's main
thread through /proc/<pid>/task/<pid>/ every TICK: its state, the syscall it sleeps in,
its time on the CPU. An asyncio loop that waits sits in epoll; a main thread found
elsewhere, continuously, for longer than a threshold, blocked the loop:

    asleep in another syscall (clock_nanosleep, recvfrom, futex…)   BLOCKED_AFTER
    on the CPU, never found back in epoll                           BUSY_AFTER

Only time that is the app's own counts: time asleep in one syscall (it did not wake up
meanwhile, or the samples are close), and time actually spent on the CPU. A thread that
is runnable but waits for a CPU on a busy machine adds nothing, nor does a main thread
waiting for the GIL while another thread of the server holds it.
"""

from __future__ import annotations

import contextlib
import os
import platform
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from grader import diagnosis, evidence, quoting
from grader.evidence import Blocked

BLOCKED_AFTER = 0.1  # seconds asleep outside epoll (as the witness's threshold)
# CPU time without being seen in epoll: a loop busy with many short steps returns to
# epoll between them unseen by sampling, so this stands well above what the checks' load
# costs a correct app: graded under two CPU burners, the reference solutions and every
# tests/corpus/*/right/ file ran at most 0.06 s between two looks in epoll, and never
# slept 0.015 s in another syscall.
BUSY_AFTER = 0.3
TICK = 0.015  # how often each server is sampled
MAX_THREADS = 32  # threads of a server looked at to tell a GIL wait
MAX_FAMILY = 16  # processes of a server's tree sampled
FAMILY_EVERY = 10  # looks between two looks for the processes a server started

# Syscall numbers by machine: where an asyncio loop waits, and names for the message.
_EPOLL = {"x86_64": {232, 281, 441}, "aarch64": {22, 441}}
_NAMES = {
    "x86_64": {
        0: "read",
        7: "poll",
        23: "select",
        35: "nanosleep",
        42: "connect",
        43: "accept",
        45: "recvfrom",
        47: "recvmsg",
        61: "wait4",
        202: "futex",
        230: "clock_nanosleep",
        270: "pselect6",
        271: "ppoll",
        288: "accept4",
    },
    "aarch64": {
        63: "read",
        72: "pselect6",
        73: "ppoll",
        98: "futex",
        101: "nanosleep",
        115: "clock_nanosleep",
        202: "accept",
        203: "connect",
        207: "recvfrom",
        212: "recvmsg",
        242: "accept4",
        260: "wait4",
    },
}
_FUTEX = {"x86_64": 202, "aarch64": 98}
# What the student's Python probably called, for the message.
_GUESSES = {
    "clock_nanosleep": "time.sleep?",
    "nanosleep": "time.sleep?",
    "futex": "a lock, or waiting for a thread?",
    "wait4": "waiting for a subprocess?",
    "select": "a blocking socket or subprocess call?",
    "poll": "a blocking socket or subprocess call?",
    "ppoll": "a blocking socket or subprocess call?",
    "pselect6": "a blocking socket or subprocess call?",
    "recvfrom": "a blocking network call?",
    "recvmsg": "a blocking network call?",
    "connect": "a blocking network call?",
    "read": "a blocking read?",
}
_MACHINE = platform.machine().lower().replace("arm64", "aarch64").replace("amd64", "x86_64")
EPOLL = frozenset(_EPOLL.get(_MACHINE, set()))
FUTEX = _FUTEX.get(_MACHINE, -1)


def syscall_name(number: int) -> str:
    return _NAMES.get(_MACHINE, {}).get(number, f"syscall {number}")


@dataclass(frozen=True)
class Sample:
    """One look at a server's main thread."""

    at: float
    """When (monotonic seconds)."""
    started: int
    """The thread's start time (ticks after boot): a pid reused is another thread."""
    running: bool
    syscall: int | None
    """The syscall it sleeps in; None while it runs, or outside any syscall."""
    cpu: float
    """Seconds it has spent on a CPU."""
    switches: int
    """Context switches so far: if they did not change, it did not wake up."""
    others_busy: bool
    """Another thread of the process runs or wants to (it may hold the GIL)."""


@dataclass(frozen=True)
class Block:
    """The loop stood still, as seen from outside."""

    check: str
    hidden: bool
    seconds: float
    syscall: str
    """Where the main thread slept meanwhile, "" if it ran on the CPU."""

    def words(self) -> str:
        """ "0.30 s in clock_nanosleep (time.sleep?)" """
        if not self.syscall:
            return f"{self.seconds:.2f} s running on the CPU without returning to the loop"
        guess = _GUESSES.get(self.syscall)
        return f"{self.seconds:.2f} s in {self.syscall}" + (f" ({guess})" if guess else "")


_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def sample(pid: int, proc: Path = Path("/proc")) -> Sample | None:
    """The main thread of process `pid` now; None if it is gone or cannot be read."""
    task = proc / str(pid) / "task" / str(pid)
    try:
        at = time.monotonic()
        stat = (task / "stat").read_text()
        syscall = (task / "syscall").read_text().split()
        status = (task / "status").read_text()
    except (OSError, ValueError):
        return None
    fields = stat[stat.rfind(")") + 2 :].split()  # the name may hold spaces and parentheses
    if len(fields) < 20 or not syscall:
        return None
    state = fields[0]
    cpu = (int(fields[11]) + int(fields[12])) / _TICKS
    with contextlib.suppress(OSError, ValueError, IndexError):  # nanoseconds, where kept
        cpu = int((task / "schedstat").read_text().split()[0]) / 1e9
    switches = sum(int(line.split()[1]) for line in status.splitlines() if "ctxt_switches:" in line)
    number = None
    if syscall[0] != "running":
        with contextlib.suppress(ValueError):
            number = int(syscall[0])
        if number is not None and number < 0:
            number = None  # asleep outside a syscall (a page fault)
    running = state == "R" or syscall[0] == "running"
    return Sample(
        at=at,
        started=int(fields[19]),
        running=running,
        syscall=None if running else number,
        cpu=cpu,
        switches=switches,
        others_busy=_others_busy(proc / str(pid) / "task", pid),
    )


def _others_busy(tasks: Path, main: int) -> bool:
    try:
        tids = [name for name in os.listdir(tasks) if name != str(main)][:MAX_THREADS]
    except OSError:
        return False
    for tid in tids:
        with contextlib.suppress(OSError):
            stat = (tasks / tid / "stat").read_text()
            if stat[stat.rfind(")") + 2 :][:1] in ("R", "D"):
                return True
    return False


class Stretch:
    """The time a main thread has been seen away from epoll, and where it was."""

    def __init__(self) -> None:
        self.where: dict[str, float] = {}
        """Seconds by syscall name ("" for the CPU)."""

    def step(self, before: Sample, now: Sample) -> tuple[float, str] | None:
        """Take in one more sample; the stretch that just ended, if one did."""
        if now.syscall in EPOLL or before.started != now.started:
            return self.end()
        where = ""
        if now.syscall is not None and now.syscall == before.syscall:
            if now.syscall == FUTEX and (now.others_busy or before.others_busy):
                return None  # waiting for the GIL: another thread's turn, not a block
            # Asleep in one syscall at both looks: the whole time, if it never woke up
            # (or the looks were close); otherwise only its time on a CPU.
            awake = now.switches != before.switches and now.at - before.at > 3 * TICK
            credit = now.cpu - before.cpu if awake else now.at - before.at
            where = syscall_name(now.syscall)
        else:  # it ran: only the time it really had a CPU
            credit = now.cpu - before.cpu
        # Out of one syscall into another, or onto the CPU: it may have passed through
        # epoll unseen, so one block ends there, and each is measured on its own.
        ended = self.end() if self.where and where not in self.where else None
        self.where[where] = self.where.get(where, 0.0) + max(0.0, credit)
        return ended

    def end(self) -> tuple[float, str]:
        """The stretch so far (seconds, where it mostly was), and a new one begins."""
        seconds = sum(self.where.values())
        where = max(self.where, key=self.where.__getitem__) if seconds else ""
        self.where.clear()
        return seconds, where


def counts(seconds: float, where: str) -> bool:
    """Whether a stretch is a block: time asleep, or (more of it) time on the CPU."""
    return seconds >= (BUSY_AFTER if where == "" else BLOCKED_AFTER)


@dataclass
class _Process:
    """One process of a server's tree, as last seen."""

    pid: int
    last: Sample
    stretch: Stretch
    loop: bool
    """Seen waiting in epoll: it runs an event loop (the server does from the start)."""


@dataclass
class _Watched:
    """A server and the processes it started."""

    check: str
    hidden: bool
    processes: dict[int, _Process]
    looks: int = 0


class LoopWatch:
    """Samples every watched server in a thread of its own, for as long as it is watched.

    The processes a server forks are sampled too, once seen waiting in epoll: an app
    that forks and serves from the child (its witness silenced) is watched there. A
    child that never runs an event loop (a worker of a process pool, a subprocess) is
    not held to one."""

    def __init__(self, proc: Path = Path("/proc")) -> None:
        self.proc = proc
        self._lock = threading.Lock()
        self._watched: dict[int, _Watched] = {}
        self._blocks: list[Block] = []
        self._thread: threading.Thread | None = None
        self._closed = threading.Event()
        self.unavailable = ""
        """Why servers could not be watched from outside, if one could not be."""

    def watch(self, key: object, pid: int, check: str, hidden: bool) -> bool:
        """Watch the server of pid `pid` (as this process sees it) for `check`, under
        `key` until unwatch(key); whether it can be watched."""
        first = sample(pid, self.proc) if pid else None
        if first is None or not EPOLL:
            self.unavailable = (
                f"/proc/{pid}/task/{pid}/syscall cannot be read"
                if EPOLL
                else f"unknown syscalls on {_MACHINE}"
            )
            return False
        server = _Process(pid, first, Stretch(), loop=True)
        with self._lock:
            self._watched[id(key)] = watched = _Watched(check, hidden, {pid: server})
            # What it forked while starting is watched from the first look: a check may
            # be over before the next look for new processes.
            self._family(watched)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="loopwatch")
                self._thread.start()
        return True

    def unwatch(self, key: object) -> None:
        """Stop watching (before the server is stopped); a block in progress counts."""
        with self._lock:
            watched = self._watched.pop(id(key), None)
            if watched is not None:
                self._look(watched)
                for process in watched.processes.values():
                    self._ended(watched, process, process.stretch.end())

    def blocks(self) -> list[Block]:
        with self._lock:
            return list(self._blocks)

    def close(self) -> None:
        self._closed.set()

    def _run(self) -> None:
        while not self._closed.wait(TICK):
            with self._lock:
                for watched in self._watched.values():
                    self._look(watched)

    def _look(self, watched: _Watched) -> None:
        watched.looks += 1
        if watched.looks % FAMILY_EVERY == 0:
            self._family(watched)
        for process in watched.processes.values():
            now = sample(process.pid, self.proc)
            if now is None:
                continue
            before, process.last = process.last, now
            process.loop = process.loop or now.syscall in EPOLL
            ended = process.stretch.step(before, now)
            if ended is not None:
                self._ended(watched, process, ended)

    def _family(self, watched: _Watched) -> None:
        """Take in the processes the server started since the last look."""
        root = next(iter(watched.processes))  # the server: the first one in
        for pid in descendants(root, self.proc):
            if pid not in watched.processes and len(watched.processes) < MAX_FAMILY:
                first = sample(pid, self.proc)
                if first is not None:
                    watched.processes[pid] = _Process(pid, first, Stretch(), loop=False)

    def _ended(self, watched: _Watched, process: _Process, stretch: tuple[float, str]) -> None:
        seconds, where = stretch
        if process.loop and counts(seconds, where):
            self._blocks.append(Block(watched.check, watched.hidden, round(seconds, 3), where))


def descendants(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """The processes below `pid`, nearest first (at most MAX_FAMILY)."""
    found: list[int] = []
    below = [pid]
    while below and len(found) < MAX_FAMILY:
        parent = below.pop(0)
        with contextlib.suppress(OSError):
            for tid in os.listdir(proc / str(parent) / "task"):
                with contextlib.suppress(OSError, ValueError):
                    text = (proc / str(parent) / "task" / tid / "children").read_text()
                    children = [int(child) for child in text.split()]
                    found += children
                    below += children
    return found[:MAX_FAMILY]


HIDDEN_BLOCK = "the event loop was blocked while a hidden check ran"


def verdict(
    witnessed: Sequence[tuple[bool, Blocked]],
    seen: Sequence[Block],
    source: Sequence[str],
    file_name: str,
) -> str | None:
    """Why never_blocks_event_loop fails, or None if no loop was seen to block.

    It fails if either the sampler outside or a witness inside saw a block: the witness
    can be silenced, never trusted to clear the app, but where it speaks it names the
    line. Only blocks during visible checks are described, and the line is quoted from
    the grader's copy of the submission; of a hidden check's block, not even its length
    is told (the app chooses how long it sleeps)."""
    inside = [event for hidden, event in witnessed if not hidden]
    outside = [block for block in seen if not block.hidden]
    worst = worst_witnessed(witnessed, source)
    if worst is not None:
        more = len(inside) - 1
        return diagnosis.blocked_words(worst, file_name) + (
            f" (and {more} more times)" if more else ""
        )
    longest = max(outside, key=lambda block: block.seconds, default=None)
    if longest is not None:
        more = len(outside) - 1
        return (
            f"the event loop was blocked for {longest.words()}, as the grader saw from "
            "outside the server (the server did not say at which line)"
            + (f" (and {more} more times)" if more else "")
        )
    if witnessed or seen:
        return HIDDEN_BLOCK
    return None


def worst_witnessed(
    witnessed: Sequence[tuple[bool, Blocked]], source: Sequence[str]
) -> Blocked | None:
    """The longest block a witness reported during a visible check, its line quoted from
    `source`; None if there was none."""
    worst = diagnosis.worst_block(event for hidden, event in witnessed if not hidden)
    if worst is None:
        return None
    return quoting.ground(worst, source)


def probe() -> str:
    """ "" if servers' loops can be watched from outside on this machine; else why not
    (then never_blocks_event_loop rests on the witness inside each server alone)."""
    if not EPOLL:
        return f"no syscall table for {_MACHINE}"
    if sample(os.getpid()) is None:
        return "/proc/<pid>/task/<tid>/syscall cannot be read here"
    return ""


# The servers of hidden checks, by log file name, one a line in the job's folder (out of
# the sandbox's reach): for a run cut at its time bound, which the plugin cannot report.
HIDDEN_SERVERS = "hidden-servers"


def note_hidden(events_path: Path) -> None:
    """Note that the server whose events are kept in `events_path` runs for a hidden
    check."""
    with (events_path.parent / HIDDEN_SERVERS).open("a") as file:
        file.write(events_path.name + "\n")


def visible_witnessed(scratch: Path) -> list[Blocked]:
    """The blocks the witnesses in the servers of visible checks reported, whose events
    files are in `scratch` (the last report of each block: the longest); a line they
    name is quoted from `source` by the caller (quoting.ground)."""
    try:
        hidden = set((scratch / HIDDEN_SERVERS).read_text().split())
    except OSError:
        hidden = set()
    blocks: dict[tuple[str, float], Blocked] = {}
    for events in sorted(scratch.glob("*.events")):
        if events.name in hidden:
            continue
        for event in evidence.read(events).events:
            if isinstance(event, Blocked):
                blocks[(events.name, event.since)] = event
    return list(blocks.values())
