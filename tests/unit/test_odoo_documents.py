"""What each posting becomes in an ERP, and filing documents once through the port."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from stockbridge.connectors.erp.documents import (
    ErpDocument,
    Flow,
    Invoice,
    Line,
    NotForErp,
    SalesOrderCancel,
    StockCount,
    StockTransfer,
    documents_for,
)
from stockbridge.connectors.erp.port import Found, file_documents
from stockbridge.connectors.odoo.config import OdooTargetSettings


def posting(movement: str, quantity: str, **more: Any) -> dict[str, Any]:
    return {
        "type": "posting",
        "movement": movement,
        "document_number": "pos:e1",
        "sku": "TEE-M",
        "location": "S1",
        "quantity": quantity,
        "occurred_at": "2026-03-02T09:00:00+00:00",
        **more,
    }


@pytest.mark.parametrize(
    ("movement", "quantity", "flow"),
    [
        ("sale", "2", Flow.DELIVERY),
        ("sale", "-2", Flow.CUSTOMER_RETURN),
        ("receipt", "2", Flow.RECEIPT),
        ("return", "2", Flow.CUSTOMER_RETURN),
        ("fulfil", "2", Flow.DELIVERY),
        ("transfer_out", "2", Flow.TRANSIT_OUT),
        ("transfer_in", "2", Flow.TRANSIT_IN),
    ],
)
def test_a_movement_is_a_transfer_in_its_direction(
    movement: str, quantity: str, flow: Flow
) -> None:
    (doc,) = documents_for(posting(movement, quantity))
    assert doc == StockTransfer(
        "pos:e1", flow, "S1", (Line(Decimal(2), "TEE-M"),), "2026-03-02T09:00:00+00:00"
    )


def test_counts_and_adjustments_set_stock_and_a_status_change_posts_nothing() -> None:
    (count,) = documents_for(posting("count", "7"))
    assert isinstance(count, StockCount) and not count.delta and count.quantity == 7
    (adjust,) = documents_for(posting("adjustment", "-1"))
    assert isinstance(adjust, StockCount) and adjust.delta and adjust.quantity == -1
    assert documents_for(posting("status_change", "1")) == []
    assert documents_for(posting("receipt", "0")) == []


def ticket(lines: list[dict[str, Any]], tax: str = "0.00") -> dict[str, Any]:
    return {
        "type": "ticket",
        "document_number": "ticket:pos:T1",
        "store": "S1",
        "business_date": "2026-03-02",
        "currency": "EUR",
        "lines": lines,
        "tax": [{"code": "VAT20", "amount": tax}],
    }


def test_a_ticket_is_an_invoice_with_the_goods_out_and_back() -> None:
    docs = documents_for(
        ticket(
            [
                {"line": 1, "sku": "TEE-M", "quantity": "2", "net": "18.00"},
                {"line": 2, "sku": "MUG", "quantity": "-1", "net": "-5.00", "return": True},
            ],
            tax="2.60",
        )
    )
    invoice, out, back = docs
    assert isinstance(invoice, Invoice) and not invoice.refund
    assert sum(x.quantity * (x.price or 0) for x in invoice.lines) == Decimal("15.60")
    assert isinstance(out, StockTransfer) and out.flow is Flow.DELIVERY
    assert isinstance(back, StockTransfer) and back.flow is Flow.CUSTOMER_RETURN
    assert back.reference == "ticket:pos:T1/return"
    assert back.lines == (Line(Decimal(1), "MUG"),)


def test_a_ticket_of_returns_only_is_a_credit_note() -> None:
    (credit, back) = documents_for(
        ticket([{"line": 1, "sku": "MUG", "quantity": "-1", "net": "-5.00", "return": True}])
    )
    assert isinstance(credit, Invoice) and credit.refund
    assert [(x.quantity, x.price) for x in credit.lines if x.sku] == [(1, Decimal(5))]
    assert isinstance(back, StockTransfer)


def test_order_steps_and_returns() -> None:
    cancel = {
        "type": "cancellation",
        "document_number": "cancel:web:O1:C1",
        "order_number": "order:web:O1",
        "status": "cancelled",
        "lines": [],
    }
    assert documents_for(cancel) == [SalesOrderCancel("cancel:web:O1:C1", "order:web:O1")]
    assert documents_for({**cancel, "status": "partially_fulfilled"}) == []
    ret = {
        "type": "return",
        "document_number": "return:pos:R1",
        "location": "S1",
        "returned_at": "2026-03-02T10:00:00+00:00",
        "original_reference": "ticket:pos:T1",
        "lines": [{"line": 1, "sku": "MUG", "quantity": "1"}],
    }
    credit, back = documents_for(ret)
    assert isinstance(credit, Invoice) and credit.refund and credit.origin == "ticket:pos:T1"
    assert isinstance(back, StockTransfer) and back.flow is Flow.CUSTOMER_RETURN


def test_what_is_no_posting_is_refused() -> None:
    with pytest.raises(NotForErp):
        documents_for({"type": "availability", "sku": "TEE-M"})


class FakeErp:
    """Documents held in a dict; records the calls made."""

    def __init__(self, held: dict[str, Found]) -> None:
        self.held = held
        self.calls: list[str] = []

    async def find(self, document: ErpDocument) -> Found | None:
        self.calls.append(f"find {document.reference}")
        return self.held.get(document.reference)

    async def create(self, document: ErpDocument) -> Found:
        self.calls.append(f"create {document.reference}")
        return Found("new", False)

    async def apply(self, document: ErpDocument, found: Found) -> None:
        self.calls.append(f"apply {document.reference} {found.id}")


def test_filing_looks_up_first_and_only_finishes_what_is_missing() -> None:
    def count(ref: str) -> StockCount:
        return StockCount(ref, "S1", "MUG", Decimal(1), False, "2026-03-02")

    erp = FakeErp({"done": Found("1", True), "draft": Found("2", False)})
    filed = asyncio.run(file_documents(erp, [count("done"), count("draft"), count("none")]))
    assert [f.applied for f in filed] == [True, True, True]
    assert erp.calls == [
        "find done",
        "find draft",
        "apply draft 2",
        "find none",
        "create none",
        "apply none new",
    ]


def test_settings_name_what_each_protocol_needs() -> None:
    with pytest.raises(ValidationError, match="api_key_env is required"):
        OdooTargetSettings.model_validate({"partner_id": 1})
    with pytest.raises(ValidationError, match="database, login, password_env required"):
        OdooTargetSettings.model_validate({"protocol": "jsonrpc", "partner_id": 1})
    settings = OdooTargetSettings.model_validate({"api_key_env": "ODOO_KEY", "partner_id": 1})
    with pytest.raises(ValueError, match=r"platform\.api_key_env: environment variable ODOO_KEY"):
        settings.secret({})
    assert settings.secret({"ODOO_KEY": "k"}) == "k"


def test_a_settlement_is_one_summary_invoice_per_currency() -> None:
    totals = {
        "ticket_count": 3,
        "net_sales": "120.00",
        "tax": {"VAT20": "20.00"},
        "tenders": {"card": "140.00"},
    }
    settlement = {
        "type": "settlement",
        "document_number": "settlement:S1:2026-03-02",
        "store": "S1",
        "business_date": "2026-03-02",
    }
    (one,) = documents_for({**settlement, "totals": [{"currency": "EUR", **totals}]})
    assert isinstance(one, Invoice) and one.reference == "settlement:S1:2026-03-02"
    assert one.lines == (
        Line(Decimal(1), None, Decimal("120.00"), "Sales S1 2026-03-02 (3 tickets)"),
    )
    two = documents_for(
        {
            **settlement,
            "totals": [
                {"currency": "EUR", **totals},
                {"currency": "CHF", **totals, "net_sales": "-4"},
            ],
        }
    )
    assert [(d.reference, d.refund) for d in two if isinstance(d, Invoice)] == [
        ("settlement:S1:2026-03-02/EUR", False),
        ("settlement:S1:2026-03-02/CHF", True),
    ]


def test_a_transfer_order_books_nothing_until_it_ships() -> None:
    # A warehouse instruction (the 3PL's 940): the ERP books the shipment, not the order
    order = {"type": "transfer_order", "transfer_id": "T1", "lines": [], "cancel": False}
    assert documents_for(order) == []
