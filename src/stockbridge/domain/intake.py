"""Validation of inbound events as the source sent them, before any mapping.

Hand-written rather than schema-driven because every event of a batch is judged on its
own (a bad event never fails its neighbours) and the error must name the field.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from .model import MAX_BASE_QUANTITY, EventKey, EventType, to_micros

MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 1000
#: Largest quantity accepted, in any unit; base-unit quantities are capped in mapping.
MAX_QUANTITY = MAX_BASE_QUANTITY

_REQUIRED = ("event_id", "source", "type", "sku", "location", "quantity", "occurred_at")
_OPTIONAL_TEXT = (
    "uom",
    "reservation_id",
    "condition",
    "counterparty_location",
    "reference",
    "reason",
    "correlation_id",
)
KNOWN_FIELDS = frozenset((*_REQUIRED, *_OPTIONAL_TEXT, "expires_at"))
_REQUIRED_SET = frozenset(_REQUIRED)
_TYPES = {t.value: t for t in EventType}
_NEEDS_RESERVATION = (EventType.RESERVE, EventType.RELEASE, EventType.FULFIL)


@dataclass(slots=True)
class ParsedEvent:
    """A well-formed event in the source's own codes and units (immutable by convention)."""

    key: EventKey
    type: EventType
    sku: str
    location: str
    quantity: Decimal
    uom: str | None
    occurred_us: int
    payload_hash: str
    reservation_id: str | None
    expires_us: int | None
    condition: str | None
    counterparty_location: str | None
    reference: str | None
    reason: str | None
    correlation_id: str | None
    #: The event as sent, serialised with sorted keys: what is stored and hashed.
    canonical: bytes


@dataclass(frozen=True, slots=True)
class InvalidEvent:
    """Why an event is malformed: the first offending field and a readable message."""

    field: str
    message: str
    source: str | None
    event_id: str | None


class _Invalid(Exception):
    def __init__(self, field: str, message: str) -> None:
        self.field = field
        self.message = message


def _text(raw: dict[str, Any], name: str, required: bool, limit: int = MAX_ID_LENGTH) -> str | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise _Invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(name, f"must be a string, got {type(value).__name__}")
    if not value or value.isspace():
        raise _Invalid(name, "must not be empty")
    if len(value) > limit:
        raise _Invalid(name, f"must be at most {limit} characters")
    return value


def _ok_id(value: object) -> bool:
    """Fast check of an identifier field; the slow path explains a failure."""
    return type(value) is str and 0 < len(value) <= MAX_ID_LENGTH and not value.isspace()


def _instant(raw: dict[str, Any], name: str, required: bool) -> int | None:
    value = raw.get(name)
    if value is None:
        if required:
            raise _Invalid(name, "is required")
        return None
    if not isinstance(value, str):
        raise _Invalid(name, "must be an RFC 3339 date-time string")
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise _Invalid(name, f"is not an RFC 3339 date-time: {value!r}") from None
    if at.tzinfo is None or value[10:11] not in ("T", "t"):
        raise _Invalid(name, "must be an RFC 3339 date-time with a UTC offset")
    return to_micros(at)


def _quantity(raw: dict[str, Any]) -> Decimal:
    value = raw.get("quantity")
    if value is None:
        raise _Invalid("quantity", "is required")
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise _Invalid("quantity", "must be a number")
    try:
        qty = Decimal(str(value)) if not isinstance(value, int) else Decimal(value)
    except InvalidOperation:
        raise _Invalid("quantity", f"is not a number: {value!r}") from None
    if not qty.is_finite():
        raise _Invalid("quantity", "must be finite")
    return qty


def _check_quantity(kind: EventType, qty: Decimal) -> None:
    if abs(qty) > MAX_QUANTITY:
        raise _Invalid("quantity", f"must be at most {MAX_QUANTITY:,} in absolute value")
    if kind is EventType.ADJUSTMENT:
        if qty == 0:
            raise _Invalid("quantity", "an adjustment must not be zero")
    elif kind is EventType.COUNT:
        if qty < 0:
            raise _Invalid("quantity", "a count must not be negative")
    elif qty <= 0:
        raise _Invalid("quantity", f"must be positive for a {kind.value}")


def parse_event(raw: object) -> ParsedEvent | InvalidEvent:
    """Validate one event as sent; never raises for bad input."""
    try:
        if type(raw) is not dict:
            raise _Invalid("$", "an event must be a JSON object")
        return _parse(raw)
    except _Invalid as bad:
        get = raw.get if isinstance(raw, dict) else {}.get
        source, event_id = get("source"), get("event_id")
        return InvalidEvent(
            bad.field,
            bad.message,
            source if isinstance(source, str) else None,
            event_id if isinstance(event_id, str) else None,
        )


def _parse(raw: dict[str, Any]) -> ParsedEvent:
    if not KNOWN_FIELDS.issuperset(raw):
        raise _Invalid(sorted(raw.keys() - KNOWN_FIELDS)[0], "is not a field of an event")
    get = raw.get
    event_id, source, sku, location = get("event_id"), get("source"), get("sku"), get("location")
    if not (_ok_id(event_id) and _ok_id(source) and _ok_id(sku) and _ok_id(location)):
        for name in ("event_id", "source", "type", "sku", "location"):
            _text(raw, name, True)  # raises, naming the first bad field
    assert isinstance(event_id, str) and isinstance(source, str)
    assert isinstance(sku, str) and isinstance(location, str)
    type_name = get("type")
    kind = _TYPES.get(type_name) if type(type_name) is str else None
    if kind is None:
        raise _Invalid("type", f"must be one of {', '.join(_TYPES)}")
    qty = _quantity(raw)
    _check_quantity(kind, qty)
    occurred_us = _instant(raw, "occurred_at", True)
    assert occurred_us is not None
    # Optional fields are absent from most events: look them up only when present.
    optional = raw.keys() - _REQUIRED_SET if len(raw) > len(_REQUIRED) else ()
    expires_us = _instant(raw, "expires_at", False) if "expires_at" in optional else None
    reservation_id = _text(raw, "reservation_id", kind in _NEEDS_RESERVATION)
    condition = _text(raw, "condition", kind is EventType.STATUS_CHANGE)
    counterparty = _text(raw, "counterparty_location", kind is EventType.TRANSFER_OUT)
    if optional:
        uom = _text(raw, "uom", False)
        reference = _text(raw, "reference", False, MAX_TEXT_LENGTH)
        reason = _text(raw, "reason", False, MAX_TEXT_LENGTH)
        correlation_id = _text(raw, "correlation_id", False)
    else:
        uom = reference = reason = correlation_id = None
    # The payload's identity for duplicate detection is the event as sent, keys sorted.
    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    return ParsedEvent(
        key=EventKey(source, event_id),
        type=kind,
        sku=sku,
        location=location,
        quantity=qty,
        uom=uom,
        occurred_us=occurred_us,
        payload_hash=hashlib.blake2b(canonical, digest_size=16).hexdigest(),
        reservation_id=reservation_id,
        expires_us=expires_us,
        condition=condition,
        counterparty_location=counterparty,
        reference=reference,
        reason=reason,
        correlation_id=correlation_id,
        canonical=canonical,
    )
