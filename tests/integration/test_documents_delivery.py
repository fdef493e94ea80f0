"""Tickets and orders from the source to the ERP, over real HTTP, on SQLite and PostgreSQL.

The ERP is a real webhook receiver (tests/integration/receiver.py) that applies each
idempotency key once and counts what it received, so "posted once" is checked where it
matters. The daily settlement's timing runs on a manual clock.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock

from ..conftest import START, LiveServer, event, hub_settings, seed_master
from .conftest import SECRET, admin_client, put_target, settled, start_hub, wait_for
from .receiver import Receiver
from .test_tickets_orders_api import order, ticket


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=7) as r:
        yield r


def start_system(store: SqlStore, clock: Any = None, **overrides: Any) -> tuple[Hub, LiveServer]:
    # Order reservations expire in the background within a test's patience.
    return start_hub(store, clock, **{"ingest.expiry_interval_seconds": 0.05, **overrides})


@pytest.fixture
def system(store: SqlStore) -> Iterator[tuple[Hub, httpx.Client]]:
    """A hub on the real clock with its API over HTTP, tickets posted one by one."""
    hub, server = start_system(store)
    with admin_client(server) as client:
        yield hub, client


def erp(client: httpx.Client, receiver: Receiver, **target: Any) -> None:
    put_target(client, "erp", receiver.url + "/erp", **{"postings": True, **target})


def documents(receiver: Receiver, kind: str | None = None) -> list[dict[str, Any]]:
    return [x.body for x in receiver.applied if kind is None or x.body.get("type") == kind]


def test_a_ticket_reaches_the_erp_once_as_one_document(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    erp(client, receiver)
    # Given a receipt (a movement posted as such) and a ticket sent twice
    r = client.post("/v1/events", json={"events": [event("r1", "receipt", quantity=10)]})
    assert r.json()["totals"]["accepted"] == 1
    assert client.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
    assert client.post("/v1/tickets", json=ticket()).json()["status"] == "duplicate"
    # Then the ERP has the receipt's posting and one ticket document, nothing else
    receiver.wait_applied(2)
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    assert sorted(receiver.applied_keys()) == ["pos:r1", "ticket:pos:T1"]
    (doc,) = documents(receiver, "ticket")
    assert [(x["sku"], x["quantity"], x["net"]) for x in doc["lines"]] == [
        ("TEE-M", "2", "18.00"),
        ("MUG", "-1", "-5.00"),
    ]
    assert doc["totals"] == {
        "sales": "18.00",
        "returns": "5.00",
        "lines_net": "13.00",
        "tax": "2.60",
        "tenders": "15.60",
    }
    # And the ticket's sale and return were not posted a second time as movements
    assert not [
        x
        for x in documents(receiver, "posting")
        if x["source"] == "pos" and x["event_id"].startswith("ticket:")
    ]
    assert receiver.duplicates == 0


def test_an_order_sent_three_times_is_posted_once(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    erp(client, receiver)
    statuses = [client.post("/v1/orders", json=order()).json()["status"] for _ in range(3)]
    assert statuses == ["accepted", "duplicate", "duplicate"]
    receiver.wait_applied(1)
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    assert receiver.applied_keys() == ["order:web:O1"]
    assert receiver.requests == 1
    assert len(hub.store.deliveries(target="erp")) == 1


def test_an_erp_that_times_out_after_committing_ends_with_one_posting(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    # Given an ERP slower than the target's timeout: it commits, then answers too late
    erp(client, receiver, timeout_seconds=0.1)
    receiver.slow(0.3)
    assert client.post("/v1/orders", json=order()).json()["status"] == "accepted"
    # When the first attempts have timed out, the ERP becomes fast again
    receiver.wait_for(lambda r: r.requests >= 2, message="no retry after a timeout")
    receiver.healthy()
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    # Then the sales order was sent more than once and applied exactly once
    assert receiver.applied_keys() == ["order:web:O1"]
    assert receiver.duplicates >= 1
    (delivery,) = hub.store.deliveries(target="erp")
    assert delivery.state == "delivered" and delivery.attempts > 1


def test_partial_fulfilment_then_cancellation_posts_each_document_in_order(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    erp(client, receiver)
    r = client.post(
        "/v1/events", json={"events": [event("r1", "receipt", location="DC", quantity=10)]}
    )
    assert r.json()["totals"]["accepted"] == 1
    # When an order ships two of five tees and the rest is cancelled
    assert client.post("/v1/orders", json=order()).json()["status"] == "accepted"
    ship = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 2}]}
    assert client.post("/v1/orders/web/O1/fulfil", json=ship).json()["status"] == "accepted"
    cancel = {"cancel_id": "C1", "reason": "customer"}
    assert client.post("/v1/orders/web/O1/cancel", json=cancel).json()["status"] == "accepted"
    # Then the ERP gets sales order, shipment and cancellation, once each, in that order
    receiver.wait_applied(4)
    wait_for(hub, lambda: settled(hub), "deliveries to drain")
    order_docs = [
        x.key for x in receiver.applied if x.key.startswith(("order:", "shipment:", "cancel:"))
    ]
    assert order_docs == ["order:web:O1", "shipment:web:O1:SH1", "cancel:web:O1:C1"]
    (shipment,) = documents(receiver, "shipment")
    assert [(x["sku"], x["location"], x["quantity"]) for x in shipment["lines"]] == [
        ("TEE-M", "DC", "2")
    ]
    (cancellation,) = documents(receiver, "cancellation")
    assert [(x["line"], x["quantity"]) for x in cancellation["lines"]] == [(1, "3"), (2, "1")]
    assert cancellation["status"] == "fulfilled"
    # And positions are right: nothing reserved, on hand down by the shipped units
    dc = hub.store.position("TEE-M", "DC")
    assert dc is not None and (dc.on_hand, dc.reserved) == (Decimal(8), Decimal(0))
    s1 = hub.store.position("MUG", "S1")
    assert s1 is not None and s1.reserved == 0
    # And the shipment's fulfil event was not posted again as a movement
    assert [x["event_id"] for x in documents(receiver, "posting")] == ["r1"]


# --- daily settlement -------------------------------------------------------------------
def day_ticket(number: str, amount: str, **changes: Any) -> dict[str, Any]:
    """A one-line sale at S1 (Europe/Paris) of `amount` plus 10% tax, paid by card or cash."""
    net = Decimal(amount)
    tax = (net * Decimal("0.1")).quantize(Decimal("0.01"))
    return ticket(
        number,
        lines=[{"sku": "TEE-M", "quantity": 1, "unit_price": amount}],
        taxes=[{"code": "VAT10", "amount": str(tax)}],
        tenders=[{"type": "card" if int(number[1:]) % 2 else "cash", "amount": str(net + tax)}],
        **changes,
    )


def test_daily_settlement_is_queued_once_after_the_store_closes(store: SqlStore) -> None:
    # Given a hub settling per day, the store closing at 21:00 Paris time, and an ERP
    clock = ManualClock(START)  # 2026-03-02 09:00 UTC = 10:00 in Paris
    hub = bootstrap(
        hub_settings(
            **{
                "tickets.mode": "daily_settlement",
                "tickets.settle_after_by_store": {"S1": "21:00"},
            }
        ),
        store=store,
        clock=clock,
    )
    seed_master(hub)
    hub.deliveries.put_target("erp", {"url": "http://127.0.0.1:9/erp", "postings": True})
    # When three tickets are accepted during the day
    amounts = ["10.00", "20.00", "7.50"]
    for i, amount in enumerate(amounts, 1):
        result = hub.submit_document(_command(day_ticket(f"T{i}", amount)))
        assert result.status.value == "accepted"
    # Then nothing is posted per ticket, and nothing is settled while the store is open
    assert hub.store.deliveries(target="erp") == []
    clock.set(datetime.fromisoformat("2026-03-02T19:59:00+00:00"))  # 20:59 in Paris
    assert hub.ingest.settle_closed_days() == 0
    # When the store has closed
    clock.set(datetime.fromisoformat("2026-03-02T20:00:00+00:00"))  # 21:00 in Paris
    assert hub.ingest.settle_closed_days() == 1
    # Then exactly one settlement is queued, however often the tick runs
    assert hub.ingest.settle_closed_days() == 0
    hub.ingest.housekeeping()
    (posting,) = hub.store.deliveries(target="erp")
    assert posting.idempotency_key == "settlement:S1:2026-03-02"
    doc = posting.payload
    assert doc["ticket_count"] == 3 and doc["tickets"] == ["T1", "T2", "T3"]
    (totals,) = doc["totals"]
    assert totals["sales"] == "37.50" and totals["net_sales"] == "37.50"
    assert totals["tax"] == {"VAT10": "3.75"}
    assert totals["tenders"] == {"card": "19.25", "cash": "22.00"}
    assert totals["tenders_total"] == "41.25"
    assert hub.store.settlements("S1")[0].ticket_count == 3
    # When a late ticket for that day arrives, it goes into a supplement, not the first one
    assert hub.submit_document(_command(day_ticket("T4", "1.00"))).status.value == "accepted"
    clock.advance(timedelta(seconds=1))
    assert hub.ingest.settle_closed_days() == 1
    keys = [d.idempotency_key for d in hub.store.deliveries(target="erp")]
    assert keys == ["settlement:S1:2026-03-02", "settlement:S1:2026-03-02:2"]
    assert hub.store.settlements("S1")[1].document["tickets"] == ["T4"]
    hub.close()


def _command(raw: dict[str, Any]) -> Any:
    from stockbridge.app.documents import TicketCommand, parse_ticket

    parsed = parse_ticket(raw)
    assert isinstance(parsed, TicketCommand)
    return parsed


def test_the_settlement_reaches_the_erp_after_close_with_the_days_totals(
    store: SqlStore, receiver: Receiver
) -> None:
    # Given a hub settling daily, on the real clock, with its writer ticking
    hub, server = start_system(store, **{"tickets.mode": "daily_settlement"})
    with admin_client(server) as client:
        erp(client, receiver)
        # When a closed business day's tickets arrive (a store sending yesterday's batch)
        day = {"business_date": "2020-01-06"}
        batch = [day_ticket("T1", "10.00", **day), day_ticket("T2", "4.00", **day)]
        r = client.post("/v1/tickets", json={"tickets": batch})
        assert r.json()["totals"]["accepted"] == 2, r.text
        # Then one summary is posted by the writer's tick, with the day's totals
        receiver.wait_applied(1)
        wait_for(hub, lambda: settled(hub), "deliveries to drain")
        assert receiver.applied_keys() == ["settlement:S1:2020-01-06"]
        (doc,) = documents(receiver, "settlement")
        (totals,) = doc["totals"]
        assert (totals["ticket_count"], totals["sales"], totals["tax_total"]) == (
            2,
            "14.00",
            "1.40",
        )
        assert totals["tenders"] == {"card": "11.00", "cash": "4.40"}
        got = client.get("/v1/tickets/pos/T2").json()
        assert (got["posting"], got["settlement"]) == ("settlement", "settlement:S1:2020-01-06")
        listed = client.get("/v1/settlements", params={"store": "S1"}).json()["settlements"]
        assert [(s["business_date"], s["ticket_count"]) for s in listed] == [("2020-01-06", 2)]
