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
class CrossProcess:
    """The cross-process section (exercise scaleout): the app as several processes."""

    processes: int
    clients: list[int]
    """The N measured: --cross-clients, less any N below one client per process."""
    labels: dict[str, str] = field(default_factory=dict)
    runs: dict[str, dict[int, Outcome]] = field(default_factory=dict)
    """server name (student, reference) -> N -> outcome with `processes` processes"""
    requested: list[int] = field(default_factory=list)
    """The N asked for (--cross-clients, or --clients)."""


BASELINES = {
    "one_process": "the same file as 1 process with its own Redis (fan-out row of that name)",
    "broadcast": "solutions/broadcast.py, the same chat without Redis (fan-out row naive)",
}


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
    cross: CrossProcess | None = None
    runtime_s: float = 0.0
    load_average: float = field(default_factory=lambda: os.getloadavg()[0])
    """The machine's 1-minute load average when the run began."""

    def ratio_to_anchor(self, server: str, n: int, outcome: Outcome | None = None) -> float | None:
        """deliveries/s of `server` (or of `outcome`) at N over the anchor's."""
        mine = outcome or self.fanout[server][n]
        anchor = self.fanout.get("anchor", {}).get(n)
        if mine.error or anchor is None or anchor.error or not anchor.deliveries_per_s:
            return None
        return mine.deliveries_per_s / anchor.deliveries_per_s

    def baseline(self, kind: str, server: str, n: int) -> Outcome | None:
        """The single-process run the cross-process `server` at N is compared with."""
        name = server if kind == "one_process" else "naive"
        return self.fanout.get(name, {}).get(n)

    def redis_adds(self, server: str, n: int) -> dict[str, dict[str, float | None]]:
        """What the cross-process run of `server` at N costs over each baseline: p50 and
        p99 differences in ms, and the ratio of deliveries/s; None where a run failed."""
        assert self.cross is not None
        mine = self.cross.runs[server][n]
        adds: dict[str, dict[str, float | None]] = {}
        for kind in BASELINES:
            base = self.baseline(kind, server, n)
            ok = base is not None and not base.error and not mine.error
            adds[kind] = {
                "p50_ms": _diff(mine, base, 0.5) if ok else None,
                "p99_ms": _diff(mine, base, 0.99) if ok else None,
                "throughput_ratio": (
                    mine.deliveries_per_s / base.deliveries_per_s
                    if ok and base is not None and base.deliveries_per_s
                    else None
                ),
            }
        adds["crossed_minus_local"] = {
            f"p{round(100 * q)}_ms": None
            if mine.error
            else _minus(mine.quantile_ms(q, "crossed"), mine.quantile_ms(q, "local"))
            for q in (0.5, 0.99)
        }
        return adds


def _diff(mine: Outcome, base: Outcome | None, q: float) -> float | None:
    return _minus(mine.quantile_ms(q), base.quantile_ms(q) if base else None)


def _minus(a: float | None, b: float | None) -> float | None:
    return None if a is None or b is None else a - b


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
        "redis_cpu_pct": _round(outcome.broker_cpu_pct),
        "loadgen_cpu_pct": _round(outcome.loadgen_cpu_pct),
        "loadgen_busiest_process_cpu_pct": _round(outcome.loadgen_busiest_pct),
    }


def cross_figures(outcome: Outcome) -> dict[str, Any]:
    """A cross-process outcome as JSON: `figures`, plus the split between deliveries that
    crossed from one server process to another and those that stayed in one."""
    entry = figures(outcome)
    entry["processes"] = outcome.processes
    entry["server_busiest_process_cpu_pct"] = _round(outcome.server_busiest_pct)
    entry["crossed_deliveries"] = outcome.crossed
    entry["sync_resent"] = outcome.sync_resent
    for of in ("crossed", "local"):
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            entry[f"{of}_{name}_ms"] = _round(outcome.quantile_ms(q, of))
    return entry


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
        **({"cross_process": cross_json(results)} if results.cross else {}),
        "runtime_s": round(results.runtime_s, 1),
    }


