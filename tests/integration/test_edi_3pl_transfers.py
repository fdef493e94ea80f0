"""A transfer out of a 3PL over X12 files, with the hub served over real HTTP on SQLite.

Creating a transfer whose origin is the 3PL's location sends the warehouse one 940
shipping the transfer's lines to the receiving location; the simulated warehouse's 945
becomes the transfer's shipment, so the units go in transit to the store and the ERP
gets the shipment once. A transfer closed before it shipped is cancelled (W05-01 `C`).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from stockbridge.app.bootstrap import Hub
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import PartnerSettings
from stockbridge.connectors.edi.poll import run_pass
from stockbridge.connectors.edi.simulator import Warehouse
from stockbridge.connectors.edi.state import PartnerState

from .conftest import settled, wait_for
from .receiver import Receiver
from .test_edi_3pl import outbound, partner, partner_file, position, system

__all__ = ["partner", "partner_file", "system"]  # fixtures shared with test_edi_3pl


def create(client: httpx.Client, transfer_id: str, quantity: int) -> None:
    transfer = {
        "transfer_id": transfer_id,
        "from": "DC",
        "to": "S1",
        "lines": [{"sku": "TEE-M", "quantity": quantity}],
    }
    assert client.post("/v1/transfers", json=transfer).json()["status"] == "accepted"


def orders(partner: PartnerSettings, count: int, hub: Hub) -> list[Path]:
    wait_for(hub, lambda: settled(hub) and len(outbound(partner, "940")) == count, "the 940s")
    return outbound(partner, "940")


def test_a_transfer_out_of_the_3pl_is_ordered_by_940_and_shipped_by_945(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, erp = system
    # Given a transfer of 4 tees from the 3PL's location to a store, sent twice
    create(client, "T9", 4)
    again = {"transfer_id": "T9", "from": "DC", "to": "S1",
             "lines": [{"sku": "TEE-M", "quantity": 4}]}  # fmt: skip
    assert client.post("/v1/transfers", json=again).json()["status"] == "duplicate"
    # Then the warehouse gets one 940 under the transfer id, shipping to the store
    (file,) = orders(partner, 1, hub)
    text = file.read_text()
    assert "W05*N*T9*" in text
    assert "N1*ST*S1*91*S1~" in text and "W01*4*EA**SK*TEE-M~" in text
    # When the warehouse ships it and the hub reads its answer
    warehouse = Warehouse(partner.outbound, partner.inbound, {"TEE-M": Decimal(10)}, seed=4)
    assert [n.split("-")[0] for n in warehouse.step()] == ["997", "945"]
    result = run_pass("acme", partner, HubPort.of(hub))
    # Then the 945 is the transfer's shipment: the units are in transit to the store
    outcomes = [x for f in result.files for x in f.outcomes]
    assert any("transfer T9 shipment" in x and x.endswith("accepted") for x in outcomes), result
    assert Decimal(position(client, "TEE-M", "DC")["on_hand"]) == 6
    assert Decimal(position(client, "TEE-M", "S1")["in_transit"]) == 4
    assert client.get("/v1/transfers/T9").json()["status"] == "shipped"
    # And the ERP gets the shipment posted once; no second 940 was written
    wait_for(hub, lambda: settled(hub), "the shipment posting")
    shipped = [x.key for x in erp.applied if x.key.startswith("transfer_shipment:T9:")]
    assert len(shipped) == 1
    assert not [x.key for x in erp.applied if x.key.startswith("transfer_order:")]
    sent = PartnerState(partner.state_folder).read()["sent"].values()
    assert [(s["set"], s["depositor_order"]) for s in sent] == [("940", "T9")]


def test_a_transfer_closed_before_shipping_is_cancelled_not_shipped(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, _ = system
    # Given a transfer out of the 3PL whose 940 was sent
    create(client, "T10", 3)
    orders(partner, 1, hub)
    # When it is closed before the warehouse shipped anything
    assert client.post("/v1/transfers/T10/close", json={}).json()["status"] == "accepted"
    # Then a cancelling 940 follows under the same number
    cancel = orders(partner, 2, hub)[1].read_text()
    assert "W05*C*T10*" in cancel
    # And the warehouse ships nothing: the stock stays at the 3PL, nothing in transit
    warehouse = Warehouse(partner.outbound, partner.inbound, {"TEE-M": Decimal(10)}, seed=6)
    assert [n.split("-")[0] for n in warehouse.step()] == ["997", "997"]
    assert Decimal(position(client, "TEE-M", "DC")["on_hand"]) == 10
    assert Decimal(position(client, "TEE-M", "S1")["in_transit"]) == 0
