"""Build what leaves the instructor's hands: the student edition and a Gradescope autograder.

The student edition has the lessons, the starters, the visible checks and the grader,
with edition/README.md and edition/Makefile as its README and Makefile (what students
run, nothing else); never the solutions, the hidden checks or the kit's own tests.

The edition also has .github/workflows/classroom.yml, GitHub Classroom's autograding:
edition/classroom.yml with a step per exercise of the manifest, worth its checks' points.

A Gradescope autograder grades a chosen set of exercises (all, by default): its kit
holds those exercises only, so a weekly assignment shows the checks of that week.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import shutil
import stat
import sys
import zipfile
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

from grader import runwide, services
from grader.checks import CheckSpec
from grader.errors import GraderError
from grader.manifest import HIDDEN, MANIFEST, Exercise, Kit

# What setting up .venv reads: the pins, and every version they lead to.
SETUP_FILES = ("pyproject.toml", "requirements.lock")
STUDENT_PARTS = ("lessons", "starter", "checks", "grader", ".gitignore", *SETUP_FILES)
EDITION = {"edition/README.md": "README.md", "edition/Makefile": "Makefile"}
# GitHub Classroom's workflow: this file's jobs, with a step per exercise added.
CLASSROOM = "edition/classroom.yml"
WORKFLOW = ".github/workflows/classroom.yml"
AUTOGRADER_PARTS = ("grader", *SETUP_FILES)
LEFT_OUT = shutil.ignore_patterns(HIDDEN, "__pycache__", "*.pyc", ".progress")

SETUP_SH = """#!/usr/bin/env bash
# Gradescope runs this once, when it builds the autograder's image (an Ubuntu image:
# 22.04 or newer; 24.04 recommended).
set -euo pipefail
trap 'echo "setup.sh failed at line $LINENO: $BASH_COMMAND" >&2' ERR
export DEBIAN_FRONTEND=noninteractive
echo "Installing python3 and bubblewrap{services}…"
apt-get update -qq
apt-get install -y -qq python3 python3-venv python3-pip bubblewrap util-linux{packages} \
  >/dev/null
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
    workflow = folder / WORKFLOW
    workflow.parent.mkdir(parents=True)
    # From the edition's own kit: its points are those its grader counts (no hidden file).
    workflow.write_text(classroom_workflow(Kit.load(folder), kit.root / CLASSROOM))
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
    for source in kit.extension_paths():
        target = staging / source.relative_to(kit.root)
        if source.is_dir():
            shutil.copytree(source, target, ignore=LEFT_OUT)
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    kinds = service_kinds(kit, exercises)
    setup = SETUP_SH.replace("{services}", "".join(f", {k.program}" for k in kinds)).replace(
        "{packages}", "".join(f" {k.package}" for k in kinds)
    )
    scripts = {"setup.sh": setup, "run_autograder": RUN_AUTOGRADER.replace("{hidden}", hidden)}
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


def service_kinds(kit: Kit, exercises: Sequence[Exercise] | None = None) -> list[services.Kind]:
    """The kinds of backing service `exercises` (all, by default) use, as registered."""
    kit.load_extensions()
    names = dict.fromkeys(n for e in exercises or kit.exercises for n in e.services)
    return [services.kind(name) for name in names]


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


