"""Configuration history: every version of a cross reference, channel or target, and a
rollback to any of them (itself recorded, with the name of the key that asked)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from ..app.history import CannotRollback, HistoryKind, public
from ..app.keys import Principal, Scope
from ..app.ports import HistoryEntry
from ..domain.model import from_micros
from .auth import hub_of, require
from .problems import JsonResponse, Problem
from .schemas_triage import HistoryOut, RollbackIn

admin = require(Scope.ADMIN)
router = APIRouter(prefix="/v1", tags=["history"], dependencies=[Depends(admin)])

_KEYS = (
    "A channel or target name; a cross reference as SOURCE/KIND/EXTERNAL_CODE (e.g. pos/item/4711)."
)


def history_view(e: HistoryEntry) -> dict[str, Any]:
    return {
        "kind": e.kind,
        "key": e.key,
        "version": e.version,
        "action": e.action,
        "actor": e.actor,
        "at": from_micros(e.at_us),
        "before": public(e.kind, e.before),
        "after": public(e.kind, e.after),
        "rollback_of": e.rollback_of,
    }


@router.get(
    "/history/{kind}",
    summary="The latest configuration changes of a kind, newest first",
    response_class=JsonResponse,
    responses={200: {"model": list[HistoryOut]}},
)
def recent(
    kind: HistoryKind, request: Request, limit: int = Query(100, ge=1, le=1000)
) -> JsonResponse:
    entries = hub_of(request).history.entries(kind, limit=limit)
    return JsonResponse({"history": [history_view(e) for e in entries]})


@router.get(
    "/history/{kind}/{key:path}",
    summary="Every version of one cross reference, channel or target, newest first",
    description=f"{_KEYS} A target's signing secret is shown as ***.",
    response_class=JsonResponse,
    responses={200: {"model": list[HistoryOut]}},
)
def versions(
    kind: HistoryKind,
    key: str,
    request: Request,
    before_version: int = Query(0, ge=0, description="Page on: versions below this one."),
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    entries = hub_of(request).history.entries(kind, key, limit, before_version)
    return JsonResponse({"history": [history_view(e) for e in entries]})


@router.post(
    "/history/{kind}/{key:path}/rollback",
    summary="Re-apply an earlier version (recorded as a rollback)",
    description=(
        f"{_KEYS} The version is applied through the same path as any change: validated "
        "again (a channel whose target is gone is refused) and every process's caches "
        "reload, so the next availability a channel computes follows it. The answer is the "
        "new version, action `rollback`."
    ),
    response_class=JsonResponse,
    responses={200: {"model": HistoryOut}},
)
def rollback(
    kind: HistoryKind,
    key: str,
    body: RollbackIn,
    request: Request,
    principal: Principal = Depends(admin),
) -> JsonResponse:
    try:
        entry = hub_of(request).history.rollback(kind, key, body.version, principal.name)
    except CannotRollback as e:
        raise Problem(409, "Cannot roll back", str(e), kind="cannot-roll-back") from None
    return JsonResponse(history_view(entry))
