"""Bounds on what a submission can make the grader hold: disk, memory, parsing.

Each is proved with an attack (tests/corpus/attacks/) against the guarantee itself:
the job's disk use, the checks process's memory, the words of the verdict.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import pytest

from grader import caps, channel, drain, evidence, runner, sandbox, untrusted, zygote
from grader.manifest import Kit
from grader.results import ExerciseResult, Outcome
from tests.conftest import ROOT, leftovers, settles_without_leftovers

ATTACKS = ROOT / "tests" / "corpus" / "attacks"
KIT_BUG = "a bug in the kit"
NESTED = "[" * 100_000

needs_sandbox = pytest.mark.skipif(not sandbox.probe().works, reason=sandbox.probe().reason)


def grade(kit: Kit, file: Path, *, isolated: bool = True) -> ExerciseResult:
    result = runner.grade(kit, kit.get("broadcast"), file, isolated=isolated)
    assert settles_without_leftovers(), f"grading left processes running: {leftovers()}"
    return result


def everything_said(result: ExerciseResult) -> str:
    said = [result.error or "", result.error_detail]
    for check in result.checks:
        said += [check.rationale or "", check.detail or "", check.server_output or ""]
    return "\n".join(said)


# Parsing -------------------------------------------------------------------------


def test_deeply_nested_json_is_a_value_error_never_a_recursion_error() -> None:
    with pytest.raises(RecursionError):  # the control: what json.loads alone does
        json.loads(NESTED)
    for data in (NESTED, "[" * 40 + "]" * 40, "x" * 100):
        with pytest.raises(ValueError):
            untrusted.loads(data, 1 << 20)
    with pytest.raises(ValueError):
        untrusted.loads("[" + "1," * 1000 + "1]", 100)  # too long, before it is parsed
    assert untrusted.loads('{"a": [[1]]}', 100) == {"a": [[1]]}


@needs_sandbox
def test_an_app_that_writes_nested_json_to_the_grader_is_blamed_not_the_kit(kit: Kit) -> None:
    result = grade(kit, ATTACKS / "nests_json.py")
    said = everything_said(result)
    assert result.score == 0
    assert "the app wrote something unexpected to the grader's pipe" in said, said
    assert KIT_BUG not in said, said


def test_a_zygote_answering_nested_json_is_a_sandbox_gone_not_a_crash() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        data = NESTED.encode()
        theirs.sendall(len(data).to_bytes(4, "big") + data)
        with pytest.raises(ValueError):
            zygote.receive(ours)
        data = b"[1, 2]"
        theirs.sendall(len(data).to_bytes(4, "big") + data)
        with pytest.raises(ValueError):  # not an object: no answer the checks could use
            zygote.receive(ours)


def test_nested_lines_in_the_results_or_events_are_passed_over(tmp_path: Path) -> None:
    key = channel.new_key()
    results = tmp_path / "results"
    channel.Writer(results, key).write(channel.RunError("genuine"))
    with results.open("a") as out:
        out.write(NESTED + "\n")
    assert channel.read(results, key).error == channel.RunError("genuine")
    events = tmp_path / "server.events"
    events.write_text(NESTED + "\n" + json.dumps({"kind": "routes", "routes": ["/ws"]}) + "\n")
    assert evidence.read(events).events == [evidence.Routes(routes=("/ws",))]


# Disk ----------------------------------------------------------------------------


def disk_use(folder: Path) -> int:
    """Bytes of disk the files below `folder` take (blocks, not sizes)."""
    used = 0
    for path in folder.rglob("*"):
        with contextlib.suppress(OSError):
            if path.is_file() and not path.is_symlink():
                used += path.lstat().st_blocks * 512
    return used


@needs_sandbox
def test_fallocate_on_what_a_server_holds_takes_no_host_disk(
    kit: Kit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The control: on a file of this file system, a KEEP_SIZE reservation takes blocks.
    control = tmp_path / "control"
    with control.open("wb") as out:
        assert _fallocate_keep_size(out.fileno(), 256 << 20) == 0
        assert control.stat().st_size == 0 and disk_use(tmp_path) >= 256 << 20
    control.unlink()

    jobs = tmp_path / "jobs"
    jobs.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(jobs))  # the job's scratch folder goes here
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, disk_use(jobs))
            time.sleep(0.05)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = grade(kit, ATTACKS / "reserves_disk.py")
    finally:
        done.set()
        watcher.join()
    assert result.score == 0, "a reservation worked"
    assert peak < 8 << 20, f"the job's folder took {peak >> 20} MiB of disk"
    assert disk_use(jobs) == 0, "the job's folder was left behind"


def _fallocate_keep_size(fd: int, size: int) -> int:
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    libc.fallocate.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_longlong, ctypes.c_longlong]
    return int(libc.fallocate(fd, 1, 0, size))  # 1: FALLOC_FL_KEEP_SIZE


# Memory --------------------------------------------------------------------------

PEAK_RSS = """
import resource, sys
from pathlib import Path
from grader import runner
from grader.manifest import Kit
kit = Kit.load(Path(sys.argv[1]))
result = runner.grade(kit, kit.get("broadcast"), Path(sys.argv[2]), isolated=True)
failed = [c for c in result.checks if c.server_output]
print(result.score, len(failed), len(failed[0].server_output) if failed else 0)
# The largest of every process of the grading that has ended: the checks process, the
# sandbox, the servers (in KiB on Linux).
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""

