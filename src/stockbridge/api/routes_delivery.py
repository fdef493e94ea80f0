"""Targets, deliveries, dead letters: pause, resume, inspect, replay."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict

from ..app.deliveries import delivery_view
from ..app.keys import Principal, Scope
from ..app.ports import ConfigChange
from ..app.targets import TargetIn
from .auth import hub_of, require
from .problems import JsonResponse

admin = require(Scope.ADMIN)
router = APIRouter(prefix="/v1", tags=["delivery"], dependencies=[Depends(admin)])


class DeadLetterReplayIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    target: str | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


@router.put(
    "/targets/{name}", summary="Create or replace a delivery target", response_class=JsonResponse
)
def put_target(
    name: str, body: TargetIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    target = hub_of(request).deliveries.put_target(
        name, body.model_dump(mode="json"), ConfigChange(principal.name)
    )
    return JsonResponse({"name": name, **target.public()})


@router.get(
    "/targets",
    summary="Targets with state, backlog, oldest age and circuit",
    response_class=JsonResponse,
)
def list_targets(request: Request) -> JsonResponse:
    return JsonResponse({"targets": hub_of(request).deliveries.targets()})


@router.post(
    "/targets/{name}/pause",
    summary="Pause a target (maintenance window)",
    response_class=JsonResponse,
)
def pause(name: str, request: Request) -> JsonResponse:
    hub_of(request).deliveries.set_paused(name, True)
    return JsonResponse({"name": name, "paused": True})


@router.post(
    "/targets/{name}/resume",
    summary="Resume a paused target; its queue drains in order",
    response_class=JsonResponse,
)
def resume(name: str, request: Request) -> JsonResponse:
    hub_of(request).deliveries.set_paused(name, False)
    return JsonResponse({"name": name, "paused": False})


@router.get(
    "/deliveries", summary="Deliveries by target, kind and state", response_class=JsonResponse
)
def list_deliveries(
    request: Request,
    target: str | None = None,
    kind: str | None = Query(None, pattern="^(availability|posting|price)$"),
    state: str | None = Query(
        None, pattern="^(pending|in_flight|delivered|dead|rejected|superseded)$"
    ),
    after_id: int = Query(0, ge=0),
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    rows = hub_of(request).store.deliveries(
        target=target, kind=kind, state=state, after_id=after_id, limit=limit
    )
    return JsonResponse({"deliveries": [delivery_view(d) for d in rows]})


@router.get(
    "/deliveries/{delivery_id}",
    summary="A delivery with every attempt",
    response_class=JsonResponse,
)
def get_delivery(delivery_id: int, request: Request) -> JsonResponse:
    hub = hub_of(request)
    delivery = hub.deliveries.get(delivery_id)
    return JsonResponse(delivery_view(delivery, hub.store.attempts(delivery_id)))


@router.post(
    "/deliveries/{delivery_id}/replay",
    summary="Send a dead or rejected delivery again, with a fresh retry budget",
    response_class=JsonResponse,
)
def replay(delivery_id: int, request: Request) -> JsonResponse:
    return JsonResponse(delivery_view(hub_of(request).deliveries.replay(delivery_id)))


@router.post(
    "/dead-letters/replay",
    summary="Replay dead letters by target and time range",
    response_class=JsonResponse,
)
def replay_dead_letters(body: DeadLetterReplayIn, request: Request) -> JsonResponse:
    count = hub_of(request).deliveries.replay_dead_letters(body.target, body.since, body.until)
    return JsonResponse({"requeued": count})
