"""Per-key request rates: one token bucket per API key, in this process (DESIGN §8).

The buckets live in memory: a restart forgets them, and each server process of a
scale-out deployment counts its own requests, so the fleet-wide ceiling is the per-key
rate times the number of processes.
"""

from __future__ import annotations

import threading

from ..delivery.bucket import TokenBucket
from .keys import Principal
from .ports import Clock


class RateLimiter:
    def __init__(self, clock: Clock, rate_per_second: float, burst: int) -> None:
        self.clock = clock
        self.default = (rate_per_second, burst)
        self._buckets: dict[str, TokenBucket] = {}
        self._lock = threading.Lock()

    def wait(self, principal: Principal) -> float:
        """0.0 when the request may go on (its token taken); else seconds to wait."""
        rate, burst = principal.rate or self.default
        if rate <= 0:
            return 0.0
        now = self.clock.now().timestamp()
        with self._lock:
            bucket = self._buckets.get(principal.identity)
            if bucket is None or (bucket.rate_per_second, bucket.burst) != (rate, burst):
                bucket = self._buckets[principal.identity] = TokenBucket(rate, burst)
            return bucket.take(now)
