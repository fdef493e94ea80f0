"""POST /v1/events and GET /v1/events/{source}/{event_id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from starlette.concurrency import run_in_threadpool

from ..app.bootstrap import Hub
from ..app.ingest import BatchRejected, BatchResult, EventResult, decode_batch
from ..app.keys import Scope
from ..domain.access import refused_events
from ..domain.model import from_micros
from .auth import enforce_binding, enforce_names, hub_of, principal_of, require
from .problems import JsonResponse, Problem
from .requests import answer_of, raw_body, with_reason
from .schemas import IngestResponse

router = APIRouter(prefix="/v1", tags=["events"])

_INGEST_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/IngestRequest"}}},
    }
}


def _result(r: EventResult) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": r.event_id, "source": r.source, "status": r.status.value}
    return with_reason(out, r)


def render(batch: BatchResult) -> dict[str, Any]:
    return {"results": [_result(r) for r in batch.results], "totals": batch.totals()}


@router.post(
    "/events",
    summary="Ingest a batch of events",
    description=(
        "Up to 1,000 events. Each is judged alone: one result per event, in order, with "
        "status accepted, duplicate or exception (with a reason code). Answered after the "
        "batch is durably committed. A key bound to sources or locations has the whole "
        "batch refused (403, nothing applied) when any event names another."
    ),
    openapi_extra=_INGEST_BODY,
    responses={200: {"model": IngestResponse}},
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def post_events(request: Request) -> JsonResponse:
    hub = hub_of(request)
    body = await raw_body(request)
    most = hub.settings.ingest.max_events_per_request
    binding = principal_of(request).binding
    result: BatchResult | BatchRejected
    if binding.sources or binding.locations:
        # A bound key's batch is read here, to check each event before any is applied;
        # unbound keys leave the parsing to the writer, off the event loop.
        decoded = decode_batch(body, most)
        if isinstance(decoded, BatchRejected):
            result = decoded
        else:
            await enforce_binding(request, refused_events(binding, decoded))
            result = await answer_of(hub.writer.submit(decoded))
    else:
        result = await answer_of(hub.writer.submit_body(body, most))
    if isinstance(result, BatchRejected):
        problem = Problem(result.status, result.title, result.detail, kind=result.kind)
        if result.status == 413:
            problem.extra["limit"] = most
        elif result.status == 422:
            problem.extra["errors"] = [{"field": "events", "message": "required list"}]
        raise problem
    return JsonResponse(render(result))


@router.get(
    "/events/{source}/{event_id}",
    summary="An event as stored, with its status",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
async def get_event(source: str, event_id: str, request: Request) -> JsonResponse:
    await enforce_names(request, {"path.source": ("source", source)})
    return await run_in_threadpool(_event_view, hub_of(request), source, event_id)


def _event_view(hub: Hub, source: str, event_id: str) -> JsonResponse:
    stored = hub.store.event(source, event_id)
    if stored is not None:
        return JsonResponse(
            {
                "source": stored.source,
                "event_id": stored.event_id,
                "status": "accepted",
                "seq": stored.seq,
                "type": stored.type,
                "sku": stored.sku,
                "location": stored.location,
                "counterparty_location": stored.counterparty_location,
                "quantity": stored.quantity,
                "on_hand_delta": stored.on_hand_delta,
                "occurred_at": from_micros(stored.occurred_us),
                "recorded_at": from_micros(stored.recorded_us),
                "reservation_id": stored.reservation_id,
                "expires_at": from_micros(stored.expires_us) if stored.expires_us else None,
                "condition": stored.condition,
                "reference": stored.reference,
                "reason": stored.reason,
                "correlation_id": stored.correlation_id,
                "received": stored.raw,
            }
        )
    parked = hub.store.exceptions(source=source, event_id=event_id, limit=100)
    if parked:
        record = parked[-1]
        return JsonResponse(
            {
                "source": source,
                "event_id": event_id,
                "status": "exception",
                "exception_id": record.id,
                "reason": record.reason,
                "detail": record.detail,
                "exception_status": record.status,
                "received": record.payload,
            }
        )
    raise Problem(404, "Not found", f"no event {event_id!r} from source {source!r}")
