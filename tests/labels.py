"""The corpus of submissions the kit's tests grade, with the verdict each must get.

Each file's docstring ends with its label:
  expect: pass                  an alternative correct implementation
  expect: <check>[, <check>…]   a mistake that must fail (or time out) these checks
  expect: only <check>[, …]     … and pass every other check (a fault no wider than that)
  expect: error <text>          a submission that cannot start; the message contains <text>

and, for a mistake, optionally what its diagnosis must say, one line per phrase:
  says: <words>                 the hint (or the reason) of a failing labelled check
                                contains <words>: the cause and the student's line
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"


@dataclass(frozen=True)
class Case:
    exercise: str
    path: Path
    kind: str  # "pass", "fail" or "error"
    checks: tuple[str, ...] = ()
    error: str = ""
    says: tuple[str, ...] = ()
    only: bool = False

    @property
    def id(self) -> str:
        return f"{self.exercise}/{self.path.parent.name}/{self.path.stem}"


def labels(path: Path, key: str) -> list[str]:
    # Read as text, not with ast: some corpus files are deliberately not valid Python.
    head = path.read_text(encoding="utf-8").split('"""')[1]
    return [line.removeprefix(key).strip() for line in head.splitlines() if line.startswith(key)]


def case(exercise: str, path: Path) -> Case:
    expected = labels(path, "expect:")
    if len(expected) != 1:
        raise ValueError(f"{path} needs exactly one 'expect:' line in its docstring")
    text = expected[0]
    if text == "pass":
        return Case(exercise, path, "pass")
    if text.startswith("error "):
        return Case(exercise, path, "error", error=text.removeprefix("error "))
    only = text.startswith("only ")
    checks = tuple(c.strip() for c in text.removeprefix("only ").split(","))
    says = tuple(labels(path, "says:"))
    return Case(exercise, path, "fail", checks=checks, says=says, only=only)


def cases(folder: str | None = None) -> list[Case]:
    """Every case under corpus/<exercise>/<folder>/ (and corpus/broken/ for broadcast)."""
    found = []
    for path in sorted(CORPUS.glob("*/*/*.py")):
        exercise, kind = path.parent.parent.name, path.parent.name
        if folder is None or kind == folder:
            found.append(case(exercise, path))
    for path in sorted((CORPUS / "broken").glob("*.py")):
        if folder in (None, "broken"):
            found.append(case("broadcast", path))
    return found
