"""The monitor thread: SLA evaluation and canary runs, each on its own interval.

Intervals are real seconds (like the dispatcher's polling); instants come from the Clock.
A failed round is logged and tried again at the next interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from .canaries import CanaryService
from .progress import Progress
from .slas import SlaService

log = logging.getLogger(__name__)


class Monitor:
    def __init__(
        self,
        slas: SlaService,
        evaluate_every: float,
        canaries: CanaryService | None = None,
        canary_every: float = 60.0,
        monotonic: Callable[[], float] = time.monotonic,
        progress: Progress | None = None,
    ) -> None:
        self.slas = slas
        self.progress = progress or Progress()
        self.canaries = canaries
        self.jobs: list[tuple[str, float, Callable[[], object]]] = [
            ("sla evaluation", evaluate_every, slas.evaluate)
        ]
        if canaries is not None:
            self.jobs.append(("canary run", canary_every, canaries.run))
        self.monotonic = monotonic
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="monitor", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        due = [self.monotonic() + every for _, every, _ in self.jobs]
        while not self._stop.wait(max(0.0, min(due) - self.monotonic())):
            now = self.monotonic()
            for i, (what, every, job) in enumerate(self.jobs):
                if due[i] > now:
                    continue
                due[i] = now + every
                try:
                    job()
                except Exception:
                    log.exception("%s failed", what)
            self.progress.notify()
