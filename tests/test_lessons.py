"""The lesson text covers the seed lesson and renders in a terminal."""

from __future__ import annotations

import io

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
