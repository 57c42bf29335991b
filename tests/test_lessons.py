"""The lesson text covers the seed lesson, keeps this course's conventions, and meets
`verify`'s rules for lessons and hints (grader/kitrules.py)."""

from __future__ import annotations

import pytest

from grader import kitrules
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
def test_each_lesson_shows_python_code(kit: Kit, exercise) -> None:
    """This course's convention (not an engine rule: a course may teach without code)."""
    assert "```python" in kit.lesson(exercise).read_text()


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_each_exercise_has_three_progressive_hints(exercise) -> None:
    """This course's convention: `make hint` takes any number."""
    assert len(exercise.hints) == 3
    assert not any("go here" in hint for hint in exercise.hints)


@pytest.mark.parametrize(
    "rule",
    [
        kitrules.lesson_fits_a_terminal,
        kitrules.hints_fit_a_terminal,
        kitrules.commands_exist_in_the_edition,
    ],
)
def test_lessons_and_hints_meet_verify_s_rules(kit: Kit, rule: kitrules.Rule) -> None:
    """Lessons fit a terminal, their code and the hints 80 columns, and they name only
    commands the student edition has (verify checks the same)."""
    broken = [str(p) for e in kit.exercises for p in rule(kit, e)]
    assert not broken, "\n".join(broken)


def test_the_edition_s_commands_are_found_where_the_lessons_name_them(kit: Kit) -> None:
    """The rule above reads the right things: the student's commands are there, and the
    lessons do name some of them."""
    targets = kitrules.edition_targets(kit)
    assert {"check", "hint", "lesson", "serve", "watch"} <= targets
    texts = [kit.lesson(e).read_text() for e in kit.exercises]
    texts += ["\n".join(e.hints) for e in kit.exercises]
    mentioned = set().union(*map(kitrules.make_targets, texts))
    assert mentioned >= {"check", "hint", "serve"}
