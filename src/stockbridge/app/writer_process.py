"""Group commit in a child process: the ingest transaction gets a CPU core of its own.

In one process the writer shares the GIL with the HTTP server, and SQLite gives the GIL
up at every step, so under read traffic each step waits for it again: ingest slows down
and reads queue behind it. A child process owns the write connection instead; the
server keeps the GIL for HTTP and for reads (which use their own connections).

The child takes every request waiting on the pipe, applies them in one transaction and
answers each. If the parent dies the pipe closes and the child exits after its current
transaction; nothing is acknowledged that was not committed.
"""

from __future__ import annotations

import itertools
import logging
import multiprocessing
import queue
import threading
import time
from collections.abc import Sequence
from concurrent.futures import Future
from multiprocessing.connection import Connection
from typing import Any

from .. import logs
from ..config import TracingSettings
from ..domain.errors import StoreUnavailable
from ..logs import LogSetup
from ..runtime import tune_gc
from ..tracing import Tracing
from .documents import DocumentResult, TicketPolicy
from .ingest import (
    PASS_THROUGH,
    Answer,
    AnyDocument,
    BatchRejected,
    BatchResult,
    EventResult,
    Status,
    WriterItem,
    decode_batch,
    prepare,
)
from .log_context import group_context
from .reservations import Command, Outcome
from .returns import ReturnPolicy
from .transfers import TransferPolicy

log = logging.getLogger(__name__)

_Wire = tuple[str | None, str | None, str, str | None, str | None, str | None]


def _to_wire(result: Answer) -> list[_Wire] | Outcome | DocumentResult:
    if not isinstance(result, BatchResult):
        return result  # a command's answer travels as it is (pickled)
    return [
        (r.event_id, r.source, r.status.value, r.reason, r.detail, r.field) for r in result.results
    ]


def _from_wire(rows: list[_Wire] | Outcome | DocumentResult) -> Answer:
    if not isinstance(rows, list):
        return rows
    return BatchResult([EventResult(a, b, Status(c), d, e, f) for a, b, c, d, e, f in rows])


def _child(
    conn: Connection,
    database_url: str,
    max_events: int,
    expiry_interval: float,
    change_feed_retention: float,
    tickets: TicketPolicy | None = None,
    returns: ReturnPolicy | None = None,
    transfers: TransferPolicy | None = None,
    tracing: TracingSettings | None = None,
    logging_setup: LogSetup | None = None,
) -> None:
    from .bootstrap import open_store

    # A spawned process starts with no log configuration: its lines would be plain text,
    # unredacted; they get the parent's JSON chain and secrets instead.
    if logging_setup is not None:
        logging_setup.apply()
    from .clock import SystemClock
    from .ingest import IngestService

    store = open_store(database_url)
    ingest = IngestService(
        store,
        SystemClock(),
        change_feed_retention_seconds=change_feed_retention,
        tickets=tickets,
        returns=returns,
        transfers=transfers,
        tracing=Tracing.from_settings(tracing or TracingSettings()),
    )
    # A spawned interpreter starts with the default collector thresholds: the ingest
    # transaction's short-lived objects would set it off every few hundred allocations.
    tune_gc()
    next_tick = time.monotonic() + expiry_interval
    try:
        while True:
            # Expiry and freshness run on time even while requests keep coming.
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + expiry_interval
                ingest.housekeeping()
            if not conn.poll(max(0.0, next_tick - time.monotonic())):
                continue
            group: list[tuple[int, Sequence[Any] | Command | AnyDocument]] = []
            parents: list[str | None] = []
            size = 0
            while True:
                message = conn.recv()
                if message is None:
                    return
                rid, raws, limit, parent = message
                if isinstance(raws, bytes):
                    # A request body, decoded here so the server process does no per-event work.
                    raws = decode_batch(raws, limit)
                    if isinstance(raws, BatchRejected):
                        conn.send(("rejected", rid, raws))
                        if conn.poll(0):
                            continue
                        break
                group.append((rid, raws))
                parents.append(parent)
                size += 1 if isinstance(raws, PASS_THROUGH) else len(raws)
                if size >= max_events or not conn.poll(0):
                    break
            if not group:
                continue
            items: list[WriterItem] = [
                raws if isinstance(raws, PASS_THROUGH) else prepare(raws) for _, raws in group
            ]
            try:
                results = ingest.run_group(items, parents)
            except Exception as e:
                with group_context(items):
                    log.exception("ingest transaction failed")
                conn.send(("failed", [rid for rid, _ in group], f"{type(e).__name__}: {e}"))
                continue
            conn.send(
                ("done", [(rid, _to_wire(r)) for (rid, _), r in zip(group, results, strict=True)])
            )
    except (EOFError, BrokenPipeError, KeyboardInterrupt):
        return  # the parent is gone
    finally:
        ingest.tracing.shutdown()
        store.close()


