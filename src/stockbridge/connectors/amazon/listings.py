"""Listings Items API 2021-08-01: the quantity patch and what its answers mean (pure)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import ROUND_FLOOR, Decimal, InvalidOperation
from typing import Any
from urllib.parse import quote

API = "/listings/2021-08-01/items"
#: The attribute holding merchant-fulfilled quantities.
ATTRIBUTE = "fulfillment_availability"


def listing_path(seller_id: str, sku: str) -> str:
    """`/listings/2021-08-01/items/{sellerId}/{sku}`, the SKU URL-encoded (slashes too)."""
    return f"{API}/{quote(seller_id, safe='')}/{quote(sku, safe='')}"


def quantity(available: Any) -> int:
    """A channel's available (a decimal string) as the whole units Amazon takes, >= 0."""
    try:
        value = Decimal(str(available))
    except InvalidOperation:
        return 0
    if not value.is_finite() or value <= 0:
        return 0
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def quantity_patch(channel_code: str, units: int) -> dict[str, Any]:
    """A JSON Patch `merge`: changes the quantity alone, keeping restock date and lead time."""
    return {
        "op": "merge",
        "path": f"/attributes/{ATTRIBUTE}",
        "value": [{"fulfillment_channel_code": channel_code, "quantity": units}],
    }


def patch_body(product_type: str, channel_code: str, units: int) -> dict[str, Any]:
    return {"productType": product_type, "patches": [quantity_patch(channel_code, units)]}


def error_text(body: Any) -> str:
    """`code: message` of each error of an ErrorList body, or of each ERROR issue of a
    submission response."""
    if not isinstance(body, Mapping):
        return ""
    parts = []
    for err in body.get("errors") or []:
        if isinstance(err, Mapping):
            parts.append(f"{err.get('code')}: {err.get('message')}")
    for issue in body.get("issues") or []:
        if isinstance(issue, Mapping) and issue.get("severity") == "ERROR":
            parts.append(f"{issue.get('code')}: {issue.get('message')}")
    return "; ".join(parts)


def is_token_refusal(status: int, body: Any) -> bool:
    """A 403 saying the access token is expired or not accepted: refresh it and retry."""
    if status != 403 or not isinstance(body, Mapping):
        return False
    return any(
        isinstance(e, Mapping) and e.get("code") in ("Unauthorized", "InvalidInput")
        for e in body.get("errors") or []
    )


def retry_after(headers: Mapping[str, str]) -> str | None:
    """Seconds until one request is allowed again, from `x-amzn-RateLimit-Limit` (the
    bucket's refill per second); None when the header is absent or unusable.

    SP-API documents no Retry-After; one token's refill time is the shortest useful wait.
    """
    raw = next((v for k, v in headers.items() if k.lower() == "x-amzn-ratelimit-limit"), None)
    if raw is None:
        return None
    try:
        rate = float(raw)
    except ValueError:
        return None
    if not math.isfinite(rate) or rate <= 0:
        return None
    return f"{1 / rate:.3f}"


def submission_refusal(body: Any) -> str | None:
    """Why a 200 submission response refused the patch (status INVALID), else None."""
    if isinstance(body, Mapping) and body.get("status") == "INVALID":
        return error_text(body) or "INVALID"
    return None
