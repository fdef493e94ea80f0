"""GET /v1/audit: administrative actions and refused requests, oldest first."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel

from ..app.keys import Scope
from ..app.ports import AuditEntry
from ..domain.model import from_micros, to_micros
from .auth import hub_of, require
from .problems import JsonResponse
from .schemas import AfterId

router = APIRouter(prefix="/v1", tags=["governance"])


class AuditEntryOut(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    subject_kind: str
    subject_key: str
    outcome: Literal["ok", "refused"]
    detail: dict[str, Any]


class AuditOut(BaseModel):
    entries: list[AuditEntryOut]


def audit_view(e: AuditEntry) -> dict[str, Any]:
    return {
        "id": e.id,
        "at": from_micros(e.at_us),
        "actor": e.actor,
        "action": e.action,
        "subject_kind": e.subject_kind,
        "subject_key": e.subject_key,
        "outcome": e.outcome,
        "detail": e.detail,
    }


@router.get(
    "/audit",
    summary="The audit log: who changed keys, mappings, channels and targets, replayed or "
    "paused, and which requests were refused",
    response_class=JsonResponse,
    responses={200: {"model": AuditOut}},
    dependencies=[Depends(require(Scope.ADMIN))],
)
def get_audit(
    request: Request,
    actor: str | None = Query(None, description="The key name (or `cli`) that acted."),
    action: str | None = Query(None, description="e.g. key.create, target.pause."),
    since: AwareDatetime | None = Query(None, description="At or after this instant."),
    until: AwareDatetime | None = Query(None, description="Before this instant."),
    after_id: AfterId = 0,
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    entries = hub_of(request).store.audit_entries(
        actor=actor,
        action=action,
        since_us=to_micros(since) if since else None,
        until_us=to_micros(until) if until else None,
        after_id=after_id,
        limit=limit,
    )
    return JsonResponse({"entries": [audit_view(e) for e in entries]})
