"""Store tickets and channel orders: parsed at the edge, decided in the ingest transaction.

A ticket or an order command is a *document*. The API parses it (`parse_ticket` and
friends), the group-commit writer hands it to `IngestService` with the event batches it
commits, and `decide_documents` turns it, inside that same transaction, into: the document
record (ticket or order state), the ledger events it causes (which then take the ordinary
ingest path: dedupe, ledger, positions, channel pushes), the ERP document deliveries, and
a business exception when it cannot be accepted. All of it commits together or not at all.

Ledger events produced by documents are posted to the ERP as those documents only (the
ticket, the daily settlement, the sales order, shipment, cancellation), never again as
per-movement postings: see `IngestService` and docs/workflows.md.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal, Protocol

import orjson
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..domain.errors import Reason
from ..domain.intake import InvalidEvent, parse_event
from ..domain.mapping import MasterData, Parked, map_event
from ..domain.model import to_micros
from ..domain.orders import (
    Cancellation,
    Decision,
    Fulfilment,
    Order,
    OrderLine,
    OrderState,
    Refusal,
    accept,
    cancel,
    fulfil,
    state_from_json,
    state_to_json,
)
from ..domain.slas import Workflow
from ..domain.tickets import (
    Discount,
    TaxLine,
    Tender,
    Ticket,
    TicketLine,
    TicketTotals,
    check_balance,
    day_closed,
    settlement_document,
    ticket_correlation_id,
    ticket_document,
    ticket_document_number,
    ticket_events,
    ticket_totals,
)
from .ports import NewDelivery, NewDocumentState, NewException, NewOrderState, NewTicket

PER_TICKET = "per_ticket"
DAILY_SETTLEMENT = "daily_settlement"


#: The reason of a step for an unknown return or transfer (answered 404, never parked).
NOT_FOUND = "not_found"


class DocStatus(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    EXCEPTION = "exception"


@dataclass(frozen=True, slots=True)
class TicketPolicy:
    """How tickets reach the ERP: one document each, or a daily settlement per store."""

    mode: Literal["per_ticket", "daily_settlement"] = "per_ticket"
    #: Store-local time after which a business day is closed and settled.
    settle_after: time = time(23, 30)
    settle_after_by_store: Mapping[str, time] = field(default_factory=dict)

    def closes_at(self, store: str) -> time:
        return self.settle_after_by_store.get(store, self.settle_after)


# --- input: what the API accepts ----------------------------------------------------------
class _In(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


_Id = Field(min_length=1, max_length=200)
_Currency = Field(pattern=r"^[A-Z]{3}$", description="ISO 4217 code, e.g. EUR.")


def unique_lines(model: Any) -> Any:
    """Model validator: a document's line numbers (given, or by position) are unique."""
    numbers = [x.line or i + 1 for i, x in enumerate(model.lines)]
    if len(set(numbers)) != len(numbers):
        raise ValueError("line numbers must be unique")
    return model


class DiscountIn(_In):
    amount: Decimal = Field(ge=0, max_digits=18, decimal_places=6)
    code: str | None = None


class TicketLineIn(_In):
    line: int | None = Field(None, ge=1, description="Line number; by default its position.")
    sku: str = _Id
    quantity: Decimal = Field(max_digits=18, decimal_places=6)
    unit_price: Decimal = Field(ge=0, max_digits=18, decimal_places=6)
    discounts: list[DiscountIn] = Field(default_factory=list)
    is_return: bool = Field(False, alias="return", description="A returned article.")
    condition: str | None = Field(None, min_length=1, max_length=200)
    uom: str | None = Field(None, min_length=1, max_length=200)


class TaxLineIn(_In):
    code: str = _Id
    rate: Decimal | None = Field(None, ge=0, le=1)
    amount: Decimal | None = Field(None, max_digits=18, decimal_places=6)

    @model_validator(mode="after")
    def _rate_or_amount(self) -> TaxLineIn:
        if self.rate is None and self.amount is None:
            raise ValueError("a tax line needs a rate or an amount")
        return self


class TenderIn(_In):
    type: str = Field(min_length=1, max_length=50, description="cash, card, voucher...")
    amount: Decimal = Field(max_digits=18, decimal_places=6)


