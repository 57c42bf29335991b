"""Build what leaves the instructor's hands: the student edition and a Gradescope autograder.

The student edition has the lessons, the starters, the visible checks, the grader and
the Makefile; never the solutions, the hidden checks or the kit's own tests.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from pathlib import Path

from grader.manifest import Kit

STUDENT_PARTS = (
    "lessons",
    "starter",
    "checks",
    "grader",
    "Makefile",
    "pyproject.toml",
    "README.md",
    ".gitignore",
)
AUTOGRADER_PARTS = ("lessons", "starter", "checks", "grader", "pyproject.toml")
LEFT_OUT = shutil.ignore_patterns("hidden", "__pycache__", "*.pyc", ".progress")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euo pipefail
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap redis-server >/dev/null
cd /autograder/source
python3 -m venv .venv
.venv/bin/pip install --quiet -e .
"""

RUN_AUTOGRADER = """#!/usr/bin/env bash
# Gradescope copies this to /autograder/run_autograder and runs it for every submission;
# it must always write results.json.
set -uo pipefail
ROOT="${AUTOGRADER_ROOT:-/autograder}"
PY="${AUTOGRADER_PYTHON:-$ROOT/source/.venv/bin/python}"
mkdir -p "$ROOT/results"
cd "$ROOT/source"
# Each submission gets a bubblewrap sandbox when the container allows one; where it
# forbids namespaces, Gradescope's own container per submission is the boundary.
isolation=""
"$PY" -m grader doctor >/dev/null 2>&1 || isolation="--no-sandbox"
"$PY" -m grader check --submission "$ROOT/submission" --json "$ROOT/results/results.json" $isolation
status=$?
# 0 passed, 1 some checks failed: both are grades. Anything else is our failure.
if [ "$status" -gt 1 ] || [ ! -s "$ROOT/results/results.json" ]; then
  message="The autograder failed (status $status): please tell your instructor."
  printf '{"score": 0, "output": "%s"}\\n' "$message" > "$ROOT/results/results.json"
fi
exit 0
"""


def _copy(kit: Kit, parts: tuple[str, ...], target: Path, ignore=LEFT_OUT) -> None:
    for part in parts:
        source = kit.root / part
        if source.is_dir():
            shutil.copytree(source, target / part, ignore=ignore)
        elif source.is_file():
            shutil.copy2(source, target / part)


def student_edition(kit: Kit, out: Path) -> list[Path]:
    """Write out/student-edition/ and its .tar.gz and .zip; return the three paths."""
    folder = out / "student-edition"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    _copy(kit, STUDENT_PARTS, folder)
    tar = shutil.make_archive(str(out / "student-edition"), "gztar", out, "student-edition")
    zipped = shutil.make_archive(str(out / "student-edition"), "zip", out, "student-edition")
    return [folder, Path(tar), Path(zipped)]


def gradescope_autograder(kit: Kit, out: Path) -> Path:
    """A zip that Gradescope unpacks into /autograder/source: the kit, hidden checks
    included, with setup.sh and run_autograder at its root (use an Ubuntu 24.04 image,
    whose python3 is new enough)."""
    staging = out / "gradescope"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _copy(kit, AUTOGRADER_PARTS, staging, ignore=shutil.ignore_patterns("__pycache__"))
    for name, text in (("setup.sh", SETUP_SH), ("run_autograder", RUN_AUTOGRADER)):
        script = staging / name
        script.write_text(text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    archive = out / "gradescope-autograder.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staging.rglob("*")):
            info = zipfile.ZipInfo.from_file(path, path.relative_to(staging))
            if path.is_file():
                zf.writestr(info, path.read_bytes())
    return archive
