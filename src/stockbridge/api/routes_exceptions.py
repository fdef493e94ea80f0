"""The business exception workbench: list and filter, own, annotate, escalate, replay,
ignore one or many, and fix a mapping that replays every exception it resolves.

Every action is taken in the name of the API key that asks (its name is the actor in the
exception's thread).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Query, Request

from ..app.bootstrap import Hub
from ..app.keys import Principal, Scope
from ..app.ports import ExceptionFilter, ExceptionNote, ExceptionRecord
from ..app.triage import InvalidMapping, TooManyExceptions, exception_filter
from ..domain.model import from_micros, to_micros
from ..domain.triage import Parked, missing_mapping
from .auth import audit, hub_of, require
from .problems import JsonResponse, Problem, responses
from .routes_events import _result
from .schemas import AfterId, ExceptionOut, ExceptionsOut, IgnoreIn, RowId
from .schemas_triage import (
    MAX_AGE_SECONDS,
    AlertsOut,
    AssignIn,
    BulkIgnoreIn,
    BulkIgnoreOut,
    EscalateIn,
    ExceptionDetailOut,
    MappingFixIn,
    MappingFixOut,
    NoteIn,
    NoteOut,
    NotesOut,
    TriageSummaryOut,
)

admin = require(Scope.ADMIN)
router = APIRouter(prefix="/v1", tags=["exceptions"], dependencies=[Depends(admin)])

_RESOLUTIONS = ("replayed", "mapping_fixed", "accepted", "ignored")


def exception_view(hub: Hub, r: ExceptionRecord, now_us: int | None = None) -> dict[str, Any]:
    now_us = to_micros(hub.clock.now()) if now_us is None else now_us
    # Closed before resolution times were kept: its last update is when it was closed.
    closed_us = r.resolved_us if r.resolved_us is not None else r.updated_us
    end_us = now_us if r.status == "open" else closed_us
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
        "assignee": r.assignee,
        "escalation": r.escalation,
        "escalated_at": from_micros(r.escalated_us) if r.escalated_us is not None else None,
        "resolved_at": from_micros(r.resolved_us) if r.resolved_us is not None else None,
        "resolution": r.resolution if r.resolution in _RESOLUTIONS else None,
        "age_seconds": max(0, end_us - r.created_us) / 1e6,
        "overdue": hub.triage.overdue(r, now_us),
        "overdue_since": from_micros(r.overdue_us) if r.overdue_us is not None else None,
        "mapping": _mapping(r),
    }


def _mapping(r: ExceptionRecord) -> dict[str, str] | None:
    """The cross reference that would resolve a mapping exception, less its target code."""
    missing = missing_mapping(Parked(r.id, r.reason, r.source, r.field, r.payload))
    if missing is None or r.source is None:
        return None
    kind, code = missing
    return {"source": r.source, "kind": kind.value, "external_code": code}


def note_view(n: ExceptionNote) -> dict[str, Any]:
    return {
        "id": n.id,
        "kind": n.kind,
        "author": n.author,
        "at": from_micros(n.at_us),
        "text": n.text,
    }


def _filter(hub: Hub, **given: Any) -> ExceptionFilter:
    """The list's query parameters as a filter; age bounds must not cross."""
    least, most = given.get("min_age_seconds"), given.get("max_age_seconds")
    if least is not None and most is not None and least > most:
        raise Problem(
            422,
            "Invalid request",
            "min_age_seconds must not be more than max_age_seconds",
            kind="invalid-request",
        )
    return exception_filter(hub.clock.now(), **given)


@router.get(
    "/exceptions",
    summary="Business exceptions waiting or worked, filtered",
    description=(
        "Filters combine: status, reason, source, assignee, age bounds (seconds since the "
        "exception was first parked) and escalated. Each exception says whether it is "
        "overdue (open past its reason's SLA). Pages by id with `after_id`."
    ),
    response_class=JsonResponse,
    responses={200: {"model": ExceptionsOut}},
)
def list_exceptions(
    request: Request,
    status: str | None = Query(None, pattern="^(open|resolved|ignored)$"),
    reason: str | None = None,
    source: str | None = None,
    assignee: str | None = None,
    min_age_seconds: float | None = Query(
        None, ge=0, le=MAX_AGE_SECONDS, description="At least this old."
    ),
    max_age_seconds: float | None = Query(
        None, ge=0, le=MAX_AGE_SECONDS, description="At most this old."
    ),
    escalated: bool | None = Query(None, description="Escalated at least once, or never."),
    overdue: bool | None = Query(
        None, description="Only overdue exceptions (true), or only those that are not (false)."
    ),
    after_id: AfterId = 0,
    limit: int = Query(100, ge=1, le=1000),
) -> JsonResponse:
    hub = hub_of(request)
    where = _filter(
        hub,
        status=status,
        reason=reason,
        source=source,
        assignee=assignee,
        min_age_seconds=min_age_seconds,
        max_age_seconds=max_age_seconds,
        escalated=escalated,
    )
    now_us = to_micros(hub.clock.now())
    views = [
        exception_view(hub, r, now_us)
        for r in hub.triage.find(where, after_id, limit, overdue=overdue)
    ]
    return JsonResponse({"exceptions": views})


