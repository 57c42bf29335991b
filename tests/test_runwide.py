"""runwide: the checks judged once per run are registered like any other, the engine's own
never_blocks_event_loop first, and a kit's extension, imported before collection, may add
one."""

from __future__ import annotations

import shutil
from pathlib import Path

from grader import dist, runner, runwide
from grader.manifest import MANIFEST, Kit
from grader.results import Check, Outcome
from tests.test_runner import CHECKS, ECHO, FAKE


def test_the_engine_s_own_check_is_the_registry_s_first_entry() -> None:
    first = runwide.registered()[0]
    assert first.check == Check(
        "never_blocks_event_loop",
        "The server never blocks its event loop: while it serves one client, the others are "
        "not kept waiting (no time.sleep, no blocking call).",
    )


def test_the_points_a_run_is_out_of_count_the_run_wide_checks() -> None:
    assert dist.total_points(FAKE, ECHO) == 4.0  # its three checks, and the loop check


def test_an_extension_named_in_the_manifest_is_imported_before_checks_are_collected(
    tmp_path: Path,
) -> None:
    course = tmp_path / "course"
    shutil.copytree(FAKE.root, course)
    manifest = course / MANIFEST
    text = manifest.read_text()
    manifest.write_text(
        text.replace("\n[[exercises]]", 'extensions = ["checks._fake_ext"]\n\n[[exercises]]', 1)
    )
    kit = Kit.load(course)
    assert kit.extensions == ("checks._fake_ext",)
    result = runner.grade(kit, kit.get("echo"), kit.solution(ECHO), isolated=False)
    assert [c.name for c in result.checks] == [*CHECKS, "extensions_are_imported"]
    added = result.checks[-1]
    assert (added.outcome, added.points) == (Outcome.PASSED, 0.5)
    assert (
        added.description == "The kit's extensions were imported before the checks were collected."
    )
    assert dist.total_points(kit, kit.get("echo")) == 4.5  # what the grader counts, too
    assert runwide.registered() == runwide.registered(FAKE.extensions)  # nothing of the copy
