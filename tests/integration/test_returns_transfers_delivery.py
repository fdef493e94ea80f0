"""Returns and transfers from the source to the ERP and the channels, over real HTTP.

The ERP and the shop are one real webhook receiver (tests/integration/receiver.py) that
applies each idempotency key once. Every wait is on a condition (the dispatcher's or the
receiver's), never a sleep.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub

from ..conftest import event
from .conftest import FAST, SECRET, admin_client, settled, wait_for
from .receiver import Receiver
from .test_documents_delivery import documents, erp, start_system
from .test_returns_transfers_api import a_return, a_transfer, quantities


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=11) as r:
        yield r


@pytest.fixture
def system(store: SqlStore, receiver: Receiver) -> Iterator[tuple[Hub, httpx.Client]]:
    """A hub with an ERP and a shop channel fed by S1, over HTTP; 10 mugs at S1."""
    rules = [{"condition": "damaged", "outcome": "non_sellable", "reason": "damaged"}]
    hub, server = start_system(store, **{"returns.rules": rules})
    with admin_client(server) as client:
        erp(client, receiver)
        shop = {"url": receiver.url + "/shop", "secret": SECRET, "rate_per_second": 0}
        r = client.put("/v1/targets/shop", json={**shop, "retry": FAST})
        assert r.status_code == 200, r.text
        r = client.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"})
        assert r.status_code == 200, r.text
        r = client.post(
            "/v1/events", json={"events": [event("r1", "receipt", sku="MUG", quantity=10)]}
        )
        assert r.json()["totals"]["accepted"] == 1
        wait_for(hub, lambda: settled(hub), "the first deliveries")
        yield hub, client


def channel_available(client: httpx.Client) -> Decimal:
    return Decimal(str(client.get("/v1/availability/web/MUG").json()["available"]))


def pushed(receiver: Receiver) -> list[str]:
    return [x.body["available"] for x in receiver.applied if x.body.get("type") == "availability"]


def test_a_damaged_return_is_one_credit_posting_and_does_not_raise_availability(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    before = channel_available(client)  # 10 on hand, 2 safety stock
    pushes_before = pushed(receiver)
    # When three damaged mugs come back, refunded under REF-1, sent twice
    body = a_return(
        "R7",
        refund_reference="REF-1",
        lines=[{"sku": "MUG", "quantity": 3, "condition": "damaged"}],
    )
    assert client.post("/v1/returns", json=body).json()["status"] == "accepted"
    assert client.post("/v1/returns", json=body).json()["status"] == "duplicate"
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    # Then the ERP has one credit posting with the refund reference, and no movement posting
    (credit,) = documents(receiver, "return")
    assert credit["document_number"] == "return:pos:R7"
    assert credit["refund_reference"] == "REF-1"
    assert [(x["sku"], x["quantity"], x["outcome"], x["reason"]) for x in credit["lines"]] == [
        ("MUG", "3", "non_sellable", "damaged")
    ]
    assert "return:pos:R7" in receiver.applied_keys()
    assert not [x for x in documents(receiver, "posting") if x["event_id"].startswith("return:")]
    # And the stock is on hand but aside: the channel shows what it showed
    assert quantities(client, "MUG", "S1") == (13, 3, 0, 8)
    assert channel_available(client) == before
    assert pushed(receiver) == pushes_before


def test_a_pending_return_raises_availability_only_once_graded_sellable(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    before = channel_available(client)
    body = a_return("R8", lines=[{"sku": "MUG", "quantity": 4, "condition": "pending_inspection"}])
    assert client.post("/v1/returns", json=body).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub), "the credit posting")
    # While pending, the units are not for sale
    assert channel_available(client) == before
    assert Decimal(pushed(receiver)[-1]) == before
    # When they are graded sellable, the channel gets them
    grade = {"grade_id": "G1", "lines": [{"line": 1, "quantity": 4, "condition": "sellable"}]}
    assert client.post("/v1/returns/R8/grade", json=grade).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub), "the availability push")
    assert channel_available(client) == before + 4
    assert Decimal(pushed(receiver)[-1]) == before + 4
    (credit,) = documents(receiver, "return")
    assert credit["lines"][0]["outcome"] == "pending_inspection"


def test_a_transfer_closed_short_shows_in_transit_at_every_step(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    r = client.post(
        "/v1/events", json={"events": [event("r-dc", "receipt", location="DC", quantity=10)]}
    )
    assert r.json()["totals"]["accepted"] == 1

    def at(location: str) -> dict[str, Any]:
        rows = client.get("/v1/positions/TEE-M").json()["locations"]
        return next((x for x in rows if x["location"] == location), {"on_hand": 0, "in_transit": 0})

    assert client.post("/v1/transfers", json=a_transfer()).json()["status"] == "accepted"
    assert (at("S2")["in_transit"], at("DC")["on_hand"]) == (0, 10)
    ship = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 6}]}
    assert client.post("/v1/transfers/TR1/ship", json=ship).json()["status"] == "accepted"
    assert (at("DC")["on_hand"], at("S2")["in_transit"], at("S2")["on_hand"]) == (4, 6, 0)
    rec = {"receipt_id": "RC1", "lines": [{"line": 1, "quantity": 4}]}
    assert client.post("/v1/transfers/TR1/receive", json=rec).json()["status"] == "accepted"
    assert (at("DC")["on_hand"], at("S2")["in_transit"], at("S2")["on_hand"]) == (4, 2, 4)
    closed = client.post("/v1/transfers/TR1/close").json()
    assert (closed["status"], closed["reason"]) == ("accepted", "short_receipt")
    assert (at("DC")["on_hand"], at("S2")["in_transit"], at("S2")["on_hand"]) == (4, 0, 4)
    (exc,) = client.get("/v1/exceptions", params={"reason": "short_receipt"}).json()["exceptions"]
    assert exc["payload"]["lines"][0]["quantity"] == "2"
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    keys = [k for k in receiver.applied_keys() if k.startswith("transfer_")]
    assert keys == [
        "transfer_shipment:TR1:SH1",
        "transfer_receipt:TR1:RC1",
        "transfer_close:TR1",
    ]
    assert not [x for x in documents(receiver, "posting") if x["event_id"].startswith("transfer:")]
