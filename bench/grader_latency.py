"""How long `make check EX=broadcast` takes compared with the least it could take.

The floor: start Python, import the grader's dependencies, serve the reference
solution under uvicorn, open one WebSocket and receive its first frame. The full run:
the grader's own command line grading the reference solution in the sandbox (every
check, a fresh server for each). Both are measured side by side, interleaved, and the
ratio of their medians is printed; so is the CPU time all their processes used, which
a loaded machine stretches less than the wall time.

    .venv/bin/python -m bench.grader_latency [--runs 5] [--phases] [--before DIR]

--before DIR grades with another checkout of the kit too (say a `git worktree add
--detach` of the commit before a change), in the same rounds: before and after, side by
side. --phases also runs the full command under strace (Linux) and splits its time at
the moments the processes start and end: where a verdict's time goes.
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

FLOOR = r"""
import asyncio, importlib.util, socket, sys
import fastapi, pytest, rich, uvicorn
from websockets.asyncio.client import connect

spec = importlib.util.spec_from_file_location("broadcast", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)

async def main():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(module.app, log_level="warning"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        await asyncio.sleep(0.001)
    async with connect(f"ws://127.0.0.1:{port}/ws/alice") as ws:
        assert await ws.recv() == "Client #alice joined"
    server.should_exit = True
    await task

asyncio.run(main())
"""

# As a student's `make check` runs: the grader's bytecode is written once and read after.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


@dataclass
class Timed:
    wall: list[float]
    cpu: list[float]

    def add(self, command: list[str], cwd: Path) -> None:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=ENV, check=True, capture_output=True)
        self.wall.append(time.perf_counter() - started)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.cpu.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)

    def line(self, label: str) -> str:
        wall, cpu = statistics.median(self.wall), statistics.median(self.cpu)
        return f"{label:<44} median {wall:5.2f} s wall, {cpu:5.2f} s CPU"


def full_command(solution: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "grader",
        "check",
        "-e",
        "broadcast",
        "--submission",
        str(solution),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--phases", action="store_true", help="where the time goes (strace)")
    parser.add_argument("--before", type=Path, help="another checkout of the kit, to compare")
    args = parser.parse_args()
    solution = ROOT / "solutions" / "broadcast.py"
    floor_cmd = [sys.executable, "-c", FLOOR, str(solution)]
    kits = {"this kit": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    floor = Timed([], [])
    fulls = {label: Timed([], []) for label in kits}
    for kit in kits.values():  # a first run each, not counted: bytecode written
        subprocess.run(full_command(solution), cwd=kit, env=ENV, capture_output=True)
    for _ in range(args.runs):  # interleaved, so all see the same machine
        floor.add(floor_cmd, ROOT)
        for label, kit in kits.items():
            fulls[label].add(full_command(solution), kit)
    print(floor.line("floor (start, import, serve, first frame):"))
    for label, timed in fulls.items():
        print(timed.line(f"make check EX=broadcast ({label}):"))
    for label, timed in fulls.items():
        ratio = statistics.median(timed.wall) / statistics.median(floor.wall)
        cpu = statistics.median(timed.cpu) / statistics.median(floor.cpu)
        print(f"ratio full / floor ({label}): {ratio:.2f}x wall, {cpu:.2f}x CPU (aim: 2x)")
    if args.before:
        print(f"(before: {kits['before']})")
    if args.phases:
        for label, kit in kits.items():
            print(f"\nwhere the time goes ({label}), medians of {args.runs} runs under strace:")
            print_phases([phases(full_command(solution), kit) for _ in range(args.runs)])


# The moments a verdict passes, as strace sees its processes start and end.
PHASES = (
    ("grader starts: Python, imports, manifest", "start", "probe"),
    ("sandbox probe, job set-up (scratch, cgroup)", "probe", "checks"),
    ("checks process: pytest, plugin, sandbox command", "checks", "zygote"),
    ("zygote: Python, preload, warm-up, to first fork", "zygote", "first_fork"),
    ("servers forked and checks run (all but last)", "first_fork", "last_fork"),
    ("last check, zygote ends", "last_fork", "zygote_end"),
    ("checks process ends", "zygote_end", "checks_end"),
    ("grader: results, report, exit", "checks_end", "end"),
)

LINE = re.compile(r"^(\d+)\s+(\d+\.\d+) (.*)$")


def phases(command: list[str], cwd: Path) -> dict[str, float]:
    """The moments of one run of `command`, in seconds from its start."""
    if shutil.which("strace") is None:
        sys.exit("--phases needs strace (apt-get install strace)")
    with tempfile.NamedTemporaryFile(prefix="grader-latency-", suffix=".strace") as trace:
        subprocess.run(
            ["strace", "-f", "--seccomp-bpf", "-ttt", "-v", "-s", "256", "-o", trace.name,
             "-e", "trace=execve,clone,clone3,exit_group", "-e", "signal=none", *command],
            cwd=cwd, env=ENV, check=True, capture_output=True,
        )  # fmt: skip
        return moments(Path(trace.name).read_text().splitlines())


def moments(lines: Sequence[str]) -> dict[str, float]:
    found: dict[str, float] = {}
    pids: dict[str, str] = {}
    forks: list[float] = []
    start = None
    for line in lines:
        match = LINE.match(line)
        if not match:
            continue
        pid, at, call = match[1], float(match[2]), match[3]
        if start is None:
            start, pids["grader"] = at, pid
        if call.startswith("execve("):
            program = call.split('"')[1]
            if "bwrap" in program or "setpriv" in program:
                found.setdefault("probe", at)
            elif "python" not in Path(program).name:
                continue
            elif "pytest" in call and "checks" not in found:
                found["checks"], pids["checks"] = at, pid
            elif "grader.zygote" in call:
                found["zygote"], pids["zygote"] = at, pid
        elif call.startswith(("clone(", "clone3(")) and pid == pids.get("zygote"):
            forks.append(at)
        elif "+++ exited" in call or "+++ killed" in call:
            for name in ("zygote", "checks", "grader"):
                if pid == pids.get(name):
                    found[f"{name}_end"] = at
    if start is None:
        return {}
    found.setdefault("probe", found.get("checks", start))
    if forks:
        found["first_fork"], found["last_fork"] = forks[0], forks[-1]
    found["forks"] = len(forks)
    found["start"], found["end"] = start, found.pop("grader_end", start)
    return {k: (v - start if k != "forks" else v) for k, v in found.items()}


def print_phases(runs: list[dict[str, float]]) -> None:
    for label, begin, end in PHASES:
        spans = [run[end] - run[begin] for run in runs if begin in run and end in run]
        shown = f"{statistics.median(spans):5.2f} s" if spans else "  n/a"
        print(f"  {label:<50} {shown}")
    forks = statistics.median(run.get("forks", 0) for run in runs)
    total = statistics.median(run["end"] for run in runs if "end" in run)
    print(f"  {'total (' + format(forks, 'g') + ' servers forked)':<50} {total:5.2f} s")


if __name__ == "__main__":
    main()
