"""The benchmark's arithmetic: latency percentiles, and a figure's spread over repeats.

Percentiles come from sorting, not from a histogram library: a run has at most a few
hundred thousand latencies (bench/loadgen.py sends a uniform sample beyond that), which
Python sorts in tens of milliseconds, exactly. `hdrhistogram` (PyPI) was measured
against it: it records values in pure Python, 5-6x slower than `sorted` at 100,000 and
1,000,000 values, gives approximate percentiles, and pulls in pbr and setuptools at run
time; its strengths (bounded memory, merging histograms across processes) matter only
for far longer runs than these.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def quantile(ordered: Sequence[float], q: float) -> float | None:
    """The nearest-rank q-quantile of `ordered` (sorted ascending); None when empty."""
    if not ordered:
        return None
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


@dataclass(frozen=True)
class Latency:
    """Send->receipt latencies of one run, in ms."""

    count: int
    """How many latencies the percentiles are taken over (a sample, for a long run)."""
    p50_ms: float
    p99_ms: float

    @classmethod
    def of(cls, values_ms: Iterable[float]) -> Latency | None:
        """The summary of `values_ms`, or None when there is none."""
        ordered = sorted(values_ms)
        p50, p99 = quantile(ordered, 0.5), quantile(ordered, 0.99)
        if p50 is None or p99 is None:
            return None
        return cls(len(ordered), p50, p99)


@dataclass(frozen=True)
class Figure:
    """One figure measured in several runs of the same thing: what it is, and how noisy."""

    runs: tuple[float, ...]
    """Each run's value, in the order the runs were made."""

    @classmethod
    def of(cls, values: Iterable[float | None]) -> Figure | None:
        """The figure over the runs that have a value; None when none has."""
        runs = tuple(v for v in values if v is not None)
        return cls(runs) if runs else None

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    @property
    def low(self) -> float:
        return min(self.runs)

    @property
    def high(self) -> float:
        return max(self.runs)

    @property
    def noise_pct(self) -> float | None:
        """Half the range of the runs as % of the median (None for one run): two figures
        closer than their noise added up are not told apart by this measurement."""
        if len(self.runs) < 2 or self.median == 0:
            return None
        return 100 * (self.high - self.low) / 2 / abs(self.median)
