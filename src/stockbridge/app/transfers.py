"""Transfer orders between locations: parsed at the edge, decided in the ingest transaction.

The rules are pure (`domain/transfers.py`); this module parses what the API receives and
decides each command inside the group commit, next to tickets, orders and returns, so a
shipment or receipt, its ledger events, its ERP document and any over or short receipt
exception commit together (DocumentDesk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import AwareDatetime, Field, model_validator

from ..domain.errors import Reason
from ..domain.transfers import (
    Decision,
    ErpDocument,
    Movement,
    Refusal,
    ShortReceipt,
    Transfer,
    TransferLine,
    TransferState,
    cancels_order,
    close,
    open_transfer,
    receive,
    ship,
    state_from_json,
    state_to_json,
    transfer_number,
    warehouse_order,
)
from .documents import (
    DocStatus,
    DocumentDesk,
    DocumentResult,
    Malformed,
    QuantityIn,
    _Id,
    _In,
    fingerprint,
    kept,
    not_found,
    unique_lines,
    validate_body,
)
from .ports import NewException

KIND = "transfer"
#: The event source of a transfer's movements when the request names none.
DEFAULT_SOURCE = "transfers"


@dataclass(frozen=True, slots=True)
class TransferPolicy:
    """[transfers] short_receipt: what closing a transfer does with units still in transit."""

    short_receipt: ShortReceipt = "write_off"


class TransferLineIn(_In):
    line: int | None = Field(None, ge=1)
    sku: str = _Id
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)


class TransferIn(_In):
    transfer_id: str = _Id
    source: str = Field(DEFAULT_SOURCE, min_length=1, max_length=200)
    from_location: str = Field(alias="from", min_length=1, max_length=200)
    to_location: str = Field(alias="to", min_length=1, max_length=200)
    created_at: AwareDatetime | None = None
    lines: list[TransferLineIn] = Field(min_length=1, max_length=1000)

    check_lines = model_validator(mode="after")(unique_lines)

    @model_validator(mode="after")
    def _two_places(self) -> TransferIn:
        if self.from_location == self.to_location:
            raise ValueError("from and to must be different locations")
        return self

    def document(self, now: datetime) -> Transfer:
        return Transfer(
            self.transfer_id,
            self.source,
            self.from_location,
            self.to_location,
            self.created_at or now,
            tuple(
                TransferLine(x.line or i + 1, x.sku, x.quantity) for i, x in enumerate(self.lines)
            ),
        )


class ShipmentIn(_In):
    shipment_id: str = _Id
    shipped_at: AwareDatetime | None = None
    lines: list[QuantityIn] = Field(min_length=1, max_length=1000)


class ReceiptIn(_In):
    receipt_id: str = _Id
    received_at: AwareDatetime | None = None
    lines: list[QuantityIn] = Field(min_length=1, max_length=1000)


class CloseIn(_In):
    closed_at: AwareDatetime | None = None
    reason: str | None = Field(None, max_length=1000)


@dataclass(frozen=True, slots=True)
class TransferCommand:
    transfer_id: str
    received: Any
    payload_hash: str
    transfer: Transfer


@dataclass(frozen=True, slots=True)
class MovementCommand:
    """A shipment or a receipt of a transfer, idempotent by its id."""

    transfer_id: str
    kind: Literal["shipment", "receipt"]
    received: Any
    fingerprint: str
    movement: Movement


@dataclass(frozen=True, slots=True)
class CloseCommand:
    transfer_id: str
    received: Any
    closed_at: datetime


TRANSFER_COMMANDS = (TransferCommand, MovementCommand, CloseCommand)


def parse_transfer(raw: Any, now: datetime) -> TransferCommand | Malformed:
    parsed = validate_body(TransferIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    return TransferCommand(parsed.transfer_id, raw, fingerprint(raw), parsed.document(now))


def parse_movement(
    transfer_id: str, kind: Literal["shipment", "receipt"], raw: Any, now: datetime
) -> MovementCommand | Malformed:
    parsed = validate_body(ShipmentIn if kind == "shipment" else ReceiptIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    if isinstance(parsed, ShipmentIn):
        movement_id, at = parsed.shipment_id, parsed.shipped_at
    else:
        movement_id, at = parsed.receipt_id, parsed.received_at
    lines = tuple((x.line, x.quantity) for x in parsed.lines)
    movement = Movement(movement_id, lines, at or now)
    return MovementCommand(transfer_id, kind, raw, fingerprint(raw), movement)


def parse_close(transfer_id: str, raw: Any, now: datetime) -> CloseCommand | Malformed:
    parsed = validate_body(CloseIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    return CloseCommand(transfer_id, raw, parsed.closed_at or now)


def parse_kept(kind: str, document_id: str, body: Any, now: datetime) -> Any:
    """A transfer command kept in an exception's payload, for a replay (None: not ours)."""
    if kind == KIND:
        return parse_transfer(body, now)
    if kind == "shipment":
        return parse_movement(document_id, "shipment", body, now)
    if kind == "receipt":
        return parse_movement(document_id, "receipt", body, now)
    return None


