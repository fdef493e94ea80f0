"""Store tickets and channel orders: POST to send them, GET to see where they stand.

Routes parse and hand over; the writer decides, in the ingest transaction, what each
document means for the ledger and the ERP (app/documents.py).
"""

from __future__ import annotations

import asyncio
from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request

from ..app.documents import (
    NOT_FOUND,
    CancelCommand,
    DocStatus,
    DocumentCommand,
    DocumentResult,
    FulfilCommand,
    Malformed,
    OrderCommand,
    TicketCommand,
    invalid_ticket,
    parse_cancel,
    parse_fulfil,
    parse_order,
    parse_ticket,
)
from ..app.ingest import AnyDocument
from ..app.keys import Scope
from ..app.ports import DocumentStateRecord, OrderRecord
from ..app.returns import ReturnCommand
from ..app.transfers import TransferCommand
from ..domain.access import refused_names
from ..domain.errors import Reason
from ..domain.model import from_micros
from ..domain.tickets import settlement_number
from .auth import enforce_binding, enforce_names, hub_of, principal_of, require
from .problems import JsonResponse, Problem
from .requests import answer_of, invalid_request, json_body, with_reason

router = APIRouter(prefix="/v1", tags=["tickets and orders"])

MAX_TICKETS = 1000


def _malformed(bad: Malformed, what: str) -> Problem:
    field, message = bad.first
    return invalid_request(f"{what}: {field} {message}", errors=bad.errors)


def document_names(command: AnyDocument) -> dict[str, tuple[str, object]]:
    """The sources, locations and channels a document names, for the key's binding."""
    if isinstance(command, TicketCommand):
        location = command.ticket.location if command.ticket else None
        return {"source": ("source", command.source), "location": ("location", location)}
    if isinstance(command, OrderCommand | FulfilCommand | CancelCommand):
        return {"channel": ("channel", command.channel)}
    if isinstance(command, ReturnCommand):
        ret = command.ret
        return {"source": ("source", ret.source), "location": ("location", ret.location)}
    if isinstance(command, TransferCommand):
        return {"source": ("source", command.transfer.source)}
    return {}


async def _apply(request: Request, command: AnyDocument) -> DocumentResult:
    named = document_names(command)
    if isinstance(command, TransferCommand):
        # Either end of a transfer may create it: the store that ships or the one that
        # receives; a key bound to neither is refused.
        ends = (command.transfer.from_location, command.transfer.to_location)
        allowed = principal_of(request).binding.locations
        if allowed and not allowed.intersection(ends):
            named["from_location"] = ("location", ends[0])
    await enforce_names(request, named)
    return await answer_of(hub_of(request).writer.submit_document(command))


async def _apply_document(
    request: Request, parsed: AnyDocument | Malformed, what: str
) -> JsonResponse:
    """Apply one ticket or order step and answer with its result; malformed is a 422."""
    if isinstance(parsed, Malformed):
        raise _malformed(parsed, what)
    return JsonResponse(render(await _apply(request, parsed)))


async def apply_stock_document(
    request: Request, command: AnyDocument | Malformed, kind: str, document_id: str
) -> JsonResponse:
    """Apply a return or transfer command and answer with the document as it now stands.

    A malformed body is a 422 naming the field; an unknown document a 404; the same id
    with another content a 409; a refused command (over grading, over shipment, unknown
    item...) a 422 naming the field, kept in the exception queue as well.
    """
    if isinstance(command, Malformed):
        raise _malformed(command, kind)
    result = await _apply(request, command)
    if result.reason == NOT_FOUND:
        raise Problem(404, "Not found", result.detail, field=result.field)
    if result.status is DocStatus.EXCEPTION:
        conflict = result.reason == Reason.CONFLICTING_DUPLICATE
        raise Problem(
            409 if conflict else 422,
            "Conflict" if conflict else "Refused",
            result.detail,
            kind="conflict" if conflict else (result.reason or "refused").replace("_", "-"),
            reason=result.reason,
            field=result.field,
            errors=[{"field": result.field or "$", "message": result.detail or ""}],
        )
    view = stock_document_view(request, kind, document_id)
    return JsonResponse({**render(result), kind: view})


def stock_document_view(request: Request, kind: str, document_id: str) -> dict[str, Any] | None:
    record = hub_of(request).store.document_state(kind, document_id)
    return _state_view(record) if record is not None else None


def _state_view(record: OrderRecord | DocumentStateRecord, **extra: Any) -> dict[str, Any]:
    """A stateful document as stored: its state, then `extra`, what was received, and when."""
    return {
        **record.state,
        **extra,
        "received": record.received,
        "recorded_at": from_micros(record.created_us),
        "updated_at": from_micros(record.updated_us),
    }


def render(r: DocumentResult) -> dict[str, Any]:
    out: dict[str, Any] = {**r.ref, "status": r.status.value}
    if r.document_number:
        out["document_number"] = r.document_number
    return with_reason(out, r)


def _exception_view(request: Request, source: str, exception_id: str) -> dict[str, Any] | None:
    parked = hub_of(request).store.exceptions(source=source, event_id=exception_id, limit=100)
    if not parked:
        return None
    record = parked[-1]
    return {
        "status": "exception",
        "exception_id": record.id,
        "reason": record.reason,
        "detail": record.detail,
        "field": record.field,
        "exception_status": record.status,
        "received": record.payload,
    }


