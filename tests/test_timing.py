"""timing: GRADER_TIME_SCALE is a positive, finite number, or the command line refuses it."""

from __future__ import annotations

import pytest

from grader import cli, timing
from tests.conftest import ROOT


@pytest.mark.parametrize(("text", "scale"), [("1", 1.0), ("3", 3.0), ("0.5", 0.5), ("2e0", 2.0)])
def test_a_positive_number_is_a_scale(text: str, scale: float) -> None:
    assert timing.parse(text) == scale


@pytest.mark.parametrize("text", ["0", "-1", "abc", "", "1.5.2", "nan", "inf", "-inf"])
def test_anything_else_is_refused_with_a_message_naming_the_variable(text: str) -> None:
    with pytest.raises(ValueError) as refused:
        timing.parse(text)
    assert str(refused.value) == f"GRADER_TIME_SCALE must be a positive number, not {text!r}"


def test_waits_are_stretched_by_the_scale_in_force_when_they_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv(timing.VARIABLE, raising=False)
    assert timing.scaled(2.0) == 2.0
    monkeypatch.setenv(timing.VARIABLE, "3")
    assert timing.scaled(2.0) == 6.0


@pytest.mark.parametrize("text", ["0", "fast", "nan"])
def test_the_command_line_refuses_a_bad_scale_as_a_usage_error(
    text: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(timing.VARIABLE, text)
    assert cli.main(["--root", str(ROOT), "doctor"]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"error: GRADER_TIME_SCALE must be a positive number, not {text!r}"
