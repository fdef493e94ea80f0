"""Propagation latency: how long a change took to reach a target, summarised.

Pure. A sample is the time between a push being queued and the target accepting it, in
microseconds; the summary gives the median, the 99th percentile and the worst, by the
nearest-rank method (each figure is one of the samples, never an interpolation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass


def nearest_rank(ordered: Sequence[int], fraction: float) -> int:
    """The smallest sample with at least `fraction` of the samples at or below it.

    Raises ValueError for no samples or a fraction outside (0, 1].
    """
    if not ordered:
        raise ValueError("no samples")
    if not 0 < fraction <= 1:
        raise ValueError("fraction must be in (0, 1]")
    return ordered[max(1, math.ceil(fraction * len(ordered))) - 1]


@dataclass(frozen=True, slots=True)
class LatencySummary:
    samples: int
    p50_us: int
    p99_us: int
    max_us: int


def summarise(samples_us: Iterable[int]) -> LatencySummary | None:
    """p50, p99 and max of the samples; None when there are none.

    A negative sample (a clock stepped back between queueing and delivery) counts as 0.
    """
    ordered = sorted(max(0, s) for s in samples_us)
    if not ordered:
        return None
    return LatencySummary(
        len(ordered), nearest_rank(ordered, 0.5), nearest_rank(ordered, 0.99), ordered[-1]
    )
