"""The simulator's clock: real seconds, plus whatever a test skips ahead."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta


class SimClock:
    def __init__(self, base: Callable[[], float] = time.monotonic) -> None:
        self._base = base
        self.offset = 0.0

    def now(self) -> float:
        """Monotonic seconds: the cost bucket's refill and the webhook retry schedule."""
        return self._base() + self.offset

    def wall(self) -> datetime:
        """The store's date and time, for payload timestamps."""
        return datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=self.offset)

    def advance(self, seconds: float) -> None:
        self.offset += seconds
