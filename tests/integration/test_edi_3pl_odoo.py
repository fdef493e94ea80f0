"""The 3PL cycle end to end, over real HTTP: a reservation at the 3PL's location → 940 →
the simulated warehouse → 997 and 945 (sent twice) → the fulfilment in the ledger → its
posting to the simulated Odoo, once. And a reservation released before the warehouse
picked it: a cancelling 940, nothing shipped, nothing posted."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import PartnerSettings
from stockbridge.connectors.edi.poll import run_pass
from stockbridge.connectors.edi.simulator import Faults, Warehouse
from stockbridge.connectors.edi.state import PartnerState

from ..conftest import event
from .conftest import put_target, settled, wait_for
from .odoo_system import Odoo, credentials, hub_client, odoo, target_body
from .test_edi_3pl import outbound, partner, partner_file, position

__all__ = ["credentials", "hub_client", "odoo", "partner", "partner_file"]  # fixtures


@pytest.fixture
def system(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo, partner_file: Path
) -> Iterator[tuple[Hub, httpx.Client]]:
    """The hub with an x12 target for the 3PL and Odoo as its ERP; 10 tees at the 3PL."""
    hub, client = hub_client
    platform = {"partner": "acme", "config": str(partner_file)}
    put_target(client, "acme-3pl", "http://127.0.0.1:9/unused", kind="x12", postings=True,
               platform=platform)  # fmt: skip
    r = client.put("/v1/targets/erp", json=target_body(odoo))
    assert r.status_code == 200, r.text
    stock = client.post("/v1/events", json={"events": [event("r1", "receipt", location="DC",
                                                              quantity=10)]})  # fmt: skip
    assert stock.json()["totals"]["accepted"] == 1
    wait_for(hub, lambda: settled(hub), "the receipt to reach Odoo")
    yield hub, client


def reserve(client: httpx.Client, rid: str, quantity: int) -> None:
    body = {"reservation_id": rid, "sku": "TEE-M", "quantity": quantity, "location": "DC",
            "reference": "click and collect"}  # fmt: skip
    r = client.post("/v1/reservations", json=body)
    assert r.status_code == 201, r.text


def deliveries(odoo: Odoo, rid: str) -> list[dict[str, object]]:
    """Odoo's delivery pickings that carry the hub's reference for the reservation."""
    return [p for p in odoo.records("stock.picking") if rid in str(p.get("origin"))]


def test_a_reservation_at_the_3pl_ships_once_and_is_posted_to_odoo_once(
    system: tuple[Hub, httpx.Client], odoo: Odoo, partner: PartnerSettings
) -> None:
    hub, client = system
    # Given 4 tees reserved at the 3PL's location for a click-and-collect order
    reserve(client, "CC-7", 4)
    # Then the hold becomes a 940 under the reservation id
    wait_for(hub, lambda: settled(hub) and bool(outbound(partner, "940")), "the 940 file")
    (order,) = outbound(partner, "940")
    assert "W05*N*CC-7*click and collect~" in order.read_text()
    assert "W01*4*EA**SK*TEE-M~" in order.read_text()
    assert odoo.on_hand("TEE-M", "DC") == 10  # a hold is no movement in the ERP
    # When the warehouse answers with a 997 and the same 945 twice
    warehouse = Warehouse(partner.outbound, partner.inbound, {"TEE-M": Decimal(10)}, seed=4,
                          faults=Faults(duplicate_945=True))  # fmt: skip
    assert [n.split("-")[0] for n in warehouse.step()] == ["997", "945", "945"]
    result = run_pass("acme", partner, HubPort.of(hub))
    # Then the reservation is fulfilled once: the second 945 finds it fulfilled
    outcomes = [x for f in result.files for x in f.outcomes]
    assert [x.rsplit(": ", 1)[1] for x in outcomes if "reservation CC-7" in x] == [
        "closed",
        "terminal",
    ], outcomes
    tee = position(client, "TEE-M", "DC")
    assert (Decimal(tee["on_hand"]), Decimal(tee["reserved"])) == (6, 0)
    assert client.get("/v1/reservations/CC-7").json()["state"] == "fulfilled"
    # And the fulfilment reaches Odoo as exactly one delivery document
    wait_for(hub, lambda: settled(hub), "the fulfilment posting")
    (picking,) = deliveries(odoo, "CC-7")
    assert picking["state"] == "done"
    assert odoo.on_hand("TEE-M", "DC") == 6
    # And the 940's interchange is closed by the warehouse's 997
    sent = PartnerState(partner.state_folder).read()["sent"]
    assert [(s["set"], s["ack"]) for s in sent.values()] == [("940", "A")]


def test_a_reservation_released_before_picking_is_cancelled_not_shipped(
    system: tuple[Hub, httpx.Client], odoo: Odoo, partner: PartnerSettings
) -> None:
    hub, client = system
    # Given a hold at the 3PL, released before the warehouse picked it
    reserve(client, "CC-8", 3)
    assert client.post("/v1/reservations/CC-8/release").status_code == 200
    wait_for(hub, lambda: settled(hub) and len(outbound(partner, "940")) == 2, "two 940s")
    # Then the second 940 cancels the first (W05-01 C, same depositor order number)
    first, second = (p.read_text() for p in outbound(partner, "940"))
    assert "W05*N*CC-8*" in first and "W05*C*CC-8~" in second
    # When the warehouse reads both
    warehouse = Warehouse(partner.outbound, partner.inbound, {"TEE-M": Decimal(10)}, seed=6)
    # Then it acknowledges both and ships nothing
    assert [n.split("-")[0] for n in warehouse.step()] == ["997", "997"]
    assert warehouse.stock == {"TEE-M": 10}
    run_pass("acme", partner, HubPort.of(hub))
    tee = position(client, "TEE-M", "DC")
    assert (Decimal(tee["on_hand"]), Decimal(tee["reserved"])) == (10, 0)
    wait_for(hub, lambda: settled(hub), "nothing left to post")
    assert deliveries(odoo, "CC-8") == [] and odoo.on_hand("TEE-M", "DC") == 10
