"""The fan-out benchmark's results: frozen, built once from the runs' outcomes.

Every (server, N) is measured `repeat` times, the servers taking turns round after
round; a `Measured` holds those runs and gives each figure as a `Figure` (median and
spread), so every figure shown says how noisy it was. Everything the report prints,
writes or plots is a pure function of `Results`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from bench.measure import STALLED, CpuUse, Outcome
from bench.stats import Figure, Latency


@dataclass(frozen=True)
class Measured:
    """The runs of one server under one load."""

    outcomes: tuple[Outcome, ...]
    processes: int = 1

    @property
    def failed(self) -> Outcome | None:
        """The first run that did not complete, if any: then the server failed this load."""
        return next((o for o in self.outcomes if o.error), None)

    @property
    def error(self) -> str | None:
        failed = self.failed
        return failed.error if failed else None

    @property
    def stalled(self) -> bool:
        return self.error == STALLED

    @property
    def answered(self) -> bool:
        return all(o.answered for o in self.outcomes)

    @property
    def shown(self) -> Outcome:
        """The run whose counts are shown: the failed one, or the last."""
        return self.failed or self.outcomes[-1]

    def over(self, get: Callable[[Outcome], float | None]) -> Figure | None:
        return Figure.of(get(o) for o in self.outcomes)

    @property
    def throughput(self) -> Figure | None:
        """Deliveries per second."""
        return self.over(lambda o: o.deliveries_per_s)

    def latency(self, q: float, of: str = "all") -> Figure | None:
        """The p50 (q=0.5) or p99 (q=0.99) in ms, of "all" deliveries or only the
        "crossed" or the "local" ones (several server processes)."""
        pick: dict[str, Callable[[Outcome], Latency | None]] = {
            "all": lambda o: o.latency,
            "crossed": lambda o: o.crossed_latency,
            "local": lambda o: o.local_latency,
        }

        def value(o: Outcome) -> float | None:
            summary = pick[of](o)
            if summary is None:
                return None
            return summary.p50_ms if q == 0.5 else summary.p99_ms

        return self.over(value)

    @property
    def max_ms(self) -> float | None:
        values = [o.max_ms for o in self.outcomes if o.max_ms is not None]
        return max(values) if values else None

    def cpu(self, get: Callable[[CpuUse], float | None]) -> Figure | None:
        """A CPU figure over the runs long enough to tell it."""
        return self.over(lambda o: get(o.cpu) if o.cpu else None)


@dataclass(frozen=True)
class CrossProcess:
    """The cross-process section (exercise scaleout): the app as several processes."""

    processes: int
    clients: list[int]
    """The N measured: --cross-clients, less any N below one client per process."""
    requested: list[int]
    """The N asked for (--cross-clients, or --clients)."""
    labels: Mapping[str, str]
    runs: Mapping[str, Mapping[int, Measured]]
    """server name (student, reference) -> N -> its runs with `processes` processes"""
    messages_per_sender: Mapping[int, int]


@dataclass(frozen=True)
class Settings:
    senders: int
    messages_per_sender: Mapping[int, int]
    payload_bytes: int
    slow_payload_bytes: int
    slow_messages: int
    stall_after_s: float
    repeat: int


BASELINES = {
    "one_process": "the same file as 1 process with its own Redis (fan-out row of that name)",
    "broadcast": "solutions/broadcast.py, the same chat without Redis (fan-out row naive)",
}


@dataclass(frozen=True)
class Results:
    exercise: str
    clients: list[int]
    slow_clients: int
    settings: Settings
    labels: Mapping[str, str]
    """server name -> what it runs; only the servers measured."""
    aliases: Mapping[str, str]
    """A role whose file another server already runs (naive is the reference for
    exercise broadcast) -> that server: measured once, under the other's name."""
    fanout: Mapping[str, Mapping[int, Measured]]
    """server name -> N -> its runs"""
    slow: Mapping[str, tuple[Measured, Measured]]
    """server name -> (without, with the never-reading client)"""
    cross: CrossProcess | None
    runtime_s: float
    load_average: float
    """The machine's 1-minute load average when the run began."""

    def row(self, role: str) -> Mapping[int, Measured]:
        """The fan-out runs of `role` (student, reference, naive, anchor), aliases followed."""
        return self.fanout.get(self.aliases.get(role, role), {})

    def ratio_to_anchor(self, measured: Measured, n: int) -> Figure | None:
        """deliveries/s of `measured` over the anchor's at N, run by run: runs of the same
        round ran one after the other, so the ratio's spread is its own noise."""
        anchor = self.row("anchor").get(n)
        if measured.error or anchor is None or anchor.error:
            return None
        pairs = zip(measured.outcomes, anchor.outcomes, strict=False)
        return Figure.of(
            a.deliveries_per_s / b.deliveries_per_s
            for a, b in pairs
            if a.deliveries_per_s and b.deliveries_per_s
        )

    def redis_adds(self, server: str, n: int) -> dict[str, dict[str, float | None]]:
        """What the cross-process run of `server` at N costs over each baseline: p50 and
        p99 differences of the medians in ms, and the ratio of deliveries/s; None where a
        run failed."""
        assert self.cross is not None
        mine = self.cross.runs[server][n]
        adds: dict[str, dict[str, float | None]] = {}
        for kind in BASELINES:
            base = self.row(server if kind == "one_process" else "naive").get(n)
            ok = base is not None and not base.error and not mine.error
            adds[kind] = {
                "p50_ms": _minus(mine.latency(0.5), base.latency(0.5)) if ok and base else None,
                "p99_ms": _minus(mine.latency(0.99), base.latency(0.99)) if ok and base else None,
                "throughput_ratio": _ratio(mine.throughput, base.throughput)
                if ok and base
                else None,
            }
        adds["crossed_minus_local"] = {
            f"p{round(100 * q)}_ms": None
            if mine.error
            else _minus(mine.latency(q, "crossed"), mine.latency(q, "local"))
            for q in (0.5, 0.99)
        }
        return adds


def _minus(a: Figure | None, b: Figure | None) -> float | None:
    return None if a is None or b is None else a.median - b.median


def _ratio(a: Figure | None, b: Figure | None) -> float | None:
    return None if a is None or b is None or not b.median else a.median / b.median
