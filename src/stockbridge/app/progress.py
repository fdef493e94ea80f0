"""A signal the hub's background workers give after each unit of work (a dispatcher
round, a connector inbox pass, a monitor run), for callers that wait on what it changed:
tests, benchmarks, a command that waits for the outbox to drain."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Progress:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds, re-checked after every unit of work; False if
        it still does not after `timeout` seconds.

        The predicate runs outside the lock (it may read the database or call a server),
        and work done while it runs is not missed: the wait is for a newer generation
        than the one seen before it ran.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                seen = self._generation
            if predicate():
                return True
            with self._changed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                if self._generation == seen:
                    self._changed.wait(remaining)
