"""How many submissions a minute `make grade` grades, one at a time and in parallel.

Builds a class of 30 students (solutions, untouched starters, and a few broken
submissions that hang at import, block their event loop or never accept), then grades
it twice in the same run: with --jobs 1 and with --jobs <cores>. Prints submissions per
minute for both and their ratio.

    .venv/bin/python -m bench.grade_throughput [--students 30] [--exercise broadcast]
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BROKEN = ["hangs_at_import.py", "blocks_event_loop.py", "never_accepts.py"]


def build_class(folder: Path, students: int, exercise_file: str) -> None:
    sources = [ROOT / "solutions" / exercise_file, ROOT / "starter" / exercise_file]
    sources += [ROOT / "tests" / "corpus" / "broken" / name for name in BROKEN]
    for n in range(students):
        # Mostly solutions and starters, with a broken one every fifth student.
        source = sources[2 + (n // 5) % len(BROKEN)] if n % 5 == 4 else sources[n % 2]
        (folder / f"student{n:02}").mkdir(parents=True)
        shutil.copy(source, folder / f"student{n:02}" / exercise_file)


def grade(folder: Path, exercise: str, jobs: int, out: Path) -> float:
    started = time.perf_counter()
    subprocess.run(
        [
            sys.executable,
            "-m",
            "grader",
            "grade",
            "--submissions",
            str(folder),
            "-e",
            exercise,
            "--out",
            str(out),
            "--jobs",
            str(jobs),
        ],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=30)
    parser.add_argument("--exercise", default="broadcast")
    args = parser.parse_args()
    cores = os.cpu_count() or 2
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "class"
        build_class(folder, args.students, f"{args.exercise}.py")
        sequential = grade(folder, args.exercise, 1, Path(tmp) / "out1")
        parallel = grade(folder, args.exercise, cores, Path(tmp) / "out2")
        books = [_scores(Path(tmp) / out / "gradebook.csv") for out in ("out1", "out2")]
        same = books[0] == books[1]
    per_minute = [args.students / t * 60 for t in (sequential, parallel)]
    print(f"{args.students} submissions of {args.exercise}, {cores} cores")
    print(f"  --jobs 1:      {sequential:6.1f} s  {per_minute[0]:6.1f} submissions/min")
    print(f"  --jobs {cores}:      {parallel:6.1f} s  {per_minute[1]:6.1f} submissions/min")
    print(f"  parallel / sequential throughput: {per_minute[1] / per_minute[0]:.2f}x")
    print(f"  same scores and statuses in both gradebooks: {same}")
    for row in sorted(books[0] ^ books[1]):
        print(f"    differs: {row}")


def _scores(gradebook: Path) -> set[tuple[str, ...]]:
    """Each student's row without the reason, whose measured times vary from run to run."""
    with gradebook.open(newline="") as file:
        return {
            tuple(value for key, value in row.items() if key != "reason")
            for row in csv.DictReader(file)
        }


if __name__ == "__main__":
    main()
