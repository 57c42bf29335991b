"""`verify` on the fake course: its files meet the kit's rules (grader/kitrules.py), each
rule refusing a copy broken for it with a sentence naming the file and line; its solution
passes and its starter fails, and a course where that is not so is a surprise (unless the
manifest allows a passing starter)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from grader import corpus, kitrules
from grader.manifest import Kit
from grader.results import CheckResult, ExerciseResult, Outcome
from tests.conftest import ROOT
from tests.conftest import run_grader as grader

FAKE = ROOT / "tests" / "data" / "fakecourse"


def fake_course(tmp_path: Path, starter: str = "starter", solution: str = "solutions") -> Path:
    """A copy of the fake course whose starter and solution come from those folders."""
    root = tmp_path / "course"
    shutil.copytree(FAKE, root, ignore=shutil.ignore_patterns("submissions", "__pycache__"))
    for folder, source in (("starter", starter), ("solutions", solution)):
        shutil.copy(FAKE / source / "echo.py", root / folder / "echo.py")
    return root


def verdict(stdout: str) -> list[str]:
    """The verify table's row for echo: exercise, solution, starter, verdict."""
    row = next(line for line in stdout.splitlines() if line.startswith("│ echo "))
    return [" ".join(cell.split()) for cell in row.strip("│").split("│")]


def test_the_fake_course_verifies_its_solution_passes_and_its_starter_fails() -> None:
    done = grader("verify", root=FAKE, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("isolation: ")
    assert verdict(done.stdout) == ["echo", "4/4 passed", "0/4 failed", "ok"]


# A function the checks never reach: a starter that stubs only it passes them all.
LATER = '''

def later() -> None:
    """For a later lesson."""
    {body}
'''


def passing_starter(tmp_path: Path) -> Path:
    """A course whose starter is in lockstep with its solution, yet passes every check."""
    root = fake_course(tmp_path)
    solution = (FAKE / "solutions" / "echo.py").read_text()
    (root / "solutions" / "echo.py").write_text(solution + LATER.format(body="return None"))
    stub = 'raise NotImplementedError("TODO: later")'
    (root / "starter" / "echo.py").write_text(solution + LATER.format(body=stub))
    return root


def test_a_starter_that_already_passes_is_a_surprise(tmp_path: Path) -> None:
    done = grader("verify", root=passing_starter(tmp_path), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "4/4 passed", "4/4 passed", "SURPRISE"]


def test_unless_the_manifest_says_the_starter_may_pass(tmp_path: Path) -> None:
    root = passing_starter(tmp_path)
    manifest = root / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text() + "skip_check_unsolved = true\n")
    done = grader("verify", root=root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "4/4 passed", "4/4 passed", "ok"]


def test_a_solution_that_fails_is_a_surprise_shown_in_full(tmp_path: Path) -> None:
    done = grader("verify", root=fake_course(tmp_path, solution="starter"), timeout=120)
    assert done.returncode == 1, done.stdout + done.stderr
    assert verdict(done.stdout) == ["echo", "0/4 failed", "0/4 failed", "SURPRISE"]
    # The failing solution's report follows, as an instructor reads it.
    assert re.search(r"✗ A client that connects to /ws/alice is accepted\.", done.stdout)


def test_a_broken_manifest_stops_every_command_with_one_line(tmp_path: Path) -> None:
    root = fake_course(tmp_path)
    manifest = root / "lessons" / "exercises.toml"
    manifest.write_text("format_version = 2\n" + manifest.read_text())
    done = grader("verify", root=root)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.startswith("error: the course in lessons/exercises.toml has a field")
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def course(tmp_path: Path) -> Path:
    return fake_course(tmp_path)


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, f"{old!r} is not in {path}"
    path.write_text(text.replace(old, new, 1))


def broken(root: Path, rule: kitrules.Rule) -> list[str]:
    kit = Kit.load(root)
    return [str(p) for p in rule(kit, kit.get("echo"))]


def test_the_fake_course_meets_every_rule(course: Path) -> None:
    assert kitrules.problems(Kit.load(course)) == []


def test_a_missing_lesson_is_named(course: Path) -> None:
    (course / "lessons" / "echo.md").unlink()
    assert broken(course, kitrules.files_exist) == [
        "lessons/echo.md: echo's lesson is missing: write it"
    ]


