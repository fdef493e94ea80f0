"""Transfer orders between locations: shipments, receipts, over and short receipts.

Pure code. A transfer order moves lines from one location to another. A shipment takes
units out at the sending location and puts them in transit at the receiving one
(`transfer_out` with the counterparty); a receipt takes them out of transit into on hand
there (`transfer_in`). Receipts may be partial. Units received beyond what is in transit
are an over receipt: they are booked in (a `receipt`) and declared. Closing a transfer
with units still in transit is a short receipt: declared, and the remainder is written
off (`transfer_in` then an `adjustment` out, so in transit drops and on hand does not
rise) or kept in transit for a late receipt, by configuration.

Status: open → partially_shipped / shipped → partially_received / received → closed.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from .errors import Reason
from .errors import Refusal as Refusal  # one type for every workflow, kept importable here

ZERO = Decimal(0)
ShortReceipt = Literal["write_off", "keep_in_transit"]


class TransferStatus(StrEnum):
    OPEN = "open"
    PARTIALLY_SHIPPED = "partially_shipped"
    SHIPPED = "shipped"
    PARTIALLY_RECEIVED = "partially_received"
    RECEIVED = "received"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class TransferLine:
    line: int
    sku: str
    quantity: Decimal


@dataclass(frozen=True, slots=True)
class Transfer:
    transfer_id: str
    source: str
    from_location: str
    to_location: str
    created_at: datetime
    lines: tuple[TransferLine, ...]


@dataclass(frozen=True, slots=True)
class Movement:
    """A shipment or a receipt: quantities per line number."""

    movement_id: str
    lines: tuple[tuple[int, Decimal], ...]
    at: datetime


@dataclass(frozen=True, slots=True)
class LineState:
    line: int
    sku: str
    quantity: Decimal
    shipped: Decimal = ZERO
    received: Decimal = ZERO
    #: Units received beyond what was in transit (declared as over receipts).
    over: Decimal = ZERO
    #: Units never received and written off at close (declared as short receipts).
    written_off: Decimal = ZERO

    @property
    def in_transit(self) -> Decimal:
        return self.shipped - self.received - self.written_off

    @property
    def to_ship(self) -> Decimal:
        return self.quantity - self.shipped


@dataclass(frozen=True, slots=True)
class TransferState:
    transfer: Transfer
    lines: tuple[LineState, ...]
    shipments: Mapping[str, str] = field(default_factory=dict)
    receipts: Mapping[str, str] = field(default_factory=dict)
    closed: bool = False

    @property
    def status(self) -> TransferStatus:
        if self.closed:
            return TransferStatus.CLOSED
        shipped = sum((x.shipped for x in self.lines), ZERO)
        received = sum((x.received for x in self.lines), ZERO)
        if received:
            done = all(x.to_ship <= 0 and x.in_transit <= 0 for x in self.lines)
            return TransferStatus.RECEIVED if done else TransferStatus.PARTIALLY_RECEIVED
        if shipped:
            done = all(x.to_ship <= 0 for x in self.lines)
            return TransferStatus.SHIPPED if done else TransferStatus.PARTIALLY_SHIPPED
        return TransferStatus.OPEN

    def line(self, number: int) -> LineState | None:
        return next((x for x in self.lines if x.line == number), None)


@dataclass(frozen=True, slots=True)
class ErpDocument:
    kind: str  # transfer_shipment, transfer_receipt, transfer_close
    document_number: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Declared:
    """An over or short receipt: applied, and shown as an exception with its units."""

    reason: Reason
    detail: str
    lines: list[dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Decision:
    state: TransferState
    events: list[dict[str, Any]]
    document: ErpDocument | None
    declared: Declared | None = None


def transfer_number(transfer_id: str) -> str:
    return f"transfer:{transfer_id}"


def open_transfer(transfer: Transfer) -> TransferState:
    return TransferState(
        transfer, tuple(LineState(x.line, x.sku, x.quantity) for x in transfer.lines)
    )


# --- events and documents -----------------------------------------------------------------
def _event(
    t: Transfer, line: LineState, step: str, type_: str, qty: Decimal, at: datetime, **extra: Any
) -> dict[str, Any]:
    inbound = type_ != "transfer_out"
    return {
        "event_id": f"transfer:{t.transfer_id}:{line.line}:{step}",
        "source": t.source,
        "type": type_,
        "sku": line.sku,
        "location": t.to_location if inbound else t.from_location,
        "counterparty_location": t.from_location if inbound else t.to_location,
        "quantity": format(qty, "f"),
        "occurred_at": at.isoformat(),
        "reference": transfer_number(t.transfer_id),
        "correlation_id": transfer_number(t.transfer_id),
        **extra,
    }


def _units(line: LineState, qty: Decimal) -> dict[str, Any]:
    return {"line": line.line, "sku": line.sku, "quantity": format(qty, "f")}


def _document(
    state: TransferState,
    kind: str,
    number: str,
    at: datetime,
    lines: list[dict[str, Any]],
    **more: Any,
) -> ErpDocument:
    t = state.transfer
    return ErpDocument(
        kind,
        number,
        {
            "type": kind,
            "document_number": number,
            "transfer_number": transfer_number(t.transfer_id),
            "transfer_id": t.transfer_id,
            "from_location": t.from_location,
            "to_location": t.to_location,
            "at": at.isoformat(),
            "lines": lines,
            "status": state.status.value,
            "correlation_id": transfer_number(t.transfer_id),
            **more,
        },
    )


def warehouse_order(state: TransferState, at: datetime, cancel: bool = False) -> ErpDocument:
    """The order to pick and ship a transfer at its sending location, for a warehouse that
    ships on instruction (a 3PL's 940), or its cancellation: every line as ordered."""
    t = state.transfer
    number = f"transfer_order:{t.transfer_id}" + (":cancel" if cancel else "")
    lines = [_units(x, x.quantity) for x in state.lines]
    return _document(state, "transfer_order", number, at, lines, cancel=cancel)


def cancels_order(before: TransferState, after: TransferState) -> bool:
    """Closing leaves units unshipped: the warehouse must not ship them any more."""
    return after.closed and not before.closed and any(x.to_ship > 0 for x in before.lines)


def _check(state: TransferState, lines: Sequence[tuple[int, Decimal]], what: str) -> Refusal | None:
    """Refuse an empty movement, unknown or repeated lines and quantities below one unit."""
    if not lines:
        return Refusal(Reason.INVALID_TRANSFER, "lines", f"a {what} needs at least one line")
    seen: set[int] = set()
    for i, (number, qty) in enumerate(lines):
        if state.line(number) is None:
            return Refusal(
                Reason.INVALID_TRANSFER, f"lines[{i}].line", f"the transfer has no line {number}"
            )
        if number in seen:
            return Refusal(
                Reason.INVALID_TRANSFER, f"lines[{i}].line", f"line {number} given twice"
            )
        seen.add(number)
        if qty <= 0:
            return Refusal(Reason.INVALID_TRANSFER, f"lines[{i}].quantity", "must be positive")
    return None


# --- decisions ----------------------------------------------------------------------------
def ship(state: TransferState, shipment: Movement, fingerprint: str = "") -> Decision | Refusal:
    """Units leave the sending location and are in transit to the receiving one."""
    if state.closed:
        return Refusal(Reason.INVALID_TRANSFER, "transfer_id", "the transfer is closed")
    refused = _check(state, shipment.lines, "shipment")
    if refused is not None:
        return refused
    wanted = dict(shipment.lines)
    for i, (n, asked) in enumerate(shipment.lines):
        ordered = state.line(n)
        assert ordered is not None
        if asked > ordered.to_ship:
            return Refusal(
                Reason.OVER_SHIPMENT,
                f"lines[{i}].quantity",
                f"cannot ship {asked} of line {n}: ordered {ordered.quantity}, shipped "
                f"{ordered.shipped}, {ordered.to_ship} left",
            )
    t = state.transfer
    step = f"ship:{shipment.movement_id}"
    events: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    lines: list[LineState] = []
    for line in state.lines:
        qty = wanted.get(line.line)
        if qty:
            events.append(_event(t, line, step, "transfer_out", qty, shipment.at))
            units.append(_units(line, qty))
            line = replace(line, shipped=line.shipped + qty)
        lines.append(line)
    new = replace(
        state, lines=tuple(lines), shipments={**state.shipments, shipment.movement_id: fingerprint}
    )
    number = f"transfer_shipment:{t.transfer_id}:{shipment.movement_id}"
    document = _document(
        new, "transfer_shipment", number, shipment.at, units, shipment_id=shipment.movement_id
    )
    return Decision(new, events, document)


def receive(state: TransferState, receipt: Movement, fingerprint: str = "") -> Decision | Refusal:
    """Units arrive: out of transit into on hand; beyond what is in transit, an over receipt.

    Late receipts on a closed transfer are taken the same way (units kept in transit by
    a close are received; units already written off arrive as an over receipt).
    """
    refused = _check(state, receipt.lines, "receipt")
    if refused is not None:
        return refused
    t = state.transfer
    wanted = dict(receipt.lines)
    step = f"receive:{receipt.movement_id}"
    events: list[dict[str, Any]] = []
    units: list[dict[str, Any]] = []
    over: list[dict[str, Any]] = []
    lines: list[LineState] = []
    for line in state.lines:
        qty = wanted.get(line.line)
        if qty:
            matched = min(qty, max(ZERO, line.in_transit))
            excess = qty - matched
            if matched:
                events.append(_event(t, line, step, "transfer_in", matched, receipt.at))
            if excess:
                events.append(
                    _event(
                        t,
                        line,
                        f"{step}:over",
                        "receipt",
                        excess,
                        receipt.at,
                        reason="over_receipt",
                    )
                )
                over.append(_units(line, excess))
            units.append(_units(line, qty))
            line = replace(line, received=line.received + matched, over=line.over + excess)
        lines.append(line)
    new = replace(
        state, lines=tuple(lines), receipts={**state.receipts, receipt.movement_id: fingerprint}
    )
    number = f"transfer_receipt:{t.transfer_id}:{receipt.movement_id}"
    document = _document(
        new,
        "transfer_receipt",
        number,
        receipt.at,
        units,
        receipt_id=receipt.movement_id,
        over=over,
    )
    declared = None
    if over:
        total = sum((Decimal(x["quantity"]) for x in over), ZERO)
        declared = Declared(
            Reason.OVER_RECEIPT,
            f"receipt {receipt.movement_id} of transfer {t.transfer_id}: {total} unit(s) "
            "more than were in transit",
            over,
        )
    return Decision(new, events, document, declared)


def close(state: TransferState, at: datetime, short_receipt: ShortReceipt) -> Decision:
    """Close the transfer: nothing more ships; units still in transit are a short receipt."""
    t = state.transfer
    events: list[dict[str, Any]] = []
    short: list[dict[str, Any]] = []
    lines = []
    for line in state.lines:
        remainder = line.in_transit
        if remainder > 0:
            short.append(_units(line, remainder))
            if short_receipt == "write_off":
                note = {"reason": "short_receipt"}
                events.append(_event(t, line, "close:short", "transfer_in", remainder, at, **note))
                events.append(
                    _event(t, line, "close:write_off", "adjustment", -remainder, at, **note)
                )
                line = replace(line, written_off=line.written_off + remainder)
        lines.append(line)
    new = replace(state, lines=tuple(lines), closed=True)
    document = None
    declared = None
    if short:
        number = f"transfer_close:{t.transfer_id}"
        document = _document(new, "transfer_close", number, at, short, short_receipt=short_receipt)
        total = sum((Decimal(x["quantity"]) for x in short), ZERO)
        verb = "written off" if short_receipt == "write_off" else "kept in transit"
        declared = Declared(
            Reason.SHORT_RECEIPT,
            f"transfer {t.transfer_id} closed with {total} unit(s) shipped and not "
            f"received: {verb}",
            short,
        )
    return Decision(new, events, document, declared)


# --- storage form -------------------------------------------------------------------------
def state_to_json(state: TransferState) -> dict[str, Any]:
    t = state.transfer
    return {
        "transfer_id": t.transfer_id,
        "source": t.source,
        "from_location": t.from_location,
        "to_location": t.to_location,
        "created_at": t.created_at.isoformat(),
        "status": state.status.value,
        "closed": state.closed,
        "lines": [
            {
                "line": x.line,
                "sku": x.sku,
                "quantity": str(x.quantity),
                "shipped": str(x.shipped),
                "received": str(x.received),
                "in_transit": str(x.in_transit),
                "over": str(x.over),
                "written_off": str(x.written_off),
            }
            for x in state.lines
        ],
        "shipments": dict(state.shipments),
        "receipts": dict(state.receipts),
    }


def state_from_json(data: Mapping[str, Any]) -> TransferState:
    lines = tuple(
        LineState(
            x["line"],
            x["sku"],
            Decimal(x["quantity"]),
            Decimal(x["shipped"]),
            Decimal(x["received"]),
            Decimal(x["over"]),
            Decimal(x["written_off"]),
        )
        for x in data["lines"]
    )
    transfer = Transfer(
        data["transfer_id"],
        data["source"],
        data["from_location"],
        data["to_location"],
        datetime.fromisoformat(data["created_at"]),
        tuple(TransferLine(x.line, x.sku, x.quantity) for x in lines),
    )
    return TransferState(
        transfer, lines, dict(data["shipments"]), dict(data["receipts"]), data["closed"]
    )
