"""The ledger fold: events -> positions, obeying the laws of DESIGN §4.

Pure code. The caller loads the positions and reservations an event set touches, hands
them to a `LedgerBatch`, applies the events and saves what changed. The only history the
fold ever needs is the sum of on-hand deltas after an instant, for a count that becomes
the new anchor; the caller provides it through `History`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from .model import (
    SELLABLE,
    ZERO,
    Event,
    EventType,
    Position,
    Reservation,
    ReservationState,
)

PositionKey = tuple[str, str]


class History(Protocol):
    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        """Sum of recorded on-hand deltas at (sku, location) that occurred strictly after."""
        ...


@dataclass(slots=True)
class Entry:
    """What the ledger records for an event: the event and its raw on-hand delta.

    The delta is recorded whether or not a count anchor superseded it, so that a later
    count can sum the deltas after its own instant.
    """

    event: Event
    on_hand_delta: Decimal


_ON_HAND_SIGN: dict[EventType, int] = {
    EventType.SALE: -1,
    EventType.RETURN: 1,
    EventType.RECEIPT: 1,
    EventType.ADJUSTMENT: 1,
    EventType.TRANSFER_OUT: -1,
    EventType.TRANSFER_IN: 1,
    EventType.FULFIL: -1,
}

_TERMINAL: dict[EventType, ReservationState] = {
    EventType.RELEASE: ReservationState.RELEASED,
    EventType.FULFIL: ReservationState.FULFILLED,
}

_NOT_CLOSED = (ReservationState.OPEN, ReservationState.EXPIRED)


def on_hand_delta(event: Event) -> Decimal:
    sign = _ON_HAND_SIGN.get(event.type)
    return event.quantity * sign if sign is not None else ZERO


class LedgerBatch:
    """Applies events to a working set of positions and reservations.

    `positions` and `reservations` hold the current state of everything the events may
    touch (missing positions start at zero). `now_us` decides whether a reservation has
    already expired. After applying, `changed_positions` and `changed_reservations`
    name what the caller must save.
    """

    def __init__(
        self,
        positions: dict[PositionKey, Position],
        reservations: dict[str, Reservation],
        history: History,
        now_us: int,
    ) -> None:
        self.positions = positions
        self.reservations = reservations
        self.history = history
        self.now_us = now_us
        self.changed_positions: set[PositionKey] = set()
        self.changed_reservations: set[str] = set()
        # On-hand deltas applied in this batch and not yet visible through `history`.
        self._batch_deltas: dict[PositionKey, list[tuple[int, Decimal]]] = {}

    def position(self, sku: str, location: str) -> Position:
        key = (sku, location)
        pos = self.positions.get(key)
        if pos is None:
            pos = self.positions[key] = Position(sku, location)
        self.changed_positions.add(key)
        return pos

    def apply_all(self, events: Iterable[Event]) -> list[Entry]:
        return [self.apply(e) for e in events]

    def apply(self, event: Event) -> Entry:
        # A position exists once an event names it, whatever the event did: so which
        # positions exist depends on the event set, not on the order of arrival.
        self.position(event.sku, event.location)
        kind = event.type
        delta = on_hand_delta(event)
        if kind is EventType.COUNT:
            self._count(event)
        elif kind is EventType.RESERVE:
            self._reserve(event)
        elif kind in _TERMINAL:
            self._close(event, _TERMINAL[kind])
        elif kind is EventType.RETURN:
            if event.condition not in (None, SELLABLE):
                self.position(event.sku, event.location).non_sellable += event.quantity
        elif kind is EventType.STATUS_CHANGE:
            sign = -1 if event.condition == SELLABLE else 1
            self.position(event.sku, event.location).non_sellable += sign * event.quantity
        elif kind is EventType.TRANSFER_OUT and event.counterparty_location is not None:
            self.position(event.sku, event.counterparty_location).in_transit += event.quantity
        elif kind is EventType.TRANSFER_IN:
            self.position(event.sku, event.location).in_transit -= event.quantity
        if delta:
            self._on_hand(event, delta)
        return Entry(event, delta)

    def _on_hand(self, event: Event, delta: Decimal) -> None:
        pos = self.position(event.sku, event.location)
        # A delta at or before the count anchor is already inside that count.
        if pos.count_order is None or event.occurred_us > pos.count_order[0]:
            pos.on_hand += delta
        self._batch_deltas.setdefault((event.sku, event.location), []).append(
            (event.occurred_us, delta)
        )

    def _count(self, event: Event) -> None:
        pos = self.position(event.sku, event.location)
        if pos.count_order is not None and event.order <= pos.count_order:
            return  # an older count: recorded, superseded
        after = event.occurred_us
        later = self.history.on_hand_deltas_after(event.sku, event.location, after)
        for occurred_us, delta in self._batch_deltas.get((event.sku, event.location), ()):
            if occurred_us > after:
                later += delta
        pos.on_hand = event.quantity + later
        pos.count_order = event.order

    def _holds(self, expires_us: int | None) -> bool:
        return expires_us is None or self.now_us < expires_us

    def _reserve(self, event: Event) -> None:
        rid = event.reservation_id
        assert rid is not None  # guaranteed by intake validation
        res = self.reservations.get(rid)
        if res is None:
            res = self.reservations[rid] = Reservation(rid, ReservationState.OPEN)
        elif res.reserve_order is not None and res.reserve_order <= event.order:
            return  # a second reserve for the same id: the earliest one stands
        self._unhold(res)
        res.sku, res.location, res.quantity = event.sku, event.location, event.quantity
        res.expires_us, res.reserve_order = event.expires_us, event.order
        if res.state in _NOT_CLOSED:
            if self._holds(res.expires_us):
                res.state = ReservationState.OPEN
                self._hold(res)
            else:
                res.state = ReservationState.EXPIRED
        self.changed_reservations.add(rid)

    def _close(self, event: Event, state: ReservationState) -> None:
        rid = event.reservation_id
        assert rid is not None
        res = self.reservations.get(rid)
        if res is None:
            # Closed before its reserve arrived: remembered, the late reserve will be inert.
            res = self.reservations[rid] = Reservation(rid, state)
        elif res.state in _NOT_CLOSED:
            self._unhold(res)
            res.state = state
        else:
            return  # already closed: terminal states do not move
        self.changed_reservations.add(rid)

    def expire(self, reservation: Reservation) -> None:
        """Release a reservation whose `expires_at` has passed."""
        if reservation.state is ReservationState.OPEN and not self._holds(reservation.expires_us):
            self._unhold(reservation)
            reservation.state = ReservationState.EXPIRED
            self.changed_reservations.add(reservation.reservation_id)

    def _hold(self, res: Reservation) -> None:
        assert res.sku is not None and res.location is not None
        self.position(res.sku, res.location).reserved += res.quantity
        res.holding = True

    def _unhold(self, res: Reservation) -> None:
        if res.holding:
            assert res.sku is not None and res.location is not None
            self.position(res.sku, res.location).reserved -= res.quantity
            res.holding = False


class _NoHistory:
    """History before the first event of a full re-fold: there is none."""

    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        return ZERO


def fold(events: Iterable[Event], now_us: int) -> dict[PositionKey, Position]:
    """Positions from a complete set of events, by the same laws as the live ledger.

    The events are applied in their total order; the laws make the result independent of
    it. `now_us` decides which reservations have expired. Used for positions as of a past
    instant: pass the events that occurred at or before it, and that instant as `now_us`.
    """
    batch = LedgerBatch({}, {}, _NoHistory(), now_us)
    batch.apply_all(sorted(events, key=lambda e: e.order))
    return batch.positions
