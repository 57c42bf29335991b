"""Verdicts that say why: evidence from inside the server reaches the report."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import runner
from grader.manifest import Kit
from grader.results import Outcome
from tests.conftest import ROOT

BROKEN = ROOT / "tests" / "corpus" / "broken"


def test_a_run_cut_at_its_time_bound_names_where_the_loop_stood_still(tmp_path: Path) -> None:
    for part in ("lessons", "starter", "solutions", "checks"):
        shutil.copytree(ROOT / part, tmp_path / part)
    manifest = tmp_path / "lessons" / "exercises.toml"
    # Long enough for the server to start and block on a loaded machine, short for a test.
    manifest.write_text(manifest.read_text().replace("timeout = 45", "timeout = 8", 1))
    kit = Kit.load(tmp_path)
    result = runner.grade(
        kit, kit.get("broadcast"), BROKEN / "blocks_event_loop.py", isolated=False
    )
    cut = [c for c in result.checks if c.outcome is Outcome.TIMED_OUT]
    assert cut, [c.outcome for c in result.checks]
    assert "meanwhile the event loop was blocked" in cut[0].rationale
    assert "blocks_event_loop.py line 14 (`time.sleep(3600)`)" in cut[0].rationale
