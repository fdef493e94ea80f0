"""Inbound webhooks from platforms (Shopify, Square, ...): verified by their signature."""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from fastapi import APIRouter, Depends, Request

from ..app.connectors import BadPayload, Unverified
from ..app.keys import Scope
from .auth import hub_of, require
from .problems import JsonResponse, Problem

router = APIRouter(prefix="/v1", tags=["connectors"])


@router.post(
    "/webhooks/{connector}",
    summary="Receive a platform's webhook (authenticated by its signature, not an API key)",
    description=(
        "The raw body is verified with the connector's secret before it is read: a bad or "
        "missing signature is a 401 `invalid-signature` and nothing is recorded. Events "
        "are deduplicated on their keys and reservations on their ids, so redeliveries "
        "are harmless."
    ),
    response_class=JsonResponse,
)
async def receive(connector: str, request: Request) -> JsonResponse:
    body = await request.body()
    hub = hub_of(request)
    try:
        received = hub.connectors.receive(connector, request.headers, body, str(request.url))
    except Unverified as e:
        raise Problem(401, "Invalid signature", str(e), kind="invalid-signature") from None
    except BadPayload as e:
        raise Problem(400, "Invalid request", str(e), kind="invalid-request") from None
    return JsonResponse(asdict(received))


@router.get(
    "/connectors/{connector}/observations",
    summary="What a platform reported of its own stock (for reconciliation)",
    description=(
        "For a webhook connector (Shopify, Square), the inventory levels and counts it "
        "reported lately, newest last. For an EDI trading partner ([edi.partners.NAME]), "
        "the rows of its latest 846 inventory snapshot: `reference` (BIA03), `as_of` (the "
        "report's time), `sku`, `location`, `quantity` (on hand: QTY 17, else 33), every "
        "`quantities` by QTY01 qualifier and the warehouse's `items` ids. 404 for a name "
        "that is neither."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def observations(connector: str, request: Request) -> JsonResponse:
    items: list[dict[str, Any]] = hub_of(request).connectors.observations(connector)
    return JsonResponse({"connector": connector, "observations": items})
