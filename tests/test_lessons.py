"""The lesson text covers the seed lesson and renders in a terminal."""

from __future__ import annotations

import io
import re

import pytest
from rich.console import Console
from rich.markdown import Markdown

from grader.manifest import Kit
from tests.conftest import ROOT

# The seed lesson's key concepts and best practices, as a reader would look them up.
SEED_TOPICS = [
    "ConnectionManager",
    "active_connections",
    "connect(",
    "disconnect(",
    "broadcast(",
    "client_id",
    "accept()",
    "WebSocketDisconnect",
    "send_personal",
    "dict",
    "single",
    "remove",
    "small",
    "limit",
    "authenticat",
    "chat room",
    "dashboard",
    "game",
    "Client #",
    "joined",
    "left",
]


def lessons() -> str:
    return "\n".join((ROOT / "lessons" / f"{e.lesson}").read_text() for e in exercises())


def exercises() -> list:
    return list(Kit.load(ROOT).exercises)


@pytest.mark.parametrize("topic", SEED_TOPICS)
def test_the_lessons_cover_every_topic_of_the_seed_lesson(topic: str) -> None:
    assert topic.lower() in lessons().lower()


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_each_lesson_renders_and_fits_a_terminal(kit: Kit, exercise) -> None:
    text = kit.lesson(exercise).read_text()
    console = Console(file=io.StringIO(), width=100)
    console.print(Markdown(text))
    assert console.file.getvalue().strip()
    assert max(len(line) for line in text.splitlines()) <= 100
    assert "```python" in text


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_each_exercise_has_three_progressive_hints(exercise) -> None:
    assert len(exercise.hints) == 3
    assert not any("go here" in hint for hint in exercise.hints)


def code_lines(markdown: str) -> list[str]:
    lines, inside = [], False
    for line in markdown.splitlines():
        if line.startswith("```"):
            inside = not inside
        elif inside:
            lines.append(line)
    return lines


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_lesson_code_keeps_whole_statements_at_80_columns(kit: Kit, exercise) -> None:
    """A code block is drawn with a margin: 76 characters fit an 80-column terminal."""
    for line in code_lines(kit.lesson(exercise).read_text()):
        assert len(line) <= 76, line
    console = Console(file=io.StringIO(), width=80)
    console.print(Markdown(kit.lesson(exercise).read_text(), code_theme="monokai"))
    shown = console.file.getvalue()
    for line in code_lines(kit.lesson(exercise).read_text()):
        if line.strip():
            assert line.strip() in shown, f"wrapped: {line}"


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_hints_keep_whole_lines_at_80_columns(exercise) -> None:
    from grader import report

    for number, hint in enumerate(exercise.hints, 1):
        console = Console(file=io.StringIO(), width=80)
        console.print(report.hint(exercise, number, hint))
        shown = console.file.getvalue().splitlines()
        for line in hint.strip("\n").splitlines():
            assert any(line.rstrip() in row for row in shown), f"wrapped: {line}"


# A command as the lessons write it: `make check EX=rooms` in the text, or a code block's
# line (prose that starts with "make" is not one).
MAKE_COMMAND = re.compile(r"`make ([a-z][a-z-]*)")
MAKE_LINE = re.compile(r"^\s*make ([a-z][a-z-]*)")


def make_targets(markdown: str) -> set[str]:
    in_code = [m[1] for line in code_lines(markdown) if (m := MAKE_LINE.match(line))]
    return set(MAKE_COMMAND.findall(markdown) + in_code)


def edition_targets() -> set[str]:
    """What a student can run: the targets edition/Makefile documents (`name: … ## …`)."""
    makefile = (ROOT / "edition" / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z-]*):.*## ", makefile, re.MULTILINE))


def test_lessons_and_hints_mention_only_commands_the_student_edition_has() -> None:
    """The student edition's Makefile is edition/Makefile: a lesson that says `make bench`
    promises a command its readers do not have."""
    texts = {path.name: path.read_text() for path in (ROOT / "lessons").glob("*.md")}
    texts |= {f"hints of {e.id}": "\n".join(e.hints) for e in exercises()}
    targets = edition_targets()
    assert {"check", "hint", "lesson", "serve", "watch"} <= targets
    mentioned = {name: make_targets(text) for name, text in texts.items()}
    assert set().union(*mentioned.values()) >= {"check", "hint", "serve"}  # the pattern works
    missing = {name: sorted(found - targets) for name, found in mentioned.items()}
    missing = {name: absent for name, absent in missing.items() if absent}
    assert not missing, f"not in edition/Makefile: {missing}"
