"""Square's inventory counts, read for reconciliation.

`POST /v2/inventory/counts/batch-retrieve` for the catalog's item variations at some
locations, state IN_STOCK, following `cursor` page after page. A 429 (RATE_LIMITED) waits
and asks again; any other error ends the read with `SquareReadError`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import httpx

from ...domain.errors import StockbridgeError
from .config import SquareTargetSettings

PAGE = 1000
MAX_RATE_LIMITED = 10


class SquareReadError(StockbridgeError):
    """Square did not answer the read (down, refused, or the answer made no sense)."""


@dataclass(frozen=True, slots=True)
class Count:
    catalog_object_id: str
    location_id: str
    quantity: Decimal


def in_stock_counts(
    client: httpx.Client,
    address: str,
    settings: SquareTargetSettings,
    token: str,
    location_ids: Sequence[str],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> Iterator[Count]:
    """IN_STOCK counts of every catalog variation the settings map, at `location_ids`."""
    url = f"{address.rstrip('/')}/v2/inventory/counts/batch-retrieve"
    headers = {
        "Authorization": f"Bearer {token}",
        "Square-Version": settings.square_version,
        "Content-Type": "application/json",
    }
    body: dict[str, object] = {
        "catalog_object_ids": sorted(set(settings.catalog.values())),
        "location_ids": sorted(set(location_ids)),
        "states": ["IN_STOCK"],
        "limit": PAGE,
    }
    waited = 0
    while True:
        try:
            response = client.post(url, json=body, headers=headers)
        except httpx.HTTPError as e:
            raise SquareReadError(f"Square could not be reached: {type(e).__name__}: {e}") from e
        if response.status_code == 429 and waited < MAX_RATE_LIMITED:
            waited += 1
            sleep(min(30.0, 0.5 * 2**waited))
            continue
        if not response.is_success:
            raise SquareReadError(f"Square answered {response.status_code}: {response.text[:200]}")
        answer = response.json()
        for c in answer.get("counts") or []:
            try:
                quantity = Decimal(str(c.get("quantity")))
            except InvalidOperation:
                raise SquareReadError(f"Square sent a count that is no number: {c}") from None
            yield Count(str(c.get("catalog_object_id")), str(c.get("location_id")), quantity)
        cursor = answer.get("cursor")
        if not cursor:
            return
        body["cursor"] = cursor
