"""Square orders and counts as the hub's facts. Pure.

A COMPLETED order is a store sale: one `sale` event per line item that names a catalog
object, at the order's location. Its returns (a refund's return order) are `return`
events, one per returned line item, in sellable condition (Square records no condition).
Event ids come from the order id and the line's uid, and every field from the order
itself, so the same line reached through order.created, order.updated, payment and
refund notifications, or their redeliveries, is one event to the ledger. Catalog object
and location ids are the platform's own: the ledger maps them through the cross
references of the connector's source.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

COMPLETED = "COMPLETED"


def _positive(value: object) -> bool:
    try:
        return isinstance(value, str) and Decimal(value) > 0
    except InvalidOperation:
        return False


def order_events(source: str, order: dict[str, Any]) -> list[dict[str, Any]]:
    """Sales and returns of a completed order (none for any other state)."""
    if order.get("state") != COMPLETED:
        return []
    order_id = order.get("id")
    location = order.get("location_id")
    at = order.get("closed_at") or order.get("created_at")
    if not (isinstance(order_id, str) and isinstance(location, str) and isinstance(at, str)):
        return []
    events = []
    for line in order.get("line_items") or []:
        if not isinstance(line, dict):
            continue
        catalog_id, uid, quantity = (
            line.get("catalog_object_id"),
            line.get("uid"),
            line.get("quantity"),
        )
        if isinstance(catalog_id, str) and isinstance(uid, str) and _positive(quantity):
            events.append(
                {
                    "event_id": f"sale:{order_id}:{uid}",
                    "source": source,
                    "type": "sale",
                    "sku": catalog_id,
                    "location": location,
                    "quantity": quantity,
                    "occurred_at": at,
                    "reference": f"square order {order_id}",
                }
            )
    for ret in order.get("returns") or []:
        if not isinstance(ret, dict):
            continue
        origin = ret.get("source_order_id") or "unknown order"
        for line in ret.get("return_line_items") or []:
            if not isinstance(line, dict):
                continue
            catalog_id, uid, quantity = (
                line.get("catalog_object_id"),
                line.get("uid"),
                line.get("quantity"),
            )
            if isinstance(catalog_id, str) and isinstance(uid, str) and _positive(quantity):
                events.append(
                    {
                        "event_id": f"return:{order_id}:{uid}",
                        "source": source,
                        "type": "return",
                        "sku": catalog_id,
                        "location": location,
                        "quantity": quantity,
                        "occurred_at": at,
                        "condition": "sellable",
                        "reference": f"square return {order_id} of order {origin}",
                    }
                )
    return events


def count_observations(event_id: str, counts: object) -> list[dict[str, Any]]:
    """inventory.count.updated counts, as observations (never ledger movements)."""
    out = []
    for c in counts if isinstance(counts, list) else []:
        if not isinstance(c, dict):
            continue
        out.append(
            {
                "event_id": event_id,
                "catalog_object_id": c.get("catalog_object_id"),
                "location_id": c.get("location_id"),
                "state": c.get("state"),
                "quantity": c.get("quantity"),
                "calculated_at": c.get("calculated_at"),
            }
        )
    return out
