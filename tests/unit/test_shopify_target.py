"""The Shopify target against the simulator in process (httpx's ASGI transport): compare-
and-set, user errors, throttling, outages, and the simulator's own rules."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from stockbridge.app.ports import Delivery
from stockbridge.app.targets import TargetIn
from stockbridge.connectors.shopify import documents
from stockbridge.connectors.shopify.simulator import build, create_app
from stockbridge.connectors.shopify.simulator.clock import SimClock
from stockbridge.connectors.shopify.simulator.graphql import GraphQL
from stockbridge.connectors.shopify.simulator.shop import Shop
from stockbridge.connectors.shopify.target import ShopifyTarget, quantity_of
from stockbridge.connectors.webhook import SendResult

TOKEN = "shpat_unit"
ENV = {"SHOP_TOKEN": TOKEN}
_ids = itertools.count(1)


class Clock:
    """Monotonic seconds a test moves by hand."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


@dataclass
class Rig:
    shop: Shop
    api: GraphQL
    target: ShopifyTarget
    location: int
    items: dict[str, int]
    clock: Clock

    def send(self, *pushes: tuple[str, Any]) -> tuple[SendResult, list[Delivery]]:
        deliveries = [push(sku, available) for sku, available in pushes]
        return asyncio.run(self._send(deliveries)), deliveries

    async def _send(self, deliveries: list[Delivery]) -> SendResult:
        return await self.target.send_batch(deliveries)

    def available(self, sku: str) -> int:
        return self.shop.levels[(self.items[sku], self.location)].available


def push(sku: str, available: Any, kind: str = "availability") -> Delivery:
    n = next(_ids)
    payload = {"type": kind, "channel": "web", "sku": sku, "available": str(available)}
    return Delivery(
        n, "shopify", kind, f"web:{sku}", f"availability:web:{sku}:{n}", payload,
        0, "pending", 0, 0, 0, 0, 0, None, None, None, [],
    )  # fmt: skip


@pytest.fixture
def rig() -> Iterator[Rig]:
    clock = Clock()
    shop, sender = build(seed=3, clock=SimClock(clock))
    shop.access_token = TOKEN
    location = shop.add_location("Warehouse")
    items = {}
    for sku in ("A", "B", "C"):
        item = shop.add_item(sku)
        items[sku] = item.inventory_item_id
        if sku != "C":  # C exists but is not stocked at the warehouse
            shop.stock(item.inventory_item_id, location, 0)
    app = create_app(shop, sender)
    transport = httpx.ASGITransport(app=app)
    config = TargetIn(
        kind="shopify",
        url="http://shop.test",
        platform={
            "access_token_env": "SHOP_TOKEN",
            "location_id": location,
            "inventory_items": {
                sku: f"gid://shopify/InventoryItem/{i}" for sku, i in items.items()
            },
        },
    )

    async def make() -> ShopifyTarget:
        return ShopifyTarget("shopify", config, client, monotonic=clock, env=ENV)

    client = httpx.AsyncClient(transport=transport)
    target = asyncio.run(make())
    yield Rig(shop, app.state.graphql, target, location, items, clock)
    asyncio.run(client.aclose())


def test_pushes_set_available_and_remember_it(rig: Rig) -> None:
    result, _ = rig.send(("A", "7"), ("B", "2.9"))
    assert result.status == 200 and result.rejected == {}
    # Weighed or fractional values are rounded down: Shopify sells whole units
    assert (rig.available("A"), rig.available("B")) == (7, 2)
    calls = rig.api.calls
    # The next push compares with what was set: no read needed
    result, _ = rig.send(("A", "5"))
    assert result.status == 200 and rig.available("A") == 5
    assert rig.api.calls == calls + 1


def test_a_stale_level_is_read_again_and_the_push_wins(rig: Rig) -> None:
    rig.send(("A", "7"))
    # Given Shopify took an order meanwhile (7 -> 6)
    rig.shop.levels[(rig.items["A"], rig.location)].available = 6
    calls = rig.api.calls
    # When the hub pushes its value, expecting 7
    result, _ = rig.send(("A", "4"))
    # Then the stale answer leads to a read and a second set, all in one attempt
    assert result.status == 200
    assert rig.available("A") == 4
    assert rig.api.calls == calls + 3


def test_items_shopify_refuses_are_rejected_alone(rig: Rig) -> None:
    result, (_, c, z, again) = rig.send(("A", "3"), ("C", "1"), ("Z", "1"), ("A", "0"))
    # The batch holds two pushes for A: the second is refused as a conflict
    assert result.status == 200
    assert set(result.rejected) == {c.id, z.id, again.id}
    assert result.rejected[c.id].startswith("ITEM_NOT_STOCKED_AT_LOCATION")
    assert "platform.inventory_items" in result.rejected[z.id]
    assert rig.available("A") == 3


def test_a_batch_refused_item_by_item_is_a_rejection(rig: Rig) -> None:
    result, _ = rig.send(("C", "1"))
    assert result.status == 422 and result.rejected


def test_other_deliveries_are_refused(rig: Rig) -> None:
    posting = push("A", 1, kind="posting")
    result = asyncio.run(rig._send([posting]))
    assert result.status == 422
    assert "availability pushes" in result.rejected[posting.id]
    assert rig.api.calls == 0


