"""The connector inbox: platform reads a message needs, done after it was acknowledged.

A platform wants its webhook answered within seconds and redelivers what is not; a read
back from it (Square's order behind an order notification) may be slow or fail. So the
notification is kept in the hub's database and answered at once, and this worker does
the read, records what it means, and deletes the entry in that order: a crash in between
reads again, and the ledger deduplicates the events. A read that fails is tried again
with backoff, never dropped.
"""

from __future__ import annotations

import logging
import threading

from ..domain.model import to_micros
from .connectors import ConnectorService
from .ports import Clock, ConnectorState
from .progress import Progress

log = logging.getLogger(__name__)

#: Entries read per pass.
PASS_SIZE = 50


def retry_delay(attempts: int, base: float = 1.0, ceiling: float = 300.0) -> float:
    """Seconds before the next read of an entry that failed `attempts` times."""
    return float(min(ceiling, base * 2.0 ** max(0, attempts - 1)))


class ConnectorInbox:
    def __init__(
        self,
        connectors: ConnectorService,
        state: ConnectorState,
        clock: Clock,
        poll_interval: float = 0.5,
        progress: Progress | None = None,
    ) -> None:
        self.connectors = connectors
        self.progress = progress or Progress()
        self.state = state
        self.clock = clock
        self.poll_interval = poll_interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        connectors.on_deferred = self._wake.set

    def process(self) -> int:
        """One pass over the due entries; how many were completed."""
        done = 0
        for item in self.state.inbox_due(to_micros(self.clock.now()), PASS_SIZE):
            inbound = self.connectors.connectors.get(item.connector)
            complete = getattr(inbound, "complete", None)
            if complete is None:
                log.warning(
                    "inbox entry %s names connector %s, not configured", item.id, item.connector
                )
                self.state.inbox_retry(
                    item.id, self._later(item.attempts + 1), "connector not configured"
                )
                continue
            try:
                translation = complete(item.payload)
                self.connectors.apply(item.connector, translation)
            except Exception as e:  # the platform or the hub could not finish it: later
                error = f"{type(e).__name__}: {e}"
                log.warning("connector %s: %s waits: %s", item.connector, item.key, error)
                self.state.inbox_retry(item.id, self._later(item.attempts + 1), error)
                continue
            self.state.inbox_done(item.id)
            done += 1
        return done

    def _later(self, attempts: int) -> int:
        return to_micros(self.clock.now()) + int(retry_delay(attempts) * 1_000_000)

    # --- the worker thread -------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="connector-inbox", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._wake.set()
            self._thread.join(timeout=30)
            self._thread = None

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.process()
            except Exception:
                log.exception("the connector inbox pass failed")
            self.progress.notify()
            self._wake.wait(self.poll_interval)
            self._wake.clear()
