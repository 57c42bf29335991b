"""manifest: the course as lessons/exercises.toml describes it, and every way it can be wrong."""

from __future__ import annotations

from pathlib import Path

import pytest

from grader.errors import GraderError, UsageError
from grader.manifest import HIDDEN, MANIFEST, Exercise, Kit, in_hidden_folder
from tests.conftest import ROOT

FAKE = ROOT / "tests" / "data" / "fakecourse"
ECHO = """
[[exercises]]
id = "echo"
title = "Echo"
file = "echo.py"
hints = ["Send it back."]
"""


def course(tmp_path: Path, text: str) -> Path:
    (tmp_path / MANIFEST).parent.mkdir(parents=True)
    (tmp_path / MANIFEST).write_text(text)
    return tmp_path


def refusal(tmp_path: Path, text: str) -> str:
    with pytest.raises(GraderError) as refused:
        Kit.load(course(tmp_path, text))
    return str(refused.value)


def test_the_fake_course_loads_with_every_default_filled_in() -> None:
    kit = Kit.load(FAKE)
    assert kit.title == "Fake course"
    [echo] = kit.exercises
    assert echo == Exercise(
        id="echo",
        title="Echo: send back what arrives",
        file="echo.py",
        checks="echo.py",
        lesson="echo.md",
        hints=("Accept the connection, then send back every text that arrives.",),
        preload=("fastapi",),
        timeout=20.0,
    )
    assert kit.starter(echo) == FAKE / "starter" / "echo.py"
    assert kit.solution(echo) == FAKE / "solutions" / "echo.py"
    assert kit.lesson(echo).is_file()
    assert kit.check_files(echo) == [FAKE / "checks" / "echo.py"]  # it has no hidden ones


def test_hidden_checks_are_found_after_the_visible_ones(tmp_path: Path) -> None:
    kit = Kit.load(course(tmp_path, ECHO))
    (tmp_path / "checks" / HIDDEN).mkdir(parents=True)
    for folder in ("checks", f"checks/{HIDDEN}"):
        (tmp_path / folder / "echo.py").write_text("")
    files = kit.check_files(kit.get("echo"))
    assert files == [tmp_path / "checks" / "echo.py", tmp_path / "checks" / HIDDEN / "echo.py"]
    assert [in_hidden_folder(f) for f in files] == [False, True]


def test_points_and_weight_give_each_check_its_worth(tmp_path: Path) -> None:
    text = ECHO + "weight = 2\npoints = { echoes = 3 }\n"
    echo = Kit.load(course(tmp_path, text)).get("echo")
    assert echo.points_by_check() == {"*": 2.0, "echoes": 6.0}


def test_a_missing_manifest_says_where_it_looked(tmp_path: Path) -> None:
    with pytest.raises(GraderError, match="no manifest at .*exercises.toml: run the grader from"):
        Kit.load(tmp_path)


def test_invalid_toml_is_refused_with_the_parser_s_words(tmp_path: Path) -> None:
    assert "is not valid TOML: " in refusal(tmp_path, "[[exercises]\nid = 1\n")


def test_a_course_without_exercises_is_refused(tmp_path: Path) -> None:
    assert "lists no exercises" in refusal(tmp_path, 'title = "Empty"\n')


def test_an_id_listed_twice_is_named(tmp_path: Path) -> None:
    message = refusal(tmp_path, ECHO + ECHO.replace('"Echo"', '"Echo again"'))
    assert "lists the exercise id echo twice: rename one" in message


@pytest.mark.parametrize(
    ("removed", "named"),
    [("id", "id"), ("title", "title"), ("file", "file"), ("hints", "hints")],
)
def test_a_required_field_that_is_missing_is_named(
    tmp_path: Path, removed: str, named: str
) -> None:
    text = "\n".join(line for line in ECHO.splitlines() if not line.startswith(removed + " "))
    assert f"an exercise in {MANIFEST} lacks {named}:" in refusal(tmp_path, text)


def test_an_empty_hint_is_refused(tmp_path: Path) -> None:
    text = ECHO.replace('["Send it back."]', '["Send it back.", "  "]')
    assert "exercise 'echo' has an empty hint" in refusal(tmp_path, text)


@pytest.mark.parametrize(
    ("line", "where", "field"),
    [
        # Fields an earlier manifest had and nothing read: refused, not silently ignored.
        ("format_version = 1", "the course", "format_version"),
        ('welcome = "Hello"', "the course", "welcome"),
        ("timout = 60", "exercise 'echo'", "timout"),
    ],
)
def test_a_field_the_grader_does_not_know_is_refused(
    tmp_path: Path, line: str, where: str, field: str
) -> None:
    text = f"{line}\n{ECHO}" if where == "the course" else f"{ECHO}{line}\n"
    message = refusal(tmp_path, text)
    assert f"{where} in {MANIFEST} has a field the grader does not know: {field};" in message
    assert "(the fields: " in message


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('hints = "Send it back."', "hints must be a list, not 'Send it back.'"),
        ("timeout = true", "timeout must be a number, not True"),
        ('timeout = "60"', "timeout must be a number, not '60'"),
        ("processes = 1.5", "processes must be a whole number, not 1.5"),
        ('skip_check_unsolved = "yes"', "skip_check_unsolved must be true or false"),
        ('points = ["echoes"]', "points must be a table"),
        ("endpoint = 3", "endpoint must be a string"),
    ],
)
def test_a_field_of_the_wrong_type_is_refused(tmp_path: Path, line: str, message: str) -> None:
    key = line.split(" ")[0]
    text = "\n".join(x for x in ECHO.splitlines() if not x.startswith(key + " "))
    assert f"exercise 'echo' in {MANIFEST}: {message}" in refusal(tmp_path, f"{text}\n{line}\n")


def test_an_unknown_exercise_id_is_a_usage_error_listing_the_known_ones() -> None:
    kit = Kit.load(FAKE)
    with pytest.raises(UsageError, match="unknown exercise 'nope'; choose one of: echo$"):
        kit.get("nope")
    assert UsageError.exit_code == 2
    assert kit.select(None) == kit.exercises and kit.select("echo") == kit.exercises


def test_extensions_are_the_modules_the_checks_process_imports_first(tmp_path: Path) -> None:
    text = f'extensions = ["checks._chat", "lesson_helpers"]\n{ECHO}'
    assert Kit.load(course(tmp_path, text)).extensions == ("checks._chat", "lesson_helpers")
    assert Kit.load(FAKE).extensions == ()


@pytest.mark.parametrize(
    "value", ['"checks._chat"', '["checks/_chat.py"]', '["checks._chat", 3]', '[".chat"]']
)
def test_extensions_that_are_not_a_list_of_module_names_are_refused(
    tmp_path: Path, value: str
) -> None:
    message = refusal(tmp_path, f"extensions = {value}\n{ECHO}")
    assert "extensions must be a list of module names" in message