# --- tickets ------------------------------------------------------------------------------
@router.post(
    "/tickets",
    summary="Send store tickets (one, or a batch as {'tickets': [...]})",
    description=(
        "Each ticket is judged alone: accepted (its stock moves and its ERP posting is "
        "queued), duplicate (same ticket number and content), or exception with a reason "
        "(unbalanced_ticket, unknown_sku, conflicting_duplicate...). A single ticket that is "
        "malformed is answered 422; in a batch it is an invalid_ticket exception."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def post_tickets(request: Request) -> JsonResponse:
    body = await json_body(request)
    if isinstance(body, dict) and "tickets" in body:
        raws = body["tickets"]
        if not isinstance(raws, list) or not raws or len(body) != 1:
            raise invalid_request(
                "a batch is an object with a non-empty 'tickets' list and nothing else",
                errors=[{"field": "tickets", "message": "required non-empty list"}],
            )
        if len(raws) > MAX_TICKETS:
            raise Problem(
                413,
                "Too many tickets",
                f"{len(raws)} tickets; at most {MAX_TICKETS} per request",
                kind="too-many-tickets",
                limit=MAX_TICKETS,
            )
        commands: list[DocumentCommand] = []
        for raw in raws:
            parsed = parse_ticket(raw)
            commands.append(
                invalid_ticket(raw, parsed) if isinstance(parsed, Malformed) else parsed
            )
        binding = principal_of(request).binding
        await enforce_binding(
            request,
            [
                refusal
                for i, command in enumerate(commands)
                for refusal in refused_names(
                    binding, {f"tickets[{i}].{w}": n for w, n in document_names(command).items()}
                )
            ],
        )
        writer = hub_of(request).writer
        futures = [answer_of(writer.submit_document(c)) for c in commands]
        results = await asyncio.gather(*futures)
        totals = {s.value: sum(1 for r in results if r.status is s) for s in DocStatus}
        return JsonResponse({"results": [render(r) for r in results], "totals": totals})
    return await _apply_document(request, parse_ticket(body), "ticket")


@router.get(
    "/tickets/{source}/{ticket_number}",
    summary="A ticket as accepted, with its posting, or the exception that holds it",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def get_ticket(source: str, ticket_number: str, request: Request) -> JsonResponse:
    record = hub_of(request).store.ticket(source, ticket_number)
    if record is not None:
        settlement = None
        if record.settlement_seq is not None:
            settlement = settlement_number(
                record.location, date.fromisoformat(record.business_date), record.settlement_seq
            )
        return JsonResponse(
            {
                "source": record.source,
                "ticket_number": record.ticket_number,
                "status": record.status,
                "store": record.location,
                "business_date": record.business_date,
                "posting": record.posting,
                "document_number": record.document["document_number"],
                "settlement": settlement,
                "totals": record.totals,
                "document": record.document,
                "received": record.received,
                "recorded_at": from_micros(record.created_us),
            }
        )
    held = _exception_view(request, source, f"ticket:{ticket_number}")
    if held is not None:
        return JsonResponse({"source": source, "ticket_number": ticket_number, **held})
    raise Problem(404, "Not found", f"no ticket {ticket_number!r} from source {source!r}")


@router.get(
    "/settlements",
    summary="Daily settlements queued for the ERP, per store and business day",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def list_settlements(
    request: Request, store: str | None = None, business_date: str | None = None
) -> JsonResponse:
    records = hub_of(request).store.settlements(store, business_date)
    return JsonResponse(
        {
            "settlements": [
                {
                    "store": r.store,
                    "business_date": r.business_date,
                    "sequence": r.seq,
                    "state": r.state,
                    "ticket_count": r.ticket_count,
                    "document": r.document,
                    "queued_at": from_micros(r.created_us),
                }
                for r in records
            ]
        }
    )


# --- orders -------------------------------------------------------------------------------
@router.post(
    "/orders",
    summary="Send an order accepted on a channel",
    description=(
        "Idempotent on (channel, order_id): the same order sent again is a duplicate and "
        "posts nothing new; the same id with another content is a conflicting_duplicate "
        "exception. Accepting reserves every line at its fulfilment location and queues "
        "the ERP sales order."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def post_order(request: Request) -> JsonResponse:
    return await _apply_document(request, parse_order(await json_body(request)), "order")


@router.post(
    "/orders/{channel}/{order_id}/fulfil",
    summary="Ship lines of an order (partially or fully)",
    description="Idempotent by shipment_id. Never ships more than a line has open.",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def fulfil_order(channel: str, order_id: str, request: Request) -> JsonResponse:
    now = hub_of(request).clock.now()
    parsed = parse_fulfil(channel, order_id, await json_body(request), now)
    return await _apply_document(request, parsed, "shipment")


@router.post(
    "/orders/{channel}/{order_id}/cancel",
    summary="Cancel what is still open on an order: all of it, or given lines",
    description="Idempotent by cancel_id. Shipped units cannot be cancelled.",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def cancel_order(channel: str, order_id: str, request: Request) -> JsonResponse:
    now = hub_of(request).clock.now()
    parsed = parse_cancel(channel, order_id, await json_body(request, empty_ok=True), now)
    return await _apply_document(request, parsed, "cancellation")


@router.get(
    "/orders/{channel}/{order_id}",
    summary="An order's state: per line ordered, shipped, cancelled and open",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def get_order(channel: str, order_id: str, request: Request) -> JsonResponse:
    record = hub_of(request).store.order(channel, order_id)
    if record is not None:
        return JsonResponse(_state_view(record, document_number=f"order:{channel}:{order_id}"))
    held = _exception_view(request, channel, f"order:{order_id}")
    if held is not None:
        return JsonResponse({"channel": channel, "order_id": order_id, **held})
    raise Problem(404, "Not found", f"no order {order_id!r} from channel {channel!r}")
