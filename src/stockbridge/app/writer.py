"""Group commit: one writer thread applies all waiting ingest requests in one transaction.

SQLite has a single writer and a durable commit costs an fsync; taking every request
that is waiting and committing them together turns many small commits into one
(DESIGN §10). Each request is still answered with its own results, after the commit.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from .documents import DocumentResult
from .ingest import (
    PASS_THROUGH,
    AnyDocument,
    BatchRejected,
    BatchResult,
    IngestService,
    WriterItem,
    decode_batch,
    prepare,
)
from .log_context import group_context
from .reservations import Command, Outcome

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Request:
    #: A client batch of raw events, or a reservation, ticket or order command.
    payload: Sequence[Any] | Command | AnyDocument
    future: Future[Any]
    #: The caller's span (W3C traceparent), when tracing is on.
    parent: str | None = None

    @property
    def size(self) -> int:
        return 1 if isinstance(self.payload, PASS_THROUGH) else len(self.payload)

    def prepared(self) -> WriterItem:
        if isinstance(self.payload, PASS_THROUGH):
            return self.payload
        return prepare(self.payload)


_STOP = object()


class GroupCommitWriter:
    def __init__(
        self,
        ingest: IngestService,
        max_events: int = 20_000,
        expiry_interval: float = 1.0,
    ) -> None:
        self.ingest = ingest
        self.max_events = max_events
        self.expiry_interval = expiry_interval
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.commits = 0
        self.requests = 0

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._queue.put(_STOP)
            self._thread.join()
            self._thread = None

    def submit(self, raws: Sequence[Any]) -> Future[BatchResult]:
        """Queue a client batch; its answer comes once it is committed.

        Validation runs in the writer thread too: spread over the callers' threads it
        would compete for the GIL with the writer, which gives the GIL up at every SQLite
        step and then waits a whole switch interval to get it back.
        """
        future: Future[BatchResult] = Future()
        self._queue.put(_Request(raws, future, self._parent()))
        return future

    def submit_body(self, body: bytes, max_events: int) -> Future[BatchResult | BatchRejected]:
        """Decode a request body and queue its events (see ProcessWriter.submit_body)."""
        raws = decode_batch(body, max_events)
        if isinstance(raws, BatchRejected):
            done: Future[BatchResult | BatchRejected] = Future()
            done.set_result(raws)
            return done
        return self.submit(raws)  # type: ignore[return-value]

    def submit_command(self, command: Command) -> Future[Outcome]:
        """Queue a reservation command: decided and recorded in the next group commit."""
        future: Future[Outcome] = Future()
        self._queue.put(_Request(command, future, self._parent()))
        return future

    def submit_document(self, command: AnyDocument) -> Future[DocumentResult]:
        """Queue a document command (ticket, order, return, transfer): committed with the
        next group."""
        future: Future[DocumentResult] = Future()
        self._queue.put(_Request(command, future, self._parent()))
        return future

    def _parent(self) -> str | None:
        return self.ingest.tracing.traceparent() if self.ingest.tracing.enabled else None

    def _run(self) -> None:
        next_expiry = time.monotonic() + self.expiry_interval
        while True:
            timeout = max(0.0, next_expiry - time.monotonic())
            try:
                first = self._queue.get(timeout=timeout)
            except queue.Empty:
                first = None
            if first is _STOP:
                return
            if first is None or time.monotonic() >= next_expiry:
                next_expiry = time.monotonic() + self.expiry_interval
                self.ingest.housekeeping()
            if first is None:
                continue
            group, stop = self._gather(first)
            self._commit(group)
            if stop:
                return

    def _gather(self, first: _Request) -> tuple[list[_Request], bool]:
        group = [first]
        size = first.size
        while size < self.max_events:
            try:
                nxt = self._queue.get_nowait()
            except queue.Empty:
                break
            if nxt is _STOP:
                return group, True
            group.append(nxt)
            size += nxt.size
        return group, False

    def _commit(self, group: list[_Request]) -> None:
        items = [r.prepared() for r in group]
        try:
            results = self.ingest.run_group(items, [r.parent for r in group])
        except Exception as e:
            with group_context(items):
                log.exception("ingest transaction failed")
            for r in group:
                r.future.set_exception(e)
            return
        self.commits += 1
        self.requests += len(group)
        for r, result in zip(group, results, strict=True):
            r.future.set_result(result)
