"""Token bucket per target: send no faster than the platform allows (DESIGN §6).

Pure: the caller passes the time. The bucket holds up to `burst` tokens and refills at
`rate_per_second`; a send costs tokens (1, or what the platform's cost header says). A
429 or Retry-After blocks the bucket until the given instant, whatever tokens it holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Refill arithmetic rounds; a bucket short of `cost` by less than this counts as full
# enough, so that coming back after the returned wait always succeeds.
_TOLERANCE = 1e-9


def _check(rate_per_second: float, burst: float) -> None:
    if not math.isfinite(rate_per_second):
        raise ValueError("rate_per_second must be finite (0 or less: unlimited)")
    if not (burst > 0 if rate_per_second > 0 else burst >= 0) or burst == math.inf:
        raise ValueError("burst must be finite, and > 0 when the rate is limited")


def _delay(now: float, ready: float) -> float:
    """Seconds to wait such that `now + delay` (as the caller will add it) is `ready` or later."""
    delay = ready - now
    while now + delay < ready:
        delay = math.nextafter(delay, math.inf)
    return delay


@dataclass(slots=True)
class TokenBucket:
    #: Tokens added per second; 0 or less means unlimited.
    rate_per_second: float
    burst: float
    #: Tokens held; negative (the default) means start full.
    tokens: float = -1
    updated_at: float | None = None
    #: No send before this instant (seconds since the epoch).
    blocked_until: float = 0.0

    def __post_init__(self) -> None:
        _check(self.rate_per_second, self.burst)
        self.tokens = self.burst if self.tokens < 0 else min(self.tokens, self.burst)

    def take(self, now: float, cost: float = 1.0) -> float:
        """Take `cost` tokens and return 0.0, or take nothing and return seconds to wait.

        Raises ValueError for a negative cost, or one above `burst` (it could never pass).
        """
        if not cost >= 0:
            raise ValueError("cost must be >= 0")
        self._refill(now)
        if now < self.blocked_until:
            return _delay(now, self.blocked_until)
        if self.rate_per_second <= 0:
            return 0.0
        if cost > self.burst:
            raise ValueError(f"cost {cost} exceeds the bucket's burst {self.burst}")
        if self.tokens >= cost - _TOLERANCE * max(1.0, self.burst):
            self.tokens = max(0.0, self.tokens - cost)
            return 0.0
        wait = (cost - self.tokens) / self.rate_per_second
        ready = now + wait
        while ready - now < wait:
            # `now + wait` rounded down, or did not move at all (`now` being large): the
            # caller coming back then would find the bucket still short.
            ready = math.nextafter(ready, math.inf)
        return _delay(now, ready)

    def ready(self, now: float) -> int:
        """Whole sends of cost 1 the bucket would allow at `now`, taking nothing."""
        if now < self.blocked_until:
            return 0
        if self.rate_per_second <= 0:
            return 1 << 30
        self._refill(now)
        return int(self.tokens + _TOLERANCE * max(1.0, self.burst))

    def block_until(self, until: float) -> None:
        """Hold every send back until `until`; an earlier block that ends later stands."""
        self.blocked_until = max(self.blocked_until, until)

    def set_rate(self, rate_per_second: float, burst: float) -> None:
        """New limits (learnt from the platform); tokens held above the new burst are lost."""
        _check(rate_per_second, burst)
        self.rate_per_second = rate_per_second
        self.burst = burst
        self.tokens = min(self.tokens, burst)

    def _refill(self, now: float) -> None:
        if self.updated_at is not None and now > self.updated_at and self.rate_per_second > 0:
            elapsed = now - self.updated_at
            self.tokens = min(self.burst, self.tokens + elapsed * self.rate_per_second)
        if self.updated_at is None or now > self.updated_at:
            # A clock that steps back refills nothing, and is not paid for twice later.
            self.updated_at = now
