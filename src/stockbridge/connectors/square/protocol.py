"""Square's wire protocol, as documented: signatures, the error envelope, times,
quantities and inventory states. Pure; shared by the connectors and the simulator."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from datetime import UTC, datetime
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any

#: Webhook signature: base64(HMAC-SHA256(signature key, notification URL + raw body)).
SIGNATURE_HEADER = "x-square-hmacsha256-signature"
ENVIRONMENT_HEADER = "square-environment"
VERSION_HEADER = "Square-Version"
MAX_IDEMPOTENCY_KEY = 128
#: Quantities are decimal strings with at most five decimal places.
QUANTITY_PLACES = 5
_QUANTUM = Decimal(1).scaleb(-QUANTITY_PLACES)

IN_STOCK = "IN_STOCK"
STATES = frozenset(
    {
        "CUSTOM",
        "IN_STOCK",
        "SOLD",
        "RETURNED_BY_CUSTOMER",
        "RESERVED_FOR_SALE",
        "SOLD_ONLINE",
        "ORDERED_FROM_VENDOR",
        "RECEIVED_FROM_VENDOR",
        "IN_TRANSIT_TO",
        "NONE",
        "WASTE",
        "UNLINKED_RETURN",
        "COMPOSED",
        "DECOMPOSED",
        "SUPPORTED_BY_NEWER_VERSION",
        "IN_TRANSIT",
        "UNTRACKED",
    }
)
#: States the API may not write.
READ_ONLY_STATES = frozenset(
    {
        "CUSTOM",
        "RETURNED_BY_CUSTOMER",
        "RESERVED_FOR_SALE",
        "SOLD_ONLINE",
        "ORDERED_FROM_VENDOR",
        "RECEIVED_FROM_VENDOR",
        "IN_TRANSIT_TO",
    }
)

RATE_LIMITED_DETAIL = "This request was rate limited. Please retry later."


def sign(signature_key: str, notification_url: str, body: bytes) -> str:
    digest = hmac.new(
        signature_key.encode(), notification_url.encode() + body, hashlib.sha256
    ).digest()
    return base64.b64encode(digest).decode()


def signature_ok(signature_key: str, notification_url: str, body: bytes, given: str) -> bool:
    """Constant-time check of a notification's signature header."""
    expected = sign(signature_key, notification_url, body)
    return hmac.compare_digest(expected.encode(), given.encode())


def error(category: str, code: str, detail: str, field: str | None = None) -> dict[str, str]:
    """One entry of Square's `{"errors": [...]}` envelope."""
    entry = {"category": category, "code": code, "detail": detail}
    if field is not None:
        entry["field"] = field
    return entry


def rate_limited() -> dict[str, Any]:
    """The documented 429 body, keys in the documented order."""
    return {
        "errors": [
            {"code": "RATE_LIMITED", "detail": RATE_LIMITED_DETAIL, "category": "RATE_LIMIT_ERROR"}
        ]
    }


def rfc3339(at: datetime) -> str:
    """UTC with milliseconds and a Z, as Square writes times."""
    text = at.astimezone(UTC).isoformat(timespec="milliseconds")
    return text.replace("+00:00", "Z")


def parse_time(value: object) -> datetime | None:
    """An RFC 3339 date-time with an offset, or None."""
    if not isinstance(value, str) or len(value) < 20 or value[10:11] not in ("T", "t"):
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        return None
    return at if at.tzinfo is not None else None


def parse_quantity(value: object) -> Decimal | None:
    """A decimal string with at most five places, or None."""
    if not isinstance(value, str):
        return None
    try:
        q = Decimal(value)
    except InvalidOperation:
        return None
    if not q.is_finite() or q != q.quantize(_QUANTUM):
        return None
    return q


def quantity_text(quantity: Decimal) -> str:
    """A quantity Square takes: floored to five places (never shows a unit not there)."""
    q = quantity.quantize(_QUANTUM, rounding=ROUND_FLOOR).normalize()
    text = format(q, "f")
    return "0" if text in ("-0", "") else text


_CHANGE_FIELD = re.compile(r"^changes\[(\d+)\]")


def change_index(field: object) -> int | None:
    """The change an error's `field` points at ("changes[3].physical_count.quantity" -> 3)."""
    if not isinstance(field, str):
        return None
    m = _CHANGE_FIELD.match(field)
    return int(m.group(1)) if m else None


def describe(errors: list[Any]) -> str:
    """Errors as one line: "CODE: detail (field); ..."."""
    parts = []
    for e in errors:
        if not isinstance(e, dict):
            continue
        text = f"{e.get('code', '?')}: {e.get('detail', '')}"
        if e.get("field"):
            text += f" ({e['field']})"
        parts.append(text)
    return "; ".join(parts) or "no error details"
