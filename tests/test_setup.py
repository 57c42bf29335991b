"""The setup installs the versions in requirements.lock, with uv or with pip.

pyproject.toml pins the kit's own dependencies; requirements.lock pins every package
they lead to, and both installers take it as constraints (edition/Makefile). These tests
keep the two files from drifting apart and show that either installer gives the lock.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from grader.dist import student_edition
from grader.manifest import Kit
from tests.conftest import ROOT

PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
NAME = canonicalize_name(PROJECT["name"])
# What a venv's own python reports: every installed distribution, and the environment
# the lock's markers (`; python_full_version >= '3.12'`) are evaluated in.
REPORT = (
    "import json; from importlib import metadata; from packaging import markers; "
    "print(json.dumps({'installed': {d.metadata['Name']: d.version"
    " for d in metadata.distributions()}, 'environment': markers.default_environment()}))"
)


def lock_lines() -> list[Requirement]:
    """requirements.lock, a `name==version` line per package (and platform, if it differs)."""
    lines = (line.split("#", 1)[0].strip() for line in (ROOT / "requirements.lock").open())
    return [Requirement(line) for line in lines if line]


def lock(environment: dict[str, str] | None = None) -> dict[str, str]:
    """The locked version of each package, by the lines that apply in `environment` (here)."""
    return {
        canonicalize_name(req.name): str(req.specifier).removeprefix("==")
        for req in lock_lines()
        if req.marker is None or req.marker.evaluate(environment)
    }


def pins(*groups: str) -> list[Requirement]:
    """pyproject.toml's requirements (the extras `groups` too), but for the kit itself."""
    extras = PROJECT["optional-dependencies"]
    texts = PROJECT["dependencies"] + [text for group in groups for text in extras[group]]
    return [req for req in map(Requirement, texts) if canonicalize_name(req.name) != NAME]


def test_every_pin_in_pyproject_is_in_the_lock_at_the_same_version() -> None:
    locked: dict[str, set[str]] = {}
    for req in lock_lines():
        locked.setdefault(canonicalize_name(req.name), set()).add(str(req.specifier))
    for pin in pins(*PROJECT["optional-dependencies"]):
        assert [spec.operator for spec in pin.specifier] == ["=="], f"{pin}: pin it with =="
        found = locked.get(canonicalize_name(pin.name))
        assert found == {str(pin.specifier)}, (
            f"pyproject.toml pins {pin}, requirements.lock has {found}: run `make lock`"
        )


def test_this_environment_has_the_locked_version_of_all_the_kit_needs() -> None:
    """Everything the kit and its extras need, transitively, is installed as locked: a
    package that the lock misses, or a venv set up without the lock, shows here."""
    locked = lock()
    wrong, seen = [], set()
    todo = [(NAME, frozenset(PROJECT["optional-dependencies"]))]
    while todo:
        name, extras = todo.pop()
        if (name, extras) in seen:
            continue
        seen.add((name, extras))
        for req in map(Requirement, metadata.requires(name) or []):
            if req.marker and not any(req.marker.evaluate({"extra": e}) for e in extras or {""}):
                continue
            dependency = canonicalize_name(req.name)
            todo.append((dependency, frozenset(req.extras)))
            installed = metadata.version(dependency)
            if dependency != NAME and locked.get(dependency) != installed:
                wrong.append(f"{dependency} {installed} (locked: {locked.get(dependency)})")
    assert len(seen) > len(pins(*PROJECT["optional-dependencies"])) + 1  # past the pins
    assert not wrong, f"not as requirements.lock says: {wrong}. Run `make lock`, `make setup`"


def base_python() -> str:
    """The interpreter this venv was made from: what the setup would find on PATH."""
    return str(Path(sys.base_prefix, "bin", "python{}.{}".format(*sys.version_info)))


def can_have_uv() -> bool:
    """uv on PATH, or a pip to fetch it with: what the setup tries before pip alone."""
    pip = subprocess.run([base_python(), "-m", "pip", "--version"], capture_output=True)
    return bool(shutil.which("uv")) or pip.returncode == 0


@pytest.mark.parametrize("installer", ["uv", "pip"])
def test_the_student_editions_setup_installs_the_lock_with_uv_or_pip(
    tmp_path: Path, installer: str
) -> None:
    if installer == "uv" and not can_have_uv():
        pytest.skip("no uv on PATH, and no pip to fetch it with")
    edition = student_edition(Kit.load(ROOT), tmp_path)[0]
    force_pip = ["UV="] if installer == "pip" else []
    done = subprocess.run(
        ["make", "setup", f"PYTHON={base_python()}", *force_pip],
        cwd=edition,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    python = edition / ".venv" / "bin" / "python"
    report = json.loads(subprocess.check_output([str(python), "-c", REPORT], text=True))
    installed = {canonicalize_name(name): v for name, v in report["installed"].items()}
    # Which installer it was: the venv is made without pip, which only the fallback adds
    # (with ensurepip, and Python 3.11's setuptools beside it).
    assert ("pip" in installed) == (installer == "pip"), done.stdout
    assert "pip" not in done.stdout, done.stdout  # no "trying pip…", no "could not fetch uv"
    for own in ("pip", "setuptools"):
        installed.pop(own, None)
    assert installed.pop(NAME) == PROJECT["version"]
    assert {canonicalize_name(pin.name) for pin in pins()} <= installed.keys()
    locked = lock(report["environment"])
    assert installed == {name: locked.get(name) for name in installed}