SPLIT = """
import resource
lines = ("ab\\n" * 5_000_000).splitlines()
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


@needs_sandbox
def test_a_flood_of_tiny_lines_keeps_every_process_of_the_grading_small() -> None:
    # The control: 15 MiB of 3-byte lines, held whole and split, as the grader once did.
    split = subprocess.run([sys.executable, "-c", SPLIT], capture_output=True, text=True)
    assert int(split.stdout) << 10 > 200 << 20, "the flood is no flood"

    file = ATTACKS / "floods_tiny_lines.py"
    done = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, str(ROOT), str(file)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr
    said, peak = done.stdout.splitlines()
    score, failed, shown = said.split()
    assert float(score) == 0 and int(failed) > 0, said
    assert int(shown) < 64 << 10, "the student is shown the end of the output, cut short"
    assert int(peak) << 10 < 200 << 20, f"a process of the grading reached {int(peak) >> 10} MiB"


def test_output_keeps_its_first_and_last_part_and_stops_the_writer_past_its_cap() -> None:
    stopped = []
    output = drain.Output(cap=1000, on_flood=lambda: stopped.append(True), head=100, tail=200)
    output.feed(b"first line\n" + b"x\n" * 400)
    output.feed(b"x\n" * 400 + b"last line\n")
    text = output.text()
    assert text.startswith("first line\n") and text.endswith("last line\n")
    assert f"({output.total - 300} bytes of output not kept)" in text
    assert len(text) < 400 and stopped == [True]
    output.feed(b"more\n")
    assert stopped == [True], "told once"


def test_events_are_parsed_as_they_come_and_persisted_within_bounds(tmp_path: Path) -> None:
    persisted = tmp_path / "server.events"
    events = drain.Events(os.open(persisted, os.O_WRONLY | os.O_CREAT))
    good = evidence.encode(evidence.Blocked(seconds=1.5, line=3)).strip()
    forged = json.dumps({**json.loads(good), "evil": "x"}).encode()
    events.feed(good[:10])
    events.feed(good[10:] + b"\n" + b"[" * (evidence.MAX_EVENT + 10))
    events.feed(b"]\n" + NESTED.encode() + b"\n" + forged + b"\n" + good + b"\n")
    events.ended()
    assert events.found == [evidence.Blocked(seconds=1.5, line=3)] * 2
    assert events.reading.refused == 3  # the long one, the nested one, the forged one
    assert evidence.read(persisted).events == events.found
    flood = drain.Events()
    for _ in range(200):
        flood.feed((good + b"\n") * 1000)
    assert len(flood.found) == evidence.MAX_EVENTS


@pytest.mark.skipif(not isinstance(caps.probe(), caps.CgroupCaps), reason="no cgroup here")
def test_the_checks_process_counts_toward_the_jobs_memory_cap(
    kit: Kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[caps.CgroupCaps] = []
    for_job = caps.for_job

    def recorded() -> caps.JobCaps:
        job = for_job()
        assert isinstance(job, caps.CgroupCaps)
        made.append(job)
        return job

    monkeypatch.setattr(caps, "for_job", recorded)
    capped: dict[int, int] = {}  # the checks process's pid → the memory cap it runs under
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            for job in made:
                for folder in job.checks:
                    with contextlib.suppress(OSError, ValueError):
                        for pid in map(int, (folder / "cgroup.procs").read_text().split()):
                            if b"grader.plugin" in Path(f"/proc/{pid}/cmdline").read_bytes():
                                capped[pid] = _memory_cap(folder)
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        result = grade(kit, ROOT / "solutions" / "broadcast.py")
    finally:
        done.set()
        watcher.join()
    assert result.passed
    assert capped and set(capped.values()) == {caps.MEMORY_PER_JOB}, capped
    # Nothing was left inside: every folder of the job was emptied and removed.
    assert made and not any(folder.exists() for folder in made[0].owned)


def _memory_cap(folder: Path) -> int:
    """The memory cap that holds `folder`: its own, or its parent's (cgroup v2)."""
    for where in (folder, folder.parent):
        for name in ("memory.limit_in_bytes", "memory.max"):
            with contextlib.suppress(OSError, ValueError):
                return int((where / name).read_text())
    return 0


@needs_sandbox
def test_a_server_that_prints_without_end_is_stopped_and_its_last_words_shown(kit: Kit) -> None:
    """Its output is a pipe now, not a file under RLIMIT_FSIZE: the checks process counts
    it and stops the server at the same 16 MiB, with the same words."""
    result = grade(kit, ROOT / "tests/corpus/broken/floods_output_in_endpoint.py")
    failed = next(c for c in result.checks if c.outcome is Outcome.FAILED)
    assert "(the server was stopped because it printed more than 16 MiB of output)" in (
        failed.server_output
    ), failed.server_output
    assert "spam spam" in failed.server_output
