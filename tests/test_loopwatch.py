"""The event loop seen from outside the server (loopwatch.py), and lines the grader
quotes itself (quoting.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
import time
from pathlib import Path

import pytest

from grader import evidence, loopwatch, quoting
from grader.evidence import Blocked, Misuse, Spot, Task, Waiting
from grader.loopwatch import TICK, Block, Sample, Stretch

EPOLL = min(loopwatch.EPOLL, default=-1)
SLEEP = next(
    (
        n
        for n, name in loopwatch._NAMES.get(loopwatch._MACHINE, {}).items()
        if name == "clock_nanosleep"
    ),
    -2,
)
needs_linux = pytest.mark.skipif(
    not Path("/proc/self/task").is_dir() or not loopwatch.EPOLL, reason="no /proc, or no table"
)


def look(at: float, syscall: int | None = None, cpu: float = 0.0, **kw: object) -> Sample:
    fields = dict(started=1, switches=0, others_busy=False) | kw
    return Sample(at=at, running=syscall is None, syscall=syscall, cpu=cpu, **fields)  # type: ignore[arg-type]


def walk(*samples: Sample) -> list[tuple[float, str]]:
    """The stretches that end along `samples`, then the one in progress."""
    stretch, ended = Stretch(), []
    for before, now in itertools.pairwise(samples):
        if (found := stretch.step(before, now)) is not None:
            ended.append(found)
    return [*ended, stretch.end()]


@needs_linux
def test_a_sleep_between_two_visits_to_epoll_is_one_block_of_its_length() -> None:
    looks = [look(0, EPOLL), look(0.01, cpu=0.005)]
    looks += [look(0.01 + TICK * i, SLEEP, cpu=0.005, switches=1) for i in range(1, 21)]
    looks += [look(0.4, EPOLL, cpu=0.006, switches=2)]
    stretches = [s for s in walk(*looks) if loopwatch.counts(*s)]
    assert len(stretches) == 1
    seconds, where = stretches[0]
    assert where == "clock_nanosleep" and 0.25 < seconds < 0.35


@needs_linux
def test_a_runnable_thread_waiting_for_a_cpu_is_not_held_against_the_app() -> None:
    # Seen running for a second of wall time, but it had 50 ms of CPU.
    looks = [look(0, EPOLL)] + [look(i * 0.1, cpu=i * 0.005) for i in range(1, 11)]
    assert not any(loopwatch.counts(*s) for s in walk(*looks))


@needs_linux
def test_time_on_the_cpu_counts_beyond_its_own_threshold() -> None:
    looks = [look(0, EPOLL)] + [look(i * 0.1, cpu=i * 0.05) for i in range(1, 11)]
    (seconds, where), *_ = [s for s in walk(*looks) if loopwatch.counts(*s)]
    assert where == "" and seconds == pytest.approx(0.5)


@needs_linux
def test_waiting_for_the_gil_while_another_thread_runs_is_no_block() -> None:
    futex = loopwatch.FUTEX
    looks = [look(0, EPOLL)] + [look(i * TICK, futex, others_busy=True) for i in range(1, 30)]
    assert not any(loopwatch.counts(*s) for s in walk(*looks))
    alone = [look(0, EPOLL)] + [look(i * TICK, futex) for i in range(1, 30)]
    assert any(loopwatch.counts(*s) for s in walk(*alone))


@needs_linux
def test_a_thread_that_woke_up_between_distant_looks_gets_only_its_cpu_time() -> None:
    looks = [look(0, SLEEP), look(1.0, SLEEP, switches=4, cpu=0.01)]
    assert walk(*looks) == [(pytest.approx(0.01), "clock_nanosleep")]


@needs_linux
def test_a_process_that_sleeps_outside_epoll_is_seen_from_outside() -> None:
    code = "import time; time.sleep(0.05); time.sleep(0.4)"
    process = subprocess.Popen([sys.executable, "-c", code])
    watch = loopwatch.LoopWatch()
    try:
        time.sleep(0.03)
        if not watch.watch(process, process.pid, "some_check", hidden=True):
            pytest.skip(watch.unavailable)
        process.wait()
    finally:
        watch.unwatch(process)
        watch.close()
    blocks = watch.blocks()
    assert [(b.check, b.hidden, b.syscall) for b in blocks] == [
        ("some_check", True, "clock_nanosleep")
    ]
    assert blocks[0].seconds >= 0.3


def test_the_verdict_names_the_witness_line_read_from_the_grader_copy() -> None:
    source = ["import time", "", "    time.sleep(0.3)  # pace"]
    forged = Blocked(seconds=0.3, line=3, code="/ws/Zo%C3%AB")
    words = loopwatch.verdict([(False, forged)], [], source, "broadcast.py")
    assert words == (
        "the event loop was blocked for 0.30 s at broadcast.py line 3 (`time.sleep(0.3)  # pace`)"
    )


def test_the_verdict_from_outside_alone_says_so_with_the_syscall() -> None:
    seen = [Block("joins", False, 0.3, "clock_nanosleep"), Block("x", False, 0.2, "")]
    words = loopwatch.verdict([], seen, [], "broadcast.py")
    assert words is not None
    assert words.startswith(
        "the event loop was blocked for 0.30 s in clock_nanosleep (time.sleep?)"
    )
    assert "outside the server" in words and "(and 1 more times)" in words


def test_a_hidden_checks_block_fails_the_check_and_tells_nothing_of_it() -> None:
    forged = Blocked(seconds=4.2, line=1, code="Zoë")
    seen = [Block("hidden_one", True, 0.37, "recvfrom")]
    assert loopwatch.verdict([(True, forged)], seen, ["x"], "f.py") == loopwatch.HIDDEN_BLOCK
    assert loopwatch.verdict([], [], ["x"], "f.py") is None


def test_a_line_is_quoted_only_within_the_file_and_bounded() -> None:
    source = ["a = 1", "b = " + "x" * 500]
    assert quoting.quote(source, 1) == "a = 1"
    assert len(quoting.quote(source, 2)) == quoting.MAX_QUOTE
    assert quoting.quote(source, 0) == quoting.quote(source, 3) == quoting.quote(source, True) == ""
    event = Misuse(error="e", line=9, code="secret", task_line=1, task_code="secret")
    assert quoting.ground(event, source) == Misuse(error="e", task_line=1, task_code="a = 1")
    waiting = Waiting(tasks=(Task(line=1, code="secret"),), startup=(Spot(line=7, code="x"),))
    grounded = Waiting(tasks=(Task(line=1, code="a = 1"),), startup=(Spot(),))
    assert quoting.ground(waiting, source) == grounded


@needs_linux
def test_a_child_is_held_to_an_event_loop_only_once_it_runs_one() -> None:
    code = (
        "import os, select, time\n"
        "if not os.fork(): time.sleep(1.0); os._exit(0)\n"  # a worker: never in epoll
        "if not os.fork(): select.epoll().poll(0.4); time.sleep(0.5); os._exit(0)\n"
        "select.epoll().poll(1.6)\n"
    )
    process = subprocess.Popen([sys.executable, "-c", code])
    watch = loopwatch.LoopWatch()
    try:
        time.sleep(0.05)
        if not watch.watch(process, process.pid, "forks", hidden=False):
            pytest.skip(watch.unavailable)
        process.wait()
    finally:
        watch.unwatch(process)
        watch.close()
    assert [(b.check, b.syscall) for b in watch.blocks()] == [("forks", "clock_nanosleep")]


def test_a_run_cut_short_tells_only_visible_checks_blocks(tmp_path: Path) -> None:
    def block(seconds: float, code: str) -> str:
        return evidence.encode(Blocked(since=1.0, seconds=seconds, code=code)).decode()

    (tmp_path / "server-1.events").write_text(block(0.2, "visible") + "\n" + block(0.4, "v"))
    (tmp_path / "server-2.events").write_text(block(9.0, "/ws/Zo%C3%AB") + "\n")
    loopwatch.note_hidden(tmp_path / "server-2.events")
    assert [e.code for e in loopwatch.visible_witnessed(tmp_path)] == ["v"]
