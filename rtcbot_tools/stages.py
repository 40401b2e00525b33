"""Latency statistics: percentiles and a histogram of one stage's samples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

PERCENTILES = {"p50": 50.0, "p90": 90.0, "p99": 99.0, "p99.9": 99.9}
#: Histogram bins, in microseconds: 20 per decade on a log scale, from 1 µs to 10 s.
HISTOGRAM_EDGES_US = np.logspace(0, 7, 141)


def percentiles(nanoseconds: list[int] | np.ndarray[Any, Any]) -> dict[str, float]:
    """p50, p90, p99, p99.9, max and mean of the samples, in microseconds (empty: {})."""
    values = np.asarray(nanoseconds, dtype=np.float64) / 1000.0
    if values.size == 0:
        return {}
    marks = np.percentile(values, list(PERCENTILES.values()))
    summary = {name: round(float(mark), 1) for name, mark in zip(PERCENTILES, marks, strict=True)}
    summary["max"] = round(float(np.max(values)), 1)
    summary["mean"] = round(float(values.mean()), 1)
    return summary


@dataclass(frozen=True)
class StageStatistics:
    """One stage of a run: how many samples, their percentiles (µs) and histogram."""

    name: str
    samples: int
    us: dict[str, float]
    histogram: list[int]
    """Counts per bin of ``HISTOGRAM_EDGES_US`` (below 1 µs counts in the first bin,
    above 10 s in the last)."""

    @classmethod
    def of(cls, name: str, nanoseconds: np.ndarray[Any, Any]) -> StageStatistics:
        microseconds = np.clip(nanoseconds / 1000.0, HISTOGRAM_EDGES_US[0], HISTOGRAM_EDGES_US[-1])
        counts, _ = np.histogram(microseconds, HISTOGRAM_EDGES_US)
        return cls(name, int(nanoseconds.size), percentiles(nanoseconds), [int(c) for c in counts])
