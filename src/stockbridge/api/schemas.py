"""Wire shapes of API v1, for validation and for the OpenAPI document.

Kept apart from the domain types: the wire may change by version, the domain not.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import Path, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from ..app.master import ItemRow, LocationRow, XrefRow
from ..app.reservations import DEFAULT_SOURCE
from ..domain.model import MAX_BASE_QUANTITY, EventType

#: Ids are 64-bit in both stores; a larger number is a bad request, not a lookup.
MAX_ROW_ID = 2**63 - 1
#: A stored row's id in a path (a delivery, an exception...).
RowId = Annotated[int, Path(ge=1, le=MAX_ROW_ID)]
#: Page on: the last id of the previous page.
AfterId = Annotated[
    int, Query(ge=0, le=MAX_ROW_ID, description="Page on: the last id of the previous page.")
]


class EventIn(BaseModel):
    """One inventory-affecting fact as a source reports it."""

    event_id: str = Field(
        max_length=200, description="The source's id; with `source`, the idempotency key."
    )
    source: str = Field(max_length=200, description="The system that reports the event.")
    type: EventType
    sku: str = Field(description="Enterprise SKU, GTIN, or the source's own item code.")
    location: str = Field(description="Enterprise location code or the source's own store id.")
    quantity: Decimal = Field(
        description="Positive, except `adjustment` (signed) and `count` (absolute, >= 0)."
    )
    occurred_at: datetime = Field(
        description="RFC 3339 with offset: when it happened at the source."
    )
    uom: str | None = Field(None, description="Unit of the quantity; converted to the base unit.")
    reservation_id: str | None = Field(None, description="Required by reserve, release, fulfil.")
    expires_at: datetime | None = Field(None, description="For reserve: when it releases itself.")
    condition: str | None = Field(
        None,
        description=(
            "return: `sellable` or a non-sellable condition; status_change: the target status."
        ),
    )
    counterparty_location: str | None = Field(
        None, description="transfer_out: the receiving location."
    )
    reference: str | None = None
    reason: str | None = None
    correlation_id: str | None = None


class IngestRequest(BaseModel):
    events: list[EventIn] = Field(max_length=1000)


class EventResultOut(BaseModel):
    event_id: str | None
    source: str | None
    status: Literal["accepted", "duplicate", "exception"]
    reason: str | None = Field(None, description="Reason code when status is `exception`.")
    detail: str | None = None
    field: str | None = None


class Totals(BaseModel):
    accepted: int
    duplicate: int
    exception: int


class IngestResponse(BaseModel):
    results: list[EventResultOut]
    totals: Totals


class PositionOut(BaseModel):
    sku: str
    location: str
    on_hand: Decimal
    non_sellable: Decimal
    reserved: Decimal
    in_transit: Decimal
    safety_stock: Decimal
    available: Decimal = Field(
        description="max(0, on_hand - non_sellable - reserved - safety_stock)"
    )
    as_of: datetime | None = Field(None, description="Present when asked for a past instant.")


class SkuPositionsOut(BaseModel):
    sku: str
    locations: list[PositionOut]
    totals: dict[str, Decimal]


class ItemsIn(BaseModel):
    items: list[ItemRow]


class LocationsIn(BaseModel):
    locations: list[LocationRow]


class XrefsIn(BaseModel):
    xrefs: list[XrefRow]


class RowErrorOut(BaseModel):
    row: int
    field: str
    message: str


class ImportReportOut(BaseModel):
    kind: str
    received: int
    upserted: int
    rejected: int
    errors: list[RowErrorOut]


class ExceptionOut(BaseModel):
    id: int
    reason: str
    detail: str
    field: str | None
    source: str | None
    event_id: str | None
    status: Literal["open", "resolved", "ignored"]
    occurrences: int
    note: str | None
    created_at: datetime
    updated_at: datetime
    payload: object
    assignee: str | None = None
    escalation: int = Field(0, description="0: not escalated; each escalation adds one.")
    escalated_at: datetime | None = None
    resolved_at: datetime | None = None
    resolution: Literal["replayed", "mapping_fixed", "accepted", "ignored"] | None = None
    age_seconds: float = Field(description="How long it has waited (open) or waited (closed).")
    overdue: bool = Field(description="Open past its reason's SLA.")
    overdue_since: datetime | None = Field(None, description="When it was found overdue.")
    mapping: dict[str, str] | None = Field(
        None,
        description=(
            "For unknown_sku / unknown_location: the source, kind and external code a cross "
            "reference needs (POST /v1/xrefs/fix with the enterprise code)."
        ),
    )


class ExceptionsOut(BaseModel):
    exceptions: list[ExceptionOut]


class IgnoreIn(BaseModel):
    note: str = Field(min_length=1, max_length=1000)


class ReservationIn(BaseModel):
    """Hold stock for a customer order: at a location, or for a channel (the hub picks
    the feeding location)."""

    model_config = ConfigDict(extra="forbid")
    #: Leaves room in the 200-character event id for the `:fulfil` / `:release` suffix.
    reservation_id: str = Field(
        min_length=1, max_length=180, pattern=r"\S", description="The caller's id; idempotency key."
    )
    sku: str = Field(min_length=1, max_length=200, description="Enterprise SKU, GTIN or xref.")
    location: str | None = Field(
        None, min_length=1, max_length=200, description="Hold here (click-and-collect)."
    )
    channel: str | None = Field(
        None,
        min_length=1,
        max_length=200,
        description="Hold for this channel at a feeding location the hub picks.",
    )
    quantity: Decimal = Field(gt=0, le=MAX_BASE_QUANTITY, allow_inf_nan=False)
    uom: str | None = Field(None, min_length=1, max_length=200)
    expires_at: AwareDatetime | None = Field(None, description="When it releases itself.")
    source: str = Field(DEFAULT_SOURCE, min_length=1, max_length=200)
    reference: str | None = Field(None, min_length=1, max_length=1000)
    correlation_id: str | None = Field(None, min_length=1, max_length=200)


class CloseIn(BaseModel):
    """Optional body of fulfil and release: a reservation is closed whole."""

    model_config = ConfigDict(extra="forbid")
    quantity: Decimal | None = Field(
        None, gt=0, allow_inf_nan=False, description="If given, the reservation's quantity."
    )
    reference: str | None = Field(None, min_length=1, max_length=1000)
    correlation_id: str | None = Field(None, min_length=1, max_length=200)


class ReservationOut(BaseModel):
    reservation_id: str
    state: Literal["open", "released", "fulfilled", "expired"]
    sku: str | None
    location: str | None
    channel: str | None
    quantity: Decimal
    expires_at: datetime | None
    source: str | None
    available: Decimal | None = Field(
        None, description="What is left to reserve at the location (or on the channel)."
    )


class Problem(BaseModel):
    type: str
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None


DOC_MODELS: list[type[BaseModel]] = [IngestRequest, IngestResponse]


class DifferenceOut(BaseModel):
    """One line where a system and the hub disagree (quantities as decimal strings)."""

    system: str
    line: int
    sku: str | None = Field(description="Enterprise SKU; null when the code has no mapping.")
    location: str | None = Field(description="Enterprise location, or the channel's name.")
    system_sku: str
    system_location: str
    hub: Decimal | None = Field(description="The hub's value as of the snapshot's instant.")
    system_quantity: Decimal
    difference: Decimal = Field(description="system_quantity - hub")
    unit_cost: Decimal | None
    value: Decimal | None = Field(description="difference x unit_cost")
    cause: str = Field(description="in_flight, mapping_missing or drift")
    first_seen: datetime
    differing_seconds: int
    action: str = Field(description="none, pushed, exception or counted")


class SnapshotErrorOut(BaseModel):
    line: int
    field: str
    message: str


class ReconciliationRunOut(BaseModel):
    id: int
    system: str
    origin: str = Field(description="pull, upload or edi")
    policy: str
    snapshot_at: datetime
    created_at: datetime
    lines: int
    rejected: int
    matched: int
    differing: int
    drift_units: Decimal = Field(description="Sum of the absolute differences.")
    drift_value: Decimal = Field(description="Sum of the absolute values at cost.")
    oldest_difference_since: datetime | None
    by_cause: dict[str, int]
    actions: dict[str, int]
    errors: list[SnapshotErrorOut]


class ReconciliationOut(ReconciliationRunOut):
    differences: list[DifferenceOut]


class ReconciliationRunsOut(BaseModel):
    runs: list[ReconciliationRunOut]


class ReconciliationSystemOut(BaseModel):
    name: str
    kind: str
    policy: str
    measure: str
    channel: str | None
    interval_seconds: float | None
    latest: ReconciliationRunOut | None


class ReconciliationSystemsOut(BaseModel):
    systems: list[ReconciliationSystemOut]
