"""Reconciliation against Shopify over real HTTP: a webhook Shopify never sent leaves the
store and the hub apart; a pull of the location's inventory levels finds the drift, the
channel's policy pushes the hub's value back, and the next run finds nothing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from stockbridge.adapters.sql_store import SqlStore

from ..conftest import event
from .test_shopify_sync import System, post, start

RECONCILIATION = {
    "systems": {
        "shop": {
            "kind": "shopify",
            "target": "shopify",
            "policy": "push_ours",
            "measure": "channel",
            "channel": "web",
        }
    }
}


@pytest.fixture(params=["settings", "xrefs"])
def system(
    store: SqlStore, monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest
) -> Iterator[System]:
    # The target names Shopify's items in its settings, or through cross references.
    yield from start(
        store,
        monkeypatch,
        ["TEE-M", "MUG"],
        request.param,
        hub_settings={"reconciliation": RECONCILIATION},
        batch_size=50,
    )


def test_a_lost_webhook_is_found_classified_corrected_and_gone_at_the_next_run(
    system: System,
) -> None:
    s = system
    # Given 10 tees and 4 mugs at the warehouse, pushed to Shopify
    post(
        s.client,
        event("r1", "receipt", location="DC", quantity=10),
        event("r2", "receipt", sku="MUG", location="DC", quantity=4),
    )
    s.converge("TEE-M", "MUG")
    # When Shopify takes an order for 2 tees and its webhooks are lost
    s.order("TEE-M", 2)
    dropped = s.sim.post("/_sim/webhooks/drop", json={}).json()["dropped"]
    assert "orders/create" in dropped
    assert s.shopify_available("TEE-M") == 8 and s.hub_available("TEE-M") == 10

    # When the hub reconciles with Shopify's inventory levels
    r = s.client.post("/v1/reconciliations/shop/pull")
    assert r.status_code == 201, r.text
    run = r.json()
    # Then it finds the tee differing by -2 with no delivery to explain it, and the mugs equal
    assert (run["origin"], run["lines"], run["matched"], run["differing"]) == ("pull", 2, 1, 1)
    (diff,) = run["differences"]
    assert (diff["sku"], diff["location"], diff["hub"], diff["system_quantity"]) == (
        "TEE-M",
        "web",
        10,
        8,
    )
    assert (diff["difference"], diff["cause"], diff["action"]) == (-2, "drift", "pushed")
    # And the channel's policy pushed the hub's value through the normal delivery path
    s.converge("TEE-M")
    assert s.shopify_available("TEE-M") == 10

    # When the next run pulls again
    again = s.client.post("/v1/reconciliations/shop/pull").json()
    # Then Shopify and the hub agree everywhere
    assert (again["matched"], again["differing"], again["drift_units"]) == (2, 0, 0)
    pushes = s.client.get(
        "/v1/deliveries", params={"target": "shopify", "kind": "availability"}
    ).json()["deliveries"]
    tees = [d for d in pushes if d["payload"]["sku"] == "TEE-M" and d["state"] == "delivered"]
    # (the first push of 10 after the receipt, and the correction, caused by no event)
    assert [(d["payload"]["available"], d["payload"]["events"]) for d in tees] == [
        ("10", ["pos/r1"]),
        ("10", []),
    ]
