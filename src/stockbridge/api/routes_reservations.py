"""Reservations as a checked command: POST /v1/reservations, fulfil, release, GET."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from ..app.keys import Scope
from ..app.reservations import Close, Outcome, ReservationView, Reserve, Verdict
from ..domain.model import EventType, from_micros, to_micros
from .auth import enforce_names, hub_of, require
from .problems import JsonResponse, Problem
from .requests import answer_of, invalid_request
from .schemas import CloseIn, ReservationIn, ReservationOut
from .schemas import Problem as ProblemOut

router = APIRouter(prefix="/v1/reservations", tags=["reservations"])

_ANSWERED = {Verdict.CREATED: 201, Verdict.EXISTING: 200, Verdict.CLOSED: 200}
_PROBLEMS: dict[int | str, dict[str, Any]] = {
    409: {"model": ProblemOut},
    404: {"model": ProblemOut},
    422: {"model": ProblemOut},
}


def view(v: ReservationView) -> dict[str, Any]:
    return {
        "reservation_id": v.reservation_id,
        "state": v.state.value,
        "sku": v.sku,
        "location": v.location,
        "channel": v.channel,
        "quantity": v.quantity,
        "expires_at": from_micros(v.expires_us) if v.expires_us is not None else None,
        "source": v.source,
    }


def answer(outcome: Outcome) -> JsonResponse:
    """The outcome of a reservation command as an HTTP answer or a problem."""
    rid = outcome.reservation_id
    status = _ANSWERED.get(outcome.verdict)
    if status is not None:
        assert outcome.reservation is not None
        body = view(outcome.reservation)
        body["available"] = outcome.available
        headers = {"Location": f"/v1/reservations/{rid}"} if status == 201 else None
        return JsonResponse(body, status_code=status, headers=headers)
    match outcome.verdict:
        case Verdict.SHORT:
            raise Problem(
                409,
                "Insufficient stock",
                outcome.detail,
                kind="insufficient-stock",
                reservation_id=rid,
                available=outcome.available,
                requested=outcome.requested,
            )
        case Verdict.CONFLICT:
            raise Problem(
                409,
                "Reservation conflict",
                outcome.detail,
                kind="reservation-conflict",
                reservation_id=rid,
            )
        case Verdict.TERMINAL:
            assert outcome.reservation is not None
            raise Problem(
                409,
                "Reservation closed",
                outcome.detail,
                kind="reservation-closed",
                reservation_id=rid,
                state=outcome.reservation.state.value,
            )
        case Verdict.NOT_FOUND:
            raise Problem(404, "Not found", outcome.detail, reservation_id=rid)
    raise invalid_request(
        outcome.detail, errors=[{"field": f"body.{outcome.field}", "message": outcome.detail}]
    )


@router.post(
    "",
    summary="Reserve stock, checked against what is available",
    description=(
        "Give exactly one of `location` (hold there) or `channel` (hold at the feeding "
        "location with the most to give that can cover it alone). 201 with the reservation "
        "and what is left; 409 `insufficient-stock` with `available` and `requested`. The "
        "same request again answers 200 with the same reservation; another request under "
        "the same id is a 409 `reservation-conflict`."
    ),
    status_code=201,
    response_class=JsonResponse,
    responses={201: {"model": ReservationOut}, **_PROBLEMS},
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def reserve(body: ReservationIn, request: Request) -> JsonResponse:
    if (body.location is None) == (body.channel is None):
        raise invalid_request(
            "give exactly one of location or channel",
            errors=[{"field": "body.location", "message": "exactly one of location or channel"}],
        )
    await enforce_names(
        request,
        {
            "body.location": ("location", body.location),
            "body.channel": ("channel", body.channel),
            "body.source": ("source", body.source),
        },
    )
    command = Reserve(
        reservation_id=body.reservation_id,
        sku=body.sku,
        quantity=body.quantity,
        location=body.location,
        channel=body.channel,
        uom=body.uom,
        expires_us=to_micros(body.expires_at) if body.expires_at is not None else None,
        source=body.source,
        reference=body.reference,
        correlation_id=body.correlation_id,
    )
    outcome = await answer_of(hub_of(request).reservations.reserve(command))
    return answer(outcome)


async def _close(
    request: Request, reservation_id: str, action: EventType, body: CloseIn | None
) -> JsonResponse:
    command = Close(
        reservation_id,
        action,
        quantity=body.quantity if body else None,
        reference=body.reference if body else None,
        correlation_id=body.correlation_id if body else None,
    )
    outcome = await answer_of(hub_of(request).reservations.close(command))
    return answer(outcome)


@router.post(
    "/{reservation_id}/fulfil",
    summary="Fulfil an open reservation: the units leave on hand",
    response_class=JsonResponse,
    responses={200: {"model": ReservationOut}, **_PROBLEMS},
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def fulfil(
    reservation_id: str, request: Request, body: CloseIn | None = None
) -> JsonResponse:
    return await _close(request, reservation_id, EventType.FULFIL, body)


@router.post(
    "/{reservation_id}/release",
    summary="Release an open reservation: the units are available again",
    response_class=JsonResponse,
    responses={200: {"model": ReservationOut}, **_PROBLEMS},
    dependencies=[Depends(require(Scope.EVENTS_WRITE))],
)
async def release(
    reservation_id: str, request: Request, body: CloseIn | None = None
) -> JsonResponse:
    return await _close(request, reservation_id, EventType.RELEASE, body)


@router.get(
    "/{reservation_id}",
    summary="A reservation and its state",
    response_class=JsonResponse,
    responses={200: {"model": ReservationOut}, 404: {"model": ProblemOut}},
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def get_reservation(reservation_id: str, request: Request) -> JsonResponse:
    return JsonResponse(view(hub_of(request).reservations.get(reservation_id)))
