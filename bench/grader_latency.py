"""How long `make check EX=broadcast` takes compared with the least it could take.

The floor: start Python, import the grader's dependencies, serve the reference
solution under uvicorn, open one WebSocket and receive its first frame. The full run:
the grader's own command line grading the reference solution (8 checks, a fresh
server for each). Both are measured side by side in one run; the ratio is printed.

    .venv/bin/python -m bench.grader_latency [--runs 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
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


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    solution = str(ROOT / "solutions" / "broadcast.py")
    floor_cmd = [sys.executable, "-c", FLOOR, solution]
    full_cmd = [
        sys.executable,
        "-m",
        "grader",
        "check",
        "-e",
        "broadcast",
        "--submission",
        solution,
    ]
    floors, fulls = [], []
    for _ in range(args.runs):  # interleaved, so both see the same machine
        floors.append(timed(floor_cmd))
        fulls.append(timed(full_cmd))
    floor, full = statistics.median(floors), statistics.median(fulls)
    print(f"floor (start, import, serve, first frame): median {floor:.2f} s over {args.runs} runs")
    print(f"make check EX=broadcast on the solution:   median {full:.2f} s over {args.runs} runs")
    print(f"ratio full / floor: {full / floor:.2f}x (aim: within 3x)")


if __name__ == "__main__":
    main()