class ProcessWriter:
    """Same interface as GroupCommitWriter: `submit(raws) -> Future[BatchResult]`."""

    def __init__(
        self,
        database_url: str,
        max_events: int = 20_000,
        expiry_interval: float = 1.0,
        change_feed_retention: float = 600.0,
        tickets: TicketPolicy | None = None,
        returns: ReturnPolicy | None = None,
        transfers: TransferPolicy | None = None,
        tracing: TracingSettings | None = None,
    ) -> None:
        self.database_url = database_url
        self.tracing = tracing or TracingSettings()
        self.tickets = tickets
        self.returns = returns
        self.transfers = transfers
        self.change_feed_retention = change_feed_retention
        self.max_events = max_events
        self.expiry_interval = expiry_interval
        self.commits = 0
        self.requests = 0
        self._ids = itertools.count(1)
        self._pending: dict[int, Future[Any]] = {}
        self._outgoing: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._sending: threading.Thread | None = None
        self._conn: Connection | None = None
        self._process: Any = None
        self._receiver: threading.Thread | None = None

    def start(self) -> None:
        if self._process is not None:
            return
        ctx = multiprocessing.get_context("spawn")
        parent, child = ctx.Pipe()
        self._process = ctx.Process(
            target=_child,
            args=(
                child,
                self.database_url,
                self.max_events,
                self.expiry_interval,
                self.change_feed_retention,
                self.tickets,
                self.returns,
                self.transfers,
                self.tracing,
                logs.active(),
            ),
            name="stockbridge-writer",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._conn = parent
        self._receiver = threading.Thread(target=self._receive, name="writer-replies", daemon=True)
        self._receiver.start()
        self._sending = threading.Thread(target=self._sender, name="writer-requests", daemon=True)
        self._sending.start()

    def submit(self, raws: Sequence[Any]) -> Future[BatchResult]:
        return self._send(list(raws), 0)  # type: ignore[return-value]

    def submit_body(self, body: bytes, max_events: int) -> Future[BatchResult | BatchRejected]:
        """Send a request body as it came; the child decodes and checks it."""
        return self._send(body, max_events)

    def submit_command(self, command: Command) -> Future[Outcome]:
        """Send a reservation command; the child decides it in its next group commit."""
        return self._send(command, 0)

    def submit_document(self, command: AnyDocument) -> Future[DocumentResult]:
        """Send a document command; the child commits it with its events."""
        return self._send(command, 0)

    def _send(self, payload: list[Any] | bytes | Command | AnyDocument, limit: int) -> Future[Any]:
        future: Future[Any] = Future()
        if self._conn is None:
            future.set_exception(StoreUnavailable("the ingest writer is not running"))
            return future
        rid = next(self._ids)
        self._pending[rid] = future
        # Handed to the sender thread: a pipe write blocks while the child is busy
        # committing, and the caller may be the server's event loop.
        # The caller's span, for the child's transaction span to link to.
        parent = Tracing.traceparent() if self.tracing.enabled else None
        self._outgoing.put((rid, payload, limit, parent))
        return future

    def _sender(self) -> None:
        assert self._conn is not None
        while True:
            message = self._outgoing.get()
            try:
                self._conn.send(message)
            except (OSError, ValueError) as e:
                if message is None:
                    return
                future = self._pending.pop(message[0], None)
                if future is not None:
                    future.set_exception(StoreUnavailable(f"the ingest writer is gone: {e}"))
                continue
            if message is None:
                return

    def _receive(self) -> None:
        assert self._conn is not None
        while True:
            try:
                message = self._conn.recv()
            except (EOFError, OSError):
                break
            if message[0] == "done":
                self.commits += 1
                self.requests += len(message[1])
                for rid, rows in message[1]:
                    future = self._pending.pop(rid, None)
                    if future is not None:
                        future.set_result(_from_wire(rows))
            elif message[0] == "rejected":
                future = self._pending.pop(message[1], None)
                if future is not None:
                    future.set_result(message[2])
            else:
                _, rids, why = message
                for rid in rids:
                    future = self._pending.pop(rid, None)
                    if future is not None:
                        future.set_exception(StoreUnavailable(f"ingest failed: {why}"))
        for future in list(self._pending.values()):
            future.set_exception(StoreUnavailable("the ingest writer stopped"))
        self._pending.clear()

    def stop(self) -> None:
        if self._process is None:
            return
        assert self._conn is not None
        self._outgoing.put(None)  # after every request already handed over
        if self._sending is not None:
            self._sending.join(timeout=30)
        self._process.join(timeout=30)
        if self._process.is_alive():
            self._process.kill()
        self._conn.close()
        if self._receiver is not None:
            self._receiver.join(timeout=5)
        self._process = None
        self._conn = None
