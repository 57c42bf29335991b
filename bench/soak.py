"""Grade the references again and again while the CPU is busy: nothing may flake.

    .venv/bin/python -m bench.soak [--runs 20] [--burners 2] [--exercise ID] [--corpus]

Each run grades every reference solution (and, with --corpus, every alternative
correct implementation in tests/corpus/*/right/) while `--burners` processes spin on
the CPU. It prints how many gradings there were and lists every one that did not
pass; the exit status is 1 if any did.
"""

from __future__ import annotations

import argparse
import multiprocessing
import sys
import time
from pathlib import Path

from grader import runner, sandbox
from grader.manifest import Kit

ROOT = Path(__file__).resolve().parent.parent


def burn() -> None:
    while True:
        pass


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--burners", type=int, default=2)
    parser.add_argument("--exercise", default=None)
    parser.add_argument("--corpus", action="store_true")
    args = parser.parse_args()
    kit = Kit.load(ROOT)
    targets = []
    for exercise in kit.select(args.exercise):
        targets.append((exercise, kit.solution(exercise)))
        if args.corpus:
            right = ROOT / "tests" / "corpus" / exercise.id / "right"
            targets += [(exercise, path) for path in sorted(right.glob("*.py"))]
    burners = [multiprocessing.Process(target=burn, daemon=True) for _ in range(args.burners)]
    for process in burners:
        process.start()
    failures, count, started = [], 0, time.monotonic()
    try:
        for run in range(args.runs):
            for exercise, path in targets:
                result = runner.grade(kit, exercise, path, isolated=sandbox.probe().works)
                count += 1
                if not result.passed:
                    bad = [
                        f"{c.name}: {c.outcome.value} {c.rationale}"
                        for c in result.checks
                        if not c.passed
                    ]
                    failures.append(f"run {run}: {exercise.id} {path.name}: {result.error or bad}")
                    print("FLAKE", failures[-1], flush=True)
    finally:
        for process in burners:
            process.kill()
    took = time.monotonic() - started
    print(
        f"{count} gradings, {len(failures)} did not pass, {args.burners} CPU burners, {took:.0f} s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
