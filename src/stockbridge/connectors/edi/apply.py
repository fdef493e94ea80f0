"""What the hub does with each document a 3PL sends, once its file passed every check.

- 945 shipping advice: the shipment of an order the hub sent in a 940 (order lines are
  fulfilled, their reservations closed), or of a transfer out of the warehouse (a
  transfer shipment), or the fulfilment of a reservation held at the warehouse.
- 944 receipt advice: the receipt of a transfer the hub announced in a 943 (or of any
  transfer into the warehouse); without one, `receipt` events.
- 947 adjustment advice: signed `adjustment` events with the reason mapped.
- 846 inventory advice: a snapshot of the warehouse's stock kept for reconciliation
  (the store's warehouse snapshots), or `count` events, as the partner's
  `inventory_846` says.
- 997: closes the hub's own interchange it acknowledges (see `poll.py`).

Events are recorded under the partner's name as source with ids derived from the
document (adjustment number, receipt number, report reference), and shipments and
receipts carry the warehouse's shipment or receipt number: a document sent twice,
even in a new interchange, changes nothing the second time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, time
from decimal import Decimal
from typing import Any

from ...app.documents import DocumentResult, Malformed, parse_fulfil
from ...app.ingest import AnyDocument, BatchResult
from ...app.ports import NewException, SnapshotRow, Store
from ...app.reservations import Close, Command, Outcome
from ...app.transfers import parse_movement
from ...domain.errors import Reason
from ...domain.mapping import MasterData
from ...domain.model import EventType, to_micros
from .config import PartnerSettings
from .documents import (
    Line,
    as_dict,
    item_code,
    read_846,
    read_944,
    read_945,
    read_947,
)
from .x12 import TransactionSet


@dataclass
class HubPort:
    """The few things of the hub a pass needs (a `Hub` provides them)."""

    store: Store
    now: Callable[[], datetime]
    submit: Callable[[Sequence[Any]], BatchResult]
    submit_document: Callable[[AnyDocument], DocumentResult]
    submit_command: Callable[[Command], Outcome]

    @classmethod
    def of(cls, hub: Any) -> HubPort:
        return cls(
            hub.store,
            hub.clock.now,
            hub.submit,
            hub.submit_document,
            lambda c: hub.submit_command(c).result(),
        )

    def park(self, exceptions: Sequence[NewException]) -> None:
        with self.store.transaction() as tx:
            tx.park(exceptions, to_micros(self.now()))


@dataclass
class Context:
    """One partner's documents being applied: its settings, the hub, and what it found."""

    name: str
    partner: PartnerSettings
    hub: HubPort
    master: MasterData
    references: dict[str, Any]
    outcomes: list[str] = field(default_factory=list)
    #: 846 rows to keep as the warehouse's snapshot (inventory_846 = "observations").
    snapshot: list[SnapshotRow] = field(default_factory=list)

    def when(self, day: str, at: str = "") -> datetime:
        """An X12 date (and time) in the warehouse's zone; a date alone is the end of
        that day, never later than now."""
        now = self.hub.now()
        try:
            d = datetime.strptime(day, "%Y%m%d").date()
        except ValueError:
            return now
        if len(at) >= 4 and at[:4].isdigit():
            clock = time(int(at[:2]) % 24, int(at[2:4]) % 60)
            return datetime.combine(d, clock, self.partner.zone)
        end = datetime.combine(d, time(23, 59, 59), self.partner.zone)
        return min(end, now)

    def sku(self, line: Line) -> str | None:
        for code in item_code(line, self.partner.item_qualifier):
            sku = self.partner.sku_of(code) or self.master.sku_for(self.name, code)
            if sku is not None:
                return sku
        return None

    def code(self, line: Line) -> str:
        """The SKU of a line, or its first item code (the ingest parks it as unknown)."""
        sku = self.sku(line)
        if sku is not None:
            return sku
        codes = item_code(line, self.partner.item_qualifier)
        return codes[0] if codes else ""

    def refuse(self, tset: TransactionSet, key: str, detail: str, reason: Reason) -> None:
        self.hub.park(
            [
                NewException(
                    reason,
                    detail,
                    {"partner": self.name, "set": tset.set_id, "control": tset.control},
                    self.name,
                    key,
                )
            ]
        )
        self.outcomes.append(f"{tset.set_id} {tset.control}: refused: {detail}")


