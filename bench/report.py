"""The fan-out benchmark's output: terminal tables, a JSON file and a latency plot."""

from __future__ import annotations

import json
import os
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.measure import MIN_CPU_WALL, STALLED, Outcome


@dataclass
class Results:
    clients: list[int]
    slow_clients: int
    exercise: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    fanout: dict[str, dict[int, Outcome]] = field(default_factory=dict)
    """server name -> N -> outcome"""
    slow: dict[str, tuple[Outcome, Outcome]] = field(default_factory=dict)
    """server name -> (without, with the never-reading client)"""
    runtime_s: float = 0.0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])
    """The machine's 1-minute load average when the run began."""

    def ratio_to_anchor(self, server: str, n: int) -> float | None:
        mine, anchor = self.fanout[server][n], self.fanout.get("anchor", {}).get(n)
        if mine.error or anchor is None or anchor.error or not anchor.deliveries_per_s:
            return None
        return mine.deliveries_per_s / anchor.deliveries_per_s


def failure(outcome: Outcome) -> str:
    if outcome.error == STALLED:
        return f"stalled: deliveries stopped after {outcome.deliveries} of {outcome.expected}"
    return f"did not work: {outcome.error}"


def summary(outcome: Outcome) -> str:
    if outcome.error:
        return failure(outcome)
    return (
        f"{outcome.deliveries_per_s:9,.0f} deliveries/s  p50 {_ms(outcome.quantile_ms(0.5))}"
        f"  p99 {_ms(outcome.quantile_ms(0.99))} ms"
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _slow_p99(outcome: Outcome) -> str:
    if outcome.error == STALLED:
        return "∞ (stalled)"  # some messages never arrive
    return "–" if outcome.error else _ms(outcome.quantile_ms(0.99))


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0f}%"


def figures(outcome: Outcome) -> dict[str, Any]:
    """An outcome as JSON; latencies are None when nothing was delivered."""
    delivered = outcome.deliveries > 0
    return {
        "ok": outcome.error is None,
        "error": failure(outcome) if outcome.error else None,
        "stalled": outcome.error == STALLED,
        "deliveries": outcome.deliveries,
        "expected": outcome.expected,
        "undelivered": max(0, outcome.expected - outcome.deliveries),
        "deliveries_per_s": round(outcome.deliveries_per_s, 1) if delivered else None,
        "p50_ms": _round(outcome.quantile_ms(0.5)),
        "p99_ms": _round(outcome.quantile_ms(0.99)),
        "max_ms": _round(outcome.max_ms) if delivered else None,
        "server_cpu_pct": _round(outcome.server_cpu_pct),
        "loadgen_cpu_pct": _round(outcome.loadgen_cpu_pct),
        "loadgen_busiest_process_cpu_pct": _round(outcome.loadgen_busiest_pct),
    }


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def verdict(without: Outcome, with_stalled: Outcome) -> str:
    if with_stalled.error == STALLED:
        return f"stalled: every delivery stopped after {with_stalled.deliveries:,}"
    if with_stalled.error:
        return failure(with_stalled)
    before, after = without.quantile_ms(0.99), with_stalled.quantile_ms(0.99)
    if without.error or before is None or after is None:
        return "kept delivering"
    return f"kept delivering (p99 x{after / before:.2f})"


def to_json(results: Results) -> dict[str, Any]:
    fanout: dict[str, Any] = {}
    for server, runs in results.fanout.items():
        fanout[server] = {}
        for n, outcome in runs.items():
            entry = figures(outcome)
            ratio = results.ratio_to_anchor(server, n)
            entry["ratio_to_anchor"] = None if ratio is None else round(ratio, 4)
            fanout[server][str(n)] = entry
    return {
        "exercise": results.exercise,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "platform": platform.platform(),
            "load_average_at_start": round(results.load_average, 2),
        },
        "load": {"clients": results.clients, **results.settings},
        "servers": results.labels,
        "fanout": fanout,
        "slow_client": {
            "clients": results.slow_clients,
            "payload_bytes": results.settings.get("slow_payload_bytes"),
            "servers": {
                server: {
                    "without": figures(without),
                    "with": figures(with_stalled),
                    "verdict": verdict(without, with_stalled),
                }
                for server, (without, with_stalled) in results.slow.items()
            },
        },
        "runtime_s": round(results.runtime_s, 1),
    }


def write_json(results: Results, path: Path) -> None:
    path.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")


