"""Master data upserts and the business exception queue."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Query, Request

from ..app.keys import Scope
from ..app.master import MasterKind
from ..app.ports import ExceptionRecord
from ..domain.model import from_micros
from .auth import audit, hub_of, require
from .problems import JsonResponse, responses
from .routes_events import _result
from .schemas import AfterId, ExceptionOut, ExceptionsOut, IgnoreIn, ImportReportOut, RowId

router = APIRouter(prefix="/v1", dependencies=[Depends(require(Scope.ADMIN))])


def _upsert(request: Request, kind: MasterKind, body: Any) -> JsonResponse:
    rows = body.get(kind.value) if isinstance(body, dict) else None
    if not isinstance(rows, list):
        from .problems import Problem

        raise Problem(
            422,
            "Invalid request",
            f"the body must be an object with a {kind.value!r} list",
            kind="invalid-request",
        )
    report = hub_of(request).master_data.import_list(kind, rows)
    audit(
        request,
        f"{kind.value}.upsert",
        (kind.value, "*"),
        {"received": report.received, "upserted": report.upserted, "rejected": len(report.errors)},
    )
    return JsonResponse(report.as_dict(), status_code=200 if not report.errors else 207)


_MASTER_DOC = (
    "Bulk upsert. Valid rows are stored even when others are rejected; the answer lists "
    "each rejected row with its index and field (status 207 when any row was rejected)."
)


def _register_upsert(kind: MasterKind, summary: str, schema: str) -> None:
    """PUT /v1/{kind}: the same bulk upsert for items, locations and cross references."""

    def upsert(request: Request, body: Any = Body(None, include_in_schema=False)) -> JsonResponse:
        return _upsert(request, kind, body)

    upsert.__name__ = f"put_{kind.value}"
    router.put(
        f"/{kind.value}",
        tags=["master data"],
        summary=summary,
        description=_MASTER_DOC,
        response_class=JsonResponse,
        responses={
            200: {"model": ImportReportOut},
            207: {"model": ImportReportOut, "description": "Some rows were rejected"},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}
                },
            }
        },
    )(upsert)


_register_upsert(MasterKind.ITEMS, "Upsert items", "ItemsIn")
_register_upsert(MasterKind.LOCATIONS, "Upsert locations", "LocationsIn")
_register_upsert(MasterKind.XREFS, "Upsert per-source cross references", "XrefsIn")


def exception_view(r: ExceptionRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "reason": r.reason,
        "detail": r.detail,
        "field": r.field,
        "source": r.source,
        "event_id": r.event_id,
        "status": r.status,
        "occurrences": r.occurrences,
        "note": r.note,
        "created_at": from_micros(r.created_us),
        "updated_at": from_micros(r.updated_us),
        "payload": r.payload,
    }


@router.get(
    "/exceptions",
    tags=["exceptions"],
    summary="Business exceptions waiting or worked",
    response_class=JsonResponse,
    responses={200: {"model": ExceptionsOut}},
)
def list_exceptions(
    request: Request,
    status: str | None = Query(None, pattern="^(open|resolved|ignored)$"),
    reason: str | None = None,
    source: str | None = None,
    after_id: AfterId = 0,
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    records = hub_of(request).store.exceptions(
        status=status, reason=reason, source=source, after_id=after_id, limit=limit
    )
    return JsonResponse({"exceptions": [exception_view(r) for r in records]})


@router.get(
    "/exceptions/{exception_id}",
    tags=["exceptions"],
    response_class=JsonResponse,
    responses={200: {"model": ExceptionOut}},
)
def get_exception(exception_id: RowId, request: Request) -> JsonResponse:
    return JsonResponse(exception_view(hub_of(request).exceptions.get(exception_id)))


@router.post(
    "/exceptions/{exception_id}/replay",
    tags=["exceptions"],
    summary="Run the kept event through ingest again, after fixing its cause",
    response_class=JsonResponse,
    responses=responses(409),
)
def replay_exception(exception_id: RowId, request: Request) -> JsonResponse:
    outcome = hub_of(request).exceptions.replay(exception_id)
    audit(
        request,
        "exception.replay",
        ("exception", str(exception_id)),
        {"status": outcome.result.status.value},
    )
    return JsonResponse(
        {"exception": exception_view(outcome.exception), "result": _result(outcome.result)}
    )


@router.post(
    "/exceptions/{exception_id}/ignore",
    tags=["exceptions"],
    summary="Close an exception without replaying it",
    response_class=JsonResponse,
    responses=responses(409),
)
def ignore_exception(exception_id: RowId, body: IgnoreIn, request: Request) -> JsonResponse:
    record = hub_of(request).exceptions.ignore(exception_id, body.note)
    audit(request, "exception.ignore", ("exception", str(exception_id)), {"note": body.note})
    return JsonResponse(exception_view(record))
