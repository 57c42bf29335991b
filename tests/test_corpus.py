"""Every check can fail, and only for the reason it names.

Wrong implementations must fail the checks their label names; alternative correct
ones must pass everything; broken submissions must get a clear verdict in bounded
time and leave no process behind. What a label means is grader.corpus.judge; the
corpus's static rules (labels readable, every check targeted, its size) are `verify`'s.
"""

from __future__ import annotations

import pytest

from grader import corpus, kitrules, runner
from grader.manifest import Kit
from tests.conftest import leftovers, settles_without_leftovers
from tests.labels import Case, cases


def grade_case(kit: Kit, case: Case):
    """Grade a corpus file in the sandbox, then prove nothing it started is still running."""
    result = runner.grade(kit, kit.get(case.exercise), case.path, isolated=True)
    assert settles_without_leftovers(), f"grading left processes running: {leftovers()}"
    return result


@pytest.mark.parametrize("case", cases("right"), ids=lambda c: c.id)
def test_alternative_correct_implementation_passes(kit: Kit, case: Case) -> None:
    result = grade_case(kit, case)
    assert not corpus.judge(case.label, result)


@pytest.mark.parametrize("case", cases("wrong") + cases("broken"), ids=lambda c: c.id)
def test_mistake_gets_the_verdict_it_is_labelled_with(kit: Kit, case: Case) -> None:
    result = grade_case(kit, case)
    assert not result.passed
    assert result.duration < kit.get(case.exercise).timeout + 10, "verdict took too long"
    wrong = corpus.judge(case.label, result)
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize(
    "rule",
    [kitrules.corpus_is_labelled, kitrules.every_check_is_targeted, kitrules.corpus_is_big_enough],
)
def test_the_corpus_meets_verify_s_rules(kit: Kit, rule: kitrules.Rule) -> None:
    """Each label names the exercise's checks, each check is failed by a mistake, and
    each exercise has enough of both kinds (verify checks the same)."""
    broken = [str(p) for e in kit.exercises for p in rule(kit, e)]
    assert not broken, "\n".join(broken)
