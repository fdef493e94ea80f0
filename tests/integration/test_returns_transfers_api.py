"""Returns and transfers over real HTTP, on SQLite and PostgreSQL: each endpoint, good and bad."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from tests.conftest import ADMIN_KEY, LiveServer, event, hub_settings, seed_master

from .test_tickets_orders_api import assert_problem, position

RULES = [
    {"condition": "damaged", "outcome": "non_sellable", "reason": "damaged"},
    {"condition": "damaged", "category": "apparel", "outcome": "write_off", "reason": "torn"},
    {"condition": "defective", "outcome": "non_sellable", "reason": "vendor_return"},
    {"condition": "opened", "outcome": "sellable"},
]


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    r = client.post(
        "/v1/events",
        json={
            "events": [
                event("r-dc", "receipt", location="DC", quantity=10),
                event("r-mug", "receipt", sku="MUG", location="S1", quantity=10),
            ]
        },
    )
    assert r.json()["totals"]["accepted"] == 2, r.text
    return client


@pytest.fixture
def ruled(store: SqlStore, clock: ManualClock) -> Iterator[httpx.Client]:
    """A hub with inspection rules, over HTTP."""
    hub = bootstrap(
        hub_settings(**{"returns.rules": RULES, "transfers.short_receipt": "write_off"}),
        store=store,
        clock=clock,
    )
    seed_master(hub)
    server = LiveServer(create_app(hub)).start()
    with httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as c:
        yield c
    server.stop()
    hub.stop()


def a_return(return_id: str = "R1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "return_id": return_id,
        "source": "pos",
        "location": "S1",
        "returned_at": "2026-03-02T10:00:00+00:00",
        "refund_reference": "REF-9",
        "original_reference": "ticket:T1",
        "lines": [
            {"sku": "MUG", "quantity": 2, "condition": "sellable"},
            {"sku": "MUG", "quantity": 5, "condition": "pending_inspection"},
        ],
    }
    body.update(changes)
    return body


def a_transfer(transfer_id: str = "TR1", **changes: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "transfer_id": transfer_id,
        "from": "DC",
        "to": "S2",
        "lines": [{"sku": "TEE-M", "quantity": 6}],
    }
    body.update(changes)
    return body


def quantities(c: httpx.Client, sku: str, location: str) -> tuple[Any, ...]:
    p = position(c, sku, location)
    return (p["on_hand"], p["non_sellable"], p["in_transit"], p["available"])


# --- returns ------------------------------------------------------------------------------
def test_a_return_then_partial_grading(api: httpx.Client) -> None:
    # When a return of 2 sellable and 5 pending mugs is received at S1 (10 on hand, 2 safety)
    r = api.post("/v1/returns", json=a_return())
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["status"], body["document_number"]) == ("accepted", "return:pos:R1")
    assert body["return"]["status"] == "pending_inspection"
    # Then all 7 are on hand, the 5 pending are non-sellable
    assert quantities(api, "MUG", "S1") == (17, 5, 0, 10)
    # When 2 of the 5 are graded sellable now
    grade = {"grade_id": "G1", "lines": [{"line": 2, "quantity": 2, "condition": "sellable"}]}
    g = api.post("/v1/returns/R1/grade", json=grade)
    assert g.status_code == 200, g.text
    assert g.json()["return"]["lines"][1]["pending"] == "3"
    assert quantities(api, "MUG", "S1") == (17, 3, 0, 12)
    # And the same grade again is a duplicate that changes nothing
    again = api.post("/v1/returns/R1/grade", json=grade)
    assert again.json()["status"] == "duplicate"
    assert quantities(api, "MUG", "S1") == (17, 3, 0, 12)
    # When 3 more are graded damaged (kept non-sellable by the default rule)
    rest = {"grade_id": "G2", "lines": [{"line": 2, "quantity": 3, "condition": "damaged"}]}
    assert api.post("/v1/returns/R1/grade", json=rest).json()["status"] == "accepted"
    got = api.get("/v1/returns/R1").json()
    assert got["status"] == "completed"
    line = got["lines"][1]
    assert (line["pending"], line["sellable"], line["non_sellable"]) == ("0", "2", "3")
    assert got["refund_reference"] == "REF-9"
    assert quantities(api, "MUG", "S1") == (17, 3, 0, 12)


def test_grading_more_than_pending_is_refused_naming_the_field(api: httpx.Client) -> None:
    assert api.post("/v1/returns", json=a_return()).status_code == 200
    over = {"grade_id": "G1", "lines": [{"line": 2, "quantity": 6, "condition": "sellable"}]}
    p = assert_problem(api.post("/v1/returns/R1/grade", json=over), 422)
    assert (p["reason"], p["field"]) == ("over_grading", "lines[0].quantity")
    # Nothing moved
    assert quantities(api, "MUG", "S1") == (17, 5, 0, 10)
    # A line already fully sellable has nothing pending either
    p = assert_problem(
        api.post(
            "/v1/returns/R1/grade",
            json={"grade_id": "G2", "lines": [{"line": 1, "quantity": 1, "condition": "ok"}]},
        ),
        422,
    )
    assert p["reason"] == "over_grading"


def test_return_idempotency_and_conflicts(api: httpx.Client) -> None:
    assert api.post("/v1/returns", json=a_return()).json()["status"] == "accepted"
    again = api.post("/v1/returns", json=a_return())
    assert again.status_code == 200 and again.json()["status"] == "duplicate"
    assert again.json()["return"]["return_id"] == "R1"
    p = assert_problem(api.post("/v1/returns", json=a_return(refund_reference="X")), 409)
    assert (p["reason"], p["field"]) == ("conflicting_duplicate", "return_id")
    grade = {"grade_id": "G1", "lines": [{"line": 2, "quantity": 1, "condition": "sellable"}]}
    assert api.post("/v1/returns/R1/grade", json=grade).json()["status"] == "accepted"
    grade["lines"][0]["quantity"] = 2
    p = assert_problem(api.post("/v1/returns/R1/grade", json=grade), 409)
    assert p["field"] == "grade_id"
    # The stock moved once only
    assert quantities(api, "MUG", "S1") == (17, 4, 0, 11)


def test_bad_return_input_is_a_problem_naming_the_field(api: httpx.Client) -> None:
    bad = a_return(lines=[{"sku": "MUG", "quantity": -1, "condition": "sellable"}])
    p = assert_problem(api.post("/v1/returns", json=bad), 422)
    assert p["errors"][0]["field"] == "lines[0].quantity"
    p = assert_problem(api.post("/v1/returns", json={**a_return(), "returned_at": "today"}), 422)
    assert p["errors"][0]["field"] == "returned_at"
    p = assert_problem(api.post("/v1/returns", content=b"{"), 400)
    unknown = a_return(lines=[{"sku": "NOPE", "quantity": 1, "condition": "sellable"}])
    p = assert_problem(api.post("/v1/returns", json=unknown), 422)
    assert (p["reason"], p["field"]) == ("unknown_sku", "lines[0].sku")
    p = assert_problem(
        api.post(
            "/v1/returns/NOPE/grade",
            json={"grade_id": "G", "lines": [{"line": 1, "quantity": 1, "condition": "sellable"}]},
        ),
        404,
    )
    assert p["field"] == "return_id"
    assert_problem(api.get("/v1/returns/NOPE"), 404)
    p = assert_problem(api.post("/v1/returns/R1/grade", json={"lines": []}), 422)
    assert {e["field"] for e in p["errors"]} == {"grade_id", "lines"}
    # Scopes: reading needs positions:read, sending events:write
    assert api.get("/v1/returns/R1", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_inspection_rules_from_config(ruled: httpx.Client) -> None:
    c = ruled
    r = c.post("/v1/events", json={"events": [event("r1", "receipt", quantity=10)]})
    assert r.json()["totals"]["accepted"] == 1
    # A torn apparel tee is written off; a defective one kept aside for the vendor
    body = a_return(
        lines=[
            {"sku": "TEE-M", "quantity": 1, "condition": "damaged"},
            {"sku": "TEE-M", "quantity": 2, "condition": "defective"},
            {"sku": "TEE-M", "quantity": 3, "condition": "opened"},
        ]
    )
    got = c.post("/v1/returns", json=body).json()["return"]
    assert [
        (x["written_off"], x["non_sellable"], x["sellable"], x["reason"]) for x in got["lines"]
    ] == [
        ("1", "0", "0", "torn"),
        ("0", "2", "0", "vendor_return"),
        ("0", "0", "3", None),
    ]
    # 10 + 2 kept aside + 3 sellable; the written-off unit is neither on hand nor aside
    assert quantities(c, "TEE-M", "S1") == (15, 2, 0, 13)


# --- transfers ----------------------------------------------------------------------------
def test_a_transfer_shipped_received_in_parts_and_closed_short(ruled: httpx.Client) -> None:
    c = ruled
    r = c.post("/v1/events", json={"events": [event("r1", "receipt", location="DC", quantity=10)]})
    assert r.json()["totals"]["accepted"] == 1
    t = c.post("/v1/transfers", json=a_transfer())
    assert t.status_code == 200, t.text
    assert t.json()["transfer"]["status"] == "open"
    ship = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 5}]}
    s = c.post("/v1/transfers/TR1/ship", json=ship).json()
    assert s["transfer"]["status"] == "partially_shipped"
    assert quantities(c, "TEE-M", "DC")[0] == 5
    assert quantities(c, "TEE-M", "S2") == (0, 0, 5, 0)
    rec = {"receipt_id": "RC1", "lines": [{"line": 1, "quantity": 3}]}
    got = c.post("/v1/transfers/TR1/receive", json=rec).json()
    assert got["transfer"]["status"] == "partially_received"
    assert quantities(c, "TEE-M", "S2") == (3, 0, 2, 3)
    assert c.post("/v1/transfers/TR1/receive", json=rec).json()["status"] == "duplicate"
    closed = c.post("/v1/transfers/TR1/close").json()
    assert (closed["status"], closed["reason"]) == ("accepted", "short_receipt")
    assert closed["transfer"]["status"] == "closed"
    assert quantities(c, "TEE-M", "S2") == (3, 0, 0, 3)
    assert c.post("/v1/transfers/TR1/close").json()["status"] == "duplicate"
    (exc,) = c.get("/v1/exceptions", params={"reason": "short_receipt"}).json()["exceptions"]
    assert exc["payload"]["lines"] == [{"line": 1, "sku": "TEE-M", "quantity": "2"}]
    # A closed transfer ships no more
    more = {"shipment_id": "SH2", "lines": [{"line": 1, "quantity": 1}]}
    p = assert_problem(c.post("/v1/transfers/TR1/ship", json=more), 422)
    assert p["reason"] == "invalid_transfer"


def test_over_receipt_is_booked_and_declared(api: httpx.Client) -> None:
    assert api.post("/v1/transfers", json=a_transfer()).status_code == 200
    ship = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 2}]}
    assert api.post("/v1/transfers/TR1/ship", json=ship).json()["status"] == "accepted"
    rec = {"receipt_id": "RC1", "lines": [{"line": 1, "quantity": 3}]}
    got = api.post("/v1/transfers/TR1/receive", json=rec).json()
    assert (got["status"], got["reason"]) == ("accepted", "over_receipt")
    assert quantities(api, "TEE-M", "S2") == (3, 0, 0, 3)
    (exc,) = api.get("/v1/exceptions", params={"reason": "over_receipt"}).json()["exceptions"]
    assert exc["payload"]["lines"][0]["quantity"] == "1"


def test_bad_transfer_input(api: httpx.Client) -> None:
    p = assert_problem(api.post("/v1/transfers", json=a_transfer(to="DC")), 422)
    assert p["errors"][0]["field"] == "$" or "from" in p["detail"]
    p = assert_problem(api.post("/v1/transfers", json=a_transfer(to="NOWHERE")), 422)
    assert (p["reason"], p["field"]) == ("unknown_location", "to")
    p = assert_problem(api.post("/v1/transfers", json={"transfer_id": "X"}), 422)
    assert {e["field"] for e in p["errors"]} >= {"from", "to", "lines"}
    assert api.post("/v1/transfers", json=a_transfer()).json()["status"] == "accepted"
    p = assert_problem(api.post("/v1/transfers", json=a_transfer(to="S1")), 409)
    assert p["field"] == "transfer_id"
    over = {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 7}]}
    p = assert_problem(api.post("/v1/transfers/TR1/ship", json=over), 422)
    assert (p["reason"], p["field"]) == ("over_shipment", "lines[0].quantity")
    p = assert_problem(
        api.post(
            "/v1/transfers/TR1/ship",
            json={"lines": [{"line": 9, "quantity": 1}], "shipment_id": "S"},
        ),
        422,
    )
    assert p["field"] == "lines[0].line"
    p = assert_problem(
        api.post(
            "/v1/transfers/NOPE/receive",
            json={"receipt_id": "R", "lines": [{"line": 1, "quantity": 1}]},
        ),
        404,
    )
    assert_problem(api.post("/v1/transfers/NOPE/close"), 404)
    assert_problem(api.get("/v1/transfers/NOPE"), 404)
    assert api.get("/v1/transfers/TR1").json()["lines"][0]["shipped"] == "0"
