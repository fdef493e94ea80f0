"""Positions, their totals per SKU, and the events that explain them."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Depends, Query, Request
from starlette.concurrency import run_in_threadpool

from ..app.keys import Scope
from ..app.queries import PositionView
from ..domain.model import to_micros
from .auth import check_names, enforce_names, hub_of, principal_of, require
from .problems import JsonResponse, Problem
from .schemas import PositionOut, SkuPositionsOut

router = APIRouter(
    prefix="/v1/positions",
    tags=["positions"],
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)

_FIELDS = ("on_hand", "non_sellable", "reserved", "in_transit", "available")


def _view(v: PositionView) -> dict[str, Any]:
    return {
        "sku": v.sku,
        "location": v.location,
        "on_hand": v.on_hand,
        "non_sellable": v.non_sellable,
        "reserved": v.reserved,
        "in_transit": v.in_transit,
        "safety_stock": v.safety_stock,
        "available": v.available,
    }


@router.get(
    "/{sku}",
    summary="Every location of a SKU, with totals",
    response_class=JsonResponse,
    responses={200: {"model": SkuPositionsOut}},
)
def sku_positions(sku: str, request: Request) -> JsonResponse:
    hub = hub_of(request)
    views = hub.positions.positions(sku)
    if not views and not hub.positions.known(sku):
        raise Problem(404, "Not found", f"unknown SKU {sku!r}")
    # A key bound to locations sees its own, and totals over them only.
    allowed = principal_of(request).binding.locations
    if allowed:
        views = [v for v in views if v.location in allowed]
    totals = {f: sum((getattr(v, f) for v in views), Decimal(0)) for f in _FIELDS}
    return JsonResponse({"sku": sku, "locations": [_view(v) for v in views], "totals": totals})


@router.get(
    "/{sku}/{location}",
    summary="The position of a SKU at a location",
    response_class=JsonResponse,
    responses={200: {"model": PositionOut}},
)
async def position(
    sku: str,
    location: str,
    request: Request,
    as_of: datetime | None = Query(
        None,
        description="An instant (RFC 3339 with an offset): the position then, re-folded "
        "from the events that occurred by that instant.",
    ),
) -> JsonResponse:
    await enforce_names(request, {"path.location": ("location", location)})
    hub = hub_of(request)
    if as_of is not None:
        if as_of.tzinfo is None:
            raise Problem(
                422, "Invalid request", "as_of needs a UTC offset", kind="invalid-request"
            )
        at = to_micros(as_of)
        view = await run_in_threadpool(hub.positions.as_of, sku, location, at)
        if view is None:
            raise Problem(404, "Not found", f"no position for SKU {sku!r} at {location!r}")
        return JsonResponse({**_view(view), "as_of": as_of})
    # Served from the position cache: cheaper on the event loop than via the thread pool.
    view = hub.positions.position(sku, location)
    if view is None:
        raise Problem(404, "Not found", f"no position for SKU {sku!r} at {location!r}")
    return JsonResponse(_view(view))


@router.get(
    "/{sku}/{location}/history",
    summary="The events that explain a position",
    response_class=JsonResponse,
)
def history(
    sku: str,
    location: str,
    request: Request,
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    check_names(request, {"path.location": ("location", location)})
    hub = hub_of(request)
    view = hub.positions.position(sku, location)
    if view is None:
        raise Problem(404, "Not found", f"no position for SKU {sku!r} at {location!r}")
    return JsonResponse(
        {"position": _view(view), "events": hub.positions.history(sku, location, limit)}
    )
