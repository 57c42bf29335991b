"""Finds the kit's reference solution on disk and serves it as its own.

Guarantee: in the sandbox it finds nothing and scores 0; without the sandbox (the
control) it finds solutions/broadcast.py and scores full marks.
"""

import glob
import os
import sys
from pathlib import Path

from fastapi import FastAPI


def places() -> list[str]:
    """Where a kit may be: beside the grader package, the cwd of any process, the usual roots."""
    found = []
    grader = sys.modules.get("grader")
    if grader is not None and getattr(grader, "__file__", None):
        found.append(str(Path(grader.__file__).resolve().parent.parent))
    for entry in glob.glob("/proc/[0-9]*/cwd"):
        try:
            found.append(os.readlink(entry))
        except OSError:
            pass
    for root in ("/work", "/root", "/home", "/srv", "/opt", "/autograder", "/tmp"):
        found += glob.glob(f"{root}/*") + glob.glob(f"{root}/*/*")
    return found


def find(relative: str) -> Path | None:
    for place in places():
        for parent in [Path(place), *Path(place).parents]:
            candidate = parent / relative
            try:
                if candidate.is_file():
                    return candidate
            except OSError:
                continue
    return None


solution = find("solutions/broadcast.py")
if solution is not None:
    namespace: dict = {"__name__": "stolen"}
    exec(compile(solution.read_text(), str(solution), "exec"), namespace)
    app = namespace["app"]
else:
    app = FastAPI()