def cross_json(results: Results) -> dict[str, Any] | None:
    cross = results.cross
    if cross is None:
        return None
    runs: dict[str, Any] = {}
    adds: dict[str, Any] = {}
    for server, by_n in cross.runs.items():
        runs[server], adds[server] = {}, {}
        for n, outcome in by_n.items():
            entry = cross_figures(outcome)
            ratio = results.ratio_to_anchor(server, n, outcome)
            entry["ratio_to_anchor"] = None if ratio is None else round(ratio, 4)
            runs[server][str(n)] = entry
            adds[server][str(n)] = {
                kind: {key: _round(value) for key, value in values.items()}
                for kind, values in results.redis_adds(server, n).items()
            }
    return {
        "processes": cross.processes,
        "broker": "a private redis-server per run, shared by the processes",
        "clients": cross.clients,
        "requested_clients": cross.requested,
        "messages_per_sender": results.settings.get("cross_messages_per_sender", {}),
        "split": "clients and senders dealt out half and half over the processes' ports",
        "servers": cross.labels,
        "baselines": BASELINES,
        "fair_baseline": "one_process",
        "runs": runs,
        "redis_adds": adds,
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
    if results.cross is not None:
        print_cross(results, console)
    if results.load_average > (os.cpu_count() or 1):
        console.print(
            f"[yellow]Note: the machine was busy when the run began (load average "
            f"{results.load_average:.1f} on {os.cpu_count()} cores): figures are noisy.[/]"
        )


def _signed(value: float | None) -> str:
    if value is None:
        return "–"
    return ("+" if value >= 0 else "-") + _ms(abs(value))


def _times(value: float | None) -> str:
    return "–" if value is None else f"x{value:.2f}"


def _server_cpu(outcome: Outcome) -> str:
    """Server CPU; for several processes, the sum and (the busiest process)."""
    if outcome.server_cpu_pct is None or outcome.processes == 1:
        return _pct(outcome.server_cpu_pct)
    return f"{_pct(outcome.server_cpu_pct)} ({_pct(outcome.server_busiest_pct)})"


def print_cross(results: Results, console: Console) -> None:
    """The cross-process section: its runs beside their baselines, then what Redis adds."""
    cross = results.cross
    assert cross is not None
    p = cross.processes
    console.print(
        f"[bold]Cross-process[/]: {p} processes of the app sharing one private redis-server, "
        "the clients and senders split half and half over their ports · "
        + " · ".join(
            f"[bold]{name} x{p}[/] {escape(label)}" for name, label in cross.labels.items()
        )
    )
    if not cross.clients:
        console.print(f"[yellow]No N of at least {p} clients to split over {p} processes.[/]")
        return
    if cross.clients != results.clients:
        left_out = sorted(set(cross.requested) - set(cross.clients))
        skipped = sorted(set(results.clients) - set(cross.requested))
        console.print(
            f"[yellow]The cross-process runs are at N = {'/'.join(map(str, cross.clients))} only"
            + (
                f", not at {'/'.join(map(str, skipped))}: see --cross-clients (by default "
                "10,100, which keeps the whole run under two minutes on 2 cores)"
                if skipped
                else ""
            )
            + (
                f"; not at N = {'/'.join(map(str, left_out))}: fewer clients than processes"
                if left_out
                else ""
            )
            + ".[/]"
        )
    # A server that failed the same way at every N gets one row ("all"), as in the fan-out
    # table; the others get a row at each N, beside the baselines at that N.
    broken = {
        server: failure(next(iter(by_n.values())))
        for server, by_n in cross.runs.items()
        if len({o.error for o in by_n.values()}) == 1 and not any(o.answered for o in by_n.values())
    }
    errors = any(o.error for by_n in cross.runs.values() for o in by_n.values())
    m = results.settings.get("cross_messages_per_sender", {})
    runs = Table(
        title=f"Cross-process fan-out, exercise {results.exercise}: {p} processes + Redis",
        caption=(
            f"x{p}: {p} processes; x1: the same file as 1 process with its own Redis; naive: "
            f"solutions/broadcast.py, no Redis (the x1, naive and anchor rows repeat the "
            f"fan-out table). M = {'/'.join(map(str, m.values()))}. Crossed: the "
            "deliveries from a sender on another process (app -> Redis -> app -> client). "
            "Server CPU: summed over the processes (the busiest one); Redis: redis-server."
        ),
    )
    for column in ("server", "N", "deliveries/s", "x anchor", "p50 ms", "p99 ms", "max ms"):
        runs.add_column(column, justify="left" if column == "server" else "right", no_wrap=True)
    for column in ("crossed\np50/p99", "server\nCPU", "Redis\nCPU", "load\nCPU"):
        runs.add_column(column, justify="right", no_wrap=True)
    # No room for a note column: a failed run says "failed" and is told below the table.
    failures: list[str] = []
    for server, note in broken.items():
        runs.add_row(f"{server} x{p}", "all", "[red]failed[/]", *[""] * 8)
        failures.append(f"{server} x{p}, every N: {note}")
    if broken:
        runs.add_section()
    for n in cross.clients:
        rows = [(f"{s} x{p}", s, by_n.get(n)) for s, by_n in cross.runs.items() if s not in broken]
        rows += [
            ("reference x1", "reference", results.fanout.get("reference", {}).get(n)),
            ("naive", "naive", results.fanout.get("naive", {}).get(n)),
            ("anchor", "anchor", results.fanout.get("anchor", {}).get(n)),
        ]
        shown_n = str(n)
        for label, server, outcome in rows:
            if outcome is None:
                continue
            style = "dim" if outcome.processes == 1 else ""
            if outcome.error:
                short = "stalled" if outcome.error == STALLED else "failed"
                runs.add_row(label, shown_n, f"[red]{short}[/]", *[""] * 8, style=style)
                failures.append(f"{label}, N={n}: {failure(outcome)}")
            else:
                ratio = results.ratio_to_anchor(server, n, outcome)
                crossed = "–"
                if outcome.crossed_ms:
                    crossed = "/".join(_ms(outcome.quantile_ms(q, "crossed")) for q in (0.5, 0.99))
                runs.add_row(
                    label,
                    shown_n,
                    f"{outcome.deliveries_per_s:,.0f}",
                    "–" if ratio is None else f"{ratio:.2f}",
                    _ms(outcome.quantile_ms(0.5)),
                    _ms(outcome.quantile_ms(0.99)),
                    _ms(outcome.max_ms),
                    crossed,
                    _server_cpu(outcome),
                    _pct(outcome.broker_cpu_pct),
                    _pct(outcome.loadgen_cpu_pct),
                    style=style,
                )
            shown_n = ""
        runs.add_section()
    console.print(runs)
    for line in failures:
        console.print(f"  [red]{escape(line)}[/]")
    adds = Table(
        title=f"Latency Redis adds: {p} processes against one, at the same N and load",
        caption=(
            "+p50/+p99: ms more than the baseline (negative: less); x: deliveries/s over the "
            "baseline's. x1, the fair baseline: the same file as 1 process with its own Redis, "
            "the same code publishing every message in both runs: the difference is the hop "
            "through Redis to the other process, less what a second process saves by sending "
            "to half the clients each. broadcast.py: the chat without Redis, the whole price "
            "of the design. Local: within the same run, the crossed deliveries against those "
            "that stayed in the sender's process."
        ),
    )
    adds.add_column("server", no_wrap=True)
    adds.add_column("N", justify="right", no_wrap=True)
    adds.add_column("compared with", no_wrap=True)
    for column in ("+p50 ms", "+p99 ms", "x deliveries/s"):
        adds.add_column(column, justify="right", no_wrap=True)
    if errors:
        adds.add_column("note", overflow="fold")
    baselines = {
        "one_process": "{server} x1 (fair)",
        "broadcast": "broadcast.py, no Redis",
        "crossed_minus_local": "local deliveries",
    }
    for server, by_n in cross.runs.items():
        label = f"{server} x{p}"
        if server in broken:
            adds.add_row(label, "all", "", "", "", "", f"[red]{escape(broken[server])}[/]")
            adds.add_section()
            continue
        for n, outcome in by_n.items():
            if outcome.error:
                adds.add_row(label, str(n), "", "", "", "", f"[red]{escape(failure(outcome))}[/]")
                label = ""
                continue
            shown_n = str(n)
            for kind, values in results.redis_adds(server, n).items():
                adds.add_row(
                    label,
                    shown_n,
                    baselines[kind].format(server=server),
                    _signed(values["p50_ms"]),
                    _signed(values["p99_ms"]),
                    _times(values.get("throughput_ratio")),
                    *([""] if errors else []),
                    style="bold" if kind == "one_process" and server == "reference" else "",
                )
                label = shown_n = ""
        adds.add_section()
    console.print(adds)


def plot(results: Results, path: Path) -> None:
    """p50 and p99 latency against N, one line per server that worked (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, (name, q) in zip(axes, (("p50", 0.5), ("p99", 0.99)), strict=True):
        colors: dict[str, str] = {}
        for server, runs in results.fanout.items():
            points = [(n, o.quantile_ms(q)) for n, o in runs.items() if not o.error]
            if points:
                xs, ys = zip(*points, strict=True)
                label = f"{server}: {results.labels.get(server, '')}"
                [line] = ax.plot(xs, ys, marker="o", label=label)
                colors[server] = line.get_color()
        cross = results.cross
        for server, runs in cross.runs.items() if cross else ():
            points = [(n, o.quantile_ms(q)) for n, o in runs.items() if not o.error]
            if cross and points:  # dashed, in the colour of the same file as one process
                xs, ys = zip(*points, strict=True)
                label = f"{server} x{cross.processes}: {cross.labels.get(server, '')}"
                style = {"color": colors[server]} if server in colors else {}
                ax.plot(xs, ys, marker="s", linestyle="--", label=label, **style)
        ax.set_title(f"{name} latency, send -> receipt")
        ax.set_xlabel("connected clients N")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted(set(results.clients) | set(results.cross.clients if results.cross else []))
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Fan-out benchmark, exercise {results.exercise}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