@router.get(
    "/exceptions/summary",
    summary="Open and overdue exceptions by reason, and how long resolving them takes",
    description=(
        "Per reason: open, overdue and the SLA; and over the last `window_seconds`, the "
        "median, 90th percentile and worst time from an exception being parked to it being "
        "closed (replayed, fixed by a mapping, accepted on a resend, or ignored)."
    ),
    response_class=JsonResponse,
    responses={200: {"model": TriageSummaryOut}},
)
def summary(
    request: Request, window_seconds: float = Query(30 * 86_400, gt=0, le=366 * 86_400)
) -> JsonResponse:
    s = hub_of(request).triage.summary(window_seconds)
    return JsonResponse(
        {
            "open": sum(s.open_by_reason.values()),
            "overdue": sum(s.overdue_by_reason.values()),
            "by_reason": [
                {
                    "reason": reason,
                    "open": count,
                    "overdue": s.overdue_by_reason.get(reason, 0),
                    "sla_seconds": s.sla_seconds_by_reason[reason],
                }
                for reason, count in sorted(s.open_by_reason.items())
            ],
            "resolution_window_seconds": s.window_seconds,
            "resolution": [
                {
                    "reason": reason,
                    "resolved": r.count,
                    "median_seconds": r.median_seconds,
                    "p90_seconds": r.p90_seconds,
                    "max_seconds": r.max_seconds,
                }
                for reason, r in s.resolution.items()
            ],
        }
    )


@router.get(
    "/exceptions/alerts",
    summary="Exceptions found open past their SLA, newest first",
    description="One entry per exception, raised the first time it is found overdue.",
    response_class=JsonResponse,
    responses={200: {"model": AlertsOut}},
)
def alerts(request: Request, limit: int = Query(100, ge=1, le=1000)) -> JsonResponse:
    found = hub_of(request).triage.alerts(limit)
    return JsonResponse(
        {
            "alerts": [
                {"exception_id": n.exception_id, "at": from_micros(n.at_us), "text": n.text}
                for n in found
            ]
        }
    )


