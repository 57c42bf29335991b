"""Bounds on what a submission can make the grader hold: disk, memory, parsing.

Each is proved with an attack (tests/corpus/attacks/) against the guarantee itself:
the job's disk use, the checks process's memory, the words of the verdict.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from grader import channel, runner, sandbox, untrusted, witness, zygote
from grader.manifest import Kit
from grader.results import ExerciseResult
from tests.conftest import ROOT, leftovers, settles_without_leftovers

ATTACKS = ROOT / "tests" / "corpus" / "attacks"
KIT_BUG = "a bug in the kit"
NESTED = "[" * 100_000

needs_sandbox = pytest.mark.skipif(not sandbox.probe().works, reason=sandbox.probe().reason)


def grade(kit: Kit, file: Path, *, isolated: bool = True) -> ExerciseResult:
    result = runner.grade(kit, kit.get("broadcast"), file, isolated=isolated)
    assert settles_without_leftovers(), f"grading left processes running: {leftovers()}"
    return result


def everything_said(result: ExerciseResult) -> str:
    said = [result.error or "", result.error_detail]
    for check in result.checks:
        said += [check.rationale or "", check.detail or "", check.server_output or ""]
    return "\n".join(said)


# Parsing -------------------------------------------------------------------------


def test_deeply_nested_json_is_a_value_error_never_a_recursion_error() -> None:
    with pytest.raises(RecursionError):  # the control: what json.loads alone does
        json.loads(NESTED)
    for data in (NESTED, "[" * 40 + "]" * 40, "x" * 100):
        with pytest.raises(ValueError):
            untrusted.loads(data, 1 << 20)
    with pytest.raises(ValueError):
        untrusted.loads("[" + "1," * 1000 + "1]", 100)  # too long, before it is parsed
    assert untrusted.loads('{"a": [[1]]}', 100) == {"a": [[1]]}


@needs_sandbox
def test_an_app_that_writes_nested_json_to_the_grader_is_blamed_not_the_kit(kit: Kit) -> None:
    result = grade(kit, ATTACKS / "nests_json.py")
    said = everything_said(result)
    assert result.score == 0
    assert "the app wrote something unexpected to the grader's pipe" in said, said
    assert KIT_BUG not in said, said


def test_a_zygote_answering_nested_json_is_a_sandbox_gone_not_a_crash() -> None:
    ours, theirs = socket.socketpair()
    with ours, theirs:
        data = NESTED.encode()
        theirs.sendall(len(data).to_bytes(4, "big") + data)
        with pytest.raises(ValueError):
            zygote.receive(ours)
        data = b"[1, 2]"
        theirs.sendall(len(data).to_bytes(4, "big") + data)
        with pytest.raises(ValueError):  # not an object: no answer the checks could use
            zygote.receive(ours)


def test_nested_lines_in_the_results_or_events_are_passed_over(tmp_path: Path) -> None:
    key = channel.new_key()
    results = tmp_path / "results"
    channel.Writer(results, key).write(channel.RunError("genuine"))
    with results.open("a") as out:
        out.write(NESTED + "\n")
    assert channel.read(results, key).error == channel.RunError("genuine")
    events = tmp_path / "server.events"
    events.write_text(NESTED + "\n" + json.dumps({"kind": "routes", "routes": ["/ws"]}) + "\n")
    assert witness.read_events(events) == [{"kind": "routes", "routes": ["/ws"]}]