@pytest.mark.parametrize(
    ("old", "new", "problem"),
    [
        (
            'raise NotImplementedError("TODO: accept, then send back every message")',
            "await websocket.accept()",
            "starter/echo.py:9: echo differs from solutions/echo.py but is not a TODO stub",
        ),
        (
            "client_id: str",
            "client: str",
            "starter/echo.py:9: echo's signature, decorators or docstring differ",
        ),
        (
            ", WebSocketDisconnect  # noqa: F401 (the solution uses it)",
            "",
            "starter/echo.py: imports differ from solutions/echo.py's",
        ),
        (
            'raise NotImplementedError("TODO: accept, then send back every message")',
            "pass",
            "starter/echo.py: leaves nothing to write",
        ),
    ],
    ids=["changed body", "changed signature", "changed imports", "no stub"],
)
def test_a_starter_out_of_lockstep_with_its_solution_is_named(
    course: Path, old: str, new: str, problem: str
) -> None:
    edit(course / "starter" / "echo.py", old, new)
    assert any(p.startswith(problem) for p in broken(course, kitrules.starter_mirrors_solution))


def test_a_stub_whose_signature_changed_is_named_once(course: Path) -> None:
    """…and not also as a starter with nothing to write: it is still a stub."""
    edit(course / "starter" / "echo.py", "client_id: str", "client: str")
    assert broken(course, kitrules.starter_mirrors_solution) == [
        "starter/echo.py:9: echo's signature, decorators or docstring differ from solutions/echo.py"
    ]


def test_a_check_without_a_docstring_is_named(course: Path) -> None:
    edit(
        course / "checks" / "echo.py", '"""A client that connects to /ws/alice is accepted."""', ""
    )
    assert broken(course, kitrules.checks_are_described) == [
        "checks/echo.py:7: check accepts has no docstring: "
        "write the sentence students read when it fails"
    ]


def test_points_for_a_check_the_exercise_lacks_are_named(course: Path) -> None:
    manifest = course / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text() + "points = { echos = 2 }\n")
    [problem] = broken(course, kitrules.points_name_checks)
    assert problem.startswith("lessons/exercises.toml:12: echo's points name echos, ")


def test_a_service_no_extension_registers_is_named(course: Path) -> None:
    manifest = course / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text() + 'services = ["mailbox"]\n')
    [problem] = broken(course, kitrules.services_are_registered)
    assert problem.startswith(
        "lessons/exercises.toml:12: echo names the service 'mailbox', which no extension "
    )


def test_an_extension_that_cannot_be_imported_is_named(course: Path) -> None:
    edit(
        course / "lessons" / "exercises.toml",
        'title = "Fake course"',
        'title = "Fake course"\nextensions = ["nowhere_ext"]',
    )
    [problem] = broken(course, kitrules.services_are_registered)
    assert problem.startswith("lessons/exercises.toml:4: an extension could not be imported: ")
    assert "nowhere_ext" in problem


def test_a_lesson_too_wide_for_a_terminal_is_named_by_line(course: Path) -> None:
    lesson = course / "lessons" / "echo.md"
    code = "    await websocket.send_text(" + "x" * 60 + ")"
    lesson.write_text(lesson.read_text() + "\n" + "wide " * 30 + f"\n\n```python\n{code}\n```\n")
    assert broken(course, kitrules.lesson_fits_a_terminal) == [
        "lessons/echo.md:5: line is 150 characters: keep it to 100",
        f"lessons/echo.md:8: code line is {len(code)} characters: keep it to 76, "
        "so it is not wrapped in an 80-column terminal",
    ]


def test_a_hint_wider_than_make_hint_shows_is_named(course: Path) -> None:
    edit(course / "lessons" / "exercises.toml", "every text that arrives.", "x" * 80)
    [problem] = broken(course, kitrules.hints_fit_a_terminal)
    assert problem.startswith("lessons/exercises.toml:11: hint 1 of echo is cut short in an 80-col")
    assert problem.endswith("keep its lines to 76 characters")


def test_a_lesson_naming_a_command_the_edition_lacks_is_named(course: Path) -> None:
    assert broken(course, kitrules.commands_exist_in_the_edition) == []  # no edition: no rule
    (course / "edition").mkdir()
    (course / "edition" / "Makefile").write_text("check: ## grade your file\n\t@true\n")
    (course / "edition" / "README.md").write_text("# Echo\n\n## Handing in\n\nsolution.py\n")
    lesson = course / "lessons" / "echo.md"
    lesson.write_text(lesson.read_text() + "\nRun `make check`, then `make bench`.\n")
    assert broken(course, kitrules.commands_exist_in_the_edition) == [
        "lessons/echo.md:5: names make bench, which edition/Makefile does not have"
    ]
    assert broken(course, kitrules.handing_in_names_the_file) == [
        "edition/README.md:3: 'Handing in' does not name `echo.py` (echo): add it"
    ]


