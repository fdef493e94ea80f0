"""Channels, their available-to-sell, and location freshness (heartbeats)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from ..app.channels import freshness_view
from ..app.keys import Principal, Scope
from ..app.ports import ConfigChange
from ..app.routing import ChannelIn
from ..domain.availability import ChannelAvailability
from .auth import hub_of, require
from .problems import JsonResponse

router = APIRouter(prefix="/v1", tags=["channels"])


def _availability(a: ChannelAvailability) -> dict[str, Any]:
    return {
        "channel": a.channel,
        "sku": a.sku,
        "available": a.available,
        "safety_stock": a.safety_stock,
        "before_share_and_cap": a.before_share_and_cap,
        "locations": [
            {
                "location": c.location,
                "available": c.available,
                "buffer": c.buffer,
                "stale": c.stale,
                "contributes": c.contributes,
            }
            for c in a.contributions
        ],
    }


@router.put(
    "/channels/{name}",
    summary="Create or replace a channel and its availability policy",
    response_class=JsonResponse,
)
def put_channel(
    name: str,
    request: Request,
    body: ChannelIn,
    principal: Principal = Depends(require(Scope.ADMIN)),
) -> JsonResponse:
    channel = hub_of(request).channels.put(
        name, body.model_dump(mode="json"), ConfigChange(principal.name)
    )
    return JsonResponse({"name": name, **channel.model_dump(mode="json")})


@router.get(
    "/channels",
    summary="Every channel",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def list_channels(request: Request) -> JsonResponse:
    channels = hub_of(request).channels.all()
    return JsonResponse(
        {"channels": [{"name": n, **c.model_dump(mode="json")} for n, c in channels.items()]}
    )


@router.get(
    "/channels/{name}",
    summary="One channel",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def get_channel(name: str, request: Request) -> JsonResponse:
    channel = hub_of(request).channels.get(name)
    return JsonResponse({"name": name, **channel.model_dump(mode="json")})


@router.get(
    "/availability/{channel}/{sku}",
    summary="Available-to-sell of a SKU on a channel, computed from the ledger",
    description=(
        "Sum over the channel's locations of max(0, available - buffer), a stale location "
        "contributing by the channel's stale rule; minus the channel's safety stock; then "
        "share and cap. Storefronts and kiosks ask here, never the ERP."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
async def availability(channel: str, sku: str, request: Request) -> JsonResponse:
    # Served from the position cache: cheaper on the event loop than via the thread pool.
    return JsonResponse(_availability(hub_of(request).channels.availability(channel, sku)))


@router.post(
    "/heartbeats",
    summary="Report that locations are alive when they have no events to send",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
def heartbeats(
    request: Request,
    body: Any = Body(..., examples=[{"heartbeats": [{"source": "pos", "location": "0101"}]}]),
) -> JsonResponse:
    beats = body.get("heartbeats") if isinstance(body, dict) else None
    if not isinstance(beats, list):
        from .problems import Problem

        raise Problem(
            422, "Invalid request", "the body must hold a 'heartbeats' list", kind="invalid-request"
        )
    return JsonResponse({"results": hub_of(request).channels.heartbeats(beats)})


@router.get(
    "/freshness",
    summary="Each location's last sign of life against its SLA",
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def freshness(request: Request) -> JsonResponse:
    return JsonResponse(
        {"locations": [freshness_view(f) for f in hub_of(request).channels.freshness()]}
    )
