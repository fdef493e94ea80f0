"""Amazon orders as reservations (pure): ORDER_CHANGE notifications and getOrders results
both become the same `OrderChange`, and one function decides its commands.

Each merchant-fulfilled order item is one reservation, `{source}:{AmazonOrderId}:{OrderItemId}`,
at the connector's location. Every change first asks for the reservation, then closes it
if the item shipped (fulfil) or the order was cancelled (release): reservations are
idempotent on their ids, so duplicates change nothing and a change that arrives before an
older one still ends in the right state (the older one then finds the reservation closed).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ...app.reservations import Close, Command, Reserve
from ...domain.model import EventType

#: Order statuses whose items have left (InvoiceUnconfirmed: shipped, invoice pending).
SHIPPED = frozenset({"Shipped", "InvoiceUnconfirmed"})
#: Order statuses whose items will not ship.
CANCELLED = frozenset({"Canceled", "Unfulfillable"})


@dataclass(frozen=True, slots=True)
class ItemChange:
    order_item_id: str
    seller_sku: str
    quantity: int
    shipped: int


@dataclass(frozen=True, slots=True)
class OrderChange:
    order_id: str
    status: str
    #: MFN (the seller ships: our stock) or AFN (Amazon ships from its own stock).
    fulfillment: str
    items: tuple[ItemChange, ...]
    seller_id: str | None = None


class NotAnOrder(ValueError):
    """The message is not an order change this connector reads (the reason says why)."""


def _int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def from_notification(payload: Any) -> OrderChange:
    """An ORDER_CHANGE notification -> OrderChange. Raises NotAnOrder."""
    if not isinstance(payload, Mapping) or payload.get("NotificationType") != "ORDER_CHANGE":
        raise NotAnOrder("not an ORDER_CHANGE notification")
    change = (payload.get("Payload") or {}).get("OrderChangeNotification")
    if not isinstance(change, Mapping):
        raise NotAnOrder("no Payload.OrderChangeNotification")
    summary = change.get("Summary")
    order_id = change.get("AmazonOrderId")
    if not isinstance(summary, Mapping) or not isinstance(order_id, str):
        raise NotAnOrder("no AmazonOrderId or Summary")
    items = tuple(
        ItemChange(
            str(i.get("OrderItemId")),
            str(i.get("SellerSKU")),
            _int(i.get("Quantity")),
            _int(i.get("QuantityShipped")),
        )
        for i in summary.get("OrderItems") or []
        if isinstance(i, Mapping) and i.get("OrderItemId") and i.get("SellerSKU")
    )
    return OrderChange(
        order_id,
        str(summary.get("OrderStatus")),
        str(summary.get("FulfillmentType") or "MFN"),
        items,
        change.get("SellerId"),
    )


def from_orders_api(order: Mapping[str, Any], items: Sequence[Mapping[str, Any]]) -> OrderChange:
    """An order of getOrders and its items of getOrderItems -> OrderChange."""
    return OrderChange(
        str(order["AmazonOrderId"]),
        str(order.get("OrderStatus")),
        str(order.get("FulfillmentChannel") or "MFN"),
        tuple(
            ItemChange(
                str(i.get("OrderItemId")),
                str(i.get("SellerSKU")),
                _int(i.get("QuantityOrdered")),
                _int(i.get("QuantityShipped")),
            )
            for i in items
            if i.get("OrderItemId") and i.get("SellerSKU")
        ),
    )


def reservation_id(source: str, order_id: str, order_item_id: str) -> str:
    return f"{source}:{order_id}:{order_item_id}"


def commands(change: OrderChange, source: str, location: str) -> list[Command]:
    """The reservation commands of one order change (none for Amazon-fulfilled orders).

    Any status but shipped or cancelled (Pending, Unshipped, PartiallyShipped, ...) holds
    the items not fully shipped; a fully shipped item is fulfilled.
    """
    if change.fulfillment != "MFN":
        return []
    out: list[Command] = []
    for item in change.items:
        if item.quantity <= 0:
            continue
        rid = reservation_id(source, change.order_id, item.order_item_id)
        out.append(
            Reserve(
                rid,
                item.seller_sku,
                Decimal(item.quantity),
                location=location,
                source=source,
                reference=change.order_id,
                correlation_id=change.order_id,
            )
        )
        if change.status in CANCELLED:
            out.append(
                Close(
                    rid,
                    EventType.RELEASE,
                    reference=change.order_id,
                    correlation_id=change.order_id,
                )
            )
        elif change.status in SHIPPED or item.shipped >= item.quantity:
            out.append(
                Close(
                    rid, EventType.FULFIL, reference=change.order_id, correlation_id=change.order_id
                )
            )
    return out
