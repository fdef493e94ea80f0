"""Online and marketplace orders: a state machine that reserves, ships and cancels stock.

Pure code. An order accepted by the hub reserves each line's quantity at its fulfilment
location; a shipment fulfils part or all of a line; a cancellation releases what is still
open. Each step returns the ledger events it causes and the ERP document it posts
(sales order, shipment, cancellation), or a refusal saying why it cannot be done.

The ledger's reservations are all-or-nothing: a `fulfil` or `release` closes the whole
reservation (DESIGN §4, law 3). A partial step therefore closes the line's current
reservation and opens a new one for what stays open, under the next id in the line's
chain: `order:{channel}:{order_id}:{line}`, then `...:{line}:1`, `...:{line}:2`...
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import Reason
from .errors import Refusal as Refusal  # one type for every workflow, kept importable here
from .tickets import money

ZERO = Decimal(0)


class OrderStatus(StrEnum):
    ACCEPTED = "accepted"
    PARTIALLY_FULFILLED = "partially_fulfilled"
    FULFILLED = "fulfilled"
    CANCELLED = "cancelled"


@dataclass(frozen=True, slots=True)
class OrderLine:
    line: int
    sku: str
    quantity: Decimal
    price: Decimal
    #: Where the line ships from: its stock is reserved there.
    location: str


@dataclass(frozen=True, slots=True)
class Order:
    channel: str
    order_id: str
    ordered_at: datetime
    currency: str
    lines: tuple[OrderLine, ...]


@dataclass(frozen=True, slots=True)
class Fulfilment:
    """A shipment: quantities per line number."""

    shipment_id: str
    lines: tuple[tuple[int, Decimal], ...]
    shipped_at: datetime


@dataclass(frozen=True, slots=True)
class Cancellation:
    """Quantities per line number to cancel; `lines=None` cancels everything still open."""

    cancel_id: str
    lines: tuple[tuple[int, Decimal], ...] | None
    cancelled_at: datetime
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class LineState:
    line: int
    sku: str
    location: str
    price: Decimal
    ordered: Decimal
    shipped: Decimal = ZERO
    cancelled: Decimal = ZERO
    #: How many reservations the line has opened after the first (partial steps).
    generation: int = 0

    @property
    def open(self) -> Decimal:
        return self.ordered - self.shipped - self.cancelled


@dataclass(frozen=True, slots=True)
class OrderState:
    order: Order
    lines: tuple[LineState, ...]
    #: Shipment and cancellation ids already applied -> the fingerprint of their content.
    shipments: Mapping[str, str] = field(default_factory=dict)
    cancellations: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> OrderStatus:
        shipped = sum((x.shipped for x in self.lines), ZERO)
        if any(x.open > 0 for x in self.lines):
            return OrderStatus.PARTIALLY_FULFILLED if shipped else OrderStatus.ACCEPTED
        return OrderStatus.FULFILLED if shipped else OrderStatus.CANCELLED

    def line(self, number: int) -> LineState | None:
        return next((x for x in self.lines if x.line == number), None)


@dataclass(frozen=True, slots=True)
class ErpDocument:
    kind: str  # sales_order, shipment, cancellation
    document_number: str  # the ERP's external reference: the idempotency key
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    state: OrderState
    events: list[dict[str, Any]]
    document: ErpDocument


# --- identities ---------------------------------------------------------------------------
def order_number(channel: str, order_id: str) -> str:
    return f"order:{channel}:{order_id}"


def reservation_id(channel: str, order_id: str, line: int, generation: int = 0) -> str:
    base = f"order:{channel}:{order_id}:{line}"
    return base if generation == 0 else f"{base}:{generation}"


def _event(
    order: Order, event_id: str, type_: str, line: LineState, quantity: Decimal, at: datetime
) -> dict[str, Any]:
    return {
        "event_id": f"order:{order.order_id}:{line.line}:{event_id}",
        "source": order.channel,
        "type": type_,
        "sku": line.sku,
        "location": line.location,
        "quantity": format(quantity, "f"),
        "occurred_at": at.isoformat(),
        "reference": order_number(order.channel, order.order_id),
        "correlation_id": order_number(order.channel, order.order_id),
    }


def _reserve(order: Order, line: LineState, event_id: str, at: datetime) -> dict[str, Any]:
    return _close(order, line, "reserve", event_id, line.open, at)


def _close(
    order: Order, line: LineState, type_: str, event_id: str, qty: Decimal, at: datetime
) -> dict[str, Any]:
    """An event on the line's reservation (reserve, fulfil or release)."""
    raw = _event(order, event_id, type_, line, qty, at)
    raw["reservation_id"] = reservation_id(
        order.channel, order.order_id, line.line, line.generation
    )
    return raw


