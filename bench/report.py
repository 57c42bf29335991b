"""The fan-out benchmark's output: terminal tables, a JSON file and a latency plot.

Pure functions of `bench.results.Results`. Every figure measured more than once is shown
as its median and its noise, `±N%`: half the range of its runs, as % of the median.
"""

from __future__ import annotations

import json
import os
import platform
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from bench.measure import MIN_CPU_WALL, STALLED, Outcome
from bench.results import BASELINES, Measured, Results
from bench.stats import Figure


def failure(outcome: Outcome) -> str:
    """Why a run did not complete, in words."""
    if outcome.error == STALLED:
        return f"stalled: deliveries stopped after {outcome.deliveries} of {outcome.expected}"
    return f"did not work: {outcome.error}"


def summary(outcome: Outcome) -> str:
    """One run, in one line: what the progress lines show."""
    if outcome.error:
        return failure(outcome)
    latency = outcome.latency
    return (
        f"{outcome.deliveries_per_s or 0:9,.0f} deliveries/s  p50 "
        f"{_ms(latency.p50_ms if latency else None)}  p99 "
        f"{_ms(latency.p99_ms if latency else None)} ms"
    )


def _ms(value: float | None) -> str:
    if value is None:
        return "–"
    return f"{value:.2f}" if value < 10 else f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _noise(figure: Figure) -> str:
    noise = figure.noise_pct
    return "" if noise is None else f" ±{noise:.0f}%"


def shown(figure: Figure | None, unit: str = "ms") -> str:
    """A figure as its median (in `unit`: ms, /s, x or %) and its noise."""
    if figure is None:
        return "–"
    value = figure.median
    text = {"ms": _ms, "/s": "{:,.0f}".format, "x": "{:.2f}".format, "%": "{:.0f}%".format}
    return text[unit](value) + _noise(figure)


def _slow_p99(measured: Measured) -> str:
    if measured.stalled:
        return "∞ (stalled)"  # some messages never arrive
    return "–" if measured.error else shown(measured.latency(0.99))


def _figure(figure: Figure | None) -> dict[str, Any] | None:
    """A figure as JSON: median, the range and noise of its runs, and the runs."""
    if figure is None:
        return None
    return {
        "median": _round(figure.median),
        "low": _round(figure.low),
        "high": _round(figure.high),
        "noise_pct": _round(figure.noise_pct),
        "runs": [_round(value) for value in figure.runs],
    }


def figures(measured: Measured) -> dict[str, Any]:
    """One server under one load as JSON; a figure is None when no run has it."""
    outcome = measured.shown
    return {
        "ok": measured.error is None,
        "error": failure(outcome) if outcome.error else None,
        "stalled": measured.stalled,
        "runs": len(measured.outcomes),
        "deliveries": outcome.deliveries,
        "expected": outcome.expected,
        "undelivered": max(0, outcome.expected - outcome.deliveries),
        "deliveries_per_s": _figure(measured.throughput),
        "p50_ms": _figure(measured.latency(0.5)),
        "p99_ms": _figure(measured.latency(0.99)),
        "max_ms": _round(measured.max_ms),
        "server_cpu_pct": _figure(measured.cpu(lambda c: c.server)),
        "redis_cpu_pct": _figure(measured.cpu(lambda c: c.broker)),
        "loadgen_cpu_pct": _figure(measured.cpu(lambda c: c.load)),
        "loadgen_busiest_process_cpu_pct": _figure(measured.cpu(lambda c: c.load_busiest)),
    }


def cross_figures(measured: Measured) -> dict[str, Any]:
    """A cross-process run as JSON: `figures`, plus the split between deliveries that
    crossed from one server process to another and those that stayed in one."""
    entry = figures(measured)
    entry["processes"] = measured.processes
    entry["server_busiest_process_cpu_pct"] = _figure(measured.cpu(lambda c: c.server_busiest))
    entry["crossed_deliveries"] = measured.shown.crossed
    entry["sync_resent"] = sum(o.sync_resent for o in measured.outcomes)
    for of in ("crossed", "local"):
        for name, q in (("p50", 0.5), ("p99", 0.99)):
            entry[f"{of}_{name}_ms"] = _figure(measured.latency(q, of))
    return entry


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def verdict(without: Measured, with_stalled: Measured) -> str:
    if with_stalled.stalled:
        return f"stalled: every delivery stopped after {with_stalled.shown.deliveries:,}"
    if with_stalled.failed:
        return failure(with_stalled.shown)
    before, after = without.latency(0.99), with_stalled.latency(0.99)
    if without.error or before is None or after is None:
        return "kept delivering"
    return f"kept delivering (p99 x{after.median / before.median:.2f})"


