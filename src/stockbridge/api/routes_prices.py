"""Prices and promotions: import from the ERP, price checks, prices observed at the till."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from ..app.keys import Scope
from ..app.pricing import PricingKind, price_view
from .auth import hub_of, require
from .problems import JsonResponse
from .requests import invalid_request

router = APIRouter(prefix="/v1", tags=["prices"])

_IMPORT_DOC = (
    "Upsert by natural key (price book, SKU, scope, start; or promotion id). Valid rows are "
    "stored and published even when others are rejected; the answer lists each stored row "
    "(`created`, `updated` or `unchanged`) and each rejected one with its index and field "
    "(status 207 when any row was rejected). Changes are queued as `price` deliveries to "
    "the targets of the channels and locations they apply to, due `publish_lead_seconds` "
    "before their start."
)


def _list_of(body: Any, name: str) -> list[Any]:
    rows = body.get(name) if isinstance(body, dict) else None
    if not isinstance(rows, list):
        raise invalid_request(f"the body must be an object with a {name!r} list")
    return rows


def _import(request: Request, kind: PricingKind, body: Any) -> JsonResponse:
    report = hub_of(request).pricing.import_list(kind, _list_of(body, kind.value))
    return JsonResponse(report.as_dict(), status_code=200 if not report.errors else 207)


@router.put(
    "/prices",
    summary="Import price book entries",
    description=_IMPORT_DOC,
    response_class=JsonResponse,
    responses={207: {"description": "Some rows were rejected; the others are stored"}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def put_prices(
    request: Request,
    body: Any = Body(
        ...,
        examples=[
            {
                "prices": [
                    {
                        "book": "base",
                        "sku": "100045",
                        "amount": "19.99",
                        "currency": "EUR",
                        "locations": ["0101"],
                        "start": "2026-03-09T00:00:00+01:00",
                    }
                ]
            }
        ],
    ),
) -> JsonResponse:
    return _import(request, PricingKind.PRICES, body)


@router.put(
    "/promotions",
    summary="Import promotions",
    description=_IMPORT_DOC,
    response_class=JsonResponse,
    responses={207: {"description": "Some rows were rejected; the others are stored"}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def put_promotions(
    request: Request,
    body: Any = Body(
        ...,
        examples=[
            {
                "promotions": [
                    {
                        "id": "SPRING-26",
                        "skus": ["100045"],
                        "percent_off": "20",
                        "channels": ["web"],
                        "start": "2026-03-14T00:00:00+01:00",
                        "end": "2026-03-16T00:00:00+01:00",
                    }
                ]
            }
        ],
    ),
) -> JsonResponse:
    return _import(request, PricingKind.PROMOTIONS, body)


def _instant(at: str | None) -> datetime | None:
    if at is None:
        return None
    try:
        when = datetime.fromisoformat(at)
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        raise invalid_request(
            f"at must be an RFC 3339 date-time with an offset, not {at!r}",
            errors=[{"field": "query.at", "message": "RFC 3339 date-time with offset"}],
        )
    return when


@router.get(
    "/prices/{sku}",
    summary="The price in force for a SKU (POS price check)",
    description=(
        "Base price (the most specific scope, then the latest start), the promotion applied "
        "if any (the lowest resulting price), the final price and since when and until "
        "when it holds. `sku` may also be a GTIN. Without `location` or `channel` the "
        "estate-wide price is answered."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def price_check(
    sku: str,
    request: Request,
    location: str | None = Query(None, description="A location code (a store's POS)."),
    channel: str | None = Query(None, description="A channel name."),
    at: str | None = Query(None, description="RFC 3339 with offset; default: now."),
) -> JsonResponse:
    when = _instant(at)
    found = hub_of(request).pricing.check(sku, location=location, channel=channel, at=when)
    return JsonResponse(price_view(found))


@router.post(
    "/prices/observations",
    summary="Report prices shown by a POS or channel; mismatches become exceptions",
    description=(
        "Each observation is compared with the price in force at its `observed_at`. "
        "`status` per observation: `match`, `mismatch` (parked as a `price_mismatch` "
        "exception, its id returned), `no_price`, `unknown_sku`, `unknown_location`, "
        "`unknown_channel` or `invalid`."
    ),
    response_class=JsonResponse,
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
def observations(
    request: Request,
    body: Any = Body(
        ...,
        examples=[
            {
                "observations": [
                    {
                        "source": "pos",
                        "sku": "100045",
                        "location": "0101",
                        "price": "19.99",
                        "currency": "EUR",
                        "observed_at": "2026-03-09T10:12:00+01:00",
                    }
                ]
            }
        ],
    ),
) -> JsonResponse:
    results = hub_of(request).pricing.observe(_list_of(body, "observations"))
    totals: dict[str, int] = {}
    for r in results:
        totals[r["status"]] = totals.get(r["status"], 0) + 1
    return JsonResponse({"results": results, "totals": totals})
