"""ERP postings to a simulated Odoo over real HTTP: movements, tickets, outages, timeouts
after Odoo applied a document, and Odoo's business errors."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.connectors.odoo.simulator import Injected

from ..conftest import event
from .conftest import settled, wait_for
from .odoo_system import Odoo, credentials, hub_client, odoo, target_body
from .test_tickets_orders_api import ticket

__all__ = ["credentials", "hub_client", "odoo"]  # fixtures


def put_erp(client: httpx.Client, odoo: Odoo, protocol: str = "json2", **target: object) -> None:
    r = client.put("/v1/targets/erp", json=target_body(odoo, protocol, **target))
    assert r.status_code == 200, r.text


def post_events(client: httpx.Client, *events: dict[str, object]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.json()["totals"]["accepted"] == len(events), r.text


def ledger_on_hand(hub: Hub, sku: str, location: str) -> Decimal:
    view = hub.positions.position(sku, location)
    return view.on_hand if view is not None else Decimal(0)


def deliveries(hub: Hub) -> list[tuple[str, str]]:
    return [(d.idempotency_key, d.state) for d in hub.store.deliveries(target="erp")]


@pytest.mark.parametrize("protocol", ["json2", "jsonrpc"])
def test_movements_and_a_ticket_land_in_odoo_as_the_ledger_has_them(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo, protocol: str
) -> None:
    hub, client = hub_client
    put_erp(client, odoo, protocol)
    # Given a receipt, a count, an adjustment, a transfer out and a store ticket
    post_events(
        client,
        event("r1", "receipt", quantity=10),
        event("r2", "receipt", sku="MUG", quantity=3),
        event("c1", "count", sku="MUG", quantity=7),
        event("a1", "adjustment", quantity=-1, reason="damaged"),
        event("x1", "transfer_out", quantity=2, counterparty_location="S2"),
    )
    # (a count is absolute and a ticket travels on its own delivery key: the ticket
    # follows once the count is in, as it would a while later in a store)
    wait_for(hub, lambda: settled(hub), "the movements to reach Odoo")
    assert client.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub), "postings to reach Odoo")
    # Then every posting was delivered and Odoo holds what the ledger holds
    assert {state for _, state in deliveries(hub)} == {"delivered"}
    for sku in ("TEE-M", "MUG"):
        assert odoo.on_hand(sku, "S1") == ledger_on_hand(hub, sku, "S1"), sku
    assert odoo.on_hand("TEE-M", "S1") == Decimal(5)  # 10 - 1 - 2 - 2 sold
    assert odoo.on_hand("MUG", "S1") == Decimal(8)  # counted 7, one returned
    # And each document carries our reference, once
    assert [p["state"] for p in odoo.records("stock.picking", origin="pos:r1")] == ["done"]
    assert len(odoo.records("stock.move", name="pos:c1", is_inventory=True)) == 1
    (invoice,) = odoo.records("account.move", ref="ticket:pos:T1")
    assert invoice["move_type"] == "out_invoice" and invoice["state"] == "posted"
    assert invoice["amount_total"] == pytest.approx(15.60)
    assert [p["state"] for p in odoo.records("stock.picking", origin="ticket:pos:T1/return")] == [
        "done"
    ]


def test_postings_queue_through_an_outage_and_land_once_in_order(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo
) -> None:
    hub, client = hub_client
    put_erp(client, odoo)
    # Given Odoo in maintenance (503) while the store keeps selling
    odoo.faults.outage = True
    post_events(
        client,
        event("r1", "receipt", quantity=10, at="2026-03-02T09:00:00+00:00"),
        event("s1", "sale", quantity=3, at="2026-03-02T09:01:00+00:00"),
        event("c1", "count", quantity=6, at="2026-03-02T09:02:00+00:00"),
        event("s2", "sale", quantity=1, at="2026-03-02T09:03:00+00:00"),
    )
    wait_for(
        hub,
        lambda: hub.store.deliveries(target="erp")[0].attempts >= 3,
        "retries during the outage",
    )
    # Then nothing reached Odoo, nothing was given up, and the later postings wait behind
    # the first (same SKU and location) without being tried
    assert odoo.state.db.applied == []
    queued = sorted(hub.store.deliveries(target="erp"), key=lambda d: d.id)
    assert [d.state for d in queued] == ["pending"] * 4
    assert [d.attempts for d in queued[1:]] == [0, 0, 0]
    # When the maintenance ends
    odoo.faults.outage = False
    wait_for(hub, lambda: settled(hub), "the queue to drain")
    # Then each posting landed once, in the order the store made them
    assert odoo.applied_references() == ["pos:r1", "pos:s1", "pos:c1", "pos:s2"]
    assert odoo.on_hand("TEE-M", "S1") == ledger_on_hand(hub, "TEE-M", "S1") == Decimal(5)


@pytest.mark.parametrize(
    "stalled",
    [("stock.picking", "button_validate"), ("stock.picking", "create")],
    ids=["after-validate", "after-create"],
)
def test_a_timeout_after_odoo_applied_creates_no_second_document(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo, stalled: tuple[str, str]
) -> None:
    hub, client = hub_client
    # Given an Odoo that carries out the call, then answers after the target's timeout
    put_erp(client, odoo, timeout_seconds=0.3)
    odoo.faults.stall_after[stalled] = 1.0
    post_events(client, event("r1", "receipt", quantity=10))
    wait_for(hub, lambda: settled(hub), "the receipt to be delivered")
    # Then the retry found the picking by its origin: one picking, stock counted once
    (delivery,) = hub.store.deliveries(target="erp")
    assert delivery.state == "delivered" and delivery.attempts >= 2
    assert len(odoo.records("stock.picking", origin="pos:r1")) == 1
    assert odoo.state.calls["stock.picking.create"] == 1
    assert odoo.on_hand("TEE-M", "S1") == Decimal(10)


def test_a_closed_period_is_a_business_exception_with_odoos_message(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo
) -> None:
    hub, client = hub_client
    put_erp(client, odoo)
    # Given an accounting period closed up to the ticket's day
    odoo.state.db.lock_date = "2026-03-31"
    assert client.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub), "the ticket's posting to finish")
    # Then the posting is rejected, not retried, and waits with Odoo's own words
    (delivery,) = hub.store.deliveries(target="erp")
    assert delivery.state == "rejected" and delivery.attempts == 1
    (exc,) = hub.store.exceptions(reason="target_rejected")
    assert "odoo.exceptions.UserError" in exc.detail
    assert "prior to and inclusive of the lock date 2026-03-31" in exc.detail
    assert exc.payload["document_number"] == "ticket:pos:T1"
    # When the period is reopened and the exception replayed
    odoo.state.db.lock_date = None
    r = client.post(f"/v1/exceptions/{exc.id}/replay")
    assert r.status_code == 200, r.text
    wait_for(hub, lambda: settled(hub), "the replayed posting")
    # Then the draft invoice left by the refusal is posted: still one invoice
    (invoice,) = odoo.records("account.move", ref="ticket:pos:T1")
    assert invoice["state"] == "posted"


def test_an_unknown_product_and_an_injected_validation_error_are_rejected(
    hub_client: tuple[Hub, httpx.Client], odoo: Odoo
) -> None:
    hub, client = hub_client
    put_erp(client, odoo, "jsonrpc")
    odoo.faults.errors[("stock.picking", "button_validate")] = Injected(
        "odoo.exceptions.ValidationError", "The quantity done for the product Mug is negative."
    )
    post_events(
        client,
        event("r1", "receipt", sku="CHEESE", quantity=2),
        event("r2", "receipt", sku="MUG", quantity=2),
    )
    wait_for(hub, lambda: settled(hub), "both postings to finish")
    details = sorted(e.detail for e in hub.store.exceptions(reason="target_rejected"))
    assert len(details) == 2
    assert "no Odoo product has the Internal Reference 'CHEESE'" in details[0]
    assert "odoo.exceptions.ValidationError: The quantity done" in details[1]
    assert odoo.state.db.applied == []