def test_throttled_answers_become_429_with_the_refill_time(rig: Rig) -> None:
    rig.send(("A", "1"))  # the level of A is known now
    # Given an empty bucket refilling 10 points a second
    rig.shop.bucket.restore_rate = 10
    rig.shop.bucket.drain(rig.clock())
    # When a push needs 13 points
    result, _ = rig.send(("A", "2"))
    # Then it is a 429 asking to wait 1.3 s, and Shopify did not change
    assert result.status == 429
    assert float(result.headers["Retry-After"]) == pytest.approx(1.3)
    assert rig.api.throttled == 1 and rig.available("A") == 1
    # And the target does not call again before the bucket has refilled
    calls = rig.api.calls
    result, _ = rig.send(("A", "2"))
    assert result.status == 429 and rig.api.calls == calls
    rig.clock.t += 1.3
    result, _ = rig.send(("A", "2"))
    assert result.status == 200 and rig.available("A") == 2


def test_an_http_429_is_throttling_too(rig: Rig) -> None:
    rig.send(("A", "1"))
    rig.api.throttle_status = 429
    rig.shop.bucket.drain(rig.clock())
    rig.target.cost.bucket = None  # as a fresh worker, with no reading of the bucket
    result, _ = rig.send(("A", "2"))
    assert result.status == 429 and float(result.headers["Retry-After"]) > 0


def test_an_outage_or_a_bad_token_are_failures_not_rejections(rig: Rig) -> None:
    rig.shop.access_token = "rotated"
    result, _ = rig.send(("A", "1"))
    assert result.status == 401
    rig.shop.access_token = TOKEN
    rig.target.env = {}
    result, _ = rig.send(("A", "1"))
    assert result.status is None and result.error is not None
    assert result.error.startswith("platform.access_token_env:")


def test_the_amounts_shopify_accepts() -> None:
    assert quantity_of("12") == 12
    assert quantity_of("0.5") == 0
    assert quantity_of("-3") == -3
    assert quantity_of("5000000000") == 1_000_000_000
    with pytest.raises(ValueError):
        quantity_of("NaN")


# --- the simulator's protocol rules -------------------------------------------------------------
def run(rig: Rig, document: str, variables: dict[str, Any], version: str = "2026-04") -> Any:
    return rig.api.execute(version, {"query": document, "variables": variables}).body


def set_input(rig: Rig, quantity: int, change_from: Any = ..., **extra: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "inventoryItemId": f"gid://shopify/InventoryItem/{rig.items['A']}",
        "locationId": f"gid://shopify/Location/{rig.location}",
        "quantity": quantity,
    }
    if change_from is not ...:
        row["changeFromQuantity"] = change_from
    return {"name": "available", "reason": "correction", "quantities": [row], **extra}


def test_replaying_an_idempotency_key_returns_the_first_result(rig: Rig) -> None:
    variables = {"input": set_input(rig, 5, 0), "idempotencyKey": "k1"}
    first = run(rig, documents.SET_AVAILABLE, variables)
    rig.shop.levels[(rig.items["A"], rig.location)].available = 9
    again = run(rig, documents.SET_AVAILABLE, variables)
    assert again["data"] == first["data"]
    assert rig.available("A") == 9  # nothing applied twice
    other = run(rig, documents.SET_AVAILABLE, {**variables, "input": set_input(rig, 6, 9)})
    (err,) = other["data"]["inventorySetQuantities"]["userErrors"]
    assert err["code"] == "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"
    assert err["message"] == (
        "The same idempotency key cannot be used with different operation parameters."
    )


def test_2026_04_requires_the_directive_and_change_from_quantity(rig: Rig) -> None:
    without = documents.SET_AVAILABLE.replace("@idempotent(key: $idempotencyKey)", "")
    body = run(rig, without, {"input": set_input(rig, 5, 0), "idempotencyKey": "k"})
    assert body["data"] == {"inventorySetQuantities": None}
    assert body["errors"][0]["extensions"]["code"] == "BAD_REQUEST"
    assert body["extensions"]["cost"]["actualQueryCost"] == 10
    body = run(rig, documents.SET_AVAILABLE, {"input": set_input(rig, 5), "idempotencyKey": "k2"})
    assert body["errors"][0]["message"] == (
        "InventoryQuantityInput must include the following argument: changeFromQuantity."
    )
    assert body["errors"][0]["extensions"]["code"] == "INVALID_FIELD_ARGUMENTS"
    # 2026-01 takes the legacy ignoreCompareQuantity; 2026-04 does not know it
    legacy = {"input": set_input(rig, 5, ignoreCompareQuantity=True), "idempotencyKey": "k3"}
    assert "errors" not in run(rig, documents.SET_AVAILABLE, legacy, "2026-01")
    body = run(rig, documents.SET_AVAILABLE, {**legacy, "idempotencyKey": "k4"})
    assert body["errors"][0]["extensions"]["code"] == "INVALID_VARIABLE"


def test_user_errors_carry_shopify_codes_and_fields(rig: Rig) -> None:
    bad = set_input(rig, 2_000_000_000, 0, name="committed")
    body = run(rig, documents.SET_AVAILABLE, {"input": bad, "idempotencyKey": "k5"})
    errors = body["data"]["inventorySetQuantities"]["userErrors"]
    assert {(e["code"], tuple(e["field"])) for e in errors} == {
        ("INVALID_NAME", ("input", "name")),
        ("INVALID_QUANTITY_TOO_HIGH", ("input", "quantities", "0", "quantity")),
    }
    assert body["data"]["inventorySetQuantities"]["inventoryAdjustmentGroup"] is None


def test_every_answer_carries_its_cost(rig: Rig) -> None:
    ids = [f"gid://shopify/InventoryItem/{i}" for i in rig.items.values()]
    body = run(
        rig,
        documents.AVAILABLE_LEVELS,
        {"ids": ids, "locationId": f"gid://shopify/Location/{rig.location}"},
    )
    nodes = body["data"]["nodes"]
    assert [n["inventoryLevel"] is None for n in nodes] == [False, False, True]
    cost = body["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 10 and cost["actualQueryCost"] == 7
    assert cost["throttleStatus"]["maximumAvailable"] == 2000
