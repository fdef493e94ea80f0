"""Working the business exception queue: replay after a fix, or ignore with a note."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..domain.errors import NotFound, Reason, StockbridgeError
from ..domain.model import to_micros
from . import returns, transfers
from .documents import (
    DocumentResult,
    Malformed,
    parse_cancel,
    parse_fulfil,
    parse_order,
    parse_ticket,
)
from .ingest import AnyDocument, BatchResult, EventResult, Status
from .ports import Clock, ExceptionRecord, Store

OPEN = "open"
RESOLVED = "resolved"
IGNORED = "ignored"
#: How a closed exception was closed (its `resolution`).
REPLAYED = "replayed"
MAPPING_FIXED = "mapping_fixed"
#: Who acts when nobody is named (the CLI on the hub's own machine, code).
SYSTEM_ACTOR = "system"
#: Reasons a replay cannot fix: the sender must act (see `replay`).
_NOT_REPLAYABLE = frozenset(
    {Reason.INVALID_EVENT, Reason.PRICE_MISMATCH, Reason.SLA_BREACH, Reason.RECONCILIATION_DRIFT}
)


class ExceptionNotWorkable(StockbridgeError):
    """The exception cannot take this action in its current state."""

    def __init__(self, record: ExceptionRecord, why: str) -> None:
        super().__init__(why)
        self.record = record


class CannotReplay(ExceptionNotWorkable):
    pass


@dataclass(frozen=True, slots=True)
class ReplayOutcome:
    exception: ExceptionRecord
    result: EventResult


class ExceptionService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        ingest: Callable[[Sequence[Any]], BatchResult],
        documents: Callable[[AnyDocument], DocumentResult] | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self._ingest = ingest
        self._documents = documents

    def get(self, exception_id: int) -> ExceptionRecord:
        record = self.store.exception(exception_id)
        if record is None:
            raise NotFound("exception", str(exception_id))
        return record

    def replay(
        self, exception_id: int, actor: str = SYSTEM_ACTOR, resolution: str = REPLAYED
    ) -> ReplayOutcome:
        """Run the kept payload through ingest again, after its cause was fixed; a replay
        that closes the exception records `resolution` as how it was closed."""
        record = self.get(exception_id)
        if record.status != OPEN:
            raise CannotReplay(record, f"exception {exception_id} is {record.status}, not open")
        if record.reason == Reason.INVALID_EVENT:
            raise CannotReplay(
                record, "a malformed event cannot be replayed; the source must send it corrected"
            )
        if record.reason == Reason.PRICE_MISMATCH:
            raise CannotReplay(
                record,
                "a price mismatch is a report, not an event: correct the price at the source "
                "(or re-import it), then ignore the exception with a note",
            )
        if record.reason == Reason.SLA_BREACH:
            raise CannotReplay(
                record,
                "an SLA breach is a report: it resolves itself when compliance recovers "
                "(or ignore it with a note)",
            )
        if record.reason == Reason.RECONCILIATION_DRIFT:
            raise CannotReplay(
                record,
                "a reconciliation difference is a report, not an event: correct the stock in "
                "the system that is wrong (or post a count), then ignore the exception with a "
                "note; the next run shows whether it is gone",
            )
        if record.reason in (Reason.OVER_RECEIPT, Reason.SHORT_RECEIPT):
            raise CannotReplay(
                record,
                "an over or short receipt is a declaration, already applied: settle it with "
                "the sending location, then ignore the exception with a note",
            )
        if record.reason == Reason.TARGET_REJECTED:
            return self._replay_delivery(record, actor)
        command = self._document(record)
        if command is not None:
            result = self._replay_document(record, command)
        else:
            result = self._ingest([record.payload]).results[0]
        now_us = to_micros(self.clock.now())
        said = f"replayed: {result.status.value}"
        if result.status is not Status.EXCEPTION:
            self.store.set_exception_status(exception_id, RESOLVED, said, now_us, resolution)
        elif result.reason != record.reason:
            # Parked again for another reason: that new exception carries on.
            said = f"replayed: now {result.reason}"
            self.store.set_exception_status(exception_id, RESOLVED, said, now_us, resolution)
        else:
            said = f"replayed: still {result.reason}: {result.detail}"
        self.store.add_exception_notes([(exception_id, "replayed", actor, said)], now_us)
        return ReplayOutcome(self.get(exception_id), result)

    def _document(self, record: ExceptionRecord) -> AnyDocument | None:
        """The ticket or order command an exception keeps, if it keeps one."""
        payload = record.payload
        if not isinstance(payload, dict) or self._documents is None:
            return None
        now = self.clock.now()
        parsed: AnyDocument | Malformed | None = None
        if "ticket" in payload:
            parsed = parse_ticket(payload["ticket"])
        elif "order" in payload:
            parsed = parse_order(payload["order"])
        elif "shipment" in payload:
            parsed = parse_fulfil(payload["channel"], payload["order_id"], payload["shipment"], now)
        elif "document" in payload:
            kind, document_id, body = payload["document"], payload["id"], payload["body"]
            parsed = returns.parse_kept(kind, document_id, body, now) or transfers.parse_kept(
                kind, document_id, body, now
            )
        elif "cancellation" in payload:
            parsed = parse_cancel(
                payload["channel"], payload["order_id"], payload["cancellation"], now
            )
        if isinstance(parsed, Malformed):
            raise CannotReplay(
                record, "a malformed document cannot be replayed; the source must resend it"
            )
        return parsed

    def _replay_document(self, record: ExceptionRecord, command: AnyDocument) -> EventResult:
        assert self._documents is not None
        r = self._documents(command)
        return EventResult(
            record.event_id, record.source, Status(r.status.value), r.reason, r.detail, r.field
        )

    def _replay_delivery(self, record: ExceptionRecord, actor: str) -> ReplayOutcome:
        """A target's business rejection: send the kept delivery again, after the fix."""
        now_us = to_micros(self.clock.now())
        delivery_id = int(record.event_id or 0)
        requeued = self.store.requeue([delivery_id], now_us)
        note = "delivery requeued" if requeued else "delivery superseded or already sent"
        self.store.set_exception_status(record.id, RESOLVED, note, now_us, REPLAYED)
        self.store.add_exception_notes([(record.id, "replayed", actor, note)], now_us)
        result = EventResult(record.event_id, record.source, Status.ACCEPTED, None, note)
        return ReplayOutcome(self.get(record.id), result)

    def replay_open(
        self, reason: str | None = None, source: str | None = None, actor: str = SYSTEM_ACTOR
    ) -> list[ReplayOutcome]:
        outcomes: list[ReplayOutcome] = []
        after = 0
        while True:
            page = self.store.exceptions(
                status=OPEN, reason=reason, source=source, after_id=after, limit=500
            )
            if not page:
                return outcomes
            for record in page:
                after = record.id
                if record.reason not in _NOT_REPLAYABLE:
                    outcomes.append(self.replay(record.id, actor))

    def ignore(self, exception_id: int, note: str, actor: str = SYSTEM_ACTOR) -> ExceptionRecord:
        record = self.get(exception_id)
        if record.status != OPEN:
            raise ExceptionNotWorkable(
                record, f"exception {exception_id} is {record.status}, not open"
            )
        now_us = to_micros(self.clock.now())
        self.store.set_exception_status(exception_id, IGNORED, note, now_us, IGNORED)
        self.store.add_exception_notes([(exception_id, "ignored", actor, note)], now_us)
        return self.get(exception_id)
