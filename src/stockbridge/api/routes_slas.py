"""`GET /v1/slas`: each workflow's compliance with its service level, now."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from ..app.keys import Scope
from .auth import hub_of, require

router = APIRouter(prefix="/v1", tags=["operations"])


class SlaOut(BaseModel):
    workflow: str = Field(
        description="store_sale_to_channel, reservation_to_channel, return_to_erp, "
        "ticket_to_erp, order_to_erp or canary."
    )
    target_seconds: float = Field(description="From the cause occurring to delivery.")
    objective: float = Field(description="Share of deliveries to meet the target (0-1).")
    window_seconds: float = Field(description="The rolling window judged.")
    min_samples: int = Field(description="Fewer judged deliveries never raise a breach.")
    met: int = Field(description="Delivered within the target.")
    missed: int = Field(description="Delivered late, or undelivered past the target.")
    waiting: int = Field(description="Undelivered and still within the target.")
    compliance: float | None = Field(description="met / (met + missed); null: none judged.")
    meeting_objective: bool
    breached: bool = Field(description="A breach episode is open (an sla_breach exception).")
    breached_since: datetime | None


class SlasOut(BaseModel):
    generated_at: datetime
    slas: list[SlaOut]


@router.get(
    "/slas",
    summary="Service level compliance per workflow over its rolling window",
    description=(
        "For each enabled workflow: its target and objective, the deliveries whose cause "
        "occurred inside the window judged met, missed or waiting, the compliance ratio, "
        "and whether a breach episode is open."
    ),
    response_model=SlasOut,
    dependencies=[Depends(require(Scope.POSITIONS_READ))],
)
def slas(request: Request) -> SlasOut:
    hub = hub_of(request)
    return SlasOut(
        generated_at=hub.clock.now(),
        slas=[SlaOut.model_validate(s.view()) for s in hub.slas.report()],
    )