class TicketIn(_In):
    source: str = _Id
    store: str = _Id
    ticket_number: str = _Id
    occurred_at: AwareDatetime
    business_date: date | None = None
    currency: str = _Currency
    tax_included: bool = False
    lines: list[TicketLineIn] = Field(min_length=1, max_length=1000)
    taxes: list[TaxLineIn] = Field(default_factory=list)
    tenders: list[TenderIn] = Field(default_factory=list)

    check_lines = model_validator(mode="after")(unique_lines)

    def ticket(self) -> Ticket:
        lines = tuple(
            TicketLine(
                line=x.line or i + 1,
                sku=x.sku,
                quantity=-abs(x.quantity) if x.is_return else x.quantity,
                unit_price=x.unit_price,
                discounts=tuple(Discount(d.amount, d.code) for d in x.discounts),
                condition=x.condition,
                uom=x.uom,
            )
            for i, x in enumerate(self.lines)
        )
        return Ticket(
            source=self.source,
            location=self.store,
            ticket_number=self.ticket_number,
            occurred_at=self.occurred_at,
            currency=self.currency,
            lines=lines,
            taxes=tuple(TaxLine(t.code, t.rate, t.amount) for t in self.taxes),
            tenders=tuple(Tender(t.type, t.amount) for t in self.tenders),
            business_date=self.business_date,
            tax_included=self.tax_included,
        )


class OrderLineIn(_In):
    line: int | None = Field(None, ge=1)
    sku: str = _Id
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    price: Decimal = Field(ge=0, max_digits=18, decimal_places=6)
    location: str = Field(min_length=1, max_length=200, description="Fulfilment location.")


class OrderIn(_In):
    channel: str = _Id
    order_id: str = _Id
    ordered_at: AwareDatetime
    currency: str = _Currency
    lines: list[OrderLineIn] = Field(min_length=1, max_length=1000)

    check_lines = model_validator(mode="after")(unique_lines)

    def order(self) -> Order:
        return Order(
            self.channel,
            self.order_id,
            self.ordered_at,
            self.currency,
            tuple(
                OrderLine(x.line or i + 1, x.sku, x.quantity, x.price, x.location)
                for i, x in enumerate(self.lines)
            ),
        )


class QuantityIn(_In):
    line: int = Field(ge=1)
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)


class FulfilIn(_In):
    shipment_id: str | None = Field(
        None, min_length=1, max_length=200, description="Makes a resent shipment a duplicate."
    )
    shipped_at: AwareDatetime | None = None
    lines: list[QuantityIn] = Field(min_length=1, max_length=1000)


class CancelIn(_In):
    cancel_id: str | None = Field(None, min_length=1, max_length=200)
    cancelled_at: AwareDatetime | None = None
    reason: str | None = Field(None, max_length=1000)
    #: The lines and quantities to cancel; absent: everything still open.
    lines: list[QuantityIn] | None = None


# --- commands: what the writer applies ----------------------------------------------------
@dataclass(frozen=True, slots=True)
class TicketCommand:
    source: str | None
    ticket_number: str | None
    received: Any
    payload_hash: str
    ticket: Ticket | None
    #: (field, message) when the ticket is malformed: it is parked, not applied.
    invalid: tuple[str, str] | None = None


@dataclass(frozen=True, slots=True)
class OrderCommand:
    channel: str
    order_id: str
    received: Any
    payload_hash: str
    order: Order


@dataclass(frozen=True, slots=True)
class FulfilCommand:
    channel: str
    order_id: str
    received: Any
    fingerprint: str
    fulfilment: Fulfilment


@dataclass(frozen=True, slots=True)
class CancelCommand:
    channel: str
    order_id: str
    received: Any
    fingerprint: str
    cancellation: Cancellation


DocumentCommand = TicketCommand | OrderCommand | FulfilCommand | CancelCommand
DOCUMENT_COMMANDS = (TicketCommand, OrderCommand, FulfilCommand, CancelCommand)


@dataclass(frozen=True, slots=True)
class DocumentResult:
    kind: str  # ticket, order, shipment, cancellation
    ref: dict[str, str | None]
    status: DocStatus
    reason: str | None = None
    detail: str | None = None
    field: str | None = None
    document_number: str | None = None


class Refuse(Protocol):
    """Parks one command as an exception with a reason and answers it as refused."""

    def __call__(
        self, reason: Reason, detail: str, field_: str | None = None
    ) -> DocumentResult: ...


def kept(kind: str, document_id: str, body: Any) -> dict[str, Any]:
    """The payload parked with a refused return or transfer step: what a replay re-parses."""
    return {"document": kind, "id": document_id, "body": body}


