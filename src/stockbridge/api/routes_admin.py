"""Master data upserts (cross references keep their history, written by the key's name)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Depends, Request

from ..app.keys import Principal, Scope
from ..app.master import MasterKind
from ..app.ports import ConfigChange
from .auth import hub_of, require
from .problems import JsonResponse
from .schemas import ImportReportOut

admin = require(Scope.ADMIN)
router = APIRouter(prefix="/v1", dependencies=[Depends(admin)])


def _upsert(request: Request, kind: MasterKind, body: Any, actor: str) -> JsonResponse:
    rows = body.get(kind.value) if isinstance(body, dict) else None
    if not isinstance(rows, list):
        from .problems import Problem

        raise Problem(
            422,
            "Invalid request",
            f"the body must be an object with a {kind.value!r} list",
            kind="invalid-request",
        )
    report = hub_of(request).master_data.import_list(kind, rows, ConfigChange(actor))
    return JsonResponse(report.as_dict(), status_code=200 if not report.errors else 207)


_MASTER_DOC = (
    "Bulk upsert. Valid rows are stored even when others are rejected; the answer lists "
    "each rejected row with its index and field (status 207 when any row was rejected)."
)


def _register_upsert(kind: MasterKind, summary: str, schema: str) -> None:
    """PUT /v1/{kind}: the same bulk upsert for items, locations and cross references."""

    def upsert(
        request: Request,
        body: Any = Body(None, include_in_schema=False),
        principal: Principal = Depends(admin),
    ) -> JsonResponse:
        return _upsert(request, kind, body, principal.name)

    upsert.__name__ = f"put_{kind.value}"
    router.put(
        f"/{kind.value}",
        tags=["master data"],
        summary=summary,
        description=_MASTER_DOC,
        response_class=JsonResponse,
        responses={200: {"model": ImportReportOut}},
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
