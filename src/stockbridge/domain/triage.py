"""The rules of exception triage: which exceptions a mapping fix resolves, when an open
exception is overdue, and how long exceptions take to resolve.

Pure: exceptions come in as plain values, instants as microseconds since the epoch.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import Reason
from .latency import nearest_rank
from .model import Xref, XrefKind

#: The reason an event is parked with when a code of this kind does not map.
MAPPING_REASONS: Mapping[XrefKind, Reason] = {
    XrefKind.ITEM: Reason.UNKNOWN_SKU,
    XrefKind.LOCATION: Reason.UNKNOWN_LOCATION,
}
#: Keys under which an exception keeps a document's body (tickets, orders, returns...).
_DOCUMENT_BODIES = ("ticket", "order", "shipment", "cancellation", "body")
_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def document_body(payload: Any) -> Any:
    """The part of a kept payload that an exception's `field` points into.

    An event is kept as sent; a document command is kept wrapped (`{"ticket": {...}}`,
    `{"document": "return", "id": ..., "body": {...}}`), its field relative to the body.
    """
    if isinstance(payload, dict) and "event_id" not in payload:
        for key in _DOCUMENT_BODIES:
            if isinstance(payload.get(key), dict):
                return payload[key]
    return payload


def value_at(body: Any, path: str) -> Any:
    """The value at a dotted path with list indexes (`lines[0].sku`); None when absent."""
    here = body
    for name, index in _STEP.findall(path):
        if name:
            here = here.get(name) if isinstance(here, dict) else None
        else:
            i = int(index)
            here = here[i] if isinstance(here, list) and i < len(here) else None
        if here is None:
            return None
    return here


@dataclass(frozen=True, slots=True)
class Parked:
    """What the rules need of an exception."""

    id: int
    reason: str
    source: str | None
    field: str | None
    payload: Any


def failing_code(exception: Parked) -> str | None:
    """The source's own code that did not map, for a mapping exception; else None."""
    if exception.field is None:
        return None
    value = value_at(document_body(exception.payload), exception.field)
    return value if isinstance(value, str) else None


def missing_mapping(exception: Parked) -> tuple[XrefKind, str] | None:
    """(kind, the source's code) a cross reference would need to resolve this exception;
    None when it is not waiting for a mapping."""
    for kind, reason in MAPPING_REASONS.items():
        if exception.reason == reason.value:
            code = failing_code(exception)
            return (kind, code) if code is not None and exception.source else None
    return None


def resolves(xref: Xref, exception: Parked) -> bool:
    """Whether this cross reference is what the exception was waiting for: same source,
    the reason its kind of code raises, and the very code that failed."""
    return (
        exception.source == xref.source
        and exception.reason == MAPPING_REASONS[xref.kind].value
        and failing_code(exception) == xref.external_code
    )


def resolved_by(xrefs: Iterable[Xref], exceptions: Iterable[Parked]) -> list[int]:
    """Ids of the exceptions that any of these cross references resolves, in id order."""
    fixes = list(xrefs)
    return sorted(e.id for e in exceptions if any(resolves(x, e) for x in fixes))


# --- age and SLA ------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ExceptionSla:
    """How long an exception may stay open, by reason, before it is overdue."""

    default_seconds: float
    by_reason: Mapping[str, float] = field(default_factory=dict)

    def limit_us(self, reason: str) -> int:
        return int(self.by_reason.get(reason, self.default_seconds) * 1_000_000)

    def overdue(self, reason: str, created_us: int, now_us: int) -> bool:
        return now_us - created_us > self.limit_us(reason)

    def cutoff_us(self, reason: str, now_us: int) -> int:
        """Open exceptions of this reason created before this instant are overdue."""
        return now_us - self.limit_us(reason)


# --- resolution time ----------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ResolutionStats:
    count: int
    median_seconds: float
    p90_seconds: float
    max_seconds: float


def resolution_stats(samples: Iterable[tuple[str, int]]) -> dict[str, ResolutionStats]:
    """(reason, microseconds from created to resolved) -> per-reason median, p90 and max,
    nearest-rank (each figure is one of the samples)."""
    by_reason: dict[str, list[int]] = {}
    for reason, took_us in samples:
        by_reason.setdefault(reason, []).append(max(0, took_us))
    out: dict[str, ResolutionStats] = {}
    for reason, values in sorted(by_reason.items()):
        values.sort()
        out[reason] = ResolutionStats(
            len(values),
            nearest_rank(values, 0.5) / 1e6,
            nearest_rank(values, 0.9) / 1e6,
            values[-1] / 1e6,
        )
    return out
