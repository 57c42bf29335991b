"""The fan-out benchmark (bench/fanout.py) runs end to end at a tiny size.

No timing is asserted: only that every server and N gets figures, that the slow-client
section and the plot are written, that a broken submission is reported rather than
crashing the run, and that no process is left behind (the test adopts orphans: see
conftest). Exercise scaleout adds the cross-process section (two processes of the app
sharing a private redis-server).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT, settles_without_leftovers

SERVERS = {"student", "reference", "naive", "anchor"}
FIGURES = ("deliveries_per_s", "p50_ms", "p99_ms", "max_ms", "ratio_to_anchor")
CROSS_FIGURES = (*FIGURES, "crossed_p50_ms", "crossed_p99_ms", "local_p50_ms", "local_p99_ms")


def fanout(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "bench/fanout.py", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COLUMNS": "120"},
    )


def run_tiny(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    out, png = tmp_path / "fanout.json", tmp_path / "fanout.png"
    try:
        done = fanout(*args, "--stall-after", "2", "--json", str(out), "--plot", str(png))
    finally:
        assert settles_without_leftovers(), "the benchmark left processes behind"
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


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_scaleout_gets_a_cross_process_section(tmp_path: Path) -> None:
    done, out, png = run_tiny(
        tmp_path,
        *("--exercise", "scaleout", "--submission", "solutions/scaleout.py"),
        *("--clients", "2,4", "--messages", "5"),
    )
    data = json.loads(out.read_text())
    assert set(data["fanout"]) == SERVERS  # one process each, with its own Redis
    for server in SERVERS:
        for n, entry in data["fanout"][server].items():
            assert entry["ok"], (server, n, entry["error"])
    cross = data["cross_process"]
    assert cross["processes"] == 2 and cross["clients"] == [2, 4]
    assert set(cross["runs"]) == set(cross["redis_adds"]) == {"student", "reference"}
    for server, runs in cross["runs"].items():
        assert set(runs) == {"2", "4"}
        for n, entry in runs.items():
            assert entry["ok"], (server, n, entry["error"])
            assert entry["processes"] == 2
            assert entry["deliveries"] == entry["expected"] > 0
            assert 0 < entry["crossed_deliveries"] < entry["deliveries"]  # half crossed
            for key in CROSS_FIGURES:
                assert is_number(entry[key]), (server, n, key, entry[key])
            adds = cross["redis_adds"][server][n]
            for kind in ("one_process", "broadcast"):
                for key in ("p50_ms", "p99_ms", "throughput_ratio"):
                    assert is_number(adds[kind][key]), (server, n, kind, key)
            assert is_number(adds["crossed_minus_local"]["p50_ms"])
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "Cross-process" in done.stdout and "Latency Redis adds" in done.stdout


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_broken_scaleout_starter_is_reported_in_the_cross_section(tmp_path: Path) -> None:
    # The untouched starter: its lifespan raises NotImplementedError, so nothing serves.
    done, out, _ = run_tiny(tmp_path, "--exercise", "scaleout", "--clients", "2", "--messages", "2")
    cross = json.loads(out.read_text())["cross_process"]
    student, reference = cross["runs"]["student"]["2"], cross["runs"]["reference"]["2"]
    assert not student["ok"] and "NotImplementedError" in student["error"]
    assert cross["redis_adds"]["student"]["2"]["one_process"]["p50_ms"] is None
    assert reference["ok"] and is_number(reference["p50_ms"])
    assert "did not work" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--exercise", "rooms"], "measures /ws/{client_id}"),
        (
            ["--exercise", "scaleout", "--clients", "2,4", "--cross-clients", "3"],
            "--cross-clients must be among --clients",
        ),
        (["--exercise", "nope"], "unknown exercise 'nope'"),
        (["--submission", "no/such/file.py"], "no such file or folder"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = fanout(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
