"""Reconciliation: upload or pull a system's snapshot, read runs and their reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from ..app.bootstrap import Hub
from ..app.keys import Scope
from ..app.ports import RunRecord
from ..app.reconciliation import difference_view, run_view
from ..app.snapshots import SnapshotError, parse_upload
from ..domain.model import to_micros
from .auth import check_names, enforce_names, hub_of, require
from .problems import JsonResponse, Problem, responses
from .requests import invalid_request, raw_body
from .schemas import ReconciliationOut, ReconciliationRunsOut, ReconciliationSystemsOut

router = APIRouter(prefix="/v1/reconciliations", tags=["reconciliation"])
_read = [Depends(require(Scope.POSITIONS_READ))]
_write = [Depends(require(Scope.RECONCILE))]


def _instant(value: Any, where: str) -> int:
    if isinstance(value, datetime):
        at = value
    else:
        try:
            at = datetime.fromisoformat(str(value))
        except ValueError:
            raise invalid_request(f"{where}: {value!r} is not an RFC 3339 instant") from None
    if at.tzinfo is None:
        raise invalid_request(f"{where}: the instant needs a UTC offset")
    return to_micros(at)


def _with_differences(hub: Hub, record: RunRecord, status: int = 200) -> JsonResponse:
    # The run is in hand: its lines without reading the run again.
    lines = hub.store.reconciliation_lines(record.id)
    differences = [difference_view(record.system, d, record.created_us) for d in lines]
    return JsonResponse({**run_view(record), "differences": differences}, status_code=status)


def _unreadable(e: SnapshotError) -> Problem:
    return Problem(422, "Unreadable snapshot", str(e), kind="unreadable-snapshot")


@router.get(
    "/systems",
    summary="The systems reconciled, their policy and their latest run",
    response_class=JsonResponse,
    responses={200: {"model": ReconciliationSystemsOut}},
    dependencies=_read,
)
def systems(request: Request) -> JsonResponse:
    hub = hub_of(request)
    latest = {r.system: r for r in hub.store.latest_reconciliations()}
    return JsonResponse(
        {
            "systems": [
                {
                    "name": name,
                    "kind": s.kind,
                    "policy": s.policy.value,
                    "measure": s.measure.value,
                    "channel": s.channel,
                    "interval_seconds": s.interval_seconds,
                    "latest": run_view(latest[name]) if name in latest else None,
                }
                for name, s in sorted(hub.reconciliation.systems.items())
            ]
        }
    )


@router.post(
    "",
    summary="Reconcile an uploaded snapshot (CSV or JSON) of a system's stock",
    description=(
        "CSV with a header `sku,location,quantity` (the system's own codes), with "
        "`system` and `as_of` as query parameters; or JSON `{system, as_of, lines: "
        "[{sku, location, quantity}]}`. Rows that cannot be read are reported by line and "
        "field in `errors`; every other row is compared with the ledger as of `as_of`."
    ),
    response_class=JsonResponse,
    responses={201: {"model": ReconciliationOut}, **responses(404)},
    status_code=201,
    dependencies=_write,
)
async def upload(
    request: Request,
    system: str | None = Query(None, description="The system the snapshot is from."),
    as_of: str | None = Query(None, description="The instant the snapshot describes."),
) -> JsonResponse:
    hub = hub_of(request)
    body = await raw_body(request)
    content_type = request.headers.get("content-type", "")
    if "json" in content_type:
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise Problem(400, "Malformed JSON", str(e), kind="malformed-json") from None
        if isinstance(data, dict):
            system = data.get("system", system)
            as_of = data.get("as_of", as_of)
    if not isinstance(system, str) or not system:
        raise invalid_request("system: name the system the snapshot is from")
    # A key bound to sources may reconcile the systems of those names only.
    await enforce_names(request, {"system": ("source", system)})
    if system not in hub.reconciliation.systems:
        known = ", ".join(sorted(hub.reconciliation.systems)) or "none declared"
        raise Problem(404, "Not found", f"no reconciliation system {system!r} (known: {known})")
    if as_of is None:
        raise invalid_request("as_of: give the instant the snapshot describes")
    taken_us = _instant(as_of, "as_of")
    try:
        snapshot = parse_upload(body, content_type, taken_us)
    except SnapshotError as e:
        raise _unreadable(e) from None
    record = await run_in_threadpool(hub.reconciliation.run, system, snapshot, "upload")
    return _with_differences(hub, record, 201)


@router.post(
    "/{system}/pull",
    summary="Pull a snapshot from the system itself and reconcile it",
    response_class=JsonResponse,
    responses={201: {"model": ReconciliationOut}, **responses(502)},
    status_code=201,
    dependencies=_write,
)
def pull(system: str, request: Request) -> JsonResponse:
    check_names(request, {"path.system": ("source", system)})
    hub = hub_of(request)
    try:
        record = hub.reconciliation.pull(system)
    except SnapshotError as e:
        raise Problem(502, "Snapshot not taken", str(e), kind="snapshot-not-taken") from None
    return _with_differences(hub, record, 201)


@router.get(
    "",
    summary="Reconciliation runs, newest first",
    response_class=JsonResponse,
    responses={200: {"model": ReconciliationRunsOut}, **responses(404)},
    dependencies=_read,
)
def runs(
    request: Request,
    system: str | None = Query(None),
    limit: int = Query(50, ge=1, le=500),
) -> JsonResponse:
    check_names(request, {"system": ("source", system)})
    found = hub_of(request).reconciliation.runs(system, limit)
    return JsonResponse({"runs": [run_view(r) for r in found]})


@router.get(
    "/{run_id}",
    summary="One run with its differences",
    response_class=JsonResponse,
    responses={200: {"model": ReconciliationOut}},
    dependencies=_read,
)
def run(run_id: int, request: Request) -> JsonResponse:
    hub = hub_of(request)
    record = hub.reconciliation.get(run_id)
    check_names(request, {"system": ("source", record.system)})
    return _with_differences(hub, record)


@router.get(
    "/{run_id}/report.csv",
    summary="A run's differences as CSV",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}},
    dependencies=_read,
)
def report(run_id: int, request: Request) -> Response:
    service = hub_of(request).reconciliation
    check_names(request, {"system": ("source", service.get(run_id).system)})
    text = service.report_csv(run_id)
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="reconciliation-{run_id}.csv"'},
    )
