"""Service levels: which workflow a delivery measures, compliance, and breach episodes.

A workflow's clock starts when its cause occurred at the source and stops when the
target accepted the delivery. Inside a rolling window, a delivery is *met* (delivered
within the target), *missed* (delivered late, or still undelivered past the target) or
*waiting* (undelivered, still within the target: not judged yet). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from .model import EventType


class Workflow(StrEnum):
    STORE_SALE_TO_CHANNEL = "store_sale_to_channel"
    RESERVATION_TO_CHANNEL = "reservation_to_channel"
    RETURN_TO_ERP = "return_to_erp"
    TICKET_TO_ERP = "ticket_to_erp"
    ORDER_TO_ERP = "order_to_erp"
    #: Synthetic transactions: a canary event to its channel.
    CANARY = "canary"


#: The source of the hub's own canary events: excluded from ERP postings and freshness.
CANARY_SOURCE = "stockbridge-canary"

#: Upper bounds (seconds) of the propagation latency histogram's buckets.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)


def latency_bucket(latency_us: int) -> int:
    """Index of the first bucket whose bound holds the latency; len(bounds) for +Inf."""
    seconds = latency_us / 1e6
    for i, bound in enumerate(LATENCY_BUCKETS):
        if seconds <= bound:
            return i
    return len(LATENCY_BUCKETS)


def push_workflow(sources_and_types: Iterable[tuple[str, EventType]]) -> Workflow | None:
    """The workflow an availability push measures, from the events behind it.

    A canary wins (its SLA must see every canary push); then a sale, then a reservation.
    """
    seen = set()
    for source, type_ in sources_and_types:
        if source == CANARY_SOURCE:
            return Workflow.CANARY
        seen.add(type_)
    if EventType.SALE in seen:
        return Workflow.STORE_SALE_TO_CHANNEL
    if EventType.RESERVE in seen:
        return Workflow.RESERVATION_TO_CHANNEL
    return None


@dataclass(frozen=True, slots=True)
class Objective:
    """`objective` of a workflow's deliveries within `target_seconds`, judged over the
    last `window_seconds`; fewer than `min_samples` judged deliveries never breach."""

    workflow: str
    target_seconds: float
    objective: float
    window_seconds: float
    min_samples: int = 1

    @property
    def target_us(self) -> int:
        return int(self.target_seconds * 1_000_000)

    @property
    def window_us(self) -> int:
        return int(self.window_seconds * 1_000_000)


@dataclass(frozen=True, slots=True)
class Compliance:
    met: int
    missed: int
    waiting: int

    @property
    def judged(self) -> int:
        return self.met + self.missed

    @property
    def ratio(self) -> float | None:
        """Met over judged; None when nothing was judged in the window."""
        return self.met / self.judged if self.judged else None


def judge(occurred_us: int, delivered_us: int | None, now_us: int, target_us: int) -> str:
    """met, missed or waiting: one delivery against its target (the rule the store's
    counting query follows)."""
    if delivered_us is not None:
        return "met" if delivered_us - occurred_us <= target_us else "missed"
    return "missed" if now_us - occurred_us > target_us else "waiting"


def compliance(
    deliveries: Iterable[tuple[int, int | None]], now_us: int, objective: Objective
) -> Compliance:
    """Compliance of (occurred_us, delivered_us) pairs that occurred inside the window."""
    counts = {"met": 0, "missed": 0, "waiting": 0}
    since = now_us - objective.window_us
    for occurred, delivered in deliveries:
        if occurred >= since:
            counts[judge(occurred, delivered, now_us, objective.target_us)] += 1
    return Compliance(**counts)


class Transition(StrEnum):
    BREACH = "breach"
    RECOVERY = "recovery"


def meets(c: Compliance, o: Objective) -> bool:
    """Within objective; too few judged deliveries to say otherwise also counts."""
    ratio = c.ratio
    return ratio is None or c.judged < o.min_samples or ratio >= o.objective


def transition(breached: bool, c: Compliance, o: Objective) -> Transition | None:
    """A breach is raised once per episode and recovered once, when compliance returns.

    Recovery needs the ratio back at the objective, or no judged delivery left in the
    window; falling under `min_samples` alone does not end an episode.
    """
    if not breached:
        return None if meets(c, o) else Transition.BREACH
    ratio = c.ratio
    if ratio is None or ratio >= o.objective:
        return Transition.RECOVERY
    return None
