"""What the hub sends a 3PL: the postings that become a 940 or a 943. Pure code.

A posting target of kind x12 receives every ERP posting of the hub. Two of them mean
work for the warehouse:

- a `sales_order` with lines to fulfil at the partner's location: a 940 warehouse
  shipping order for those lines (the order's reservations are held at that location);
- a `transfer_shipment` whose destination is the partner's location: a 943 stock
  transfer shipment advice, so the warehouse expects the units;
- a `transfer_order` (a transfer created) whose origin is the partner's location: a 940
  shipping the transfer's lines to the receiving location (N1*ST), its depositor order
  number the transfer id; and, when the transfer is closed with units unshipped, a 940
  with W05-01 `C` for the same number;
- a reservation held at the partner's location (a `reserve` posting: the target takes
  reservation holds): a 940 for the reserved units, its depositor order number the
  reservation id, one per reservation however often the hold is delivered; and its
  `release` before shipment: a 940 with W05-01 `C` (cancel) for the same number, so the
  warehouse does not ship it. A release whose 940 was never written cancels nothing and
  voids a hold that comes after it.

Every other posting is none of the warehouse's business and is skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from .config import PartnerSettings
from .documents import CANCEL, ORIGINAL, shipping_order, transfer_advice

#: Longest depositor order number (element 285, AN 1/22).
MAX_ORDER_NUMBER = 22


@dataclass(frozen=True, slots=True)
class Outgoing:
    set_id: str
    functional_id: str
    body: list[list[str]]
    #: The depositor order number written (W05-02 / W06-02), what the answer refers to.
    depositor_order: str
    #: What the depositor order number stands for, kept in the partner's state.
    reference: dict[str, Any]
    #: The document's own identity when it is not the delivery's (one 940 per reservation).
    key: str | None = None
    #: For a cancellation: the key of the document it cancels.
    cancels: str | None = None


class Unsendable(ValueError):
    """A posting for the warehouse that cannot be written as X12 (say why)."""


def depositor_number(document_id: str) -> str:
    """The hub's id when it fits element 285, a stable digest of it otherwise."""
    if 0 < len(document_id) <= MAX_ORDER_NUMBER and document_id.isprintable():
        return document_id
    return "H" + hashlib.sha256(document_id.encode()).hexdigest()[: MAX_ORDER_NUMBER - 1]


def _date(value: Any, partner: PartnerSettings) -> str:
    try:
        return datetime.fromisoformat(str(value)).astimezone(partner.zone).strftime("%Y%m%d")
    except ValueError:
        raise Unsendable(f"not a date and time: {value!r}") from None


def _lines(raw: Any, partner: PartnerSettings, here: bool) -> list[tuple[int, str, str, str]]:
    out: list[tuple[int, str, str, str]] = []
    for i, line in enumerate(raw or []):
        if not isinstance(line, Mapping):
            raise Unsendable(f"lines[{i}] is not an object")
        if here and line.get("location") != partner.location:
            continue
        try:
            quantity = Decimal(str(line["quantity"]))
            number = int(line.get("line") or i + 1)
            sku = str(line["sku"])
        except (KeyError, InvalidOperation, ValueError) as e:
            raise Unsendable(f"lines[{i}]: {e}") from None
        out.append((number, sku, partner.item_code(sku), format(quantity, "f")))
    return out


def _order_940(
    body: list[list[str]], number: str, reference: dict[str, Any], key: str, cancel: bool
) -> Outgoing:
    """A 940 that is its own document (one per key), or the one cancelling it."""
    if cancel:
        return Outgoing("940", "OW", body, number, reference, f"{key}:cancel", key)
    return Outgoing("940", "OW", body, number, reference, key)


def reservation_key(reservation_id: str) -> str:
    return f"940:reservation:{reservation_id}"


