"""Wire shapes of exception triage and configuration history."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from ..app.master import XrefRow
from .schemas import ExceptionOut

Note = Field(min_length=1, max_length=2000, pattern=r"\S")


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AssignIn(_In):
    assignee: str | None = Field(
        ..., min_length=1, max_length=200, description="Who works it; null gives it back."
    )


class NoteIn(_In):
    text: str = Note


class EscalateIn(_In):
    note: str | None = Field(None, min_length=1, max_length=2000, description="Why.")


class ExceptionFilterIn(_In):
    """Open exceptions to act on, chosen like the list's filters."""

    reason: str | None = None
    source: str | None = None
    assignee: str | None = None
    min_age_seconds: float | None = Field(None, ge=0)
    max_age_seconds: float | None = Field(None, ge=0)


class BulkIgnoreIn(_In):
    """Ignore open exceptions with one note: by ids, or every one a filter matches."""

    ids: list[int] | None = Field(None, min_length=1, max_length=10_000)
    filter: ExceptionFilterIn | None = None
    note: str = Note


class SkippedOut(BaseModel):
    id: int
    why: str


class BulkIgnoreOut(BaseModel):
    ignored: list[int]
    skipped: list[SkippedOut]


class NoteOut(BaseModel):
    id: int
    kind: Literal["note", "assigned", "escalated", "replayed", "ignored", "overdue"]
    author: str
    at: datetime
    text: str


class ExceptionDetailOut(ExceptionOut):
    notes: list[NoteOut]


class MappingFixIn(_In):
    """Cross references that fix parked exceptions: stored, then every open exception
    they resolve is replayed at once."""

    xrefs: list[XrefRow] = Field(min_length=1, max_length=10_000)


class ReplayedOut(BaseModel):
    id: int
    status: str
    result: dict[str, Any]


class MappingFixOut(BaseModel):
    xrefs: int = Field(description="Cross references stored.")
    matched: int = Field(description="Open exceptions these cross references resolve.")
    resolved: int = Field(description="Of those, replayed and now accepted (or duplicates).")
    still_failing: int = Field(description="Replayed and parked again for another cause.")
    replayed: list[ReplayedOut]
    skipped: list[SkippedOut]


class ResolutionOut(BaseModel):
    reason: str
    resolved: int
    median_seconds: float
    p90_seconds: float
    max_seconds: float


class ReasonOut(BaseModel):
    reason: str
    open: int
    overdue: int
    sla_seconds: float


class TriageSummaryOut(BaseModel):
    open: int
    overdue: int
    by_reason: list[ReasonOut]
    resolution_window_seconds: float
    resolution: list[ResolutionOut]


class AlertOut(BaseModel):
    exception_id: int
    at: datetime
    text: str


class HistoryOut(BaseModel):
    kind: Literal["xref", "channel", "target"]
    key: str
    version: int
    action: Literal["create", "update", "delete", "rollback"]
    actor: str
    at: datetime
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    rollback_of: int | None


class RollbackIn(_In):
    version: int = Field(ge=1, description="The version to re-apply.")