def _digest(tset: TransactionSet) -> str:
    text = "\n".join("*".join((s.id, *s.elements)) for s in tset.body)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _match(
    ctx: Context, lines: Sequence[Line], known: dict[str, str]
) -> list[dict[str, Any]] | str:
    """Advice lines -> hub line numbers (by the LX number the hub wrote, else by item);
    a message naming the first line that matches nothing."""
    out: dict[int, Decimal] = {}
    for i, line in enumerate(lines, start=1):
        if line.quantity == 0:
            continue
        number = str(line.number) if line.number is not None else None
        if number is None or number not in known:
            sku = ctx.sku(line)
            number = next((n for n, s in known.items() if s == sku), None)
        if number is None:
            codes = ", ".join(item_code(line, ctx.partner.item_qualifier)) or "no item id"
            return f"line {i} ({codes}) is on no line of the document"
        out[int(number)] = out.get(int(number), Decimal(0)) + line.quantity
    return [{"line": n, "quantity": str(q)} for n, q in sorted(out.items())]


def _transfer(ctx: Context, depositor_order: str) -> dict[str, Any] | None:
    ref = ctx.references.get(depositor_order)
    transfer_id = ref["transfer_id"] if ref and ref.get("kind") == "transfer" else depositor_order
    record = ctx.hub.store.document_state("transfer", transfer_id)
    return record.state if record is not None else None


def _result(prefix: str, result: DocumentResult) -> str:
    why = f" ({result.reason}: {result.detail})" if result.reason else ""
    return f"{prefix} {result.status.value}{why}"


def apply_945(ctx: Context, tset: TransactionSet) -> None:
    advice = read_945(tset)
    shipment_id = advice.shipment_id or f"945-{_digest(tset)}"
    at = ctx.when(advice.ship_date, advice.ship_time).isoformat()
    key = f"945:{advice.depositor_order}:{shipment_id}"
    ref = ctx.references.get(advice.depositor_order)
    if ref is not None and ref.get("kind") == "order":
        lines = _match(ctx, advice.lines, ref["lines"])
        if isinstance(lines, str):
            return ctx.refuse(
                tset, key, f"945 {advice.depositor_order}: {lines}", Reason.INVALID_ORDER
            )
        body = {"shipment_id": shipment_id, "shipped_at": at, "lines": lines}
        command = parse_fulfil(ref["channel"], ref["order_id"], body, ctx.hub.now())
        return _submit(
            ctx,
            tset,
            key,
            command,
            f"945 {advice.depositor_order}: order "
            f"{ref['channel']}/{ref['order_id']} shipment {shipment_id}",
        )
    transfer = _transfer(ctx, advice.depositor_order)
    if transfer is not None and transfer["from_location"] == ctx.partner.location:
        known = {str(x["line"]): x["sku"] for x in transfer["lines"]}
        lines = _match(ctx, advice.lines, known)
        if isinstance(lines, str):
            return ctx.refuse(
                tset, key, f"945 {advice.depositor_order}: {lines}", Reason.INVALID_TRANSFER
            )
        body = {"shipment_id": shipment_id, "shipped_at": at, "lines": lines}
        movement = parse_movement(transfer["transfer_id"], "shipment", body, ctx.hub.now())
        return _submit(
            ctx,
            tset,
            key,
            movement,
            f"945 {advice.depositor_order}: transfer "
            f"{transfer['transfer_id']} shipment {shipment_id}",
        )
    held = ref["reservation_id"] if ref is not None and ref.get("kind") == "reservation" else None
    reservation_id = held or advice.depositor_order
    record = ctx.hub.store.reservation(reservation_id)
    if record is not None and record.reservation.location == ctx.partner.location:
        # A reservation released or expired before this shipment stays as it is (the
        # verdict says so): a duplicate 945 finds it fulfilled already.
        outcome = ctx.hub.submit_command(
            Close(reservation_id, EventType.FULFIL, reference=shipment_id)
        )
        ctx.outcomes.append(
            f"945 {advice.depositor_order}: reservation {reservation_id} fulfilled: "
            f"{outcome.verdict.value}"
        )
        return None
    return ctx.refuse(
        tset,
        key,
        f"945 for depositor order {advice.depositor_order!r}: no order, transfer or "
        f"reservation of the hub at {ctx.partner.location} has that number",
        Reason.INVALID_ORDER,
    )


def _submit(
    ctx: Context, tset: TransactionSet, key: str, command: AnyDocument | Malformed, what: str
) -> None:
    if isinstance(command, Malformed):
        where, message = command.first
        return ctx.refuse(tset, key, f"{what}: {where}: {message}", Reason.INVALID_ORDER)
    ctx.outcomes.append(_result(what, ctx.hub.submit_document(command)))
    return None