def to_json(results: Results) -> dict[str, Any]:
    fanout: dict[str, Any] = {}
    for server, runs in results.fanout.items():
        fanout[server] = {}
        for n, measured in runs.items():
            entry = figures(measured)
            entry["ratio_to_anchor"] = _figure(results.ratio_to_anchor(measured, n))
            fanout[server][str(n)] = entry
    s = results.settings
    return {
        "exercise": results.exercise,
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "implementation": sys.implementation.name,
            "platform": platform.platform(),
            "load_average_at_start": round(results.load_average, 2),
        },
        "load": {
            "clients": results.clients,
            "senders": s.senders,
            "messages_per_sender": {str(n): m for n, m in s.messages_per_sender.items()},
            "payload_bytes": s.payload_bytes,
            "stall_after_s": s.stall_after_s,
            "repeat": s.repeat,
        },
        "noise": "each figure: median, low, high and noise_pct (half the range of its runs, "
        "as % of the median) over `runs` runs, the servers taking turns",
        "servers": dict(results.labels),
        "aliases": dict(results.aliases),
        "fanout": fanout,
        "slow_client": {
            "clients": results.slow_clients,
            "payload_bytes": s.slow_payload_bytes,
            "messages_per_sender": s.slow_messages,
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
        for n, measured in by_n.items():
            entry = cross_figures(measured)
            entry["ratio_to_anchor"] = _figure(results.ratio_to_anchor(measured, n))
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
        "messages_per_sender": {str(n): m for n, m in cross.messages_per_sender.items()},
        "split": "clients and senders dealt out half and half over the processes' ports",
        "servers": dict(cross.labels),
        "baselines": BASELINES,
        "fair_baseline": "one_process",
        "runs": runs,
        "redis_adds": adds,
    }


def write_json(results: Results, path: Path) -> None:
    path.write_text(json.dumps(to_json(results), indent=2) + "\n", encoding="utf-8")


def _broken(runs: Mapping[int, Measured]) -> str | None:
    """Why a server failed, if it failed the same way at every N without ever answering."""
    values = list(runs.values())
    if values and len({m.error for m in values}) == 1 and not any(m.answered for m in values):
        return failure(values[0].shown)
    return None


