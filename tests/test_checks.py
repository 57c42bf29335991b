"""The @check decorator: what it records, and the mistakes of a check author it refuses."""

import pytest

from grader import check
from grader.checks import CheckSpec


@check()
async def first(server: object) -> None:
    """The first   check,
    on two lines."""


def test_a_check_records_its_name_and_its_docstring_as_one_sentence() -> None:
    spec: CheckSpec = first.__grader_check__  # type: ignore[attr-defined]
    assert (spec.check.name, spec.check.description) == ("first", "The first check, on two lines.")
    assert (spec.depends, spec.check.points, spec.check.hidden) == ((), 1.0, False)


def test_depends_names_checks_by_their_function() -> None:
    @check(depends=first, points=2, settings={"LIMIT": 1})
    async def second(server: object) -> None:
        """Builds on the first."""

    spec: CheckSpec = second.__grader_check__  # type: ignore[attr-defined]
    assert (spec.depends, spec.check.points, spec.settings) == (("first",), 2, {"LIMIT": 1})


def test_depending_on_a_function_that_is_not_a_check_is_refused() -> None:
    async def helper(server: object) -> None:
        pass

    with pytest.raises(TypeError, match="helper, which is not a @check"):
        check(depends=(first, helper))