def apply_944(ctx: Context, tset: TransactionSet) -> None:
    advice = read_944(tset)
    at = ctx.when(advice.date).isoformat()
    key = f"944:{advice.depositor_order}:{advice.receipt_number}"
    transfer = _transfer(ctx, advice.depositor_order)
    if transfer is not None and transfer["to_location"] == ctx.partner.location:
        known = {str(x["line"]): x["sku"] for x in transfer["lines"]}
        lines = _match(ctx, advice.lines, known)
        if isinstance(lines, str):
            return ctx.refuse(
                tset, key, f"944 {advice.depositor_order}: {lines}", Reason.INVALID_TRANSFER
            )
        body = {"receipt_id": advice.receipt_number, "received_at": at, "lines": lines}
        movement = parse_movement(transfer["transfer_id"], "receipt", body, ctx.hub.now())
        return _submit(
            ctx,
            tset,
            key,
            movement,
            f"944 {advice.depositor_order}: transfer "
            f"{transfer['transfer_id']} receipt {advice.receipt_number}",
        )
    events = [
        {
            "event_id": f"944:{advice.receipt_number}:{i}",
            "source": ctx.name,
            "type": "receipt",
            "sku": ctx.code(line),
            "location": ctx.partner.location,
            "quantity": str(line.quantity),
            "occurred_at": at,
            "reference": advice.depositor_order or advice.receipt_number,
        }
        for i, line in enumerate(advice.lines, start=1)
        if line.quantity > 0
    ]
    _events(ctx, f"944 receipt {advice.receipt_number}", events)
    return None


def _events(ctx: Context, what: str, events: list[dict[str, Any]]) -> None:
    if not events:
        ctx.outcomes.append(f"{what}: nothing to record")
        return
    totals = ctx.hub.submit(events).totals()
    shown = ", ".join(f"{k} {v}" for k, v in sorted(totals.items()) if v)
    ctx.outcomes.append(f"{what}: {len(events)} event(s): {shown}")


def apply_947(ctx: Context, tset: TransactionSet) -> None:
    advice = read_947(tset)
    at = ctx.when(advice.date).isoformat()
    events = [
        {
            "event_id": f"947:{advice.adjustment_number}:{i}",
            "source": ctx.name,
            "type": "adjustment",
            "sku": ctx.code(line),
            "location": ctx.partner.location,
            "quantity": str(line.quantity),
            "occurred_at": at,
            "reason": line.extra["reason"],
            "reference": advice.adjustment_number,
        }
        for i, line in enumerate(advice.lines, start=1)
        if line.quantity != 0
    ]
    _events(ctx, f"947 adjustment {advice.adjustment_number}", events)


#: QTY01 qualifiers read as the units on hand (a count), in order of preference.
ON_HAND = ("17", "33")


def apply_846(ctx: Context, tset: TransactionSet) -> None:
    advice = read_846(tset)
    at = ctx.when(advice.date, advice.time)
    rows = []
    for items, quantities in advice.items:
        line = Line(None, items, Decimal(0))
        rows.append((ctx.code(line), items, quantities))
    if ctx.partner.inventory_846 == "observations":
        as_of = to_micros(at)
        kept = 0
        for sku, items, quantities in rows:
            qualifier = next((q for q in ON_HAND if q in quantities), None)
            if qualifier is None:
                continue
            ctx.snapshot.append(
                SnapshotRow(
                    ctx.name,
                    advice.reference,
                    sku,
                    ctx.partner.location,
                    quantities[qualifier],
                    dict(quantities),
                    items,
                    as_of,
                )
            )
            kept += 1
        without = f", {len(rows) - kept} without an on-hand quantity" if kept < len(rows) else ""
        ctx.outcomes.append(f"846 {advice.reference}: snapshot of {kept} item(s){without}")
        return
    events = []
    for sku, _, quantities in rows:
        qualifier = next((q for q in ON_HAND if q in quantities), None)
        if qualifier is None:
            continue
        events.append(
            {
                "event_id": f"846:{advice.reference}:{sku}",
                "source": ctx.name,
                "type": "count",
                "sku": sku,
                "location": ctx.partner.location,
                "quantity": str(max(quantities[qualifier], Decimal(0))),
                "occurred_at": at.isoformat(),
                "reference": advice.reference,
            }
        )
    _events(ctx, f"846 {advice.reference}", events)


APPLY: dict[str, Callable[[Context, TransactionSet], None]] = {
    "945": apply_945,
    "944": apply_944,
    "947": apply_947,
    "846": apply_846,
}


def lines_of(tset: TransactionSet) -> list[dict[str, Any]]:
    """The lines of a set as plain values, for a kept exception or a report."""
    readers: dict[str, Callable[[TransactionSet], Any]] = {
        "945": read_945,
        "944": read_944,
        "947": read_947,
    }
    reader = readers.get(tset.set_id)
    return [as_dict(x) for x in reader(tset).lines] if reader else []
