"""Shopify end to end over real HTTP: a hub and the Shopify simulator, each served by
uvicorn. Orders, fulfilments, cancellations and refunds reach the hub as signed webhooks
(duplicated, out of order, badly signed); the hub pushes availability back with
inventorySetQuantities; both must end on the same numbers, throttled or not."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub
from stockbridge.app.master import MasterKind
from stockbridge.connectors.shopify import signing
from stockbridge.connectors.shopify.simulator import build, create_app
from stockbridge.connectors.shopify.simulator.graphql import GraphQL
from stockbridge.connectors.shopify.simulator.shop import Shop

from ..conftest import LiveServer, event
from .conftest import admin_client, put_target, settled, start_hub, wait_for

SECRET = "shpss_test_client_secret"
TOKEN = "shpat_test_token"
TOPICS = (
    "orders/create",
    "orders/cancelled",
    "fulfillments/create",
    "refunds/create",
    "inventory_levels/update",
)


@dataclass
class System:
    hub: Hub
    client: httpx.Client
    shop: Shop
    sim: httpx.Client
    api: GraphQL
    location: int
    items: dict[str, dict[str, Any]]

    def pump(self, **how: Any) -> list[dict[str, Any]]:
        r = self.sim.post("/_sim/webhooks/pump", json=how)
        assert r.status_code == 200, r.text
        sent: list[dict[str, Any]] = r.json()["sent"]
        return sent

    def order(self, sku: str, quantity: int) -> dict[str, Any]:
        variant = self.items[sku]["variant_id"]
        r = self.sim.post(
            "/_sim/orders", json={"line_items": [{"variant_id": variant, "quantity": quantity}]}
        )
        assert r.status_code == 200, r.text
        order: dict[str, Any] = r.json()
        return order

    def shopify_available(self, sku: str) -> int:
        item = self.items[sku]["inventory_item_id"]
        return self.shop.levels[(item, self.location)].available

    def hub_available(self, sku: str) -> Decimal:
        return self.hub.channels.availability("web", sku).available

    def converge(self, *skus: str) -> None:
        def same() -> bool:
            return settled(self.hub) and all(
                self.shopify_available(s) == self.hub_available(s) for s in skus
            )

        wait_for(self.hub, same, f"Shopify to show the hub's availability of {skus}", 30)


def start(
    store: SqlStore,
    monkeypatch: pytest.MonkeyPatch,
    skus: list[str],
    mapping: str = "settings",
    hub_settings: dict[str, Any] | None = None,
    **target: Any,
) -> Iterator[System]:
    monkeypatch.setenv("SHOP_SECRET", SECRET)
    monkeypatch.setenv("SHOP_TOKEN", TOKEN)
    shop, sender = build(seed=7, secret=SECRET)
    shop.access_token = TOKEN
    app = create_app(shop, sender)
    sim_server = LiveServer(app).start()
    sim = httpx.Client(base_url=sim_server.url, timeout=30)
    stopping: list[Hub] = []
    try:
        location = sim.post("/_sim/locations", json={"name": "Warehouse"}).json()
        items = {}
        for sku in skus:
            r = sim.post("/_sim/items", json={"sku": sku, "levels": {str(location["id"]): 0}})
            items[sku] = r.json()
        connector = {
            "kind": "shopify",
            "secret_env": "SHOP_SECRET",
            "default_location_id": location["id"],
        }
        hub, server = start_hub(store, connectors={"shop": connector}, **(hub_settings or {}))
        stopping.append(hub)
        new = [{"sku": s} for s in skus if s not in ("TEE-M", "MUG", "CHEESE")]
        hub.master_data.import_list(MasterKind.ITEMS, new)
        xrefs = [
            {"source": "shop", "kind": "location", "external_code": location["gid"], "code": "DC"}
        ] + [
            {"source": "shop", "kind": "item", "external_code": i["variant_gid"], "code": sku}
            for sku, i in items.items()
        ]
        platform: dict[str, Any] = {"access_token_env": "SHOP_TOKEN"}
        if mapping == "settings":
            platform["location_id"] = location["gid"]
            platform["inventory_items"] = {s: i["inventory_item_gid"] for s, i in items.items()}
        else:
            # The webhooks' source also maps inventory items, read backwards to push
            platform.update(location="DC", xref_source="shop")
            xrefs += [
                {
                    "source": "shop",
                    "kind": "item",
                    "external_code": i["inventory_item_gid"],
                    "code": sku,
                }
                for sku, i in items.items()
            ]
        hub.master_data.import_list(MasterKind.XREFS, xrefs)
        with admin_client(server) as client:
            put_target(
                client, "shopify", sim_server.url, kind="shopify", platform=platform, **target
            )
            r = client.put("/v1/channels/web", json={"locations": {"DC": 0}, "target": "shopify"})
            assert r.status_code == 200, r.text
            for topic in TOPICS:
                address = f"{server.url}/v1/webhooks/shop"
                assert sim.post(
                    "/_sim/webhooks", json={"topic": topic, "address": address}
                ).is_success
            yield System(hub, client, shop, sim, app.state.graphql, location["id"], items)
    finally:
        for hub in stopping:
            hub.stop()
        sim.close()
        sim_server.stop()


@pytest.fixture
def system(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    yield from start(store, monkeypatch, ["TEE-M"], batch_size=50)


def post(client: httpx.Client, *events: dict[str, Any]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def test_orders_fulfilments_cancellations_and_refunds_converge(system: System) -> None:
    s = system
    # Given 10 units received at the warehouse, pushed to Shopify
    post(s.client, event("r1", "receipt", location="DC", quantity=10))
    s.converge("TEE-M")
    assert s.shopify_available("TEE-M") == 10
    # When Shopify takes an order for 2 and its webhook arrives twice
    first = s.order("TEE-M", 2)
    sent = s.pump(duplicate=True)
    assert all(d["copies"] == 2 and d["status"] == 200 for d in sent)
    # Then the hub holds 2 once, and Shopify is left at 8 (its own commitment, then the
    # hub's push after a stale compare-and-set)
    s.converge("TEE-M")
    assert s.hub_available("TEE-M") == 8
    rid = f"shop:{first['id']}:{first['line_items'][0]['id']}"
    assert s.hub.reservations.get(rid).quantity == 2
    # When a second order is cancelled and the cancellation arrives before the order
    second = s.order("TEE-M", 3)
    assert s.sim.post(f"/_sim/orders/{second['id']}/cancel").is_success
    sent = s.pump(order="reverse")
    topics = [d["topic"] for d in sent if d["topic"].startswith("orders/")]
    assert topics == ["orders/cancelled", "orders/create"]
    # Then the late reserve changes nothing: the release was remembered
    s.converge("TEE-M")
    late = s.hub.reservations.get(f"shop:{second['id']}:{second['line_items'][0]['id']}")
    assert late.state.value == "released"
    assert s.hub_available("TEE-M") == 8
    # When the first order ships and one unit comes back, restocked
    assert s.sim.post(f"/_sim/orders/{first['id']}/fulfillments", json={}).is_success
    s.pump()
    line = first["line_items"][0]["id"]
    refund = {
        "refund_line_items": [{"line_item_id": line, "quantity": 1, "restock_type": "return"}]
    }
    assert s.sim.post(f"/_sim/orders/{first['id']}/refunds", json=refund).is_success
    s.pump()
    # Then both sides show 9: 10 - 2 shipped + 1 returned, nothing held
    s.converge("TEE-M")
    assert s.hub_available("TEE-M") == 9 == s.shopify_available("TEE-M")
    assert s.hub.reservations.get(rid).state.value == "fulfilled"
    # And Shopify's own level reports are kept as observations, not ledger movements
    seen = s.client.get("/v1/connectors/shop/observations").json()["observations"]
    assert seen and all(o["topic"] == "inventory_levels/update" for o in seen)
    # And nothing went to the exception queue
    rejected = s.client.get("/v1/deliveries", params={"target": "shopify", "state": "rejected"})
    assert rejected.json()["deliveries"] == []


def test_a_badly_signed_webhook_is_refused_and_changes_nothing(system: System) -> None:
    s = system
    post(s.client, event("r1", "receipt", location="DC", quantity=5))
    s.converge("TEE-M")
    variant = s.items["TEE-M"]["variant_id"]
    order = {
        "id": 1,
        "name": "#9",
        "created_at": "2026-03-02T10:00:00+00:00",
        "line_items": [{"id": 2, "variant_id": variant, "quantity": 5}],
    }
    body = httpx.Request("POST", "/", json=order).content
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "orders/create",
        "X-Shopify-Event-Id": "e-forged",
    }
    # When the body is signed with another secret, or carries a hex digest of the right one
    for signature in (signing.sign("not-the-secret", body), "00" * 32):
        r = s.client.post(
            "/v1/webhooks/shop",
            content=body,
            headers={**headers, "X-Shopify-Hmac-Sha256": signature},
        )
        # Then it is a 401 and the ledger is untouched
        assert r.status_code == 401, r.text
        assert r.json()["type"].endswith("invalid-signature")
    assert s.hub_available("TEE-M") == 5
    r = s.client.get("/v1/reservations/shop:1:2")
    assert r.status_code == 404
    # And the same body correctly signed is accepted
    r = s.client.post(
        "/v1/webhooks/shop",
        content=body,
        headers={**headers, "X-Shopify-Hmac-Sha256": signing.sign(SECRET, body)},
    )
    assert r.status_code == 200, r.text
    assert s.hub_available("TEE-M") == 0


def test_a_throttling_storm_slows_pushes_to_the_budget_and_loses_none(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    skus = [f"SKU-{i:02d}" for i in range(12)]
    for s in start(store, monkeypatch, skus, batch_size=4):
        # Given a store whose bucket is small and empty (another app just spent it)
        maximum, rate = 30, 60
        stats = s.sim.put(
            "/_sim/faults", json={"bucket_maximum": maximum, "restore_rate": rate, "drain": True}
        ).json()
        assert stats["bucket"]["currentlyAvailable"] == 0
        # When stock moves on every SKU, several times
        for round_ in range(3):
            post(
                s.client,
                *[
                    event(
                        f"r{round_}-{sku}", "receipt", sku=sku, location="DC", quantity=round_ + 1
                    )
                    for sku in skus
                ],
            )
        # Then every value reaches Shopify, none dead or refused
        s.converge(*skus)
        for sku in skus:
            assert s.shopify_available(sku) == s.hub_available(sku) == 6
        target = next(t for t in s.hub.deliveries.targets() if t["name"] == "shopify")
        assert target["dead_letters"] == 0
        rejected = s.client.get("/v1/deliveries", params={"target": "shopify", "state": "rejected"})
        assert rejected.json()["deliveries"] == []
        # And the store did throttle, while what it accepted never exceeded its budget
        graphql = s.sim.get("/_sim/stats").json()
        assert graphql["throttled"] >= 1
        spending = list(s.api.spending)
        for i in range(len(spending)):
            total = 0.0
            for j in range(i, len(spending)):
                total += spending[j][1]
                assert total <= maximum + rate * (spending[j][0] - spending[i][0]) + 1e-6


@pytest.fixture
def xref_system(store: SqlStore, monkeypatch: pytest.MonkeyPatch) -> Iterator[System]:
    yield from start(store, monkeypatch, ["TEE-M", "MUG"], mapping="xrefs", batch_size=50)


def test_cross_references_map_both_ways(xref_system: System) -> None:
    s = xref_system
    # Given a target with no explicit map: its inventory items and location come from the
    # same cross references (source "shop") that map the webhooks' variants and location
    stored = s.hub.store.targets()["shopify"][0]["platform"]
    assert "inventory_items" not in stored and "location_id" not in stored
    # When stock arrives at DC
    post(
        s.client,
        event("r1", "receipt", location="DC", quantity=6),
        event("r2", "receipt", "MUG", location="DC", quantity=4),
    )
    # Then it is set on the xref'd inventory items at the xref'd Shopify location
    s.converge("TEE-M", "MUG")
    assert s.shopify_available("TEE-M") == 6
    assert s.shopify_available("MUG") == s.hub_available("MUG") > 0  # less its safety stock
    # When Shopify takes an order for 2 tees (a variant, at the shop's location)
    order = s.order("TEE-M", 2)
    assert {d["status"] for d in s.pump()} == {200}
    # Then the webhook's variant and location map to TEE-M at DC, and both sides agree
    rid = f"shop:{order['id']}:{order['line_items'][0]['id']}"
    held = s.hub.reservations.get(rid)
    assert (held.sku, held.location, held.quantity) == ("TEE-M", "DC", 2)
    s.converge("TEE-M", "MUG")
    assert s.shopify_available("TEE-M") == 4


def test_a_sku_without_a_cross_reference_is_refused_by_name(xref_system: System) -> None:
    s = xref_system
    # Given CHEESE is an item of the hub with no Shopify inventory item cross-referenced
    # When its stock moves at DC
    post(s.client, event("c1", "receipt", "CHEESE", location="DC", quantity=3))
    wait_for(s.hub, lambda: settled(s.hub), "the push to be settled")
    # Then its push is refused, naming the missing cross reference, and waits as an exception
    (refused,) = s.hub.store.deliveries(target="shopify", state="rejected")
    assert refused.payload["sku"] == "CHEESE"
    assert "no cross reference of source 'shop' kind item for 'CHEESE'" in (
        refused.last_error or ""
    )
