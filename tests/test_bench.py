"""The fan-out benchmark (bench/fanout.py) runs end to end at a tiny size.

No timing is asserted: only that every server and N gets figures, that the slow-client
section and the plot are written, that a broken submission is reported rather than
crashing the run, and that no process is left behind.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from tests.conftest import ROOT, settles_without_leftovers

SERVERS = {"student", "reference", "naive", "anchor"}
PROBE = "KIT_TEST_PROBE"
FIGURES = ("deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "ratio_to_anchor")


def fanout(*args: str, token: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/fanout.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, PROBE: token, "COLUMNS": "120"},
    )


def run_tiny(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    token = uuid.uuid4().hex
    out, png = tmp_path / "fanout.json", tmp_path / "fanout.png"
    try:
        done = fanout(
            *args, "--stall-after", "2", "--json", str(out), "--plot", str(png), token=token
        )
    finally:
        assert settles_without_leftovers(PROBE, token), "the benchmark left processes behind"
    assert done.returncode == 0, done.stdout + done.stderr
    return done, out, png


def test_every_server_and_n_gets_figures_and_a_plot(tmp_path: Path) -> None:
    done, out, png = run_tiny(
        tmp_path, "--submission", "solutions/broadcast.py", "--clients", "2,4", "--messages", "5"
    )
    data = json.loads(out.read_text())
    assert set(data["fanout"]) == SERVERS
    for server in SERVERS:
        assert set(data["fanout"][server]) == {"2", "4"}
        for n, entry in data["fanout"][server].items():
            assert entry["ok"], (server, n, entry["error"])
            for key in FIGURES:
                assert isinstance(entry[key], int | float), (server, n, key, entry[key])
    assert data["fanout"]["anchor"]["4"]["ratio_to_anchor"] == 1.0
    slow = data["slow_client"]
    assert slow["clients"] == 4
    assert set(slow["servers"]) == SERVERS
    for entry in slow["servers"].values():
        assert isinstance(entry["without"]["p99_ms"], int | float)
        assert isinstance(entry["with"]["stalled"], bool)
        assert "p99_ms" in entry["with"] and entry["verdict"]
    assert data["machine"]["cores"] >= 1 and data["machine"]["python"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Slow client" in done.stdout


def test_a_submission_that_refuses_connections_is_reported_not_fatal(tmp_path: Path) -> None:
    # The untouched starter: connect() raises NotImplementedError, so handshakes fail.
    done, out, _ = run_tiny(tmp_path, "--clients", "2", "--messages", "2")
    data = json.loads(out.read_text())
    student = data["fanout"]["student"]["2"]
    assert not student["ok"] and student["error"].startswith("did not work:")
    assert "NotImplementedError" in student["error"]
    assert data["fanout"]["reference"]["2"]["ok"] and data["fanout"]["anchor"]["2"]["ok"]
    assert "did not work" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exercise", "rooms"], "measures /ws/{client_id}"),
        (["--exercise", "nope"], "unknown exercise 'nope'"),
        (["--submission", "no/such/file.py"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = fanout(*args, token=uuid.uuid4().hex)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
