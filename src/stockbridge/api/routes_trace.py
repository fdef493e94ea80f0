"""Traces: a correlation id from the source events to every delivery attempt."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request

from ..app.keys import Scope
from ..app.trace import Trace
from .auth import hub_of, require
from .problems import JsonResponse, Problem

router = APIRouter(
    prefix="/v1/trace",
    tags=["observability"],
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)


_RESPONSES: dict[int | str, dict[str, object]] = {
    200: {"model": Trace},
    404: {"description": "Nothing is known under that id (problem+json)"},
}


def _answer(request: Request, correlation_id: str) -> JsonResponse:
    found: Trace | None = hub_of(request).traces.trace(correlation_id)
    if found is None:
        raise Problem(
            404, "Not found", f"no event or delivery carries correlation id {correlation_id!r}"
        )
    return JsonResponse(found)


@router.get(
    "/{correlation_id}",
    summary="The chain of one correlation id: events, ledger effects, deliveries, attempts",
    response_class=JsonResponse,
    responses=_RESPONSES,
)
def trace(correlation_id: str, request: Request) -> JsonResponse:
    return _answer(request, correlation_id)


@router.get(
    "",
    summary="Find a trace by a store ticket, a channel order or an event",
    description=(
        "Exactly one lookup: `source` and `ticket` (a store ticket), `channel` and "
        "`order` (a channel order), or `source` and `event_id` (any event). Answers with "
        "the trace of the correlation id the ticket, order or event carries."
    ),
    response_class=JsonResponse,
    responses={**_RESPONSES, 422: {"description": "Not exactly one lookup (problem+json)"}},
)
def find_trace(
    request: Request,
    source: str | None = Query(None, description="The POS or system that sent it"),
    ticket: str | None = Query(None, description="A store ticket number (with `source`)"),
    channel: str | None = Query(None, description="The channel an order came from"),
    order: str | None = Query(None, description="A channel order id (with `channel`)"),
    event_id: str | None = Query(None, description="An event id (with `source`)"),
) -> JsonResponse:
    traces = hub_of(request).traces
    chosen = [v for v in (ticket, order, event_id) if v is not None]
    if len(chosen) != 1:
        raise Problem(
            422,
            "Invalid request",
            "give exactly one of source+ticket, channel+order or source+event_id",
            kind="invalid-request",
        )
    if ticket is not None:
        if source is None:
            raise Problem(422, "Invalid request", "a ticket lookup needs its source")
        correlation_id = traces.of_ticket(source, ticket)
        missing = f"no ticket {ticket!r} from source {source!r}"
    elif order is not None:
        if channel is None:
            raise Problem(422, "Invalid request", "an order lookup needs its channel")
        correlation_id = traces.of_order(channel, order)
        missing = f"no order {order!r} from channel {channel!r}"
    else:
        assert event_id is not None
        if source is None:
            raise Problem(422, "Invalid request", "an event lookup needs its source")
        correlation_id = traces.of_event(source, event_id)
        missing = f"no event {event_id!r} from source {source!r}"
    if correlation_id is None:
        raise Problem(404, "Not found", missing)
    return _answer(request, correlation_id)
