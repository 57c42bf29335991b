"""The benchmarks in bench/: the fan-out benchmark end to end at a tiny size, its
arithmetic, the load client's handshake check, and the load-client cost comparison.

No timing is asserted. What is: every run delivered exactly what the load sent; every
figure is the median of its runs, with their range and noise; the ratio to the anchor is
taken run by run; a file with two roles is measured once; a server that awaits each send
stalls behind a client that never reads, while the anchor keeps delivering; a broken
submission is reported rather than crashing the run; no process is left behind (the test
adopts orphans: see conftest). Exercise scaleout adds the cross-process section.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from bench import fanout as fanout_module
from bench import wsclient
from bench.stats import Figure, Latency, quantile
from tests.conftest import ROOT, settles_without_leftovers

FIGURES = ("deliveries_per_s", "p50_ms", "p99_ms", "ratio_to_anchor")
CROSS_FIGURES = (*FIGURES, "crossed_p50_ms", "crossed_p99_ms", "local_p50_ms", "local_p99_ms")
PNG = b"\x89PNG\r\n\x1a\n"


def fanout(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench.fanout", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
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


def is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def assert_figure(figure: dict[str, Any], runs: int, where: object) -> None:
    """A figure is the median of its runs, with their range and noise."""
    values = figure["runs"]
    assert len(values) == runs and all(is_number(v) for v in values), where
    assert figure["low"] == min(values) and figure["high"] == max(values), where
    assert figure["low"] <= figure["median"] <= figure["high"], where
    if runs > 1:
        low, high, median = figure["low"], figure["high"], figure["median"]
        noise = 100 * (high - low) / 2 / median
        # The JSON rounds each value to 3 decimals (±0.0005), the noise was taken before.
        slack = 100 * 0.0005 / median + noise * 0.0005 / median + 0.0005
        assert figure["noise_pct"] == pytest.approx(noise, abs=slack), where


def test_make_bench_without_a_submission_measures_the_references(tmp_path: Path) -> None:
    done, out, png = run_tiny(tmp_path, "--clients", "2,4", "--messages", "5", "--repeat", "2")
    data = json.loads(out.read_text())
    # solutions/broadcast.py is both the reference and the naive manager: measured once.
    assert set(data["fanout"]) == {"reference", "anchor"}
    assert data["aliases"] == {"naive": "reference"}
    assert data["servers"]["reference"] == "solutions/broadcast.py"
    for server, runs in data["fanout"].items():
        assert set(runs) == {"2", "4"}
        for n, entry in runs.items():
            where = (server, n)
            assert entry["ok"], (where, entry["error"])
            assert entry["runs"] == 2
            senders = min(4, int(n))
            assert entry["deliveries"] == entry["expected"] == int(n) * senders * 5, where
            for key in FIGURES:
                assert_figure(entry[key], 2, (where, key))
            assert entry["p50_ms"]["median"] <= entry["p99_ms"]["median"] <= entry["max_ms"]
    for n in ("2", "4"):  # each run's ratio: its own deliveries/s over the anchor's that round
        mine, anchor = data["fanout"]["reference"][n], data["fanout"]["anchor"][n]
        ratios = mine["ratio_to_anchor"]["runs"]
        throughputs = zip(
            mine["deliveries_per_s"]["runs"], anchor["deliveries_per_s"]["runs"], strict=True
        )
        assert ratios == [pytest.approx(a / b, rel=1e-2) for a, b in throughputs]
    slow = data["slow_client"]
    assert slow["clients"] == 4 and set(slow["servers"]) == {"reference", "anchor"}
    naive, anchor = slow["servers"]["reference"], slow["servers"]["anchor"]
    # The lesson's manager awaits each send: a client that never reads stops everyone.
    assert naive["with"]["stalled"] and naive["verdict"].startswith("stalled")
    assert naive["with"]["runs"] == 1  # a stall is not tried again
    assert naive["without"]["ok"] and naive["without"]["runs"] == 2
    assert anchor["with"]["ok"] and anchor["with"]["undelivered"] == 0
    assert anchor["verdict"].startswith("kept delivering")
    assert png.read_bytes()[:8] == PNG
    assert "no --submission: the reference solution" in done.stdout
    assert "naive runs the same file as reference" in done.stdout
    text = " ".join(done.stdout.split())  # the captions wrap at any word
    assert "±" in text and "the median of 2 runs" in text


def test_a_submission_that_refuses_connections_is_reported_not_fatal(tmp_path: Path) -> None:
    # The untouched starter: connect() raises NotImplementedError, so handshakes fail.
    done, out, _ = run_tiny(
        tmp_path, "--submission", "starter/", "--clients", "2", "--messages", "2", "--repeat", "1"
    )
    data = json.loads(out.read_text())
    assert set(data["fanout"]) == {"student", "reference", "anchor"}
    student = data["fanout"]["student"]["2"]
    assert not student["ok"] and student["error"].startswith("did not work:")
    assert "NotImplementedError" in student["error"]
    assert student["deliveries_per_s"] is None and student["ratio_to_anchor"] is None
    assert data["fanout"]["reference"]["2"]["ok"] and data["fanout"]["anchor"]["2"]["ok"]
    assert "did not work" in done.stdout


@pytest.mark.parametrize(
    ("exercise", "submission", "servers", "aliases"),
    [
        ("broadcast", None, ["reference", "anchor"], {"naive": "reference"}),
        (
            "broadcast",
            "solutions/broadcast.py",
            ["reference", "anchor"],
            {"student": "reference", "naive": "reference"},
        ),
        ("resilient", "starter/", ["student", "reference", "naive", "anchor"], {}),
        ("resilient", "solutions/", ["reference", "naive", "anchor"], {"student": "reference"}),
    ],
)
def test_each_file_is_measured_once_whatever_its_roles(
    tmp_path: Path,
    exercise: str,
    submission: str | None,
    servers: list[str],
    aliases: dict[str, str],
) -> None:
    argv = ["--exercise", exercise] + (["--submission", submission] if submission else [])
    lineup = fanout_module.contenders(fanout_module.parse_args(argv), tmp_path)
    assert [c.name for c in lineup.servers] == servers
    assert lineup.aliases == aliases


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_scaleout_gets_a_cross_process_section(tmp_path: Path) -> None:
    done, out, png = run_tiny(
        tmp_path,
        *("--exercise", "scaleout", "--submission", "solutions/scaleout.py"),
        *("--clients", "2,4", "--messages", "5", "--repeat", "1"),
    )
    data = json.loads(out.read_text())
    # The submission is the reference; naive (no Redis) is another server here.
    assert set(data["fanout"]) == {"reference", "naive", "anchor"}
    for server, runs in data["fanout"].items():
        for n, entry in runs.items():
            assert entry["ok"], (server, n, entry["error"])
    cross = data["cross_process"]
    assert cross["processes"] == 2 and cross["clients"] == [2, 4]
    assert set(cross["runs"]) == set(cross["redis_adds"]) == {"reference"}
    for n, entry in cross["runs"]["reference"].items():
        where = ("reference x2", n)
        assert entry["ok"], (where, entry["error"])
        assert entry["processes"] == 2
        assert entry["deliveries"] == entry["expected"] == int(n) * min(4, int(n)) * 5
        assert 0 < entry["crossed_deliveries"] < entry["deliveries"], where  # half crossed
        for key in CROSS_FIGURES:
            assert_figure(entry[key], 1, (where, key))
        adds = cross["redis_adds"]["reference"][n]
        one = data["fanout"]["reference"][n]
        assert adds["one_process"]["p50_ms"] == pytest.approx(
            entry["p50_ms"]["median"] - one["p50_ms"]["median"], abs=0.01
        )
        for kind in ("one_process", "broadcast"):
            for key in ("p50_ms", "p99_ms", "throughput_ratio"):
                assert is_number(adds[kind][key]), (where, kind, key)
        crossed_minus_local = entry["crossed_p50_ms"]["median"] - entry["local_p50_ms"]["median"]
        assert adds["crossed_minus_local"]["p50_ms"] == pytest.approx(crossed_minus_local, abs=0.01)
    assert png.read_bytes()[:8] == PNG
    assert "Cross-process" in done.stdout and "Latency Redis adds" in done.stdout


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_a_broken_scaleout_starter_is_reported_in_the_cross_section(tmp_path: Path) -> None:
    # The untouched starter: its lifespan raises NotImplementedError, so nothing serves.
    done, out, _ = run_tiny(
        tmp_path,
        *("--exercise", "scaleout", "--submission", "starter/"),
        *("--clients", "2", "--messages", "2", "--repeat", "1"),
    )
    cross = json.loads(out.read_text())["cross_process"]
    student, reference = cross["runs"]["student"]["2"], cross["runs"]["reference"]["2"]
    assert not student["ok"] and "NotImplementedError" in student["error"]
    assert cross["redis_adds"]["student"]["2"]["one_process"]["p50_ms"] is None
    assert reference["ok"] and is_number(reference["p50_ms"]["median"])
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
        (["--repeat", "0"], "must be at least 1"),
    ],
)
def test_usage_errors_exit_2_with_one_line(args: list[str], message: str) -> None:
    done = fanout(*args)
    assert done.returncode == 2
    assert message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_quantiles_are_nearest_rank() -> None:
    ordered = [float(v) for v in range(1, 101)]
    assert quantile(ordered, 0.5) == 50 and quantile(ordered, 0.99) == 99
    assert quantile(ordered, 1.0) == 100 and quantile([7.0], 0.99) == 7
    assert quantile([], 0.5) is None
    assert Latency.of(reversed(ordered)) == Latency(count=100, p50_ms=50, p99_ms=99)
    assert Latency.of([]) is None


def test_a_figure_reports_its_median_and_noise() -> None:
    figure = Figure.of([10.0, None, 14.0, 12.0])
    assert figure is not None and figure.runs == (10.0, 14.0, 12.0)
    assert (figure.median, figure.low, figure.high) == (12.0, 10.0, 14.0)
    assert figure.noise_pct == pytest.approx(100 * 2 / 12)
    assert Figure((5.0,)).noise_pct is None  # one run says nothing about noise
    assert Figure.of([None]) is None


def test_the_accept_key_is_the_one_rfc_6455_gives() -> None:
    # RFC 6455 section 1.3's worked example.
    assert wsclient.accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def response(accept: str, *extra: str) -> bytes:
    lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"]
    return "\r\n".join([*lines, f"Sec-WebSocket-Accept: {accept}", *extra]).encode()


@pytest.mark.parametrize(
    ("answer", "problem"),
    [
        (response(wsclient.accept_key("k")), None),
        (response("wrong"), "Sec-WebSocket-Accept does not match"),
        (response(wsclient.accept_key("k"), "Sec-WebSocket-Extensions: x"), "did not ask for"),
        (b"HTTP/1.1 101 OK\r\nConnection: Upgrade", "not websocket"),
        (b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0", "handshake refused (HTTP/1.1 403"),
    ],
)
def test_the_load_client_checks_the_handshake_response(answer: bytes, problem: str | None) -> None:
    found = wsclient.handshake_problem(answer, "k")
    assert found is None if problem is None else problem in (found or "")


def test_the_load_client_fails_a_server_that_gets_the_accept_key_wrong() -> None:
    async def scenario() -> str:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(response("bm90IHRoZSByaWdodCBrZXk=") + b"\r\n\r\n")
            await writer.drain()
            await reader.read()  # until the client hangs up

        server = await asyncio.start_server(answer, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        try:
            await wsclient.connect("127.0.0.1", port, "/ws/a", lambda c, m: None, 5)
        except wsclient.HandshakeError as exc:
            return str(exc)
        finally:
            server.close()
        return "connected"

    assert "Sec-WebSocket-Accept does not match" in asyncio.run(scenario())


def test_the_load_client_cost_comparison_runs_every_client(tmp_path: Path) -> None:
    out = tmp_path / "cost.json"
    try:
        done = subprocess.run(
            [sys.executable, "-m", "bench.loadclient_cost", "--clients", "3", "--messages", "4"]
            + ["--rounds", "1", "--json", str(out)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )
    finally:
        assert settles_without_leftovers(), "the comparison left processes behind"
    # It exits 1 if any client kind failed or lost or doubled a delivery.
    assert done.returncode == 0, done.stdout + done.stderr
    data = json.loads(out.read_text())
    assert data["work"]["clients"] == 3
    assert list(data["kinds"]) == ["raw", "sansio", "asyncio", "sync"]
    for kind, figures in data["kinds"].items():
        assert len(figures["us_per_delivery"]) == 1 and figures["us_per_delivery"][0] > 0, kind
    raw = data["kinds"]["raw"]["us_per_delivery"][0]
    for kind, figures in data["kinds"].items():
        expected = figures["us_per_delivery"][0] / raw
        assert figures["ratio_to_first"] == pytest.approx(expected), kind