# --- decisions ----------------------------------------------------------------------------
def accept(order: Order) -> Decision:
    """A new order: reserve every line at its location and post the sales order."""
    lines = tuple(LineState(x.line, x.sku, x.location, x.price, x.quantity) for x in order.lines)
    state = OrderState(order, lines)
    events = [_reserve(order, x, "reserve", order.ordered_at) for x in lines]
    number = order_number(order.channel, order.order_id)
    total = sum((x.quantity * x.price for x in order.lines), ZERO)
    document = ErpDocument(
        "sales_order",
        number,
        {
            "type": "sales_order",
            "document_number": number,
            "channel": order.channel,
            "order_id": order.order_id,
            "ordered_at": order.ordered_at.isoformat(),
            "currency": order.currency,
            "lines": [
                {
                    "line": x.line,
                    "sku": x.sku,
                    "quantity": format(x.quantity, "f"),
                    "price": money(x.price),
                    "location": x.location,
                }
                for x in order.lines
            ],
            "total": money(total),
            "correlation_id": number,
        },
    )
    return Decision(state, events, document)


def _quantities(
    state: OrderState, lines: Sequence[tuple[int, Decimal]], verb: str, reason: Reason
) -> Refusal | None:
    """Refuse unknown lines, repeated lines, and more than a line has open."""
    seen: set[int] = set()
    for i, (number, qty) in enumerate(lines):
        line = state.line(number)
        where = f"lines[{i}]"
        if line is None:
            return Refusal(Reason.INVALID_ORDER, f"{where}.line", f"order has no line {number}")
        if number in seen:
            return Refusal(Reason.INVALID_ORDER, f"{where}.line", f"line {number} given twice")
        seen.add(number)
        if qty <= 0:
            return Refusal(Reason.INVALID_ORDER, f"{where}.quantity", "must be positive")
        if qty > line.open:
            return Refusal(
                reason,
                f"{where}.quantity",
                f"cannot {verb} {qty} of line {number}: ordered {line.ordered}, shipped "
                f"{line.shipped}, cancelled {line.cancelled}, {line.open} open",
            )
    return None


def _step(
    state: OrderState,
    lines: Sequence[tuple[int, Decimal]],
    close_type: str,
    step_id: str,
    at: datetime,
) -> tuple[tuple[LineState, ...], list[dict[str, Any]], list[tuple[LineState, Decimal]]]:
    """Close the touched lines' reservations and reopen what stays open, line by line."""
    wanted = dict(lines)
    new_lines: list[LineState] = []
    events: list[dict[str, Any]] = []
    touched: list[tuple[LineState, Decimal]] = []
    for line in state.lines:
        qty = wanted.get(line.line)
        if not qty:
            new_lines.append(line)
            continue
        events.append(_close(state.order, line, close_type, f"{step_id}", qty, at))
        if close_type == "fulfil":
            after = replace(line, shipped=line.shipped + qty)
        else:
            after = replace(line, cancelled=line.cancelled + qty)
        if after.open > 0:
            after = replace(after, generation=line.generation + 1)
            events.append(_reserve(state.order, after, f"reserve:{after.generation}", at))
        new_lines.append(after)
        touched.append((line, qty))
    return tuple(new_lines), events, touched


def _step_document(
    kind: str,
    number: str,
    new: OrderState,
    touched: Sequence[tuple[LineState, Decimal]],
    **step: Any,
) -> ErpDocument:
    """The ERP document of a shipment or cancellation: its own fields, then the lines."""
    order = new.order
    return ErpDocument(
        kind,
        number,
        {
            "type": kind,
            "document_number": number,
            "order_number": order_number(order.channel, order.order_id),
            "channel": order.channel,
            "order_id": order.order_id,
            **step,
            "lines": [
                {"line": x.line, "sku": x.sku, "location": x.location, "quantity": format(q, "f")}
                for x, q in touched
            ],
            "status": new.status.value,
            "correlation_id": order_number(order.channel, order.order_id),
        },
    )


