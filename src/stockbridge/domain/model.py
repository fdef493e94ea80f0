"""The canonical model: events, master data and positions (DESIGN §3).

Quantities are `Decimal` in the item's base unit. Times are aware UTC datetimes
at the edges and integer microseconds since the epoch inside the ledger, so that
ordering and range reads are exact and cheap.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from .correlation import event_correlation_id


class EventType(StrEnum):
    SALE = "sale"
    RETURN = "return"
    RECEIPT = "receipt"
    TRANSFER_OUT = "transfer_out"
    TRANSFER_IN = "transfer_in"
    ADJUSTMENT = "adjustment"
    COUNT = "count"
    RESERVE = "reserve"
    RELEASE = "release"
    FULFIL = "fulfil"
    STATUS_CHANGE = "status_change"


#: Return condition that puts units straight back into sellable stock.
SELLABLE = "sellable"
ZERO = Decimal(0)
#: Quantities are kept to six decimal places (grams of a kilo, millilitres of a litre).
QUANTITY_PLACES = 6
QUANTITY_SCALE = 10**QUANTITY_PLACES
#: Largest quantity in base units: stored as a 64-bit count of millionths, with headroom
#: for sums.
MAX_BASE_QUANTITY = Decimal(10**12)


class LocationKind(StrEnum):
    STORE = "store"
    DC = "dc"
    THREE_PL = "3pl"


def to_micros(at: datetime) -> int:
    """Aware datetime -> integer microseconds since the Unix epoch (UTC)."""
    delta = at - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(us: int) -> datetime:
    return _EPOCH + timedelta(microseconds=us)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class EventKey(NamedTuple):
    """Identity and idempotency key of an event: the source's own id within that source."""

    source: str
    event_id: str

    def __str__(self) -> str:
        return f"{self.source}/{self.event_id}"


@dataclass(slots=True)
class Event:
    """One accepted inventory fact, mapped to enterprise codes and the item's base unit.

    Immutable by convention; not `frozen` because frozen construction costs three times
    as much and every ingested event builds one.
    """

    key: EventKey
    type: EventType
    sku: str
    location: str
    quantity: Decimal
    occurred_us: int
    payload_hash: str
    reservation_id: str | None = None
    expires_us: int | None = None
    condition: str | None = None
    counterparty_location: str | None = None
    reference: str | None = None
    reason: str | None = None
    #: As the source sent it; None when it sent none (see `correlation`).
    correlation_id: str | None = None

    @property
    def correlation(self) -> str:
        """The id its consequences are traced by: the source's, else one from its key."""
        return self.correlation_id or event_correlation_id(self.key.source, self.key.event_id)

    @property
    def order(self) -> tuple[int, str, str]:
        """Total order used to break ties between counts and between reserves."""
        return (self.occurred_us, self.key.source, self.key.event_id)


@dataclass(frozen=True, slots=True)
class Item:
    sku: str
    base_uom: str = "EA"
    gtin: str | None = None
    category: str | None = None
    conversions: dict[str, Decimal] = field(default_factory=dict)
    safety_stock: Decimal = ZERO
    description: str | None = None
    #: Cost of one base unit, in the ledger's currency; values drift in reconciliation.
    unit_cost: Decimal | None = None

    def factor(self, uom: str | None) -> Decimal | None:
        """How many base units one `uom` holds; None when the unit is unknown."""
        if uom is None or uom == self.base_uom:
            return Decimal(1)
        return self.conversions.get(uom)


@dataclass(frozen=True, slots=True)
class Location:
    code: str
    kind: LocationKind = LocationKind.STORE
    timezone: str = "UTC"
    name: str | None = None
    #: Longest silence (no event, no heartbeat) before channels stop trusting its stock.
    freshness_sla_seconds: float | None = None


class XrefKind(StrEnum):
    ITEM = "item"
    LOCATION = "location"


@dataclass(frozen=True, slots=True)
class Xref:
    """A source's own code for an item or a location, pointing at the enterprise code."""

    source: str
    kind: XrefKind
    external_code: str
    code: str


@dataclass(slots=True)
class Position:
    """Stock of one SKU at one location.

    `count_order` is the anchor: the order key of the latest count applied, or None.
    On hand is that count's quantity plus every on-hand delta that occurred after it.
    """

    sku: str
    location: str
    on_hand: Decimal = ZERO
    non_sellable: Decimal = ZERO
    reserved: Decimal = ZERO
    in_transit: Decimal = ZERO
    count_order: tuple[int, str, str] | None = None

    def available(self, safety_stock: Decimal = ZERO) -> Decimal:
        # Non-sellable may dip below zero while status changes arrive out of order; it
        # never makes units sellable that on hand does not have.
        held = max(ZERO, self.non_sellable) + self.reserved + safety_stock
        return max(ZERO, self.on_hand - held)

    def quantities(self) -> tuple[Decimal, Decimal, Decimal, Decimal]:
        return (self.on_hand, self.non_sellable, self.reserved, self.in_transit)


class ReservationState(StrEnum):
    OPEN = "open"
    RELEASED = "released"
    FULFILLED = "fulfilled"
    EXPIRED = "expired"


@dataclass(slots=True)
class Reservation:
    """A reservation's state machine.

    A reservation may be known first by its terminal event (release/fulfil seen before
    the reserve); then `reserve_order` is None and the state is already terminal, so a
    late reserve is recorded but holds nothing. `holding` says whether its quantity
    currently counts in the position's `reserved`.
    """

    reservation_id: str
    state: ReservationState
    sku: str | None = None
    location: str | None = None
    quantity: Decimal = ZERO
    expires_us: int | None = None
    reserve_order: tuple[int, str, str] | None = None
    holding: bool = False
