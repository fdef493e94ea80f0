"""POST /v1/events and GET /v1/events/{source}/{event_id}."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ..app.ingest import BatchRejected, BatchResult, EventResult
from ..app.keys import Scope
from ..domain.model import from_micros
from .auth import hub_of, require
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
        "batch is durably committed."
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
def get_event(source: str, event_id: str, request: Request) -> JsonResponse:
    hub = hub_of(request)
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