def print_tables(results: Results, console: Console) -> None:
    s = results.settings
    console.print(
        "Servers: "
        + " · ".join(f"[bold]{name}[/] {escape(label)}" for name, label in results.labels.items())
    )
    notes = any(o.error for runs in results.fanout.values() for o in runs.values())
    table = Table(
        title=f"Fan-out on /ws/{{client_id}}, exercise {results.exercise}",
        caption=(
            f"{s['senders']} senders (at most N) x M messages of {s['payload_bytes']} B, "
            f"M = {'/'.join(map(str, s['messages_per_sender'].values()))} for N = "
            f"{'/'.join(map(str, results.clients))}, closed loop. CPU: % of one core "
            f"(– for runs under {MIN_CPU_WALL:g} s); load CPU: summed over the load "
            "processes (the busiest one)."
        ),
    )
    for column in ("server", "N", "deliveries/s", "x anchor", "p50 ms", "p99 ms", "max ms"):
        table.add_column(column, justify="left" if column == "server" else "right", no_wrap=True)
    table.add_column("server CPU", justify="right", no_wrap=True)
    table.add_column("load CPU", justify="right", no_wrap=True)
    if notes:
        table.add_column("note", overflow="fold")
    for server, runs in results.fanout.items():
        label = server
        if len({o.error for o in runs.values()}) == 1 and not any(
            o.answered for o in runs.values()
        ):
            note = failure(next(iter(runs.values())))  # failed the same way for every N
            table.add_row(label, "all", *[""] * 7, f"[red]{escape(note)}[/]")
            table.add_section()
            continue
        for n, o in runs.items():
            if o.error:
                table.add_row(label, str(n), *[""] * 7, f"[red]{escape(failure(o))}[/]")
            else:
                ratio = results.ratio_to_anchor(server, n)
                table.add_row(
                    label,
                    str(n),
                    f"{o.deliveries_per_s:,.0f}",
                    "–" if ratio is None else f"{ratio:.2f}",
                    _ms(o.quantile_ms(0.5)),
                    _ms(o.quantile_ms(0.99)),
                    _ms(o.max_ms),
                    _pct(o.server_cpu_pct),
                    "–"
                    if o.loadgen_cpu_pct is None
                    else f"{_pct(o.loadgen_cpu_pct)} ({_pct(o.loadgen_busiest_pct)})",
                    *([""] if notes else []),
                )
            label = ""
        table.add_section()
    console.print(table)
    slow = Table(
        title=(
            f"Slow client: N={results.slow_clients}, {s['slow_messages']} messages per sender "
            f"of {s['slow_payload_bytes'] >> 10} KiB, plus one client that never reads"
        ),
        caption=(
            "p99: latency of the other clients, ms. Stalled: no delivery at all for "
            f"{s['stall_after_s']:g} s; the messages never delivered make its p99 infinite "
            "(the JSON also gives the p99 of those that were)."
        ),
    )
    slow.add_column("server", no_wrap=True)
    slow.add_column("p99 without", justify="right", no_wrap=True)
    slow.add_column("p99 with", justify="right", no_wrap=True)
    slow.add_column("delivered with", justify="right", no_wrap=True)
    slow.add_column("verdict", overflow="fold")
    for server, (without, with_stalled) in results.slow.items():
        verdict_text = verdict(without, with_stalled)
        slow.add_row(
            server,
            "–" if without.error else _ms(without.quantile_ms(0.99)),
            _slow_p99(with_stalled),
            f"{with_stalled.deliveries:,} / {with_stalled.expected:,}"
            if with_stalled.expected
            else "–",
            f"[red]{escape(verdict_text)}[/]" if with_stalled.error else escape(verdict_text),
        )
    console.print(slow)
    if results.load_average > (os.cpu_count() or 1):
        console.print(
            f"[yellow]Note: the machine was busy when the run began (load average "
            f"{results.load_average:.1f} on {os.cpu_count()} cores): figures are noisy.[/]"
        )


def plot(results: Results, path: Path) -> None:
    """p50 and p99 latency against N, one line per server that worked (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, (name, q) in zip(axes, (("p50", 0.5), ("p99", 0.99)), strict=True):
        for server, runs in results.fanout.items():
            points = [(n, o.quantile_ms(q)) for n, o in runs.items() if not o.error]
            if points:
                xs, ys = zip(*points, strict=True)
                ax.plot(xs, ys, marker="o", label=f"{server}: {results.labels.get(server, '')}")
        ax.set_title(f"{name} latency, send -> receipt")
        ax.set_xlabel("connected clients N")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(results.clients, [str(n) for n in results.clients])
        ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Fan-out benchmark, exercise {results.exercise}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
