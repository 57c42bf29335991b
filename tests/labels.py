"""The corpus of submissions the kit's tests grade, with the verdict each must get.

Each file's docstring ends with its label (its grammar: grader.corpus.Label), read
by grader.corpus.read_label, which `verify` also uses. Besides each exercise's
wrong/ and right/, corpus/broken/ holds submissions that cannot run, graded as the
first exercise's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from grader.corpus import Label, label_lines, read_label

CORPUS = Path(__file__).resolve().parent / "corpus"
BROKEN_AS = "broadcast"


@dataclass(frozen=True)
class Case:
    exercise: str
    label: Label

    @property
    def path(self) -> Path:
        return self.label.path

    @property
    def id(self) -> str:
        return f"{self.exercise}/{self.path.parent.name}/{self.path.stem}"


def labels(path: Path, key: str) -> list[str]:
    """The docstring's `key` lines (say "says:"), without the key."""
    return [text for _, text in label_lines(path, key)]


def cases(folder: str) -> list[Case]:
    """Every case under corpus/<exercise>/<folder>/, or in corpus/broken/."""
    if folder == "broken":
        return [Case(BROKEN_AS, read_label(p)) for p in sorted((CORPUS / "broken").glob("*.py"))]
    paths = sorted(CORPUS.glob(f"*/{folder}/*.py"))
    return [Case(p.parent.parent.name, read_label(p)) for p in paths]
