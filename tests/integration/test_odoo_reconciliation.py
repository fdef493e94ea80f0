"""Reconciliation against Odoo over real HTTP: quants pulled with search_read, compared
with the ledger; a posting still on its way explains its difference, a change made in
Odoo behind the hub's back waits in the exception queue."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store

from ..conftest import event
from .conftest import admin_client, settled, start_hub, wait_for
from .odoo_system import Odoo, credentials, odoo, target_body
from .test_shopify_sync import post

__all__ = ["credentials", "odoo"]  # fixtures

RECONCILIATION = {
    "systems": {
        "odoo": {
            "kind": "odoo",
            "target": "erp",
            "policy": "raise_exceptions",
            "xref_source": "erp",
        }
    }
}


@pytest.fixture
def hub_client(tmp_path: Path, credentials: None, odoo: Odoo) -> Iterator[tuple[Hub, httpx.Client]]:
    store = open_store(str(tmp_path / "hub.db"))
    hub, server = start_hub(store, reconciliation=RECONCILIATION)
    try:
        with admin_client(server) as client:
            r = client.put("/v1/targets/erp", json=target_body(odoo))
            assert r.status_code == 200, r.text
            yield hub, client
    finally:
        hub.stop()
        store.close()


def test_odoo_differences_are_in_flight_or_raised_for_review(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo
) -> None:
    hub, client = hub_client
    c = odoo.catalogue
    # Given 10 tees at S1 and 2 mugs at DC, posted to Odoo
    post(
        client,
        event("r1", "receipt", quantity=10),
        event("r2", "receipt", sku="MUG", location="DC", quantity=2),
    )
    wait_for(hub, lambda: settled(hub), "the postings to reach Odoo")
    assert odoo.on_hand("TEE-M", "S1") == 10
    # And 2 tees taken out in Odoo directly, behind the hub's back
    odoo.state.db.move_stock(c.products["TEE-M"], c.stock["S1"], c.supplier, 2)
    # And 3 more mugs received while the ERP target is paused (their posting waits)
    hub.deliveries.set_paused("erp", True)
    post(client, event("r3", "receipt", sku="MUG", location="DC", quantity=3))

    # When the hub reconciles with Odoo's quants
    r = client.post("/v1/reconciliations/odoo/pull")
    assert r.status_code == 201, r.text
    run = r.json()
    # Then the tee differs by -2 with nothing to explain it: an exception for review
    by_sku = {d["sku"]: d for d in run["differences"]}
    tee, mug = by_sku["TEE-M"], by_sku["MUG"]
    assert (tee["location"], tee["hub"], tee["system_quantity"]) == ("S1", 10, 8)
    assert (tee["cause"], tee["action"]) == ("drift", "exception")
    # And the mugs differ by the posting still waiting: in flight, nothing to do
    assert (mug["difference"], mug["cause"], mug["action"]) == (-3, "in_flight", "none")
    parked = client.get("/v1/exceptions", params={"reason": "reconciliation_drift"}).json()
    assert [x["event_id"] for x in parked["exceptions"]] == ["TEE-M@S1"]

    # When the target resumes and the posting lands, and the hub reconciles again
    hub.deliveries.set_paused("erp", False)
    wait_for(hub, lambda: settled(hub), "the mug posting to reach Odoo")
    again = client.post("/v1/reconciliations/odoo/pull").json()
    # Then only the tee still differs, for as long as it first did
    assert [d["sku"] for d in again["differences"]] == ["TEE-M"]
    assert again["differences"][0]["first_seen"] == tee["first_seen"]