def write_corpus(root: Path, wrong: list[str], right: int = 3) -> Path:
    """tests/corpus/echo/ in the course: one mistake per label, and `right` passing files."""
    folder = root / "tests" / "corpus" / "echo"
    for kind, labels in (("wrong", wrong), ("right", ["pass"] * right)):
        (folder / kind).mkdir(parents=True)
        for n, label in enumerate(labels):
            (folder / kind / f"f{n}.py").write_text(f'"""A case.\n\nexpect: {label}\n"""\n')
    return folder


EVERY_CHECK = ["accepts", "echoes", "answers_promptly", "never_blocks_event_loop"]
CORPUS_RULES = (
    kitrules.corpus_is_labelled,
    kitrules.corpus_is_big_enough,
    kitrules.every_check_is_targeted,
)


def test_the_corpus_rules_apply_only_to_a_kit_with_a_corpus(course: Path) -> None:
    assert [broken(course, rule) for rule in CORPUS_RULES] == [[], [], []]
    write_corpus(course, EVERY_CHECK * 3)
    assert [broken(course, rule) for rule in CORPUS_RULES] == [[], [], []]


def test_a_corpus_too_small_is_named(course: Path) -> None:
    write_corpus(course, EVERY_CHECK, right=1)
    assert broken(course, kitrules.corpus_is_big_enough) == [
        "tests/corpus/echo/wrong: has 4 files: echo needs at least 10",
        "tests/corpus/echo/right: has 1 files: echo needs at least 3",
    ]


def test_a_check_no_mistake_fails_is_named_at_its_definition(course: Path) -> None:
    write_corpus(course, ["accepts", "only echoes", "never_blocks_event_loop"] * 4)
    assert broken(course, kitrules.every_check_is_targeted) == [
        "checks/echo.py:23: no file in tests/corpus/echo/wrong fails check answers_promptly: "
        "add a mistake labelled with it"
    ]


def test_labels_that_cannot_be_right_are_named(course: Path) -> None:
    folder = write_corpus(
        course, ["echos", "pass", "only", "accepts\nexpect: echoes"] + EVERY_CHECK * 3
    )
    (folder / "right" / "f0.py").write_text('"""Meant to pass.\n\nexpect: echoes\n"""\n')
    problems = broken(course, kitrules.corpus_is_labelled)
    assert problems == [
        "tests/corpus/echo/wrong/f2.py:3: 'expect: only' is not a list of check names",
        "tests/corpus/echo/wrong/f3.py:4: needs exactly one 'expect:' line in its docstring, not 2",
        "tests/corpus/echo/right/f0.py:3: is in right/, so its label is 'expect: pass'",
        "tests/corpus/echo/wrong/f0.py:3: names echos, not a check of echo "
        "(accepts, echoes, answers_promptly, never_blocks_event_loop)",
        "tests/corpus/echo/wrong/f1.py:3: is in wrong/, so its label names the checks it fails",
    ]


def result(**outcomes: Outcome) -> ExerciseResult:
    checks = tuple(CheckResult(n, n, o, rationale=f"{n} said so") for n, o in outcomes.items())
    return ExerciseResult("echo", "Echo", checks)


def test_expect_only_means_every_other_check_passes(tmp_path: Path) -> None:
    path = tmp_path / "mistake.py"
    path.write_text('"""Echoes late.\n\nexpect: only echoes\nsays: line 3\n"""\n')
    label = corpus.read_label(path)
    assert (label.kind, label.checks, label.only, label.says) == (
        "fail",
        ("echoes",),
        True,
        ("line 3",),
    )
    FAILED, PASSED, LATE = Outcome.FAILED, Outcome.PASSED, Outcome.TIMED_OUT
    assert corpus.judge(label, result(accepts=PASSED, echoes=LATE)) == [
        "no hint says ('line 3',):\nechoes said so"
    ]
    widened = corpus.judge(label, result(accepts=FAILED, echoes=FAILED))
    assert widened[0].startswith("only echoes should fail, not accepts:")
    wider_allowed = corpus.Label(path, 3, "fail", checks=("echoes",))
    assert corpus.judge(wider_allowed, result(accepts=FAILED, echoes=FAILED)) == []
    assert corpus.judge(wider_allowed, result(accepts=FAILED, echoes=PASSED))[0].startswith(
        "echoes should fail:"
    )


def test_verify_names_every_broken_rule_and_grades_nothing(course: Path) -> None:
    edit(course / "checks" / "echo.py", '"""A message is answered within a second."""', "")
    done = grader("verify", root=course, timeout=60)
    assert done.returncode == 1, done.stdout + done.stderr
    assert done.stdout.splitlines() == [
        "1 problem with the kit's files; fix, then verify again:",
        "  checks/echo.py:23: check answers_promptly has no docstring: "
        "write the sentence students read when it fails",
    ]
