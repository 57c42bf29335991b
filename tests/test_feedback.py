"""Verdicts that say why: evidence from inside the server reaches the report."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from grader import runner
from grader.manifest import Kit
from grader.results import Outcome
from tests.conftest import ROOT
from tests.labels import labels

SLEEPER = """\
import time

from fastapi import FastAPI, WebSocket

app = FastAPI()


@app.websocket("/ws/{client_id}")
async def echo(websocket: WebSocket, client_id: str) -> None:
    await websocket.accept()
    await websocket.receive_text()
    time.sleep(3600)
"""
WAITS_LONG = '''\
from grader import LiveServer, check


@check(timeout=3600)
async def echoes(server: LiveServer) -> None:
    """A message comes back to its sender."""
    alice = await server.connect("/ws/alice")
    await alice.send("hello")
    await alice.expect("hello", within=3600)
'''


def test_a_run_cut_at_its_time_bound_names_where_the_loop_stood_still(tmp_path: Path) -> None:
    # A check that would wait for an hour, on a server that blocks its loop once a
    # message arrives: only the exercise's bound ends the run, whatever the machine's load.
    shutil.copytree(ROOT / "tests" / "data" / "fakecourse", tmp_path / "course")
    (tmp_path / "course" / "checks" / "echo.py").write_text(WAITS_LONG)
    manifest = tmp_path / "course" / "lessons" / "exercises.toml"
    manifest.write_text(manifest.read_text().replace("timeout = 20", "timeout = 10", 1))
    (tmp_path / "echo.py").write_text(SLEEPER)
    kit = Kit.load(tmp_path / "course")
    result = runner.grade(kit, kit.get("echo"), tmp_path / "echo.py", isolated=False)
    cut = [c for c in result.checks if c.outcome is Outcome.TIMED_OUT]
    assert [c.name for c in cut] == ["echoes", "never_blocks_event_loop"], result.checks
    assert "meanwhile the event loop was blocked" in cut[0].rationale
    assert "echo.py line 12 (`time.sleep(3600)`)" in cut[0].rationale


def test_an_http_handler_that_raised_fails_the_check_for_errors_with_its_traceback(
    kit: Kit, tmp_path: Path
) -> None:
    """GET /rooms raises on its first call in each server only: every listing check gets
    its answer when it asks again, and only the check for server errors can tell."""
    solution = (ROOT / "solutions" / "rooms.py").read_text()
    handler = "    return manager.snapshot()\n"
    raising = 'raise RuntimeError("the first request comes too early")'
    assert solution.endswith(handler)
    flaky = solution.removesuffix(handler) + (
        "    global asked\n"
        "    asked += 1\n"
        "    if asked == 1:\n"
        f"        {raising}\n"
        f"{handler}\n\n"
        "asked = 0\n"
    )
    submission = tmp_path / "rooms.py"
    submission.write_text(flaky)
    line = flaky.splitlines().index(f"        {raising}") + 1
    result = runner.grade(kit, kit.get("rooms"), submission, isolated=False)
    outcomes = {c.name: c.outcome for c in result.checks}
    assert outcomes["lists_rooms"] is Outcome.PASSED, outcomes
    (errors,) = [c for c in result.checks if c.name == "no_server_errors"]
    assert errors.outcome is Outcome.FAILED, outcomes
    assert errors.rationale == "the server logged an unhandled exception"
    assert f"rooms.py, line {line}, in list_rooms" in errors.server_output
    assert "RuntimeError: the first request comes too early" in errors.server_output
    assert errors.help.startswith(
        "Your server raised RuntimeError: the first request comes too early at rooms.py "
        f"line {line} (`{raising}`) while answering GET /rooms"
    )


@pytest.mark.parametrize(
    ("mistake", "error"),
    [
        ("snapshot_without_items", "ValueError: too many values to unpack (expected 2)"),
        ("snapshot_lists_connections", "Input should be a valid string, not a WebSocket"),
    ],
)
def test_a_get_answered_with_http_500_shows_the_servers_traceback_and_the_line(
    kit: Kit, mistake: str, error: str
) -> None:
    """GET /rooms raises in snapshot(), or returns what its type refuses (FastAPI raises
    after the handler returned): the report shows the error and the student's line."""
    path = ROOT / "tests" / "corpus" / "rooms" / "wrong" / f"{mistake}.py"
    line = int(next(s for s in labels(path, "says:") if s.startswith("line ")).split()[1])
    result = runner.grade(kit, kit.get("rooms"), path, isolated=False)
    (listing,) = [c for c in result.checks if c.name == "lists_rooms"]
    assert listing.outcome is Outcome.FAILED and listing.rationale == "GET /rooms answered HTTP 500"
    assert error in listing.server_output and f"{mistake}.py" in listing.server_output
    assert f"line {line}" in listing.server_output
    assert f"{mistake}.py line {line} (`" in listing.help
    assert listing.steps[-1].startswith("GET /rooms answered 500 'Internal Server Error'")
    assert listing.steps[-1].endswith(f"at line {line}") and error in listing.steps[-1]
