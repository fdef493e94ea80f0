"""Read models: positions with available-to-sell, and the events that explain them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..domain.ledger import fold
from ..domain.model import ZERO, Position, from_micros
from .ingest import MasterCache
from .ports import Store, StoredEvent
from .read_cache import PositionCache


@dataclass(frozen=True, slots=True)
class PositionView:
    sku: str
    location: str
    on_hand: Decimal
    non_sellable: Decimal
    reserved: Decimal
    in_transit: Decimal
    safety_stock: Decimal
    available: Decimal

    @classmethod
    def of(cls, pos: Position, safety_stock: Decimal) -> PositionView:
        return cls(
            pos.sku,
            pos.location,
            pos.on_hand,
            pos.non_sellable,
            pos.reserved,
            pos.in_transit,
            safety_stock,
            pos.available(safety_stock),
        )


def explain(
    event: StoredEvent, location: str, anchor: tuple[int, str, str] | None
) -> dict[str, Any]:
    """An event as the history of `location` shows it, with what it did there.

    A transfer shipped from elsewhere to `location` moved in-transit stock here; its
    on-hand change belongs to the sending location.
    """
    inbound = event.location != location
    on_hand_delta = ZERO if inbound else event.on_hand_delta
    in_transit_delta = (
        event.quantity if inbound else -event.quantity if event.type == "transfer_in" else ZERO
    )
    is_anchor = anchor is not None and (event.occurred_us, event.source, event.event_id) == anchor
    superseded = (
        anchor is not None
        and event.type != "count"
        and on_hand_delta != 0
        and event.occurred_us <= anchor[0]
    )
    return {
        "source": event.source,
        "event_id": event.event_id,
        "type": event.type,
        "sku": event.sku,
        "location": event.location,
        "counterparty_location": event.counterparty_location,
        "quantity": event.quantity,
        "on_hand_delta": on_hand_delta,
        "in_transit_delta": in_transit_delta,
        "occurred_at": from_micros(event.occurred_us),
        "recorded_at": from_micros(event.recorded_us),
        "reservation_id": event.reservation_id,
        "condition": event.condition,
        "reference": event.reference,
        "reason": event.reason,
        "correlation_id": event.correlation_id,
        "count_anchor": is_anchor,
        "superseded_by_count": superseded,
    }


def position_as_of(store: Store, sku: str, location: str, as_of_us: int) -> Position:
    """The position at an instant: the events that occurred by then, folded by the
    ledger's own laws, with reservations expired as they would have been then.

    Events are taken as the hub knows them now: one that occurred before the instant but
    arrived after it counts (the answer is what the position was, not what the hub
    showed at the time).
    """
    folded = fold(store.events_as_of(sku, location, as_of_us), as_of_us)
    return folded.get((sku, location)) or Position(sku, location)


class PositionQueries:
    def __init__(self, store: Store, master: MasterCache, cache: PositionCache) -> None:
        self.store = store
        self.master = master
        self.cache = cache

    def _safety(self, sku: str) -> Decimal:
        item = self.master.get().items.get(sku)
        return item.safety_stock if item else ZERO

    def known(self, sku: str, location: str | None = None) -> bool:
        md = self.master.get()
        return sku in md.items and (location is None or location in md.locations)

    def position(self, sku: str, location: str) -> PositionView | None:
        pos = self.cache.position(sku, location)
        if pos is None:
            if not self.known(sku, location):
                return None
            pos = Position(sku, location)
        return PositionView.of(pos, self._safety(sku))

    def as_of(self, sku: str, location: str, as_of_us: int) -> PositionView | None:
        """The position at a past instant (None for an unknown SKU or location)."""
        if not self.known(sku, location) and self.cache.position(sku, location) is None:
            return None
        return PositionView.of(
            position_as_of(self.store, sku, location, as_of_us), self._safety(sku)
        )

    def positions(self, sku: str) -> list[PositionView]:
        safety = self._safety(sku)
        return [PositionView.of(p, safety) for p in self.cache.positions(sku)]

    def history(self, sku: str, location: str, limit: int) -> list[dict[str, Any]]:
        pos = self.store.position(sku, location)
        anchor = pos.count_order if pos else None
        return [explain(e, location, anchor) for e in self.store.history(sku, location, limit)]
