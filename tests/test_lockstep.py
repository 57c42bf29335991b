"""Starters are solutions with bodies replaced by TODO stubs, and nothing else: `verify`'s
rule (grader.kitrules.starter_mirrors_solution), held by the kit's own files."""

from __future__ import annotations

import pytest

from grader import kitrules
from grader.manifest import Kit
from tests.conftest import ROOT


def exercises() -> list:
    return list(Kit.load(ROOT).exercises)


@pytest.mark.parametrize("exercise", exercises(), ids=lambda e: e.id)
def test_starter_is_the_solution_with_todo_stubs(kit: Kit, exercise) -> None:
    broken = kitrules.starter_mirrors_solution(kit, exercise)
    assert not broken, "\n".join(map(str, broken))


def test_solutions_mirror_starter_file_for_file() -> None:
    def files(folder: str) -> set[str]:
        return {str(p.relative_to(ROOT / folder)) for p in (ROOT / folder).rglob("*.py")}

    assert files("starter") == files("solutions")
