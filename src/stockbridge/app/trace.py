"""Traces: one correlation id followed from the source events to every delivery attempt.

A read model over what the ingest transaction and the dispatcher already record: the
events carrying the id, what each did to its positions, the deliveries queued for them
(found through `delivery_correlations`, never by reading payloads) and every attempt,
with the latency of each hop.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from ..domain.correlation import trace_id_for
from ..domain.model import from_micros
from ..domain.orders import order_number
from ..domain.tickets import ticket_correlation_id
from .ports import Delivery, Store, StoredEvent
from .queries import explain

#: Most events and deliveries one trace shows; a trace that hits it says so.
TRACE_LIMIT = 500


def _ms(later_us: int | None, earlier_us: int | None) -> float | None:
    """Milliseconds between two instants; None when either is unknown.

    Never negative: a push already waiting when the event came took the event's value in,
    so it was queued, for that event, the moment the event was recorded.
    """
    if later_us is None or earlier_us is None:
        return None
    return max(0, later_us - earlier_us) / 1000


@dataclass(frozen=True, slots=True)
class LedgerEffect:
    """What an event did to one position."""

    sku: str
    location: str
    on_hand_delta: Decimal
    in_transit_delta: Decimal
    #: A later count had already fixed on hand: recorded, but it moved nothing.
    superseded_by_count: bool


@dataclass(frozen=True, slots=True)
class TraceEvent:
    source: str
    event_id: str
    type: str
    sku: str
    location: str
    quantity: Decimal
    reference: str | None
    occurred_at: datetime
    recorded_at: datetime
    #: Hop 1: from the fact at the source to the ledger.
    occurred_to_recorded_ms: float
    effects: list[LedgerEffect]


@dataclass(frozen=True, slots=True)
class TraceAttempt:
    at: datetime
    status: int | None
    verdict: str
    duration_ms: float
    error: str | None
    #: From the delivery being queued to this attempt's end.
    queued_to_attempt_ms: float | None


@dataclass(frozen=True, slots=True)
class TraceDelivery:
    id: int
    target: str
    kind: str
    key: str
    idempotency_key: str
    state: str
    #: The events (source/event_id) behind it that belong to this trace.
    events: list[str]
    created_at: datetime
    delivered_at: datetime | None
    #: Hop 2: from the first of its events recorded to the delivery queued.
    recorded_to_queued_ms: float | None
    #: Hop 3: from queued to accepted by the target (None until delivered).
    queued_to_delivered_ms: float | None
    #: End to end: from the first of its events at the source to the target.
    occurred_to_delivered_ms: float | None
    attempts: list[TraceAttempt]


@dataclass(frozen=True, slots=True)
class Trace:
    correlation_id: str
    #: The W3C trace id outbound calls of this correlation id carry when tracing is off.
    trace_id: str
    events: list[TraceEvent]
    deliveries: list[TraceDelivery]
    #: Every delivery accepted by its target.
    complete: bool
    #: More events or deliveries than a trace shows (the oldest are shown).
    truncated: bool


def _effects(
    event: StoredEvent, anchors: dict[tuple[str, str], tuple[int, str, str] | None]
) -> list[LedgerEffect]:
    places = [event.location]
    if event.type == "transfer_out" and event.counterparty_location:
        places.append(event.counterparty_location)
    out = []
    for location in places:
        seen = explain(event, location, anchors.get((event.sku, location)))
        out.append(
            LedgerEffect(
                event.sku,
                location,
                seen["on_hand_delta"],
                seen["in_transit_delta"],
                seen["superseded_by_count"],
            )
        )
    return out


def _attempt(row: dict[str, Any], created_us: int) -> TraceAttempt:
    return TraceAttempt(
        from_micros(row["at_us"]),
        row["status"],
        row["verdict"],
        row["duration_ms"],
        row["error"],
        _ms(row["at_us"], created_us),
    )


def _delivery(
    d: Delivery, events: dict[str, StoredEvent], attempts: list[dict[str, Any]]
) -> TraceDelivery:
    mine = [key for key in d.causes if key in events]
    # A document posted later (a daily settlement) names no events: it answers for all.
    behind = [events[k] for k in mine] or list(events.values())
    recorded = min((e.recorded_us for e in behind), default=None)
    occurred = min((e.occurred_us for e in behind), default=None)
    return TraceDelivery(
        d.id,
        d.target,
        d.kind,
        d.key,
        d.idempotency_key,
        d.state,
        mine,
        from_micros(d.created_us),
        from_micros(d.delivered_us) if d.delivered_us is not None else None,
        _ms(d.created_us, recorded),
        _ms(d.delivered_us, d.created_us),
        _ms(d.delivered_us, occurred),
        [_attempt(a, d.created_us) for a in attempts],
    )


class TraceQueries:
    """Finds traces by correlation id, or by the ticket, order or event behind one."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def trace(self, correlation_id: str) -> Trace | None:
        """The chain of one correlation id; None when nothing carries it."""
        stored = self.store.events_by_correlation(correlation_id, TRACE_LIMIT + 1)
        deliveries = self.store.deliveries_by_correlation(correlation_id, TRACE_LIMIT + 1)
        if not stored and not deliveries:
            return None
        truncated = len(stored) > TRACE_LIMIT or len(deliveries) > TRACE_LIMIT
        stored, deliveries = stored[:TRACE_LIMIT], deliveries[:TRACE_LIMIT]
        anchors = self._anchors(stored)
        events = [
            TraceEvent(
                e.source,
                e.event_id,
                e.type,
                e.sku,
                e.location,
                e.quantity,
                e.reference,
                from_micros(e.occurred_us),
                from_micros(e.recorded_us),
                max(0, e.recorded_us - e.occurred_us) / 1000,
                _effects(e, anchors),
            )
            for e in stored
        ]
        by_key = {f"{e.source}/{e.event_id}": e for e in stored}
        attempts = self.store.attempts_of([d.id for d in deliveries])
        shown = [_delivery(d, by_key, attempts[d.id]) for d in deliveries]
        return Trace(
            correlation_id,
            trace_id_for(correlation_id),
            events,
            shown,
            bool(shown) and all(d.state == "delivered" for d in shown),
            truncated,
        )

    def _anchors(
        self, events: list[StoredEvent]
    ) -> dict[tuple[str, str], tuple[int, str, str] | None]:
        keys = {(e.sku, e.location) for e in events}
        keys.update(
            (e.sku, e.counterparty_location)
            for e in events
            if e.type == "transfer_out" and e.counterparty_location
        )
        out: dict[tuple[str, str], tuple[int, str, str] | None] = {}
        for sku, location in sorted(keys):
            position = self.store.position(sku, location)
            out[(sku, location)] = position.count_order if position is not None else None
        return out

    # --- what a trace can be found by ------------------------------------------------------
    def of_event(self, source: str, event_id: str) -> str | None:
        """The correlation id an event carries (its source's or the one from its key);
        None for an unknown event."""
        event = self.store.event(source, event_id)
        return event.correlation_id if event is not None else None

    def of_ticket(self, source: str, ticket_number: str) -> str | None:
        if self.store.ticket(source, ticket_number) is None:
            return None
        return ticket_correlation_id(source, ticket_number)

    def of_order(self, channel: str, order_id: str) -> str | None:
        if self.store.order(channel, order_id) is None:
            return None
        return order_number(channel, order_id)
