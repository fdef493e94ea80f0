"""Tickets and orders over real HTTP, on SQLite and PostgreSQL: each endpoint, good and bad."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from tests.conftest import LiveServer, event, seed_master

PROBLEM = "application/problem+json"


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    r = client.post(
        "/v1/events",
        json={
            "events": [
                event("r-tee", "receipt", quantity=10),
                event("r-mug", "receipt", sku="MUG", quantity=10),
                event("r-dc", "receipt", location="DC", quantity=10),
            ]
        },
    )
    assert r.json()["totals"]["accepted"] == 3, r.text
    return client


def ticket(number: str = "T1", **changes: Any) -> dict[str, Any]:
    """Two tees at 10.00 less 2.00, one mug returned at 5.00, VAT 20%: 15.60 by card."""
    body: dict[str, Any] = {
        "source": "pos",
        "store": "S1",
        "ticket_number": number,
        "occurred_at": "2026-03-02T10:00:00+00:00",
        "currency": "EUR",
        "lines": [
            {"sku": "TEE-M", "quantity": 2, "unit_price": "10.00", "discounts": [{"amount": 2}]},
            {"sku": "MUG", "quantity": 1, "unit_price": "5.00", "return": True},
        ],
        "taxes": [{"code": "VAT20", "rate": "0.20"}],
        "tenders": [{"type": "card", "amount": "15.60"}],
    }
    body.update(changes)
    return body


def order(order_id: str = "O1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "channel": "web",
        "order_id": order_id,
        "ordered_at": "2026-03-02T09:30:00+00:00",
        "currency": "EUR",
        "lines": [
            {"sku": "TEE-M", "quantity": 5, "price": "10.00", "location": "DC"},
            {"sku": "MUG", "quantity": 1, "price": "5.00", "location": "S1"},
        ],
    }
    body.update(changes)
    return body


def position(c: httpx.Client, sku: str, location: str) -> dict[str, Any]:
    body: dict[str, Any] = c.get(f"/v1/positions/{sku}/{location}").json()
    return body


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    return body


# --- tickets ------------------------------------------------------------------------------
def test_a_balanced_ticket_moves_stock_once_and_a_resend_is_a_duplicate(
    api: httpx.Client,
) -> None:
    # When a balanced ticket with a sale and a return is sent twice
    first = api.post("/v1/tickets", json=ticket())
    again = api.post("/v1/tickets", json=ticket())
    # Then it is accepted once, then a duplicate
    assert first.status_code == 200, first.text
    assert first.json() == {
        "source": "pos",
        "ticket_number": "T1",
        "status": "accepted",
        "document_number": "ticket:pos:T1",
    }
    assert again.json()["status"] == "duplicate"
    # And the stock moved once: two tees sold, one mug back
    assert position(api, "TEE-M", "S1")["on_hand"] == 8
    assert position(api, "MUG", "S1")["on_hand"] == 11
    # And the ledger events are named after the ticket and its lines
    sale = api.get("/v1/events/pos/ticket:T1:1").json()
    assert (sale["type"], sale["quantity"], sale["reference"]) == ("sale", 2, "ticket:T1")
    assert api.get("/v1/events/pos/ticket:T1:2").json()["type"] == "return"
    # And the ticket reads back with its totals and business day at the store
    got = api.get("/v1/tickets/pos/T1").json()
    assert got["status"] == "accepted"
    assert got["business_date"] == "2026-03-02"
    assert got["posting"] == "per_ticket"
    assert got["totals"]["sales"] == "18.00"
    assert got["totals"]["returns"] == "5.00"
    assert got["totals"]["tax"] == {"VAT20": "2.60"}
    assert got["totals"]["tenders"] == {"card": "15.60"}


def test_an_unbalanced_ticket_is_an_exception_and_moves_nothing(api: httpx.Client) -> None:
    # When the tenders do not cover lines + tax
    r = api.post("/v1/tickets", json=ticket(tenders=[{"type": "cash", "amount": "15.00"}]))
    # Then it is an exception naming what does not balance
    body = r.json()
    assert (body["status"], body["reason"], body["field"]) == (
        "exception",
        "unbalanced_ticket",
        "tenders",
    )
    assert "15.60" in body["detail"] and "-0.60" in body["detail"]
    # And it waits in the exception queue with the ticket as sent
    listed = api.get("/v1/exceptions", params={"reason": "unbalanced_ticket"}).json()["exceptions"]
    assert [(x["source"], x["event_id"]) for x in listed] == [("pos", "ticket:T1")]
    assert listed[0]["payload"]["ticket"]["ticket_number"] == "T1"
    assert api.get("/v1/tickets/pos/T1").json()["status"] == "exception"
    # And no stock moved
    assert position(api, "TEE-M", "S1")["on_hand"] == 10
    # When the corrected ticket is sent, it is accepted
    assert api.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
    assert position(api, "TEE-M", "S1")["on_hand"] == 8


def test_a_batch_judges_each_ticket_alone(api: httpx.Client) -> None:
    # Given an accepted ticket
    assert api.post("/v1/tickets", json=ticket("T1")).json()["status"] == "accepted"
    bad_tax = ticket("T3", taxes=[{"code": "VAT20", "rate": "0.20", "amount": "9.99"}])
    no_currency = {k: v for k, v in ticket("T4").items() if k != "currency"}
    unknown = ticket("T5")
    unknown["lines"][0]["sku"] = "NOPE"
    # When a batch mixes a good one, a conflicting resend, bad tax, malformed and unknown SKU
    r = api.post(
        "/v1/tickets",
        json={
            "tickets": [
                ticket("T2"),
                ticket("T1", tenders=[{"type": "cash", "amount": "15.60"}]),
                bad_tax,
                no_currency,
                unknown,
            ]
        },
    )
    # Then each has its own answer, in order
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["ticket_number"], x["status"], x.get("reason")) for x in results] == [
        ("T2", "accepted", None),
        ("T1", "exception", "conflicting_duplicate"),
        ("T3", "exception", "unbalanced_ticket"),
        ("T4", "exception", "invalid_ticket"),
        ("T5", "exception", "unknown_sku"),
    ]
    assert results[2]["field"] == "taxes[0].amount"
    assert results[3]["field"] == "currency"
    assert results[4]["field"] == "lines[0].sku"
    assert r.json()["totals"] == {"accepted": 1, "duplicate": 0, "exception": 4}
    # And only the good tickets moved stock
    assert position(api, "TEE-M", "S1")["on_hand"] == 6


def test_a_single_malformed_ticket_is_refused_with_the_field_named(api: httpx.Client) -> None:
    bad = ticket()
    del bad["lines"][0]["unit_price"]
    body = assert_problem(api.post("/v1/tickets", json=bad), 422)
    assert {"field": "lines[0].unit_price", "message": "Field required"} in body["errors"]
    assert_problem(api.post("/v1/tickets", content=b"{nope"), 400)
    assert_problem(api.post("/v1/tickets", json={"tickets": []}), 422)
    assert_problem(api.post("/v1/tickets", json=ticket(lines=[])), 422)
    assert api.get("/v1/exceptions").json()["exceptions"] == []


def test_ticket_endpoints_check_scopes_and_unknown_tickets(
    api: httpx.Client, hub: Hub, live: LiveServer
) -> None:
    key, _ = hub.keys.create("reader", ["positions:read"])
    with httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=30
    ) as reader:
        assert_problem(reader.post("/v1/tickets", json=ticket()), 403)
        assert_problem(reader.get("/v1/tickets/pos/NOPE"), 404)
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        assert_problem(anonymous.get("/v1/tickets/pos/T1"), 401)


# --- orders -------------------------------------------------------------------------------
def test_an_order_sent_three_times_is_accepted_once(api: httpx.Client) -> None:
    answers = [api.post("/v1/orders", json=order()).json() for _ in range(3)]
    assert [a["status"] for a in answers] == ["accepted", "duplicate", "duplicate"]
    assert answers[0]["document_number"] == "order:web:O1"
    # Reserved once at each fulfilment location
    assert position(api, "TEE-M", "DC")["reserved"] == 5
    assert position(api, "MUG", "S1")["reserved"] == 1
    got = api.get("/v1/orders/web/O1").json()
    assert got["status"] == "accepted"
    assert [(x["line"], x["ordered"], x["open"]) for x in got["lines"]] == [
        (1, "5", "5"),
        (2, "1", "1"),
    ]
    # The same id with another content is a conflicting duplicate
    other = api.post("/v1/orders", json=order(currency="USD")).json()
    assert (other["status"], other["reason"]) == ("exception", "conflicting_duplicate")
    assert position(api, "TEE-M", "DC")["reserved"] == 5


def test_partial_fulfilment_then_cancel_the_rest(api: httpx.Client) -> None:
    assert api.post("/v1/orders", json=order()).json()["status"] == "accepted"
    # When two of five tees ship, twice sent under one shipment id
    ship = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 2}]}
    first = api.post("/v1/orders/web/O1/fulfil", json=ship).json()
    again = api.post("/v1/orders/web/O1/fulfil", json=ship).json()
    assert (first["status"], first["document_number"]) == ("accepted", "shipment:web:O1:SH1")
    assert again["status"] == "duplicate"
    # Then two left the DC and three stay reserved
    dc = position(api, "TEE-M", "DC")
    assert (dc["on_hand"], dc["reserved"]) == (8, 3)
    assert api.get("/v1/orders/web/O1").json()["status"] == "partially_fulfilled"
    # When the rest of the order is cancelled
    cancelled = api.post("/v1/orders/web/O1/cancel", json={"cancel_id": "C1"}).json()
    assert (cancelled["status"], cancelled["document_number"]) == (
        "accepted",
        "cancel:web:O1:C1",
    )
    # Then nothing stays reserved, and on hand is down by the shipped units only
    dc = position(api, "TEE-M", "DC")
    assert (dc["on_hand"], dc["reserved"]) == (8, 0)
    mug = position(api, "MUG", "S1")
    assert (mug["on_hand"], mug["reserved"]) == (10, 0)
    got = api.get("/v1/orders/web/O1").json()
    assert got["status"] == "fulfilled"
    assert [(x["shipped"], x["cancelled"], x["open"]) for x in got["lines"]] == [
        ("2", "3", "0"),
        ("0", "1", "0"),
    ]
    # And shipped units cannot be cancelled afterwards
    late = api.post("/v1/orders/web/O1/cancel", json={"lines": [{"line": 1, "quantity": 1}]})
    assert (late.json()["status"], late.json()["reason"]) == ("exception", "over_cancellation")


def test_invalid_order_commands_are_business_exceptions(api: httpx.Client) -> None:
    assert api.post("/v1/orders", json=order()).json()["status"] == "accepted"
    over = api.post(
        "/v1/orders/web/O1/fulfil", json={"shipment_id": "X", "lines": [{"line": 1, "quantity": 6}]}
    ).json()
    assert (over["status"], over["reason"], over["field"]) == (
        "exception",
        "over_fulfilment",
        "lines[0].quantity",
    )
    no_line = api.post(
        "/v1/orders/web/O1/fulfil", json={"lines": [{"line": 9, "quantity": 1}]}
    ).json()
    assert (no_line["reason"], no_line["field"]) == ("invalid_order", "lines[0].line")
    unknown = api.post("/v1/orders/web/NOPE/cancel").json()
    assert (unknown["status"], unknown["reason"]) == ("exception", "invalid_order")
    bad_sku = order("O2")
    bad_sku["lines"][1]["sku"] = "NOPE"
    refused = api.post("/v1/orders", json=bad_sku).json()
    assert (refused["reason"], refused["field"]) == ("unknown_sku", "lines[1].sku")
    reasons = sorted(x["reason"] for x in api.get("/v1/exceptions").json()["exceptions"])
    assert reasons == ["invalid_order", "invalid_order", "over_fulfilment", "unknown_sku"]
    # Nothing moved for the refused commands
    assert position(api, "TEE-M", "DC")["reserved"] == 5
    assert api.get("/v1/orders/web/O2").json()["status"] == "exception"


def test_malformed_orders_are_refused_with_the_field_named(api: httpx.Client) -> None:
    bad = order()
    bad["lines"][0]["quantity"] = 0
    body = assert_problem(api.post("/v1/orders", json=bad), 422)
    assert body["errors"][0]["field"] == "lines[0].quantity"
    body = assert_problem(api.post("/v1/orders/web/O1/fulfil", json={"lines": []}), 422)
    assert body["errors"][0]["field"] == "lines"
    assert_problem(api.post("/v1/orders", json=[1, 2]), 422)
    assert_problem(api.get("/v1/orders/web/NOPE"), 404)


def test_a_ticket_held_for_an_unknown_item_is_replayed_after_the_fix(
    api: httpx.Client, hub: Hub
) -> None:
    # Given a ticket whose till code is not cross-referenced yet
    held = ticket()
    held["lines"][0]["sku"] = "9999"
    answer = api.post("/v1/tickets", json=held).json()
    assert (answer["reason"], answer["field"]) == ("unknown_sku", "lines[0].sku")
    (exc,) = api.get("/v1/exceptions", params={"reason": "unknown_sku"}).json()["exceptions"]
    # When the cross reference is added and the exception replayed
    r = api.put(
        "/v1/xrefs",
        json={
            "xrefs": [{"source": "pos", "kind": "item", "external_code": "9999", "code": "TEE-M"}]
        },
    )
    assert r.status_code == 200, r.text
    replayed = api.post(f"/v1/exceptions/{exc['id']}/replay").json()
    # Then the ticket is accepted, the exception resolved, and the stock moved
    assert replayed["result"]["status"] == "accepted"
    assert replayed["exception"]["status"] == "resolved"
    assert api.get("/v1/tickets/pos/T1").json()["status"] == "accepted"
    assert position(api, "TEE-M", "S1")["on_hand"] == 8
