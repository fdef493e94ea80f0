"""What a delivery becomes in Square: InventoryChange objects for BatchChangeInventory.

Pure. An availability push is a PHYSICAL_COUNT of the channel's value in IN_STOCK at
the channel's Square location. A posting is an ADJUSTMENT between states (a count, a
PHYSICAL_COUNT). Square refuses an `occurred_at` more than 24 hours old: a count, being
absolute, is re-dated to the oldest instant Square accepts; a movement (a delta) is
refused instead, because re-dating it could book it after a later count.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from .config import SquareTargetSettings
from .protocol import IN_STOCK, parse_time, quantity_text, rfc3339

#: How far inside Square's window a re-dated count is put, for clock differences.
WINDOW_MARGIN = timedelta(minutes=5)

#: Posting movement -> (from_state, to_state) for a positive quantity.
_MOVES: dict[str, tuple[str, str]] = {
    "sale": (IN_STOCK, "SOLD"),
    "fulfil": (IN_STOCK, "SOLD"),
    "receipt": ("NONE", IN_STOCK),
    "transfer_in": ("NONE", IN_STOCK),
    "transfer_out": (IN_STOCK, "NONE"),
}


@dataclass(frozen=True, slots=True)
class Planned:
    """The changes to send for one delivery (none: nothing for Square to book)."""

    changes: list[dict[str, Any]] = field(default_factory=list)
    #: The count's time was moved into Square's window.
    redated: bool = False


@dataclass(frozen=True, slots=True)
class Refused:
    """The delivery cannot be expressed in Square: it goes to the exception queue."""

    reason: str


def plan(payload: Any, settings: SquareTargetSettings, now: datetime) -> Planned | Refused:
    kind = payload.get("type") if isinstance(payload, dict) else None
    if kind == "availability":
        return _availability(payload, settings, now)
    if kind == "posting":
        return _posting(payload, settings, now)
    return Refused(f"a Square target takes availability pushes and postings, not {kind!r}")


def _decimal(value: object) -> Decimal | None:
    try:
        q = Decimal(str(value))
    except InvalidOperation:
        return None
    return q if q.is_finite() else None


def _oldest(settings: SquareTargetSettings, now: datetime) -> datetime:
    return now - timedelta(hours=settings.occurred_at_window_hours) + WINDOW_MARGIN


def _availability(
    payload: dict[str, Any], settings: SquareTargetSettings, now: datetime
) -> Planned | Refused:
    channel, sku = payload.get("channel"), payload.get("sku")
    location = settings.channels.get(str(channel))
    if location is None:
        return Refused(f"channel {channel!r} has no Square location (platform.channels)")
    catalog_id = settings.catalog.get(str(sku))
    if catalog_id is None:
        return Refused(f"SKU {sku!r} has no Square catalog object ({settings.catalog_hint})")
    available = _decimal(payload.get("available"))
    at = parse_time(payload.get("computed_at"))
    if available is None or at is None:
        return Refused("availability push without a valid available or computed_at")
    redated = False
    oldest = _oldest(settings, now)
    if at < oldest:
        at, redated = oldest, True
    elif at > now:
        at = now
    count = {
        "catalog_object_id": catalog_id,
        "state": IN_STOCK,
        "location_id": location,
        "quantity": quantity_text(max(available, Decimal(0))),
        "occurred_at": rfc3339(at),
    }
    return Planned([{"type": "PHYSICAL_COUNT", "physical_count": count}], redated)


def _states(movement: str, quantity: Decimal, condition: object) -> tuple[str, str] | None:
    """From and to state of a movement of `quantity` (positive), or None: not IN_STOCK."""
    if movement in _MOVES:
        return _MOVES[movement]
    if movement == "adjustment":
        return ("NONE", IN_STOCK) if quantity > 0 else (IN_STOCK, "WASTE")
    if movement == "return":
        # Units returned in another condition are not sellable stock.
        return ("NONE", IN_STOCK) if condition in (None, "sellable") else None
    if movement == "status_change":
        return ("NONE", IN_STOCK) if condition == "sellable" else (IN_STOCK, "WASTE")
    return None


def _posting(
    payload: dict[str, Any], settings: SquareTargetSettings, now: datetime
) -> Planned | Refused:
    if payload.get("source") in settings.skip_sources:
        return Planned()
    location = settings.locations.get(str(payload.get("location")))
    if location is None:
        return Planned()  # not a Square location
    sku = payload.get("sku")
    catalog_id = settings.catalog.get(str(sku))
    if catalog_id is None:
        return Refused(f"SKU {sku!r} has no Square catalog object ({settings.catalog_hint})")
    quantity = _decimal(payload.get("quantity"))
    at = parse_time(payload.get("occurred_at"))
    if quantity is None or at is None:
        return Refused("posting without a valid quantity or occurred_at")
    if at < _oldest(settings, now):
        return Refused(
            f"the movement of {rfc3339(at)} is older than Square accepts "
            f"({settings.occurred_at_window_hours:g} h): book it in Square by hand"
        )
    at = min(at, now)
    movement = str(payload.get("movement"))
    reference = str(payload.get("document_number") or "")[:255] or None
    if movement == "count":
        count = {
            "catalog_object_id": catalog_id,
            "state": IN_STOCK,
            "location_id": location,
            "quantity": quantity_text(max(quantity, Decimal(0))),
            "occurred_at": rfc3339(at),
        }
        if reference:
            count["reference_id"] = reference
        return Planned([{"type": "PHYSICAL_COUNT", "physical_count": count}])
    states = _states(movement, quantity, payload.get("condition"))
    amount = quantity_text(abs(quantity))
    if states is None or Decimal(amount) == 0:
        return Planned()
    adjustment = {
        "catalog_object_id": catalog_id,
        "from_state": states[0],
        "to_state": states[1],
        "location_id": location,
        "quantity": amount,
        "occurred_at": rfc3339(at),
    }
    if reference:
        adjustment["reference_id"] = reference
    return Planned([{"type": "ADJUSTMENT", "adjustment": adjustment}])
