"""The simulated store: locations, inventory items and their levels, orders.

Inventory follows Shopify's quantity model for the names the hub cares about: an order
moves units from `available` to `committed`, a fulfilment takes them out of `committed`
(and `on_hand`), a cancellation puts unfulfilled units back to `available`, a refund with
restock type `return` adds them to `available` at its location. Every operation returns
the webhooks it triggers as (topic, payload), REST-shaped as Shopify sends them.
"""

from __future__ import annotations

import copy
import itertools
import random
from dataclasses import dataclass, field
from typing import Any

from ..ids import gid
from ..throttle import PLANS, CostBucket
from .clock import SimClock

Webhook = tuple[str, dict[str, Any]]


class ShopError(ValueError):
    """A test asked for something the store does not have (answered 404/422)."""


@dataclass(slots=True)
class Item:
    inventory_item_id: int
    variant_id: int
    product_id: int
    sku: str


@dataclass(slots=True)
class Level:
    available: int = 0
    committed: int = 0

    @property
    def on_hand(self) -> int:
        return self.available + self.committed


@dataclass
class Shop:
    seed: int = 1
    clock: SimClock = field(default_factory=SimClock)
    domain: str = "stockbridge-sim.myshopify.com"
    access_token: str = "shpat_simulator"
    plan: str = "standard"
    items: dict[int, Item] = field(default_factory=dict)
    locations: dict[int, str] = field(default_factory=dict)
    levels: dict[tuple[int, int], Level] = field(default_factory=dict)
    orders: dict[int, dict[str, Any]] = field(default_factory=dict)
    #: Order id -> the location its units were committed at.
    committed_at: dict[int, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        self._ids = itertools.count(rng.randrange(10**9, 9 * 10**9) * 10)
        self._order_numbers = itertools.count(1001)
        maximum, rate = PLANS[self.plan]
        self.bucket = CostBucket.full(maximum, rate, self.clock.now())

    def next_id(self) -> int:
        return next(self._ids)

    # --- catalogue -----------------------------------------------------------------------
    def add_location(self, name: str) -> int:
        location_id = self.next_id()
        self.locations[location_id] = name
        return location_id

    def add_item(self, sku: str) -> Item:
        item = Item(self.next_id(), self.next_id(), self.next_id(), sku)
        self.items[item.inventory_item_id] = item
        return item

    def variant(self, variant_id: int) -> Item:
        for item in self.items.values():
            if item.variant_id == variant_id:
                return item
        raise ShopError(f"no variant {variant_id}")

    def location(self, location_id: int | None) -> int:
        if location_id is None:
            if not self.locations:
                raise ShopError("the store has no location")
            return next(iter(self.locations))
        if location_id not in self.locations:
            raise ShopError(f"no location {location_id}")
        return location_id

    def stock(self, inventory_item_id: int, location_id: int, available: int) -> list[Webhook]:
        """Stock an item at a location (or set its level): an admin's correction."""
        if inventory_item_id not in self.items:
            raise ShopError(f"no inventory item {inventory_item_id}")
        self.location(location_id)
        level = self.levels.setdefault((inventory_item_id, location_id), Level())
        level.available = available
        return [self.level_webhook(inventory_item_id, location_id)]

    def level_webhook(self, inventory_item_id: int, location_id: int) -> Webhook:
        level = self.levels[(inventory_item_id, location_id)]
        return (
            "inventory_levels/update",
            {
                "inventory_item_id": inventory_item_id,
                "location_id": location_id,
                "available": level.available,
                "updated_at": self._now(),
                "admin_graphql_api_id": (
                    f"gid://shopify/InventoryLevel/{location_id}"
                    f"?inventory_item_id={inventory_item_id}"
                ),
            },
        )

    def _now(self) -> str:
        return self.clock.wall().isoformat()

    def _move(self, item: Item, location_id: int, available: int, committed: int) -> Webhook:
        level = self.levels.setdefault((item.inventory_item_id, location_id), Level())
        level.available += available
        level.committed += committed
        return self.level_webhook(item.inventory_item_id, location_id)

    # --- orders ----------------------------------------------------------------------------
    def create_order(
        self, lines: list[tuple[int, int]], location_id: int | None = None
    ) -> list[Webhook]:
        """An order for (variant id, quantity) lines, committed at `location_id` (or the
        first location, as an online order with no location of its own)."""
        at = self.location(location_id)
        order_id = self.next_id()
        number = next(self._order_numbers)
        now = self._now()
        line_items = []
        hooks: list[Webhook] = []
        for variant_id, quantity in lines:
            item = self.variant(variant_id)
            line_id = self.next_id()
            line_items.append(
                {
                    "id": line_id,
                    "admin_graphql_api_id": gid("LineItem", line_id),
                    "variant_id": item.variant_id,
                    "product_id": item.product_id,
                    "sku": item.sku,
                    "title": item.sku,
                    "quantity": quantity,
                    "fulfillable_quantity": quantity,
                    "fulfillment_status": None,
                    "price": "10.00",
                }
            )
            hooks.append(self._move(item, at, -quantity, quantity))
        order = {
            "id": order_id,
            "admin_graphql_api_id": gid("Order", order_id),
            "name": f"#{number}",
            "order_number": number,
            "created_at": now,
            "updated_at": now,
            "cancelled_at": None,
            "cancel_reason": None,
            "financial_status": "paid",
            "fulfillment_status": None,
            "location_id": location_id,
            "line_items": line_items,
        }
        self.orders[order_id] = order
        self.committed_at[order_id] = at
        return [("orders/create", _copy(order)), *hooks]

    def order(self, order_id: int) -> dict[str, Any]:
        try:
            return self.orders[order_id]
        except KeyError:
            raise ShopError(f"no order {order_id}") from None

    def cancel_order(self, order_id: int) -> list[Webhook]:
        order = self.order(order_id)
        if order["cancelled_at"] is not None:
            raise ShopError(f"order {order_id} is already cancelled")
        at = self.committed_at[order_id]
        hooks: list[Webhook] = []
        for line in order["line_items"]:
            left = line["fulfillable_quantity"]
            if left:
                item = self.variant(line["variant_id"])
                hooks.append(self._move(item, at, left, -left))
                line["fulfillable_quantity"] = 0
        order["cancelled_at"] = order["updated_at"] = self._now()
        order["cancel_reason"] = "customer"
        return [("orders/cancelled", _copy(order)), *hooks]

    def fulfil(self, order_id: int, location_id: int | None = None) -> list[Webhook]:
        """Ship every unfulfilled unit of the order from where it was committed."""
        order = self.order(order_id)
        if order["cancelled_at"] is not None:
            raise ShopError(f"order {order_id} is cancelled")
        at = self.committed_at[order_id] if location_id is None else self.location(location_id)
        fulfilment_id = self.next_id()
        lines = []
        hooks: list[Webhook] = []
        for line in order["line_items"]:
            left = line["fulfillable_quantity"]
            if not left:
                continue
            item = self.variant(line["variant_id"])
            committed_at = self.committed_at[order_id]
            self.levels[(item.inventory_item_id, committed_at)].committed -= left
            if at != committed_at:
                # Shipped from elsewhere: the commitment is undone where it was made and
                # the units leave the shipping location's available.
                self.levels[(item.inventory_item_id, committed_at)].available += left
                self.levels.setdefault((item.inventory_item_id, at), Level()).available -= left
                hooks.append(self.level_webhook(item.inventory_item_id, committed_at))
            hooks.append(self.level_webhook(item.inventory_item_id, at))
            line["fulfillable_quantity"] = 0
            line["fulfillment_status"] = "fulfilled"
            lines.append({**line, "quantity": left})
        if not lines:
            raise ShopError(f"order {order_id} has nothing left to fulfil")
        order["fulfillment_status"] = "fulfilled"
        order["updated_at"] = self._now()
        fulfilment = {
            "id": fulfilment_id,
            "admin_graphql_api_id": gid("Fulfillment", fulfilment_id),
            "order_id": order_id,
            "status": "success",
            "created_at": self._now(),
            "updated_at": self._now(),
            "location_id": at,
            "service": "manual",
            "line_items": lines,
        }
        return [("fulfillments/create", fulfilment), *hooks]

    def refund(
        self,
        order_id: int,
        lines: list[tuple[int, int, str]],
        location_id: int | None = None,
    ) -> list[Webhook]:
        """Refund (line item id, quantity, restock type) lines; `return` and `cancel`
        restock at `location_id` (or where the order was committed)."""
        order = self.order(order_id)
        at = self.committed_at[order_id] if location_id is None else self.location(location_id)
        by_id = {line["id"]: line for line in order["line_items"]}
        refund_id = self.next_id()
        refund_lines = []
        hooks: list[Webhook] = []
        for line_id, quantity, restock_type in lines:
            line = by_id.get(line_id)
            if line is None:
                raise ShopError(f"order {order_id} has no line item {line_id}")
            item = self.variant(line["variant_id"])
            if restock_type == "return":
                hooks.append(self._move(item, at, quantity, 0))
            elif restock_type == "cancel":
                committed_at = self.committed_at[order_id]
                cancelled = min(quantity, line["fulfillable_quantity"])
                line["fulfillable_quantity"] -= cancelled
                hooks.append(self._move(item, committed_at, cancelled, -cancelled))
            elif restock_type != "no_restock":
                raise ShopError(f"unknown restock type {restock_type!r}")
            rli_id = self.next_id()
            refund_lines.append(
                {
                    "id": rli_id,
                    "line_item_id": line_id,
                    "location_id": at if restock_type != "no_restock" else None,
                    "quantity": quantity,
                    "restock_type": restock_type,
                    "subtotal": "10.00",
                    "total_tax": "0.00",
                    "line_item": _copy(line),
                }
            )
        refund = {
            "id": refund_id,
            "admin_graphql_api_id": gid("Refund", refund_id),
            "order_id": order_id,
            "created_at": self._now(),
            "note": None,
            "restock": any(rl["restock_type"] != "no_restock" for rl in refund_lines),
            "refund_line_items": refund_lines,
            "transactions": [],
        }
        return [("refunds/create", refund), *hooks]

    def snapshot(self) -> list[dict[str, Any]]:
        return [
            {
                "inventory_item_id": item_id,
                "location_id": location_id,
                "sku": self.items[item_id].sku,
                "available": level.available,
                "committed": level.committed,
                "on_hand": level.on_hand,
            }
            for (item_id, location_id), level in sorted(self.levels.items())
        ]


def _copy(value: dict[str, Any]) -> dict[str, Any]:
    return copy.deepcopy(value)