class TransferDesk:
    """Decides transfer orders, shipments, receipts and closes in one ingest transaction."""

    handles = TRANSFER_COMMANDS

    def __init__(self, policy: TransferPolicy) -> None:
        self.policy = policy
        self._states: dict[str, tuple[str, TransferState]] = {}

    def load(self, desk: DocumentDesk, commands: Sequence[Any]) -> None:
        stored = desk.tx.load_document_states(KIND, [c.transfer_id for c in commands])
        self._states = {k: (h, state_from_json(s)) for k, (h, s) in stored.items()}

    def decide(self, desk: DocumentDesk, command: Any) -> DocumentResult:
        if isinstance(command, TransferCommand):
            return self._create(desk, command)
        if isinstance(command, MovementCommand):
            return self._move(desk, command)
        assert isinstance(command, CloseCommand)
        return self._close(desk, command)

    def _store(
        self,
        desk: DocumentDesk,
        payload_hash: str,
        state: TransferState,
        received: Any,
        decision: Decision | None = None,
    ) -> None:
        tid = state.transfer.transfer_id
        self._states[tid] = (payload_hash, state)
        events = decision.events if decision is not None else []
        document = decision.document if decision is not None else None
        desk.store_state(
            KIND,
            tid,
            payload_hash,
            state_to_json(state),
            received,
            events,
            [(document.document_number, document.payload)] if document is not None else [],
        )
        declared = decision.declared if decision is not None else None
        if declared is not None:
            step = document.document_number if document is not None else tid
            desk.plan.exceptions.append(
                NewException(
                    declared.reason,
                    declared.detail,
                    {"transfer_id": tid, "document_number": step, "lines": declared.lines},
                    state.transfer.source,
                    step,
                )
            )

    def _create(self, desk: DocumentDesk, c: TransferCommand) -> DocumentResult:
        t = c.transfer
        ref: dict[str, str | None] = {"transfer_id": c.transfer_id}
        number = transfer_number(c.transfer_id)

        refuse = desk.refuser(
            KIND, ref, kept(KIND, c.transfer_id, c.received), t.source, number, c.payload_hash
        )

        prior = self._states.get(c.transfer_id)
        if prior is not None:
            if prior[0] == c.payload_hash:
                return DocumentResult(KIND, ref, DocStatus.DUPLICATE, document_number=number)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"transfer {c.transfer_id} was already created with a different content",
                "transfer_id",
            )
        places = []
        for name, code in (("from", t.from_location), ("to", t.to_location)):
            location = desk.master.location_for(t.source, code)
            if location is None:
                return refuse(
                    Reason.UNKNOWN_LOCATION, f"no location or cross reference for {code!r}", name
                )
            places.append(location)
        if places[0] == places[1]:
            return refuse(Reason.INVALID_TRANSFER, "from and to are the same location", "to")
        skus = desk.line_skus(t.source, [x.sku for x in t.lines], t.from_location, refuse)
        if isinstance(skus, DocumentResult):
            return skus
        lines = [replace(line, sku=sku) for line, sku in zip(t.lines, skus, strict=True)]
        transfer = replace(t, from_location=places[0], to_location=places[1], lines=tuple(lines))
        opened = open_transfer(transfer)
        self._store(desk, c.payload_hash, opened, c.received)
        _order(desk, warehouse_order(opened, transfer.created_at))
        desk.plan.accepted_refs.append((t.source, number))
        return DocumentResult(KIND, ref, DocStatus.ACCEPTED, document_number=number)

    def _move(self, desk: DocumentDesk, c: MovementCommand) -> DocumentResult:
        mid = c.movement.movement_id
        ref: dict[str, str | None] = {"transfer_id": c.transfer_id, "id": mid}
        prior = self._states.get(c.transfer_id)
        if prior is None:
            return not_found(c.kind, ref, f"no transfer {c.transfer_id!r}", "transfer_id")
        payload_hash, state = prior
        exception_id = f"transfer:{c.transfer_id}:{c.kind}:{mid}"

        refuse = desk.refuser(
            c.kind,
            ref,
            kept(c.kind, c.transfer_id, c.received),
            state.transfer.source,
            exception_id,
            c.fingerprint,
        )

        done = state.shipments if c.kind == "shipment" else state.receipts
        if mid in done:
            if done[mid] == c.fingerprint:
                return DocumentResult(c.kind, ref, DocStatus.DUPLICATE)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"{c.kind} {mid} of transfer {c.transfer_id} was already applied with a "
                "different content",
                f"{c.kind}_id",
            )
        step = ship if c.kind == "shipment" else receive
        outcome = step(state, c.movement, c.fingerprint)
        if isinstance(outcome, Refusal):
            return refuse(outcome.reason, outcome.detail, outcome.field)
        bad = desk.check_events(outcome.events)
        if bad is not None:
            _, reason, why = bad
            return refuse(reason or Reason.INVALID_TRANSFER, why, "lines")
        self._store(desk, payload_hash, outcome.state, None, outcome)
        desk.plan.accepted_refs.append((state.transfer.source, exception_id))
        return _accepted(c.kind, ref, outcome)

    def _close(self, desk: DocumentDesk, c: CloseCommand) -> DocumentResult:
        ref: dict[str, str | None] = {"transfer_id": c.transfer_id}
        prior = self._states.get(c.transfer_id)
        if prior is None:
            return not_found("close", ref, f"no transfer {c.transfer_id!r}", "transfer_id")
        payload_hash, state = prior
        if state.closed:
            return DocumentResult("close", ref, DocStatus.DUPLICATE)
        outcome = close(state, c.closed_at, self.policy.short_receipt)
        self._store(desk, payload_hash, outcome.state, None, outcome)
        if cancels_order(state, outcome.state):
            _order(desk, warehouse_order(outcome.state, c.closed_at, cancel=True))
        return _accepted("close", ref, outcome)


def _order(desk: DocumentDesk, document: ErpDocument) -> None:
    """A warehouse order on the transfer's delivery key: it reaches a 3PL in order with
    the transfer's other documents."""
    tid = document.payload["transfer_id"]
    desk.warehouse_order(f"{KIND}:{tid}", document.document_number, document.payload)


def _accepted(kind: str, ref: dict[str, str | None], outcome: Decision) -> DocumentResult:
    """Accepted; an over or short receipt is named in the answer as well as parked."""
    declared = outcome.declared
    return DocumentResult(
        kind,
        ref,
        DocStatus.ACCEPTED,
        declared.reason.value if declared is not None else None,
        declared.detail if declared is not None else None,
        document_number=outcome.document.document_number if outcome.document else None,
    )