# After the template's steps: what a step per exercise needs, then the steps.
SERVICE_STEP = """\
      # For {ids}: the checks start a {name} service of their own (services = ["{name}"]).
      - name: Install {package}
        run: |
          sudo apt-get update -qq
          sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq {package}
"""
STEPS_NOTE = """\
      # One step per exercise: `make setup` (the first step sets up .venv; the others find
      # it), then the grader on starter/<file>, as the student's own `make check EX=<id>`:
      # status 0 when every check passes, which earns max-score (the exercise's points).
      # No sandbox, hence no bubblewrap: without --submission the grader runs the student's
      # own files as plain processes, as on their machine (--no-sandbox is for someone
      # else's code where bubblewrap cannot work). That is safe here: the runner is a
      # throwaway VM for this repository alone, the action hands the command only PATH and
      # HOME (no credentials), and the code is the repository's own, pushed by someone who could
      # as well edit this workflow or the checks.
"""
EXERCISE_STEP = """\
      - name: {name}
        id: {id}
        uses: classroom-resources/autograding-command-grader@v1
        with:
          test-name: {name}
          setup-command: make -s setup
          command: {command}
          timeout: {timeout}
          max-score: {points}
"""
REPORTER_STEP = """\
      - name: Autograding Reporter
        uses: classroom-resources/autograding-grading-reporter@v1
        env:
{env}
        with:
          runners: {runners}
"""
# What a step id may be (GitHub's rule), and the reporter reads `<ID>_RESULTS` for it.
STEP_ID = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
# The setup of the first step installs .venv: minutes the action allows beyond the grading.
SETUP_MINUTES = 5


def classroom_workflow(kit: Kit, template: Path) -> str:
    """GitHub Classroom's workflow: `template`, then a step per exercise of `kit` that
    runs its grader with max-score the points it counts, then the reporter."""
    steps = []
    for kind in service_kinds(kit):
        ids = [e.id for e in kit.exercises if kind.name in e.services]
        steps.append(SERVICE_STEP.format(ids=", ".join(ids), name=kind.name, package=kind.package))
    steps.append(STEPS_NOTE)
    for exercise in kit.exercises:
        if not STEP_ID.fullmatch(exercise.id):
            raise GraderError(
                f"exercise id {exercise.id!r} cannot name a GitHub Actions step: "
                "use letters, digits, - and _"
            )
        points = total_points(kit, exercise)
        if points != int(points):  # the action reads max-score with parseInt
            raise GraderError(
                f"{exercise.id} is worth {points:g} points, but GitHub Classroom's command "
                "grader counts whole points only: make its weight or points whole"
            )
        steps.append(
            EXERCISE_STEP.format(
                name=json.dumps(f"{exercise.id}: {exercise.title}"),
                id=exercise.id,
                command=json.dumps(f".venv/bin/python -m grader check --exercise {exercise.id}"),
                # The grader bounds itself by the manifest's timeout; the rest is for setup.
                timeout=math.ceil(exercise.timeout / 60) + SETUP_MINUTES,
                points=int(points),
            )
        )
    env = "\n".join(
        f'          {e.id.upper()}_RESULTS: "${{{{ steps.{e.id}.outputs.result }}}}"'
        for e in kit.exercises
    )
    runners = ",".join(e.id for e in kit.exercises)
    steps.append(REPORTER_STEP.format(env=env, runners=runners))
    return template.read_text(encoding="utf-8") + "".join(steps)


def total_points(kit: Kit, exercise: Exercise) -> float:
    """What grading `exercise` in `kit` is out of: its check files' checks (hidden ones
    too, where the kit has them) and the engine's own, each worth what the grader
    counts (see Grading.final)."""
    worth = exercise.points_by_check()
    specs = [spec for path in kit.check_files(exercise) for spec in _checks_in(path)]
    checks = [s.check for s in specs] + [entry.check for entry in _run_wide(kit)]
    owns = [(c.name, c.points) for c in checks]
    return sum(worth.get(name, points * worth["*"]) for name, points in owns)


def _run_wide(kit: Kit) -> tuple[runwide.RunWide, ...]:
    """The run-wide checks of `kit`: its extensions imported from its root, as the
    checks process imports them (the kit's own code, as its check files are)."""
    kit.load_extensions()
    return runwide.registered(kit.extensions)


def _checks_in(path: Path) -> list[CheckSpec]:
    """The @check functions of a check file (the kit's own code), as pytest collects them."""
    name = f"_grader_points_{abs(hash(path))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise GraderError(f"cannot read the checks in {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and the like look their module up
    try:
        spec.loader.exec_module(module)
    finally:
        del sys.modules[name]
    found = (getattr(value, "__grader_check__", None) for value in vars(module).values())
    return [spec for spec in found if isinstance(spec, CheckSpec)]
