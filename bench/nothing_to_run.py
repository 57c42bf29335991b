"""What a class's entries with nothing to run cost `make grade`, on two kits side by side.

A real class hands in some exercises and not others, and some untouched starters. This
builds one: each student hands in broadcast.py alone (half of them the untouched
starter), so five of their six exercises are missing. It grades the class with every
kit given (say this one and an older checkout) and prints each kit's seconds, and the
ratio to the first.

    .venv/bin/python -m bench.nothing_to_run [--students 12] [--kit ../older-checkout]
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def build_class(folder: Path, students: int) -> None:
    for n in range(students):
        source = "starter" if n % 2 else "solutions"
        (folder / f"s{n:02}").mkdir(parents=True)
        shutil.copy(ROOT / source / "broadcast.py", folder / f"s{n:02}" / "broadcast.py")


def grade(kit: Path, submissions: Path, out: Path) -> float:
    python = kit / ".venv" / "bin" / "python"
    started = time.monotonic()
    subprocess.run(
        [str(python if python.exists() else sys.executable), "-m", "grader", "--root", str(kit)]
        + ["grade", "--submissions", str(submissions), "--out", str(out)],
        cwd=kit,
        capture_output=True,
        check=False,
    )
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=12)
    parser.add_argument("--kit", type=Path, action="append", default=[], help="another kit")
    args = parser.parse_args()
    kits = [ROOT, *(k.resolve() for k in args.kit)]
    with tempfile.TemporaryDirectory() as tmp:
        submissions = Path(tmp) / "class"
        build_class(submissions, args.students)
        jobs = args.students * 6
        first = None
        for n, kit in enumerate(kits):
            seconds = grade(kit, submissions, Path(tmp) / f"out{n}")
            first = first or seconds
            print(
                f"{kit}: {seconds:.1f} s for {jobs} jobs ({jobs - args.students} with nothing "
                f"to run), {seconds / first:.2f}× the first"
            )


if __name__ == "__main__":
    main()
