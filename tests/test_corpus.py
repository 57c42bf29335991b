"""Every check can fail, and only for the reason it names.

Wrong implementations must fail the checks their label names; alternative correct
ones must pass everything; broken submissions must get a clear verdict in bounded
time and leave no process behind.
"""

from __future__ import annotations

import pytest

from grader import runner
from grader.manifest import Kit
from grader.results import Outcome
from tests.conftest import leftovers, settles_without_leftovers
from tests.labels import Case, cases

FAILING = {Outcome.FAILED, Outcome.TIMED_OUT}


def grade_case(kit: Kit, case: Case):
    """Grade a corpus file in the sandbox, then prove nothing it started is still running."""
    result = runner.grade(kit, kit.get(case.exercise), case.path, isolated=True)
    assert settles_without_leftovers(), f"grading left processes running: {leftovers()}"
    return result


def summary(result) -> str:
    lines = [f"error: {result.error}"] if result.error else []
    lines += [f"{c.name}: {c.outcome.value} {c.rationale}" for c in result.checks]
    return "\n".join(lines)


@pytest.mark.parametrize("case", cases("right"), ids=lambda c: c.id)
def test_alternative_correct_implementation_passes(kit: Kit, case: Case) -> None:
    result = grade_case(kit, case)
    assert result.passed, summary(result)


@pytest.mark.parametrize("case", cases("wrong") + cases("broken"), ids=lambda c: c.id)
def test_mistake_gets_the_verdict_it_is_labelled_with(kit: Kit, case: Case) -> None:
    result = grade_case(kit, case)
    assert not result.passed
    assert result.duration < kit.get(case.exercise).timeout + 10, "verdict took too long"
    if case.kind == "error":
        assert result.error and case.error in result.error, summary(result)
        return
    assert result.error is None, summary(result)
    outcomes = {c.name: c.outcome for c in result.checks}
    for name in case.checks:
        assert name in outcomes, f"{case.path.name} names an unknown check {name!r}"
        assert outcomes[name] in FAILING, f"{name} should fail:\n{summary(result)}"
    if case.only:
        others = [c.name for c in result.checks if c.name not in case.checks and not c.passed]
        assert not others, f"only {case.checks} should fail:\n{summary(result)}"
    if case.says:  # the diagnosis names the real cause, at the student's line
        said = [f"{c.rationale} {c.help}" for c in result.checks if c.name in case.checks]
        assert any(all(words in text for words in case.says) for text in said), (
            f"no hint says {case.says}:\n" + "\n".join(said)
        )


def test_every_check_is_targeted_by_a_wrong_implementation(kit: Kit) -> None:
    """A check no mistake fails is a defect; the labels above are each verified."""
    targeted = {(c.exercise, name) for c in cases("wrong") for name in c.checks}
    for exercise in kit.exercises:
        for name in check_names(kit, exercise):
            assert (exercise.id, name) in targeted, f"no wrong implementation fails {name}"


def check_names(kit: Kit, exercise) -> list[str]:
    """The checks of an exercise: those in its files, and the engine's own."""
    import ast

    from grader import runwide

    names = [entry.check.name for entry in runwide.registered()]
    for path in kit.check_files(exercise):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.AsyncFunctionDef) and any(
                isinstance(d, ast.Call) and getattr(d.func, "id", "") == "check"
                for d in node.decorator_list
            ):
                names.append(node.name)
    return names


def test_every_exercise_has_a_corpus(kit: Kit) -> None:
    for exercise in kit.exercises:
        wrong = [c for c in cases("wrong") if c.exercise == exercise.id]
        right = [c for c in cases("right") if c.exercise == exercise.id]
        assert len(wrong) >= 10 and len(right) >= 3, exercise.id