def _hold(partner: PartnerSettings, payload: Mapping[str, Any]) -> Outgoing | None:
    """A reservation held or released at the partner's location: its 940, or the 940
    cancelling it."""
    reservation_id = payload.get("reservation_id")
    if payload.get("location") != partner.location or not reservation_id:
        return None
    rid = str(reservation_id)
    number = depositor_number(rid)
    line = [(1, partner.item_code(str(payload.get("sku"))), str(payload.get("quantity")))]
    try:
        Decimal(line[0][2])
    except InvalidOperation:
        raise Unsendable(f"quantity: not a number: {line[0][2]!r}") from None
    cancel = payload.get("movement") == "release"
    body = shipping_order(
        number,
        str(payload.get("reference") or "")[:MAX_ORDER_NUMBER],
        partner.location,
        partner.sender_id,
        _date(payload.get("occurred_at"), partner),
        line,
        partner.item_qualifier,
        status=CANCEL if cancel else ORIGINAL,
    )
    reference = {
        "kind": "reservation",
        "reservation_id": rid,
        "document": payload.get("document_number"),
        "lines": {"1": str(payload.get("sku"))},
    }
    return _order_940(body, number, reference, reservation_key(rid), cancel)


def transfer_key(transfer_id: str) -> str:
    return f"940:transfer:{transfer_id}"


def _transfer_order(partner: PartnerSettings, payload: Mapping[str, Any]) -> Outgoing:
    """A transfer out of the partner's location: a 940 shipping its lines to the receiving
    location (N1*ST), or the 940 cancelling it when the transfer was closed unshipped."""
    lines = _lines(payload.get("lines"), partner, here=False)
    transfer_id = str(payload.get("transfer_id"))
    number = depositor_number(transfer_id)
    cancel = bool(payload.get("cancel"))
    to = str(payload.get("to_location"))
    body = shipping_order(
        number,
        str(payload.get("transfer_number") or "")[:MAX_ORDER_NUMBER],
        partner.location,
        partner.sender_id,
        _date(payload.get("at"), partner),
        [(n, code, q) for n, _, code, q in lines],
        partner.item_qualifier,
        status=CANCEL if cancel else ORIGINAL,
        ship_to=to,
    )
    reference = {
        "kind": "transfer",
        "transfer_id": transfer_id,
        "document": payload.get("document_number"),
        "lines": {str(n): sku for n, sku, _, _ in lines},
    }
    return _order_940(body, number, reference, transfer_key(transfer_id), cancel)


def plan(partner: PartnerSettings, payload: Mapping[str, Any]) -> Outgoing | None:
    """The X12 document a posting becomes for this partner, or None."""
    kind = payload.get("type")
    if kind == "posting" and payload.get("movement") in ("reserve", "release"):
        return _hold(partner, payload)
    if kind == "sales_order":
        lines = _lines(payload.get("lines"), partner, here=True)
        if not lines:
            return None
        channel, order_id = str(payload.get("channel")), str(payload.get("order_id"))
        number = depositor_number(order_id)
        body = shipping_order(
            number,
            channel[:MAX_ORDER_NUMBER],
            partner.location,
            partner.sender_id,
            _date(payload.get("ordered_at"), partner),
            [(n, code, q) for n, _, code, q in lines],
            partner.item_qualifier,
        )
        reference = {
            "kind": "order",
            "channel": channel,
            "order_id": order_id,
            "document": payload.get("document_number"),
            "lines": {str(n): sku for n, sku, _, _ in lines},
        }
        return Outgoing("940", "OW", body, number, reference)
    if kind == "transfer_order" and payload.get("from_location") == partner.location:
        return _transfer_order(partner, payload)
    if kind == "transfer_shipment" and payload.get("to_location") == partner.location:
        lines = _lines(payload.get("lines"), partner, here=False)
        transfer_id = str(payload.get("transfer_id"))
        number = depositor_number(transfer_id)
        body = transfer_advice(
            number,
            _date(payload.get("at"), partner),
            str(payload.get("shipment_id") or ""),
            partner.location,
            str(payload.get("from_location")),
            [(n, code, q) for n, _, code, q in lines],
            partner.item_qualifier,
        )
        reference = {
            "kind": "transfer",
            "transfer_id": transfer_id,
            "document": payload.get("document_number"),
            "lines": {str(n): sku for n, sku, _, _ in lines},
        }
        return Outgoing("943", "AR", body, number, reference)
    return None
