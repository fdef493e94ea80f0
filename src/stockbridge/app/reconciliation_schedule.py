"""Scheduled reconciliation: each system with an `interval_seconds` is pulled and
reconciled on that interval, in a thread of the server process.

A failed run (the system is down, a snapshot unreadable) is logged and tried again at the
next interval; it never stops the others.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping

log = logging.getLogger(__name__)


class ReconciliationSchedule:
    def __init__(
        self,
        intervals: Mapping[str, float],
        run: Callable[[str], object],
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.intervals = dict(intervals)
        self.run = run
        self.monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        #: System -> when its next run is due (monotonic seconds).
        self.due: dict[str, float] = {}

    def start(self) -> None:
        if not self.intervals or self._thread is not None:
            return
        now = self.monotonic()
        # The first run waits one interval: a server start is not a reason to pull.
        self.due = {name: now + every for name, every in self.intervals.items()}
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="reconciliation", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def tick(self) -> list[str]:
        """Run every system that is due; returns their names."""
        ran = []
        for name in sorted(self.due):
            if self.monotonic() < self.due[name]:
                continue
            self.due[name] = self.monotonic() + self.intervals[name]
            try:
                self.run(name)
            except Exception:
                log.exception("scheduled reconciliation of %s failed", name)
            ran.append(name)
        return ran

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.tick()
            wait = min(self.due.values()) - self.monotonic()
            self._stop.wait(max(0.05, min(wait, 60.0)))