def print_tables(results: Results, console: Console) -> None:
    s = results.settings
    console.print(
        "Servers: "
        + " · ".join(f"[bold]{name}[/] {escape(label)}" for name, label in results.labels.items())
    )
    for role, server in results.aliases.items():
        console.print(f"  ({role} runs the same file as {server}: measured once, as {server})")
    notes = any(m.error for runs in results.fanout.values() for m in runs.values())
    table = Table(
        title=f"Fan-out on /ws/{{client_id}}, exercise {results.exercise}",
        caption=(
            f"{s.senders} senders (at most N) x M messages of {s.payload_bytes} B, "
            f"M = {'/'.join(map(str, s.messages_per_sender.values()))} for N = "
            f"{'/'.join(map(str, results.clients))}, closed loop. {_repeat_note(s.repeat)} "
            f"CPU: % of one core (– for runs under {MIN_CPU_WALL:g} s); load CPU: summed "
            "over the load processes."
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
        broken = _broken(runs)
        if broken is not None:
            table.add_row(label, "all", *[""] * 7, f"[red]{escape(broken)}[/]")
            table.add_section()
            continue
        for n, m in runs.items():
            if m.error:
                table.add_row(label, str(n), *[""] * 7, f"[red]{escape(failure(m.shown))}[/]")
            else:
                table.add_row(
                    label,
                    str(n),
                    shown(m.throughput, "/s"),
                    shown(results.ratio_to_anchor(m, n), "x"),
                    shown(m.latency(0.5)),
                    shown(m.latency(0.99)),
                    _ms(m.max_ms),
                    shown(m.cpu(lambda c: c.server), "%"),
                    shown(m.cpu(lambda c: c.load), "%"),
                    *([""] if notes else []),
                )
            label = ""
        table.add_section()
    console.print(table)
    slow = Table(
        title=(
            f"Slow client: N={results.slow_clients}, {s.slow_messages} messages per sender "
            f"of {s.slow_payload_bytes >> 10} KiB, plus one client that never reads"
        ),
        caption=(
            "p99: latency of the other clients, ms. Stalled: no delivery at all for "
            f"{s.stall_after_s:g} s; the messages never delivered make its p99 infinite "
            "(the JSON also gives the p99 of those that were). A server that stalled is not "
            "run again with the never-reading client."
        ),
    )
    slow.add_column("server", no_wrap=True)
    slow.add_column("p99 without", justify="right", no_wrap=True)
    slow.add_column("p99 with", justify="right", no_wrap=True)
    slow.add_column("delivered with", justify="right", no_wrap=True)
    slow.add_column("verdict", overflow="fold")
    for server, (without, with_stalled) in results.slow.items():
        verdict_text = verdict(without, with_stalled)
        counts = with_stalled.shown
        slow.add_row(
            server,
            "–" if without.error else shown(without.latency(0.99)),
            _slow_p99(with_stalled),
            f"{counts.deliveries:,} / {counts.expected:,}" if counts.expected else "–",
            f"[red]{escape(verdict_text)}[/]" if with_stalled.error else escape(verdict_text),
        )
    console.print(slow)
    if results.cross is not None:
        print_cross(results, console)
    if results.load_average > (os.cpu_count() or 1):
        console.print(
            f"[yellow]Note: the machine was busy when the run began (load average "
            f"{results.load_average:.1f} on {os.cpu_count()} cores): expect a large ±.[/]"
        )


def _repeat_note(repeat: int) -> str:
    if repeat < 2:
        return "One run each: no figure says how noisy it is (--repeat 3 does)."
    return (
        f"Each figure: the median of {repeat} runs, the servers taking turns, ±: half the "
        "range of the runs as % of the median; figures closer than their ± added up are "
        "the same within this run's noise."
    )


def _signed(value: float | None) -> str:
    if value is None:
        return "–"
    return ("+" if value >= 0 else "-") + _ms(abs(value))


def _times(value: float | None) -> str:
    return "–" if value is None else f"x{value:.2f}"


def _server_cpu(measured: Measured) -> str:
    """Server CPU; for several processes, the sum and (the busiest process)."""
    total = shown(measured.cpu(lambda c: c.server), "%")
    if measured.processes == 1 or total == "–":
        return total
    busiest = measured.cpu(lambda c: c.server_busiest)
    return f"{total} ({'–' if busiest is None else f'{busiest.median:.0f}%'})"


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
        server: note for server, by_n in cross.runs.items() if (note := _broken(by_n)) is not None
    }
    errors = any(m.error for by_n in cross.runs.values() for m in by_n.values())
    m = cross.messages_per_sender
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
            ("reference x1", "reference", results.row("reference").get(n)),
            ("naive", "naive", results.row("naive").get(n)),
            ("anchor", "anchor", results.row("anchor").get(n)),
        ]
        shown_n = str(n)
        for label, _, measured in rows:
            if measured is None:
                continue
            style = "dim" if measured.processes == 1 else ""
            if measured.error:
                short = "stalled" if measured.stalled else "failed"
                runs.add_row(label, shown_n, f"[red]{short}[/]", *[""] * 8, style=style)
                failures.append(f"{label}, N={n}: {failure(measured.shown)}")
            else:
                crossed = "–"
                p50, p99 = measured.latency(0.5, "crossed"), measured.latency(0.99, "crossed")
                if p50 is not None and p99 is not None:
                    crossed = f"{_ms(p50.median)}/{_ms(p99.median)}"
                runs.add_row(
                    label,
                    shown_n,
                    shown(measured.throughput, "/s"),
                    shown(results.ratio_to_anchor(measured, n), "x"),
                    shown(measured.latency(0.5)),
                    shown(measured.latency(0.99)),
                    _ms(measured.max_ms),
                    crossed,
                    _server_cpu(measured),
                    shown(measured.cpu(lambda c: c.broker), "%"),
                    shown(measured.cpu(lambda c: c.load), "%"),
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
            "that stayed in the sender's process. Differences of medians: compare them with "
            "the ± of the figures above."
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
        for n, measured in by_n.items():
            if measured.error:
                note = f"[red]{escape(failure(measured.shown))}[/]"
                adds.add_row(label, str(n), "", "", "", "", note)
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
    """p50 and p99 latency against N, one line per server that worked, the range of the
    runs as error bars (PNG, Agg)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def draw(ax: Any, runs: Mapping[int, Measured], q: float, **style: Any) -> Any:
        points = [(n, f) for n, m in runs.items() if not m.error and (f := m.latency(q))]
        if not points:
            return None
        xs = [n for n, _ in points]
        ys = [f.median for _, f in points]
        spread = [[f.median - f.low for _, f in points], [f.high - f.median for _, f in points]]
        return ax.errorbar(xs, ys, yerr=spread, capsize=3, **style)

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5), sharey=True)
    for ax, (name, q) in zip(axes, (("p50", 0.5), ("p99", 0.99)), strict=True):
        colors: dict[str, str] = {}
        for server, runs in results.fanout.items():
            label = f"{server}: {results.labels.get(server, '')}"
            drawn = draw(ax, runs, q, marker="o", label=label)
            if drawn is not None:
                colors[server] = drawn.lines[0].get_color()
        cross = results.cross
        for server, runs in cross.runs.items() if cross else ():
            assert cross is not None
            label = f"{server} x{cross.processes}: {cross.labels.get(server, '')}"
            style = {"color": colors[server]} if server in colors else {}
            # Dashed, in the colour of the same file as one process.
            draw(ax, runs, q, marker="s", linestyle="--", label=label, **style)
        ax.set_title(f"{name} latency, send -> receipt")
        ax.set_xlabel("connected clients N")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ticks = sorted(set(results.clients) | set(results.cross.clients if results.cross else []))
        ax.set_xticks(ticks, [str(n) for n in ticks])
        ax.minorticks_off()
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("ms (median; bars: range of the runs)")
    axes[0].legend(fontsize="small")
    fig.suptitle(f"Fan-out benchmark, exercise {results.exercise}")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