@router.post(
    "/exceptions/ignore",
    summary="Ignore many open exceptions with one note",
    description=(
        "By `ids`, or every open exception a `filter` matches (at most 10,000). The note "
        "is required. Exceptions that are not open are reported as skipped."
    ),
    response_class=JsonResponse,
    responses={200: {"model": BulkIgnoreOut}},
)
def ignore_many(
    body: BulkIgnoreIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    hub = hub_of(request)
    if (body.ids is None) == (body.filter is None):
        raise Problem(
            422,
            "Invalid request",
            "give either 'ids' or 'filter', not both and not neither",
            kind="invalid-request",
        )
    ids = body.ids or []
    if body.filter is not None:
        try:
            ids = hub.triage.matching(_filter(hub, **body.filter.model_dump()))
        except TooManyExceptions as e:
            raise Problem(422, "Too many exceptions", str(e), kind="too-many-exceptions") from None
    outcome = hub.triage.ignore_many(ids, body.note, principal.name)
    audit(
        request,
        "exception.ignore_many",
        ("exception", "*"),
        {"note": body.note, "ignored": len(outcome.done), "skipped": len(outcome.skipped)},
    )
    return JsonResponse(
        {
            "ignored": [r.id for r in outcome.done],
            "skipped": [{"id": s.exception_id, "why": s.why} for s in outcome.skipped],
        }
    )


@router.get(
    "/exceptions/{exception_id}",
    summary="One exception with its thread of notes and actions",
    response_class=JsonResponse,
    responses={200: {"model": ExceptionDetailOut}},
)
def get_exception(exception_id: RowId, request: Request) -> JsonResponse:
    hub = hub_of(request)
    record = hub.exceptions.get(exception_id)
    notes = hub.triage.thread(exception_id)
    return JsonResponse({**exception_view(hub, record), "notes": [note_view(n) for n in notes]})


@router.post(
    "/exceptions/{exception_id}/replay",
    summary="Run the kept event through ingest again, after fixing its cause",
    response_class=JsonResponse,
    responses=responses(409),
)
def replay_exception(
    exception_id: RowId, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    hub = hub_of(request)
    outcome = hub.exceptions.replay(exception_id, principal.name)
    audit(
        request,
        "exception.replay",
        ("exception", str(exception_id)),
        {"status": outcome.result.status.value},
    )
    return JsonResponse(
        {"exception": exception_view(hub, outcome.exception), "result": _result(outcome.result)}
    )


@router.post(
    "/exceptions/{exception_id}/ignore",
    summary="Close an exception without replaying it",
    response_class=JsonResponse,
    responses={200: {"model": ExceptionOut}, **responses(409)},
)
def ignore_exception(
    exception_id: RowId, body: IgnoreIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    hub = hub_of(request)
    record = hub.exceptions.ignore(exception_id, body.note, principal.name)
    audit(request, "exception.ignore", ("exception", str(exception_id)), {"note": body.note})
    return JsonResponse(exception_view(hub, record))


@router.post(
    "/exceptions/{exception_id}/assign",
    summary="Give an open exception to someone, or back to the pool (null)",
    response_class=JsonResponse,
    responses={200: {"model": ExceptionOut}, **responses(409)},
)
def assign(
    exception_id: RowId, body: AssignIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    hub = hub_of(request)
    return JsonResponse(
        exception_view(hub, hub.triage.assign(exception_id, body.assignee, principal.name))
    )


@router.get(
    "/exceptions/{exception_id}/notes",
    summary="An exception's thread: notes and every action taken, oldest first",
    response_class=JsonResponse,
    responses={200: {"model": NotesOut}},
)
def notes(exception_id: RowId, request: Request) -> JsonResponse:
    return JsonResponse(
        {"notes": [note_view(n) for n in hub_of(request).triage.thread(exception_id)]}
    )


@router.post(
    "/exceptions/{exception_id}/notes",
    summary="Add a note to an exception's thread",
    status_code=201,
    response_class=JsonResponse,
    responses={201: {"model": NoteOut}, **responses(409)},
)
def add_note(
    exception_id: RowId, body: NoteIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    note = hub_of(request).triage.note(exception_id, body.text, principal.name)
    return JsonResponse(note_view(note), status_code=201)


@router.post(
    "/exceptions/{exception_id}/escalate",
    summary="Escalate an open exception one level",
    response_class=JsonResponse,
    responses={200: {"model": ExceptionOut}, **responses(409)},
)
def escalate(
    exception_id: RowId,
    request: Request,
    body: EscalateIn | None = None,
    principal: Principal = Depends(admin),
) -> JsonResponse:
    hub = hub_of(request)
    note = body.note if body is not None else None
    return JsonResponse(
        exception_view(hub, hub.triage.escalate(exception_id, principal.name, note))
    )


@router.post(
    "/xrefs/fix",
    tags=["master data"],
    summary="Fix a mapping and replay every open exception it resolves",
    description=(
        "Stores the cross references (all rows valid, or none stored), then replays each "
        "open unknown_sku / unknown_location exception whose failing code is one of them, "
        "for that source. Answers how many were resolved and how many still fail (parked "
        "again for another cause)."
    ),
    response_class=JsonResponse,
    responses={200: {"model": MappingFixOut}},
)
def fix_mapping(
    body: MappingFixIn, request: Request, principal: Principal = Depends(admin)
) -> JsonResponse:
    hub = hub_of(request)
    rows = [x.model_dump(mode="json") for x in body.xrefs]
    try:
        fix = hub.triage.fix_mapping(rows, principal.name)
    except InvalidMapping as e:
        raise Problem(
            422,
            "Invalid cross reference",
            str(e),
            kind="invalid-xref",
            errors=[
                {"row": x.row, "field": x.field, "message": x.message} for x in e.report.errors
            ],
        ) from None
    audit(
        request,
        "xrefs.fix",
        ("xrefs", "*"),
        {"xrefs": len(fix.xrefs), "resolved": len(fix.resolved)},
    )
    return JsonResponse(
        {
            "xrefs": len(fix.xrefs),
            "matched": len(fix.replayed) + len(fix.skipped),
            "resolved": len(fix.resolved),
            "still_failing": len(fix.still_failing),
            "replayed": [
                {"id": o.exception.id, "status": o.exception.status, "result": _result(o.result)}
                for o in fix.replayed
            ],
            "skipped": [{"id": s.exception_id, "why": s.why} for s in fix.skipped],
        }
    )
