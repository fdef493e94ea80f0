"""Customer returns with inspection, and transfer orders between locations.

Routes parse and hand over; the writer decides, in the ingest transaction, what each
command means for the ledger and the ERP (app/returns.py, app/transfers.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Depends, Request

from ..app.documents import Malformed
from ..app.ingest import AnyDocument
from ..app.keys import Scope
from ..app.returns import ReturnCommand, parse_grade, parse_return
from ..app.transfers import TransferCommand, parse_close, parse_movement, parse_transfer
from .auth import hub_of, require
from .problems import JsonResponse, Problem
from .requests import json_body
from .routes_documents import apply_stock_document, stock_document_view

router = APIRouter(prefix="/v1", tags=["returns and transfers"])
WRITE = [Depends(require(Scope.EVENTS_WRITE))]
READ = [Depends(require(Scope.POSITIONS_READ))]


def _view(request: Request, kind: str, document_id: str) -> JsonResponse:
    view = stock_document_view(request, kind, document_id)
    if view is None:
        raise Problem(404, "Not found", f"no {kind} {document_id!r}")
    return JsonResponse(view)


async def _apply_step(
    request: Request,
    kind: str,
    document_id: str,
    parse: Callable[[Any, datetime], AnyDocument | Malformed],
    *,
    empty_ok: bool = False,
) -> JsonResponse:
    """Parse a step on the return or transfer named in the path, as of now, and apply it."""
    now = hub_of(request).clock.now()
    command = parse(await json_body(request, empty_ok=empty_ok), now)
    return await apply_stock_document(request, command, kind, document_id)


# --- returns ------------------------------------------------------------------------------
@router.post(
    "/returns",
    summary="Receive a customer return",
    description=(
        "Each line has a condition (or pending_inspection); the inspection rules decide "
        "whether its units go back to sellable stock, are kept non-sellable or written off. "
        "Idempotent by return_id. Posts one credit document to the ERP."
    ),
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def post_return(request: Request) -> JsonResponse:
    command = parse_return(await json_body(request))
    return_id = command.return_id if isinstance(command, ReturnCommand) else ""
    return await apply_stock_document(request, command, "return", return_id)


@router.post(
    "/returns/{return_id}/grade",
    summary="Grade units of a return pending inspection (partially or fully)",
    description="Idempotent by grade_id. Never grades more than a line has pending.",
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def grade_return(return_id: str, request: Request) -> JsonResponse:
    return await _apply_step(request, "return", return_id, partial(parse_grade, return_id))


@router.get(
    "/returns/{return_id}",
    summary="A return: per line returned, pending, sellable, non-sellable, written off",
    response_class=JsonResponse,
    dependencies=READ,
)
def get_return(return_id: str, request: Request) -> JsonResponse:
    return _view(request, "return", return_id)


# --- transfers ----------------------------------------------------------------------------
@router.post(
    "/transfers",
    summary="Create a transfer order between two locations",
    description="Idempotent by transfer_id. Moves no stock until a shipment.",
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def post_transfer(request: Request) -> JsonResponse:
    now = hub_of(request).clock.now()
    command = parse_transfer(await json_body(request), now)
    transfer_id = command.transfer_id if isinstance(command, TransferCommand) else ""
    return await apply_stock_document(request, command, "transfer", transfer_id)


@router.post(
    "/transfers/{transfer_id}/ship",
    summary="Ship transfer lines: out at the sender, in transit at the receiver",
    description="Idempotent by shipment_id. Never ships more than a line has left.",
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def ship_transfer(transfer_id: str, request: Request) -> JsonResponse:
    parse = partial(parse_movement, transfer_id, "shipment")
    return await _apply_step(request, "transfer", transfer_id, parse)


@router.post(
    "/transfers/{transfer_id}/receive",
    summary="Receive transfer lines (partially or fully) at the receiving location",
    description=(
        "Idempotent by receipt_id. Units beyond what is in transit are booked in and "
        "declared as an over_receipt exception."
    ),
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def receive_transfer(transfer_id: str, request: Request) -> JsonResponse:
    parse = partial(parse_movement, transfer_id, "receipt")
    return await _apply_step(request, "transfer", transfer_id, parse)


@router.post(
    "/transfers/{transfer_id}/close",
    summary="Close a transfer: units still in transit are a short_receipt exception",
    description=(
        "The in-transit remainder is written off or kept in transit by "
        "[transfers] short_receipt. Closing again is a duplicate."
    ),
    response_class=JsonResponse,
    dependencies=WRITE,
)
async def close_transfer(transfer_id: str, request: Request) -> JsonResponse:
    parse = partial(parse_close, transfer_id)
    return await _apply_step(request, "transfer", transfer_id, parse, empty_ok=True)


@router.get(
    "/transfers/{transfer_id}",
    summary="A transfer order: per line ordered, shipped, received, in transit",
    response_class=JsonResponse,
    dependencies=READ,
)
def get_transfer(transfer_id: str, request: Request) -> JsonResponse:
    return _view(request, "transfer", transfer_id)
