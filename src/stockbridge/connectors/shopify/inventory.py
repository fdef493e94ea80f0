"""Shopify's inventory levels at one location, read for reconciliation.

`location.inventoryLevels` a page at a time (250 levels, the input cap), following
`endCursor`. A THROTTLED answer (HTTP 200) or a 429 waits for the cost bucket to refill,
as `extensions.cost` says, and asks again: a reconciliation pull is a background read, so
waiting is the polite thing. Any other error ends the read with `ShopifyReadError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from ...domain.errors import StockbridgeError
from . import documents
from .config import ShopifyTargetSettings
from .throttle import retry_after

PAGE = 250
MAX_THROTTLED = 20


class ShopifyReadError(StockbridgeError):
    """Shopify did not answer the read (down, refused, or the answer made no sense)."""


@dataclass(frozen=True, slots=True)
class Level:
    inventory_item_id: str
    sku: str | None
    available: int


def location_levels(
    client: httpx.Client,
    address: str,
    settings: ShopifyTargetSettings,
    location_id: str,
    token: str,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Level]:
    """Every inventory level at a location (a gid), page after page."""
    url = f"{address.rstrip('/')}/admin/api/{settings.api_version}/graphql.json"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json",
        "X-Shopify-Access-Token": token,
    }
    after: str | None = None
    while True:
        variables = {"locationId": location_id, "first": PAGE, "after": after}
        data = _call(client, url, headers, variables, sleep)
        location = data.get("location")
        if not isinstance(location, dict):
            raise ShopifyReadError(f"Shopify has no location {location_id}")
        connection = location.get("inventoryLevels") or {}
        for node in connection.get("nodes") or []:
            item = node.get("item") or {}
            available = next(
                (
                    q.get("quantity")
                    for q in node.get("quantities") or []
                    if q.get("name") == "available"
                ),
                None,
            )
            if isinstance(item.get("id"), str) and isinstance(available, int):
                yield Level(item["id"], item.get("sku"), available)
        page = connection.get("pageInfo") or {}
        after = page.get("endCursor")
        if not page.get("hasNextPage") or not after:
            return


def _call(
    client: httpx.Client,
    url: str,
    headers: dict[str, str],
    variables: dict[str, Any],
    sleep: Callable[[float], None],
) -> dict[str, Any]:
    body = orjson.dumps({"query": documents.LOCATION_LEVELS, "variables": variables})
    for _ in range(MAX_THROTTLED):
        try:
            response = client.post(url, content=body, headers=headers)
        except httpx.HTTPError as e:
            raise ShopifyReadError(f"Shopify could not be reached: {type(e).__name__}: {e}") from e
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        errors = answer.get("errors") if isinstance(answer, dict) else None
        throttled = response.status_code == 429 or (
            isinstance(errors, list)
            and any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors)
        )
        if throttled:
            sleep(_wait(answer, response.headers.get("Retry-After")))
            continue
        if not response.is_success or not isinstance(answer, dict):
            raise ShopifyReadError(
                f"Shopify answered {response.status_code}: {response.text[:200]}"
            )
        if errors:
            first = errors[0] if isinstance(errors, list) else {"message": errors}
            raise ShopifyReadError(f"Shopify refused the read: {first.get('message')}")
        data = answer.get("data")
        return data if isinstance(data, dict) else {}
    raise ShopifyReadError(f"Shopify kept throttling the read ({MAX_THROTTLED} tries)")


def _wait(answer: Any, header: str | None) -> float:
    cost = (answer or {}).get("extensions", {}).get("cost") if isinstance(answer, dict) else None
    if cost and isinstance(cost.get("requestedQueryCost"), int | float):
        return max(0.05, retry_after(cost["requestedQueryCost"], cost.get("throttleStatus") or {}))
    try:
        return max(0.05, float(header)) if header else 1.0
    except ValueError:
        return 1.0