def not_found(kind: str, ref: dict[str, str | None], detail: str, field_: str) -> DocumentResult:
    """A step for a document the hub does not know: answered, not parked (nothing to fix)."""
    return DocumentResult(kind, ref, DocStatus.EXCEPTION, NOT_FOUND, detail, field_)


def fingerprint(raw: Any) -> str:
    """The identity of a payload as sent (keys sorted): equal payloads, equal prints."""
    canonical = orjson.dumps(raw, option=orjson.OPT_SORT_KEYS)
    return hashlib.blake2b(canonical, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Malformed:
    """A request document that fails validation: each problem names its field."""

    errors: list[dict[str, str]]

    @property
    def first(self) -> tuple[str, str]:
        return self.errors[0]["field"], self.errors[0]["message"]


def _errors(e: ValidationError) -> list[dict[str, str]]:
    out = []
    for err in e.errors():
        parts: list[str] = []
        for p in err.get("loc", ()):
            if isinstance(p, int):
                parts[-1:] = [f"{parts[-1]}[{p}]"] if parts else [f"[{p}]"]
            else:
                parts.append(str(p))
        out.append({"field": ".".join(parts) or "$", "message": err.get("msg", "")})
    return out


def parse_ticket(raw: Any) -> TicketCommand | Malformed:
    """One ticket as sent -> a command, or what is malformed about it."""
    parsed = validate_body(TicketIn, raw, _NOT_A_TICKET)
    if isinstance(parsed, Malformed):
        return parsed
    return TicketCommand(
        parsed.source, parsed.ticket_number, raw, fingerprint(raw), parsed.ticket()
    )


def invalid_ticket(raw: Any, bad: Malformed) -> TicketCommand:
    """A malformed ticket from a batch, to be parked as an exception with its neighbours."""
    get = raw.get if isinstance(raw, dict) else {}.get
    source, number = get("source"), get("ticket_number")
    return TicketCommand(
        source if isinstance(source, str) else None,
        number if isinstance(number, str) else None,
        raw,
        fingerprint(raw),
        None,
        bad.first,
    )


_NOT_OBJECT = Malformed([{"field": "$", "message": "the body must be a JSON object"}])
_NOT_A_TICKET = Malformed([{"field": "$", "message": "a ticket must be a JSON object"}])


def validate_body(model: type[_In], raw: Any, not_object: Malformed = _NOT_OBJECT) -> Any:
    """A request body validated by `model`, or what is malformed about it (Malformed)."""
    if not isinstance(raw, dict):
        return not_object
    try:
        return model.model_validate(raw)
    except ValidationError as e:
        return Malformed(_errors(e))


def parse_order(raw: Any) -> OrderCommand | Malformed:
    parsed = validate_body(OrderIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    return OrderCommand(parsed.channel, parsed.order_id, raw, fingerprint(raw), parsed.order())


def parse_fulfil(channel: str, order_id: str, raw: Any, now: datetime) -> FulfilCommand | Malformed:
    parsed = validate_body(FulfilIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    content = {k: v for k, v in raw.items() if k != "shipment_id"}
    print_ = fingerprint(content)
    shipment = Fulfilment(
        parsed.shipment_id or print_,
        tuple((x.line, x.quantity) for x in parsed.lines),
        parsed.shipped_at or now,
    )
    return FulfilCommand(channel, order_id, raw, print_, shipment)


def parse_cancel(channel: str, order_id: str, raw: Any, now: datetime) -> CancelCommand | Malformed:
    parsed = validate_body(CancelIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    content = {k: v for k, v in raw.items() if k != "cancel_id"}
    print_ = fingerprint(content)
    lines = None if parsed.lines is None else tuple((x.line, x.quantity) for x in parsed.lines)
    return CancelCommand(
        channel,
        order_id,
        raw,
        print_,
        Cancellation(parsed.cancel_id or print_, lines, parsed.cancelled_at or now, parsed.reason),
    )


# --- records: what is stored --------------------------------------------------------------
@dataclass(slots=True)
class DocumentPlan:
    """What a group of documents adds to the ingest transaction."""

    results: list[DocumentResult] = field(default_factory=list)
    events: list[Any] = field(default_factory=list)  # raw events, as a source sends them
    tickets: list[NewTicket] = field(default_factory=list)
    orders: dict[tuple[str, str], NewOrderState] = field(default_factory=dict)
    #: Returns and transfer orders by (kind, id): their latest state in this group.
    states: dict[tuple[str, str], NewDocumentState] = field(default_factory=dict)
    deliveries: list[NewDelivery] = field(default_factory=list)
    exceptions: list[NewException] = field(default_factory=list)
    accepted_refs: list[tuple[str, str]] = field(default_factory=list)


class DocumentTransaction(Protocol):
    """The part of the ingest transaction documents read (see IngestTransaction)."""

    def find_tickets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]: ...

    def load_orders(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]: ...

    def load_document_states(
        self, kind: str, ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]: ...


class Desk(Protocol):
    """Decides one family of document commands (returns, transfers) for a DocumentDesk."""

    @property
    def handles(self) -> tuple[type, ...]:
        """The command types this desk decides."""
        ...

    def load(self, desk: DocumentDesk, commands: Sequence[Any]) -> None:
        """Read, once per group, the stored documents the commands name."""
        ...

    def decide(self, desk: DocumentDesk, command: Any) -> DocumentResult: ...


def _postings(
    targets: Sequence[str],
    key: str,
    number: str,
    payload: dict[str, Any],
    events: Sequence[dict[str, Any]],
    correlation_ids: Sequence[str] = (),
    workflow: Workflow | None = None,
    occurred_us: int | None = None,
) -> list[NewDelivery]:
    """A document's posting to each target, naming the events and correlation ids behind
    it (the document's own, its events', and any given)."""
    ids = {e["correlation_id"] for e in events if e.get("correlation_id")}
    ids.update(correlation_ids)
    if payload.get("correlation_id"):
        ids.add(payload["correlation_id"])
    return [
        NewDelivery(
            target=t,
            kind="posting",
            key=key,
            # The ERP's external document number: a retried post cannot post twice.
            idempotency_key=number,
            payload=payload,
            priority=2,
            causes=[f"{e['source']}/{e['event_id']}" for e in events],
            correlation_ids=tuple(sorted(ids)),
            workflow=workflow,
            occurred_us=occurred_us,
        )
        for t in targets
    ]


def _earliest(events: Sequence[dict[str, Any]]) -> int | None:
    """When the first of a document's events occurred: its SLA clock's start."""
    return min((to_micros(datetime.fromisoformat(e["occurred_at"])) for e in events), default=None)


class DocumentDesk:
    """Decides a group of documents inside one ingest transaction."""

    def __init__(
        self,
        tx: DocumentTransaction,
        master: MasterData,
        posting_targets: Sequence[str],
        policy: TicketPolicy,
        desks: Sequence[Desk] = (),
        order_targets: Sequence[str] = (),
    ) -> None:
        self.tx = tx
        self.master = master
        self.targets = posting_targets
        #: Targets that ship on instruction (a 3PL): they also take warehouse orders.
        self.order_targets = order_targets
        self.policy = policy
        self.desks = desks
        self.plan = DocumentPlan()
        self._tickets: dict[tuple[str, str], str] = {}
        self._orders: dict[tuple[str, str], tuple[str, OrderState]] = {}

    def decide(self, commands: Sequence[object]) -> DocumentPlan:
        tickets = [(c.source, c.ticket_number) for c in commands if isinstance(c, TicketCommand)]
        self._tickets = self.tx.find_tickets(
            sorted({(s, n) for s, n in tickets if s is not None and n is not None})
        )
        order_keys = sorted(
            {
                (c.channel, c.order_id)
                for c in commands
                if isinstance(c, OrderCommand | FulfilCommand | CancelCommand)
            }
        )
        self._orders = {
            k: (h, state_from_json(s)) for k, (h, s) in self.tx.load_orders(order_keys).items()
        }
        for desk in self.desks:
            desk.load(self, [c for c in commands if isinstance(c, desk.handles)])
        for command in commands:
            if isinstance(command, TicketCommand):
                result = self._ticket(command)
            elif isinstance(command, OrderCommand):
                result = self._order(command)
            elif isinstance(command, FulfilCommand):
                result = self._fulfil(command)
            elif isinstance(command, CancelCommand):
                result = self._cancel(command)
            else:
                owner = next(d for d in self.desks if isinstance(command, d.handles))
                result = owner.decide(self, command)
            self.plan.results.append(result)
        return self.plan

    def store_state(
        self,
        kind: str,
        document_id: str,
        payload_hash: str,
        state: dict[str, Any],
        received: Any,
        events: Sequence[dict[str, Any]],
        documents: Sequence[tuple[str, dict[str, Any]]],
    ) -> None:
        """Record a return's or transfer's new state, its events and its ERP documents.

        One delivery key per document (`{kind}:{id}`): its postings reach the ERP in order.
        """
        self.plan.states[(kind, document_id)] = NewDocumentState(
            kind, document_id, payload_hash, state["status"], state, received
        )
        self.plan.events.extend(events)
        workflow = Workflow.RETURN_TO_ERP if kind == "return" else None
        for number, payload in documents:
            self.plan.deliveries.extend(
                _postings(
                    self.targets,
                    f"{kind}:{document_id}",
                    number,
                    payload,
                    events,
                    workflow=workflow,
                    occurred_us=_earliest(events),
                )
            )

    def warehouse_order(self, key: str, number: str, payload: dict[str, Any]) -> None:
        """Queue a warehouse order (or its cancellation) for the targets that ship on
        instruction; the ERP books nothing until the units move."""
        self.plan.deliveries.extend(_postings(self.order_targets, key, number, payload, []))

    # --- shared steps ---------------------------------------------------------------------
    def refuse(
        self,
        kind: str,
        ref: dict[str, str | None],
        reason: Reason,
        detail: str,
        payload: Any,
        source: str | None,
        exception_id: str | None,
        payload_hash: str | None,
        field_: str | None = None,
    ) -> DocumentResult:
        self.plan.exceptions.append(
            NewException(reason, detail, payload, source, exception_id, payload_hash, field_)
        )
        return DocumentResult(kind, ref, DocStatus.EXCEPTION, reason.value, detail, field_)

    def refuser(
        self,
        kind: str,
        ref: dict[str, str | None],
        payload: Any,
        source: str | None,
        exception_id: str | None,
        payload_hash: str | None,
    ) -> Refuse:
        """`refuse` bound to one command, so each check names only its reason and field."""

        def refuse(reason: Reason, detail: str, field_: str | None = None) -> DocumentResult:
            return self.refuse(
                kind, ref, reason, detail, payload, source, exception_id, payload_hash, field_
            )

        return refuse

    def check_events(
        self, events: Sequence[dict[str, Any]]
    ) -> tuple[int, Reason | None, str] | None:
        """The first produced event ingest would not accept: (index, reason, why).

        The reason is None when the event is malformed (a quantity beyond the limits).
        """
        for i, raw in enumerate(events):
            parsed = parse_event(raw)
            if isinstance(parsed, InvalidEvent):
                return i, None, f"{parsed.field} {parsed.message}"
            mapped = map_event(parsed, self.master)
            if isinstance(mapped, Parked):
                return i, mapped.reason, mapped.detail
        return None

    def line_skus(
        self, source: str, skus: Sequence[str], location: str, refuse: Refuse
    ) -> list[str] | DocumentResult:
        """Each line's enterprise SKU, or the refusal of the first line with an unknown one."""
        out = []
        for i, sku in enumerate(skus):
            code, _ = self.map_line(source, sku, location)
            if code is None:
                return refuse(
                    Reason.UNKNOWN_SKU, f"no item or cross reference for {sku!r}", f"lines[{i}].sku"
                )
            out.append(code)
        return out

    def map_line(self, source: str, sku: str, location: str) -> tuple[str | None, str | None]:
        code = self.master.sku_for(source, sku)
        if code is not None and code not in self.master.items:
            code = None
        return code, self.master.location_for(source, location)

    # --- tickets --------------------------------------------------------------------------
    def _ticket(self, c: TicketCommand) -> DocumentResult:
        ref: dict[str, str | None] = {"source": c.source, "ticket_number": c.ticket_number}
        exception_id = f"ticket:{c.ticket_number}" if c.ticket_number else None
        payload = {"ticket": c.received}

        refuse = self.refuser("ticket", ref, payload, c.source, exception_id, c.payload_hash)

        if c.invalid is not None or c.ticket is None:
            where, why = c.invalid or ("$", "malformed")
            return refuse(Reason.INVALID_TICKET, f"{where} {why}", where)
        ticket = c.ticket
        key = (ticket.source, ticket.ticket_number)
        number = ticket_document_number(*key)
        prior = self._tickets.get(key)
        if prior is not None:
            if prior == c.payload_hash:
                return DocumentResult("ticket", ref, DocStatus.DUPLICATE, document_number=number)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"ticket {ticket.ticket_number} from {ticket.source} was already accepted "
                "with a different content",
            )
        problems = check_balance(ticket)
        if problems:
            return refuse(
                Reason.UNBALANCED_TICKET, "; ".join(p.detail for p in problems), problems[0].field
            )
        location = self.master.location_for(ticket.source, ticket.location)
        if location is None:
            return refuse(
                Reason.UNKNOWN_LOCATION,
                f"no store or cross reference for {ticket.location!r}",
                "store",
            )
        skus = self.line_skus(ticket.source, [x.sku for x in ticket.lines], ticket.location, refuse)
        if isinstance(skus, DocumentResult):
            return skus
        lines = [replace(line, sku=sku) for line, sku in zip(ticket.lines, skus, strict=True)]
        timezone = self.master.locations[location].timezone
        ticket = replace(ticket, location=location, lines=tuple(lines)).on_business_date(timezone)
        events = ticket_events(ticket)
        bad = self.check_events(events)
        if bad is not None:
            i, reason, why = bad
            at = [j for j, x in enumerate(ticket.lines) if x.quantity != 0][i]
            return refuse(
                reason or Reason.INVALID_TICKET,
                f"line {ticket.lines[at].line}: {why}",
                f"lines[{at}]",
            )
        assert ticket.business_date is not None
        document = ticket_document(ticket)
        posting = "settlement" if self.policy.mode == DAILY_SETTLEMENT else PER_TICKET
        self._tickets[key] = c.payload_hash
        self.plan.tickets.append(
            NewTicket(
                ticket.source,
                ticket.ticket_number,
                c.payload_hash,
                location,
                ticket.business_date,
                posting,
                ticket_totals(ticket).to_json(),
                document,
                c.received,
            )
        )
        self.plan.events.extend(events)
        self.plan.accepted_refs.append((ticket.source, f"ticket:{ticket.ticket_number}"))
        if posting == PER_TICKET:
            self.plan.deliveries.extend(
                _postings(
                    self.targets,
                    number,
                    number,
                    document,
                    events,
                    workflow=Workflow.TICKET_TO_ERP,
                    occurred_us=to_micros(ticket.occurred_at),
                )
            )
        return DocumentResult("ticket", ref, DocStatus.ACCEPTED, document_number=number)

    # --- orders ---------------------------------------------------------------------------
    def _store_order(
        self, key: tuple[str, str], payload_hash: str, decision: Decision, received: Any
    ) -> None:
        state = decision.state
        self._orders[key] = (payload_hash, state)
        self.plan.orders[key] = NewOrderState(
            key[0], key[1], payload_hash, state.status.value, state_to_json(state), received
        )
        self.plan.events.extend(decision.events)
        doc = decision.document
        self.plan.deliveries.extend(
            # One key per order: its sales order, shipments and cancellations go in order.
            _postings(
                self.targets,
                f"order:{key[0]}:{key[1]}",
                doc.document_number,
                doc.payload,
                decision.events,
                workflow=Workflow.ORDER_TO_ERP,
                occurred_us=_earliest(decision.events),
            )
        )

    def _order(self, c: OrderCommand) -> DocumentResult:
        key = (c.channel, c.order_id)
        ref: dict[str, str | None] = {"channel": c.channel, "order_id": c.order_id}
        number = f"order:{c.channel}:{c.order_id}"

        payload = {"order": c.received}
        refuse = self.refuser(
            "order", ref, payload, c.channel, f"order:{c.order_id}", c.payload_hash
        )

        prior = self._orders.get(key)
        if prior is not None:
            if prior[0] == c.payload_hash:
                return DocumentResult("order", ref, DocStatus.DUPLICATE, document_number=number)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"order {c.order_id} from {c.channel} was already accepted "
                "with a different content",
            )
        lines = []
        for i, line in enumerate(c.order.lines):
            sku, location = self.map_line(c.channel, line.sku, line.location)
            if sku is None:
                return refuse(
                    Reason.UNKNOWN_SKU,
                    f"no item or cross reference for {line.sku!r}",
                    f"lines[{i}].sku",
                )
            if location is None:
                return refuse(
                    Reason.UNKNOWN_LOCATION,
                    f"no location or cross reference for {line.location!r}",
                    f"lines[{i}].location",
                )
            lines.append(replace(line, sku=sku, location=location))
        decision = accept(replace(c.order, lines=tuple(lines)))
        bad = self.check_events(decision.events)
        if bad is not None:
            i, reason, why = bad
            return refuse(reason or Reason.INVALID_ORDER, why, f"lines[{i}]")
        self._store_order(key, c.payload_hash, decision, c.received)
        self.plan.accepted_refs.append((c.channel, f"order:{c.order_id}"))
        return DocumentResult("order", ref, DocStatus.ACCEPTED, document_number=number)

    def _step(
        self,
        c: FulfilCommand | CancelCommand,
        kind: str,
        step_id: str,
        done: Mapping[str, str],
        decide: Any,
    ) -> DocumentResult:
        key = (c.channel, c.order_id)
        ref: dict[str, str | None] = {"channel": c.channel, "order_id": c.order_id, "id": step_id}
        word = "ship" if kind == "shipment" else "cancel"
        exception_id = f"order:{c.order_id}:{word}:{step_id}"
        payload = {kind: c.received, "channel": c.channel, "order_id": c.order_id}

        refuse = self.refuser(kind, ref, payload, c.channel, exception_id, c.fingerprint)

        if step_id in done:
            if done[step_id] == c.fingerprint:
                return DocumentResult(kind, ref, DocStatus.DUPLICATE)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"{kind} {step_id} of order {c.order_id} was already applied "
                "with a different content",
            )
        prior = self._orders[key]
        outcome = decide(prior[1])
        if isinstance(outcome, Refusal):
            return refuse(outcome.reason, outcome.detail, outcome.field)
        self._store_order(key, prior[0], outcome, None)
        self.plan.accepted_refs.append((c.channel, exception_id))
        return DocumentResult(
            kind, ref, DocStatus.ACCEPTED, document_number=outcome.document.document_number
        )

    def _unknown(self, c: FulfilCommand | CancelCommand, kind: str, step_id: str) -> DocumentResult:
        word = "ship" if kind == "shipment" else "cancel"
        return self.refuse(
            kind,
            {"channel": c.channel, "order_id": c.order_id, "id": step_id},
            Reason.INVALID_ORDER,
            f"no order {c.order_id!r} from channel {c.channel!r}",
            {kind: c.received, "channel": c.channel, "order_id": c.order_id},
            c.channel,
            f"order:{c.order_id}:{word}:{step_id}",
            c.fingerprint,
            "order_id",
        )

    def _fulfil(self, c: FulfilCommand) -> DocumentResult:
        sid = c.fulfilment.shipment_id
        prior = self._orders.get((c.channel, c.order_id))
        if prior is None:
            return self._unknown(c, "shipment", sid)
        return self._step(
            c, "shipment", sid, prior[1].shipments, lambda s: fulfil(s, c.fulfilment, c.fingerprint)
        )

    def _cancel(self, c: CancelCommand) -> DocumentResult:
        cid = c.cancellation.cancel_id
        prior = self._orders.get((c.channel, c.order_id))
        if prior is None:
            return self._unknown(c, "cancellation", cid)
        return self._step(
            c,
            "cancellation",
            cid,
            prior[1].cancellations,
            lambda s: cancel(s, c.cancellation, c.fingerprint),
        )


# --- daily settlement ---------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class DueSettlement:
    store: str
    business_date: date
    seq: int
    tickets: list[tuple[str, str]]  # (source, ticket_number)
    document: dict[str, Any]
    deliveries: list[NewDelivery]


def plan_settlement(
    store: str,
    business_date: date,
    seq: int,
    tickets: Sequence[tuple[str, str, dict[str, Any]]],
    posting_targets: Sequence[str],
) -> DueSettlement:
    totals = [TicketTotals.from_json(t) for _, _, t in tickets]
    document = settlement_document(store, business_date, seq, totals)
    number = document["document_number"]
    return DueSettlement(
        store,
        business_date,
        seq,
        [(s, n) for s, n, _ in tickets],
        document,
        # The settlement answers for each of its tickets: a ticket's trace reaches it.
        _postings(
            posting_targets,
            f"settlement:{store}",
            number,
            document,
            [],
            [ticket_correlation_id(s, n) for s, n, _ in tickets],
        ),
    )


def is_closed(
    policy: TicketPolicy, store: str, business_date: date, timezone: str, now: datetime
) -> bool:
    return day_closed(business_date, policy.closes_at(store), timezone, now)