def fulfil(state: OrderState, shipment: Fulfilment, fingerprint: str = "") -> Decision | Refusal:
    """Ship quantities of some lines: never more than a line has open."""
    if not shipment.lines:
        return Refusal(Reason.INVALID_ORDER, "lines", "a shipment needs at least one line")
    refused = _quantities(state, shipment.lines, "ship", Reason.OVER_FULFILMENT)
    if refused is not None:
        return refused
    lines, events, touched = _step(
        state, shipment.lines, "fulfil", f"ship:{shipment.shipment_id}", shipment.shipped_at
    )
    new = replace(
        state, lines=lines, shipments={**state.shipments, shipment.shipment_id: fingerprint}
    )
    order = state.order
    number = f"shipment:{order.channel}:{order.order_id}:{shipment.shipment_id}"
    document = _step_document(
        "shipment",
        number,
        new,
        touched,
        shipment_id=shipment.shipment_id,
        shipped_at=shipment.shipped_at.isoformat(),
    )
    return Decision(new, events, document)


def cancel(state: OrderState, c: Cancellation, fingerprint: str = "") -> Decision | Refusal:
    """Cancel quantities still open (all of them when no lines are given).

    Shipped units cannot be cancelled: they are a return's business.
    """
    lines = c.lines
    if lines is None:
        lines = tuple((x.line, x.open) for x in state.lines if x.open > 0)
        if not lines:
            return Refusal(
                Reason.OVER_CANCELLATION, "lines", "nothing is left open on the order to cancel"
            )
    elif not lines:
        return Refusal(Reason.INVALID_ORDER, "lines", "give lines to cancel, or none for all")
    refused = _quantities(state, lines, "cancel", Reason.OVER_CANCELLATION)
    if refused is not None:
        return refused
    new_lines, events, touched = _step(
        state, lines, "release", f"cancel:{c.cancel_id}", c.cancelled_at
    )
    new = replace(
        state, lines=new_lines, cancellations={**state.cancellations, c.cancel_id: fingerprint}
    )
    order = state.order
    number = f"cancel:{order.channel}:{order.order_id}:{c.cancel_id}"
    document = _step_document(
        "cancellation",
        number,
        new,
        touched,
        cancel_id=c.cancel_id,
        cancelled_at=c.cancelled_at.isoformat(),
        reason=c.reason,
    )
    return Decision(new, events, document)


# --- storage form -------------------------------------------------------------------------
def state_to_json(state: OrderState) -> dict[str, Any]:
    o = state.order
    return {
        "channel": o.channel,
        "order_id": o.order_id,
        "ordered_at": o.ordered_at.isoformat(),
        "currency": o.currency,
        "status": state.status.value,
        "lines": [
            {
                "line": x.line,
                "sku": x.sku,
                "location": x.location,
                "price": str(x.price),
                "ordered": str(x.ordered),
                "shipped": str(x.shipped),
                "cancelled": str(x.cancelled),
                "open": str(x.open),
                "generation": x.generation,
                "reservation_id": reservation_id(o.channel, o.order_id, x.line, x.generation),
            }
            for x in state.lines
        ],
        "shipments": dict(state.shipments),
        "cancellations": dict(state.cancellations),
    }


def state_from_json(data: Mapping[str, Any]) -> OrderState:
    lines = tuple(
        LineState(
            x["line"],
            x["sku"],
            x["location"],
            Decimal(x["price"]),
            Decimal(x["ordered"]),
            Decimal(x["shipped"]),
            Decimal(x["cancelled"]),
            x["generation"],
        )
        for x in data["lines"]
    )
    order = Order(
        data["channel"],
        data["order_id"],
        datetime.fromisoformat(data["ordered_at"]),
        data["currency"],
        tuple(OrderLine(x.line, x.sku, x.ordered, x.price, x.location) for x in lines),
    )
    return OrderState(order, lines, dict(data["shipments"]), dict(data["cancellations"]))
