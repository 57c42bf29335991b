"""The corpus's labels: what a file of a kit's `tests/corpus/` says its grading must
give, and whether a grading gave it. `verify` reads the labels (grader.kitrules); the
kit's own tests grade every file and judge the result (tests/test_corpus.py).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from grader.results import ExerciseResult, Outcome


@dataclass(frozen=True)
class Label:
    """What a corpus file says its grading must give, from its docstring:

      expect: pass                  an alternative correct implementation
      expect: <check>[, <check>…]   a mistake that must fail (or time out) these checks
      expect: only <check>[, …]     … and pass every other check (a fault no wider)
      expect: error <text>          a submission that cannot start; its error has <text>

    and, for a mistake, what its diagnosis must say, one line per phrase:
      says: <words>                 the hint (or the reason) of a failing labelled check
                                    contains <words>: the cause and the student's line
    """

    path: Path
    line: int
    kind: str  # "pass", "fail" or "error"
    checks: tuple[str, ...] = ()
    only: bool = False
    error: str = ""
    says: tuple[str, ...] = ()


class LabelError(ValueError):
    """A corpus file whose docstring has no label, or two, or an unreadable one."""

    def __init__(self, path: Path, line: int | None, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path, self.line, self.message = path, line, message


def label_lines(path: Path, key: str) -> list[tuple[int, str]]:
    """(line number, text after `key`) of the docstring's lines that start with it."""
    # Read as text, not with ast: some corpus files are deliberately not valid Python.
    text = path.read_text(encoding="utf-8")
    head = text.split('"""')[1] if text.count('"""') >= 2 else ""
    first = text[: text.find('"""')].count("\n") + 1
    return [
        (first + n, line.removeprefix(key).strip())
        for n, line in enumerate(head.splitlines())
        if line.startswith(key)
    ]


def read_label(path: Path) -> Label:
    """A corpus file's label; LabelError says what is wrong with it."""
    expected = label_lines(path, "expect:")
    if len(expected) != 1:
        raise LabelError(
            path,
            expected[1][0] if expected else 1,
            f"needs exactly one 'expect:' line in its docstring, not {len(expected)}",
        )
    line, text = expected[0]
    says = tuple(words for _, words in label_lines(path, "says:"))
    if text == "pass" or text.startswith("error "):
        if says:
            raise LabelError(path, line, "says: lines belong to a mistake's label only")
        if text == "pass":
            return Label(path, line, "pass")
        return Label(path, line, "error", error=text.removeprefix("error ").strip())
    only = text == "only" or text.startswith("only ")
    checks = tuple(c.strip() for c in (text[len("only") :] if only else text).split(","))
    if not all(re.fullmatch(r"[A-Za-z_]\w*", c) for c in checks):
        raise LabelError(path, line, f"'expect: {text}' is not a list of check names")
    return Label(path, line, "fail", checks=checks, only=only, says=says)


def judge(label: Label, result: ExerciseResult) -> list[str]:
    """What a graded corpus file got that its label rules out (nothing: it agrees).
    The one rule that needs a grading run: the kit's tests run it on every file."""
    failing = {Outcome.FAILED, Outcome.TIMED_OUT}
    lines = [f"error: {result.error}"] if result.error else []
    lines += [f"{c.name}: {c.outcome.value} {c.rationale}" for c in result.checks]
    summary = "\n".join(lines)
    if label.kind == "pass":
        return [] if result.passed else [f"should pass:\n{summary}"]
    if label.kind == "error":
        if result.error and label.error in result.error:
            return []
        return [f"should not start, with an error saying {label.error!r}:\n{summary}"]
    if result.error is not None:
        return [f"should run and fail {', '.join(label.checks)}:\n{summary}"]
    outcomes = {c.name: c.outcome for c in result.checks}
    wrong = [f"names an unknown check {n!r}" for n in label.checks if n not in outcomes]
    wrong += [
        f"{n} should fail:\n{summary}"
        for n in label.checks
        if outcomes.get(n) not in failing | {None}
    ]
    if label.only:
        others = [c.name for c in result.checks if c.name not in label.checks and not c.passed]
        if others:
            wrong.append(
                f"only {', '.join(label.checks)} should fail, not {', '.join(others)}:\n{summary}"
            )
    if label.says:
        said = [
            f"{c.rationale} {c.help or ''}".strip() for c in result.checks if c.name in label.checks
        ]
        if not any(all(words in text for words in label.says) for text in said):
            wrong.append(f"no hint says {label.says}:\n" + "\n".join(said))
    return wrong
