"""Mapping a source's codes and units onto enterprise SKUs, locations and base units."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from .errors import Reason
from .intake import ParsedEvent
from .model import MAX_BASE_QUANTITY, QUANTITY_PLACES, Event, Item, Location, Xref, XrefKind

_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)


@dataclass(frozen=True, slots=True)
class Parked:
    """An event that is well formed but cannot be trusted yet; kept until replayed."""

    reason: Reason
    detail: str
    #: The event field whose code did not map (a mapping fix replays by it).
    field: str | None = None


@dataclass(slots=True)
class MasterData:
    """A read-only snapshot of items, locations and cross references."""

    items: dict[str, Item] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    xrefs: dict[tuple[str, XrefKind, str], str] = field(default_factory=dict)
    by_gtin: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(
        cls, items: Iterable[Item], locations: Iterable[Location], xrefs: Iterable[Xref]
    ) -> MasterData:
        md = cls()
        for item in items:
            md.items[item.sku] = item
            if item.gtin:
                md.by_gtin[item.gtin] = item.sku
        md.locations = {loc.code: loc for loc in locations}
        md.xrefs = {(x.source, x.kind, x.external_code): x.code for x in xrefs}
        return md

    def sku_for(self, source: str, code: str) -> str | None:
        """The source's own item code, an enterprise SKU or a GTIN -> enterprise SKU."""
        mapped = self.xrefs.get((source, XrefKind.ITEM, code))
        if mapped is not None:
            return mapped
        if code in self.items:
            return code
        return self.by_gtin.get(code)

    def location_for(self, source: str, code: str) -> str | None:
        mapped = self.xrefs.get((source, XrefKind.LOCATION, code))
        if mapped is not None:
            return mapped
        return code if code in self.locations else None


def to_base_units(quantity: Decimal, factor: Decimal) -> Decimal | None:
    """Quantity in the base unit, or None if it is out of range or needs more than six
    decimal places."""
    base = quantity * factor
    if abs(base) > MAX_BASE_QUANTITY:
        return None
    exact = base.quantize(_QUANTUM)
    return exact if exact == base else None


def map_event(parsed: ParsedEvent, md: MasterData) -> Event | Parked:
    source = parsed.key.source
    sku = md.sku_for(source, parsed.sku)
    if sku is None:
        return Parked(Reason.UNKNOWN_SKU, f"no item or cross reference for {parsed.sku!r}", "sku")
    item = md.items.get(sku)
    if item is None:
        return Parked(Reason.UNKNOWN_SKU, f"cross reference points at unknown SKU {sku!r}", "sku")
    location = md.location_for(source, parsed.location)
    if location is None:
        return Parked(
            Reason.UNKNOWN_LOCATION,
            f"no location or cross reference for {parsed.location!r}",
            "location",
        )
    counterparty = None
    if parsed.counterparty_location is not None:
        counterparty = md.location_for(source, parsed.counterparty_location)
        if counterparty is None:
            return Parked(
                Reason.UNKNOWN_LOCATION,
                f"no location or cross reference for counterparty {parsed.counterparty_location!r}",
                "counterparty_location",
            )
    factor = item.factor(parsed.uom)
    if factor is None:
        known = ", ".join([item.base_uom, *item.conversions]) or "none"
        return Parked(Reason.UNKNOWN_UOM, f"unit {parsed.uom!r} unknown for {sku} (known: {known})")
    quantity = to_base_units(parsed.quantity, factor)
    if quantity is None:
        return Parked(
            Reason.BAD_QUANTITY,
            f"{parsed.quantity} {parsed.uom or item.base_uom} in {item.base_uom} needs more "
            f"than {QUANTITY_PLACES} decimal places or exceeds {MAX_BASE_QUANTITY:,}",
        )
    return Event(
        key=parsed.key,
        type=parsed.type,
        sku=sku,
        location=location,
        quantity=quantity,
        occurred_us=parsed.occurred_us,
        payload_hash=parsed.payload_hash,
        reservation_id=parsed.reservation_id,
        expires_us=parsed.expires_us,
        condition=parsed.condition,
        counterparty_location=counterparty,
        reference=parsed.reference,
        reason=parsed.reason,
        correlation_id=parsed.correlation_id,
    )
