"""Build what leaves the instructor's hands: the student edition and a Gradescope autograder.

The student edition has the lessons, the starters, the visible checks and the grader,
with edition/README.md and edition/Makefile as its README and Makefile (what students
run, nothing else); never the solutions, the hidden checks or the kit's own tests.

A Gradescope autograder grades a chosen set of exercises (all, by default): its kit
holds those exercises only, so a weekly assignment shows the checks of that week.
"""

from __future__ import annotations

import shutil
import stat
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from grader.manifest import HIDDEN, MANIFEST, Exercise, Kit

# What setting up .venv reads: the pins, and every version they lead to.
SETUP_FILES = ("pyproject.toml", "requirements.lock")
STUDENT_PARTS = ("lessons", "starter", "checks", "grader", ".gitignore", *SETUP_FILES)
EDITION = {"edition/README.md": "README.md", "edition/Makefile": "Makefile"}
AUTOGRADER_PARTS = ("grader", *SETUP_FILES)
LEFT_OUT = shutil.ignore_patterns(HIDDEN, "__pycache__", "*.pyc", ".progress")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (an Ubuntu image:
# 22.04 or newer; 24.04 recommended).
set -euo pipefail
trap 'echo "setup.sh failed at line $LINENO: $BASH_COMMAND" >&2' ERR
export DEBIAN_FRONTEND=noninteractive
echo "Installing python3, redis-server and bubblewrap…"
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip redis-server bubblewrap \
  util-linux >/dev/null
PY=python3
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "$(python3 --version) is older than the grader needs (3.11): installing python3.11…"
  if ! apt-get install -y -qq python3.11 python3.11-venv >/dev/null; then
    echo "This image has no python3.11 package: choose Ubuntu 22.04 or newer." >&2
    exit 1
  fi
  PY=python3.11
fi
cd /autograder/source
"$PY" -m venv .venv
.venv/bin/pip install --quiet --disable-pip-version-check -c requirements.lock -e .
status=0
.venv/bin/python -m grader doctor || status=$?
case $status in
  0) echo "Submissions will be graded in a bubblewrap sandbox." ;;
  3) echo "No sandbox in this container: submissions are graded with --no-sandbox," \\
       "inside the container Gradescope starts for each one." ;;
  *) echo "setup.sh: bubblewrap does not work here, and grading will refuse to run." >&2
     exit 1 ;;
esac
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
# forbids namespaces (doctor's status 3), Gradescope's own container per submission is
# the boundary. Any other failure of the sandbox fails closed: nothing is graded.
isolation=""
"$PY" -m grader doctor >/dev/null 2>&1
case $? in
  0) ;;
  3) isolation="--no-sandbox" ;;
  *) printf '{"score": 0, "output": "%s"}\\n' \\
       "The autograder's sandbox is broken, so nothing was graded: please tell your instructor." \\
       > "$ROOT/results/results.json"
     exit 0 ;;
esac
"$PY" -m grader check --submission "$ROOT/submission" --json "$ROOT/results/results.json" \\
  --hidden-visibility {hidden} $isolation
status=$?
# 0 passed, 1 some checks failed: both are grades. Anything else is our failure.
if [ "$status" -gt 1 ] || [ ! -s "$ROOT/results/results.json" ]; then
  message="The autograder failed (status $status): please tell your instructor."
  printf '{"score": 0, "output": "%s"}\\n' "$message" > "$ROOT/results/results.json"
fi
exit 0
"""


def _copy(
    kit: Kit,
    parts: Sequence[str],
    target: Path,
    ignore: Callable[[str, list[str]], Iterable[str]] = LEFT_OUT,
) -> None:
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
    for source, target in EDITION.items():
        shutil.copy2(kit.root / source, folder / target)
    tar = shutil.make_archive(str(out / "student-edition"), "gztar", out, "student-edition")
    zipped = shutil.make_archive(str(out / "student-edition"), "zip", out, "student-edition")
    return [folder, Path(tar), Path(zipped)]


def gradescope_autograder(
    kit: Kit, out: Path, exercises: Sequence[Exercise], hidden: str = "after_published"
) -> Path:
    """A zip that Gradescope unpacks into /autograder/source: a kit of `exercises`
    (hidden checks included), with setup.sh and run_autograder at its root."""
    ids = [e.id for e in exercises]
    name = "gradescope-autograder" + ("" if len(ids) == len(kit.exercises) else "-" + "-".join(ids))
    staging = out / name
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    _copy(kit, AUTOGRADER_PARTS, staging, ignore=shutil.ignore_patterns("__pycache__"))
    (staging / MANIFEST).parent.mkdir(parents=True)
    (staging / MANIFEST).write_text(manifest_of(kit, ids))
    for exercise in exercises:
        for source in (kit.lesson(exercise), kit.starter(exercise), *kit.check_files(exercise)):
            if source.is_file():
                target = staging / source.relative_to(kit.root)
                target.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(source, target)
    scripts = {"setup.sh": SETUP_SH, "run_autograder": RUN_AUTOGRADER.replace("{hidden}", hidden)}
    for script_name, text in scripts.items():
        script = staging / script_name
        script.write_text(text)
        script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    archive = out / f"{name}.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(staging.rglob("*")):
            info = zipfile.ZipInfo.from_file(path, path.relative_to(staging))
            if path.is_file():
                zf.writestr(info, path.read_bytes())
    return archive


def manifest_of(kit: Kit, ids: Sequence[str]) -> str:
    """The kit's manifest with only the exercises `ids`, as written (comments kept)."""
    text = (kit.root / MANIFEST).read_text(encoding="utf-8")
    head, *blocks = text.split("[[exercises]]")
    kept = [b for b in blocks if _id_of(b) in ids]
    return head + "".join(f"[[exercises]]{b}" for b in kept)


def _id_of(block: str) -> str:
    for line in block.splitlines():
        key, _, value = line.partition("=")
        if key.strip() == "id":
            return value.strip().strip('"')
    return ""
