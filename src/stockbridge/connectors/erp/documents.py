"""The ERP documents a delivery becomes, whatever the ERP.

Pure: a posting payload (a movement, a ticket, a settlement, an order step, a return, a
transfer step) in, a list of neutral documents out, each with its own reference derived
from the delivery's document number. An ERP connector files them through its
`ErpDocuments` port; nothing here knows Odoo or NetSuite.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any

ZERO = Decimal(0)


class Flow(StrEnum):
    """Where goods go: between a location and a partner, or through transit."""

    #: From a supplier into the location.
    RECEIPT = "receipt"
    #: Out of the location to a customer.
    DELIVERY = "delivery"
    #: Back from a customer into the location.
    CUSTOMER_RETURN = "customer_return"
    #: Out of the location into transit (a transfer shipped).
    TRANSIT_OUT = "transit_out"
    #: Out of transit into the location (a transfer received).
    TRANSIT_IN = "transit_in"


#: The flow that undoes each one (a negative quantity is the reverse movement).
REVERSE = {
    Flow.RECEIPT: Flow.DELIVERY,
    Flow.DELIVERY: Flow.CUSTOMER_RETURN,
    Flow.CUSTOMER_RETURN: Flow.DELIVERY,
    Flow.TRANSIT_OUT: Flow.TRANSIT_IN,
    Flow.TRANSIT_IN: Flow.TRANSIT_OUT,
}


@dataclass(frozen=True, slots=True)
class Line:
    """A document line: an item (enterprise SKU) or, without one, a label only."""

    quantity: Decimal
    sku: str | None = None
    #: Unit price; None lets the ERP take the item's own price.
    price: Decimal | None = None
    label: str | None = None


@dataclass(frozen=True, slots=True)
class StockTransfer:
    """Goods moved between a location and a partner or transit, validated at once."""

    reference: str
    flow: Flow
    location: str
    lines: tuple[Line, ...]
    date: str


@dataclass(frozen=True, slots=True)
class StockCount:
    """Stock of one item at one location set to a counted quantity, or moved by a delta."""

    reference: str
    location: str
    sku: str
    quantity: Decimal
    #: True: `quantity` is a change of the on hand; False: it is the counted on hand.
    delta: bool
    date: str


@dataclass(frozen=True, slots=True)
class Invoice:
    """A customer invoice, or a credit note (`refund`), posted at once."""

    reference: str
    refund: bool
    lines: tuple[Line, ...]
    date: str
    currency: str | None = None
    #: The document this one comes from (the original ticket or order), for the ERP's users.
    origin: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class SalesOrder:
    """A customer order, confirmed at once."""

    reference: str
    lines: tuple[Line, ...]
    date: str
    currency: str | None = None


@dataclass(frozen=True, slots=True)
class SalesOrderCancel:
    """The whole of an earlier sales order cancelled."""

    reference: str
    order_reference: str


ErpDocument = StockTransfer | StockCount | Invoice | SalesOrder | SalesOrderCancel


class NotForErp(ValueError):
    """A delivery that is no ERP posting (an availability push or a price)."""


# --- movements ----------------------------------------------------------------------------
_MOVEMENT_FLOWS = {
    "sale": Flow.DELIVERY,
    "fulfil": Flow.DELIVERY,
    "return": Flow.CUSTOMER_RETURN,
    "receipt": Flow.RECEIPT,
    "transfer_out": Flow.TRANSIT_OUT,
    "transfer_in": Flow.TRANSIT_IN,
}


def _transfer(
    reference: str, flow: Flow, location: str, qty: Decimal, sku: str, date: str
) -> list[ErpDocument]:
    if qty == 0:
        return []
    if qty < 0:
        flow, qty = REVERSE[flow], -qty
    return [StockTransfer(reference, flow, location, (Line(qty, sku),), date)]


def movement_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    """One movement event: a validated transfer, an inventory count or an adjustment.

    A `status_change` (sellable <-> non-sellable) moves nothing on the ERP's books: the
    units stay on hand at the same location, so it is acknowledged without a document.
    """
    ref, movement = str(p["document_number"]), str(p["movement"])
    qty, sku, loc, date = (
        Decimal(str(p["quantity"])),
        str(p["sku"]),
        str(p["location"]),
        str(p["occurred_at"]),
    )
    if movement == "count":
        return [StockCount(ref, loc, sku, qty, False, date)]
    if movement == "adjustment":
        return [StockCount(ref, loc, sku, qty, True, date)] if qty else []
    if movement == "status_change":
        return []
    try:
        flow = _MOVEMENT_FLOWS[movement]
    except KeyError:
        raise NotForErp(f"unknown movement {movement!r}") from None
    return _transfer(ref, flow, loc, qty, sku, date)


# --- documents ----------------------------------------------------------------------------
def _qty(line: Mapping[str, Any]) -> Decimal:
    return Decimal(str(line["quantity"]))


def ticket_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    """A store ticket: its invoice (a credit note when returns outweigh sales), the goods
    that left the store and those that came back.

    Line prices are the line's net over its quantity, so discounts are in them; tax lines
    are label lines, so the invoice totals what the customer paid.
    """
    ref, store, date = str(p["document_number"]), str(p["store"]), str(p["business_date"])
    lines = []
    sold: list[Line] = []
    back: list[Line] = []
    for x in p["lines"]:
        qty, net = _qty(x), Decimal(str(x["net"]))
        if qty == 0:
            continue
        lines.append(Line(qty, str(x["sku"]), net / qty))
        (back if qty < 0 or x.get("return") else sold).append(Line(abs(qty), str(x["sku"])))
    for t in p.get("tax") or []:
        lines.append(Line(Decimal(1), None, Decimal(str(t["amount"])), f"Tax {t['code']}"))
    total = sum((x.quantity * (x.price or ZERO) for x in lines), ZERO)
    refund = total < 0
    if refund:
        lines = [Line(-x.quantity, x.sku, x.price, x.label) for x in lines]
    out: list[ErpDocument] = [
        Invoice(ref, refund, tuple(lines), date, p.get("currency"), origin=ref)
    ]
    if sold:
        out.append(StockTransfer(ref, Flow.DELIVERY, store, tuple(sold), date))
    if back:
        out.append(StockTransfer(f"{ref}/return", Flow.CUSTOMER_RETURN, store, tuple(back), date))
    return out


def settlement_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    """A store's daily settlement: one summary invoice per currency (net sales), with the
    ticket count, tax by code and tenders by type in its note."""
    ref, date = str(p["document_number"]), str(p["business_date"])
    totals = list(p["totals"])
    out: list[ErpDocument] = []
    for t in totals:
        net = Decimal(str(t["net_sales"]))
        reference = ref if len(totals) == 1 else f"{ref}/{t['currency']}"
        label = f"Sales {p['store']} {date} ({t['ticket_count']} tickets)"
        note = f"tax {t['tax']}; tenders {t['tenders']}"
        line = Line(Decimal(1), None, abs(net), label)
        out.append(Invoice(reference, net < 0, (line,), date, t["currency"], ref, note))
    return out


def _by_location(lines: list[Any]) -> dict[str, list[Line]]:
    grouped: dict[str, list[Line]] = defaultdict(list)
    for x in lines:
        grouped[str(x["location"])].append(Line(_qty(x), str(x["sku"])))
    return grouped


def order_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    kind, ref = p["type"], str(p["document_number"])
    if kind == "sales_order":
        lines = tuple(Line(_qty(x), str(x["sku"]), Decimal(str(x["price"]))) for x in p["lines"])
        return [SalesOrder(ref, lines, str(p["ordered_at"]), p.get("currency"))]
    if kind == "shipment":
        grouped = _by_location(p["lines"])
        date = str(p.get("shipped_at") or "")
        return [
            StockTransfer(
                ref if len(grouped) == 1 else f"{ref}/{loc}", Flow.DELIVERY, loc, tuple(lines), date
            )
            for loc, lines in sorted(grouped.items())
        ]
    # A cancellation: only a whole order has a state of its own in an ERP; a partial one
    # leaves the order as it is (invoiced on delivered quantities).
    if p.get("status") == "cancelled":
        return [SalesOrderCancel(ref, str(p["order_number"]))]
    return []


def return_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    ref, loc = str(p["document_number"]), str(p["location"])
    if p["type"] == "write_off":
        date = str(p["written_off_at"])
        return [
            StockCount(f"{ref}/{x['line']}", loc, str(x["sku"]), -_qty(x), True, date)
            for x in p["lines"]
        ]
    date = str(p["returned_at"])
    lines = tuple(Line(_qty(x), str(x["sku"])) for x in p["lines"])
    origin = p.get("original_reference") or p.get("refund_reference")
    return [
        Invoice(ref, True, lines, date, None, origin),
        StockTransfer(ref, Flow.CUSTOMER_RETURN, loc, lines, date),
    ]


def transfer_documents(p: Mapping[str, Any]) -> list[ErpDocument]:
    ref, date = str(p["document_number"]), str(p["at"])
    lines = tuple(Line(_qty(x), str(x["sku"])) for x in p["lines"])
    if p["type"] == "transfer_shipment":
        return [StockTransfer(ref, Flow.TRANSIT_OUT, str(p["from_location"]), lines, date)]
    to = str(p["to_location"])
    if p["type"] == "transfer_receipt":
        out: list[ErpDocument] = []
        if lines:
            out.append(StockTransfer(ref, Flow.TRANSIT_IN, to, lines, date))
        over = tuple(Line(_qty(x), str(x["sku"])) for x in p.get("over") or [])
        if over:
            out.append(StockTransfer(f"{ref}/over", Flow.RECEIPT, to, over, date))
        return out
    # transfer_close: units written off leave transit into the store, then the books.
    if p.get("short_receipt") != "write_off":
        return []
    out = [StockTransfer(ref, Flow.TRANSIT_IN, to, lines, date)]
    out += [
        StockCount(f"{ref}/{x['line']}", to, str(x["sku"]), -_qty(x), True, date)
        for x in p["lines"]
    ]
    return out


def documents_for(payload: Mapping[str, Any]) -> list[ErpDocument]:
    """The ERP documents of one posting delivery, in the order they must be filed.

    Raises NotForErp for a payload that is no posting.
    """
    kind = payload.get("type")
    if kind == "posting":
        return movement_documents(payload)
    if kind == "ticket":
        return ticket_documents(payload)
    if kind == "settlement":
        return settlement_documents(payload)
    if kind in ("sales_order", "shipment", "cancellation"):
        return order_documents(payload)
    if kind in ("return", "write_off"):
        return return_documents(payload)
    if kind == "transfer_order":
        return []  # an instruction to a warehouse: the books move when the units ship
    if kind in ("transfer_shipment", "transfer_receipt", "transfer_close"):
        return transfer_documents(payload)
    raise NotForErp(f"an ERP target takes postings, not {kind!r} deliveries")
