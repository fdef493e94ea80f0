"""Cost-based rate limiting of the GraphQL Admin API, as a leaky bucket of points.

Pure. Every answer carries `extensions.cost.throttleStatus {maximumAvailable,
currentlyAvailable, restoreRate}`; a query whose requested cost exceeds what is available
is refused with `THROTTLED`. The store refills `restoreRate` points a second up to
`maximumAvailable`. The simulator keeps the bucket; the target keeps its last reading, so
it can wait instead of sending a query that would be refused.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

#: Bucket sizes and restore rates (points, points/s) by plan; the bucket is 20x the rate.
PLANS: dict[str, tuple[float, float]] = {
    "standard": (2000.0, 100.0),
    "advanced": (4000.0, 200.0),
    "plus": (20000.0, 1000.0),
    "enterprise": (40000.0, 2000.0),
}


@dataclass(slots=True)
class CostBucket:
    """Points available at instant `at` (seconds on any monotonic clock)."""

    maximum: float
    restore_rate: float
    available: float
    at: float

    @classmethod
    def full(cls, maximum: float, restore_rate: float, now: float) -> CostBucket:
        return cls(maximum, restore_rate, maximum, now)

    def level(self, now: float) -> float:
        elapsed = max(0.0, now - self.at)
        return min(self.maximum, self.available + elapsed * self.restore_rate)

    def seconds_until(self, cost: float, now: float) -> float:
        """How long until `cost` points are available (0 if they are now)."""
        missing = min(cost, self.maximum) - self.level(now)
        if missing <= 1e-9:  # a rounding error's worth is there
            return 0.0
        return missing / self.restore_rate if self.restore_rate > 0 else math.inf

    def try_spend(self, cost: float, now: float) -> bool:
        """Take `cost` points if they are there; refuse (and take nothing) if not."""
        level = self.level(now)
        if cost > level + 1e-9:
            self.available, self.at = level, max(now, self.at)
            return False
        self.available, self.at = max(0.0, level - cost), max(now, self.at)
        return True

    def drain(self, now: float) -> None:
        self.available, self.at = 0.0, now

    def status(self, now: float) -> dict[str, float | int]:
        """The `throttleStatus` object as the API shows it."""
        return {
            "maximumAvailable": _num(self.maximum),
            "currentlyAvailable": int(self.level(now) + 1e-9),
            "restoreRate": _num(self.restore_rate),
        }


def _num(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


def retry_after(requested: float, status: Mapping[str, Any]) -> float:
    """Seconds until a query of cost `requested` fits: (requested - available) / rate."""
    available = float(status.get("currentlyAvailable") or 0)
    rate = float(status.get("restoreRate") or 0)
    missing = requested - available
    if missing <= 0:
        return 0.0
    return missing / rate if rate > 0 else 60.0


class CostTracker:
    """What a client knows of the store's bucket: its last reading, refilled by the clock."""

    def __init__(self) -> None:
        self.bucket: CostBucket | None = None
        #: The last requested cost seen per operation, as the estimate of the next one.
        self.cost: dict[str, float] = {}

    def observe(self, operation: str, cost: Mapping[str, Any] | None, now: float) -> None:
        if not cost:
            return
        status = cost.get("throttleStatus") or {}
        try:
            maximum = float(status["maximumAvailable"])
            rate = float(status["restoreRate"])
            available = float(status["currentlyAvailable"])
        except (KeyError, TypeError, ValueError):
            return
        self.bucket = CostBucket(maximum, rate, available, now)
        requested = cost.get("requestedQueryCost")
        if isinstance(requested, int | float):
            self.cost[operation] = float(requested)

    def wait(self, operation: str, now: float) -> float:
        """Seconds to wait before `operation` is likely to be accepted (0: send now)."""
        expected = self.cost.get(operation)
        if self.bucket is None or expected is None:
            return 0.0
        return self.bucket.seconds_until(expected, now)
