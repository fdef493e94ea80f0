"""Reconciliation: a system's stock compared with the ledger, and what to do about it.

Pure. A snapshot is what a system says it holds, in its own codes; each line is mapped to
an enterprise SKU and location, compared with the hub's value as of the snapshot's
instant, and each difference gets a cause (DESIGN §8) and, by the system's policy, an
action. The difference is signed: system minus hub, so a positive one means the system
shows more than the hub knows of.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from .model import ZERO


class Cause(StrEnum):
    #: A delivery to the system is pending or being sent: it carries the hub's value.
    IN_FLIGHT = "in_flight"
    #: The system's item or location has no cross reference: nothing to compare with.
    MAPPING_MISSING = "mapping_missing"
    #: No known explanation: the two sides disagree.
    DRIFT = "drift"


class Policy(StrEnum):
    #: Channels: the hub is the system of record for available-to-sell; send ours again.
    PUSH_OURS = "push_ours"
    #: ERP, WMS: someone decides; each difference waits in the exception queue.
    RAISE_EXCEPTIONS = "raise_exceptions"
    #: A trusted WMS: its figure becomes a count in the ledger at the snapshot's instant.
    ACCEPT_THEIRS = "accept_theirs"


class Measure(StrEnum):
    """Which hub figure a system's quantity is compared with."""

    ON_HAND = "on_hand"
    AVAILABLE = "available"
    #: The channel's available-to-sell (what the hub pushes to it).
    CHANNEL = "channel"


class Action(StrEnum):
    NONE = "none"
    PUSHED = "pushed"
    EXCEPTION = "exception"
    COUNTED = "counted"


@dataclass(frozen=True, slots=True)
class SnapshotLine:
    """One quantity a system reports, in its own codes.

    A connector that already knows the enterprise codes (a target's item map) gives them
    as `sku` / `location`; otherwise cross references resolve them.
    """

    line_no: int
    system_sku: str
    system_location: str
    quantity: Decimal
    sku: str | None = None
    location: str | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """A snapshot line after mapping: enterprise codes (None when unmapped) and the hub's
    value as of the snapshot's instant."""

    line: SnapshotLine
    sku: str | None
    location: str | None
    hub: Decimal | None


@dataclass(frozen=True, slots=True)
class Difference:
    line_no: int
    sku: str | None
    location: str | None
    system_sku: str
    system_location: str
    hub: Decimal | None
    system: Decimal
    difference: Decimal
    unit_cost: Decimal | None
    value: Decimal | None
    cause: Cause
    first_seen_us: int
    action: Action = Action.NONE


@dataclass(frozen=True, slots=True)
class Comparison:
    differences: tuple[Difference, ...]
    #: System codes of the lines that agree with the hub: their open drift, if any, ends.
    matched: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Summary:
    lines: int
    matched: int
    differing: int
    #: Sum of the absolute differences, in base units.
    drift_units: Decimal
    #: Sum of the absolute values at cost of the differences whose item has a cost.
    drift_value: Decimal
    #: When the longest-standing difference of this run was first seen.
    oldest_us: int | None
    by_cause: dict[str, int]


def cause_of(mapped: bool, in_flight: bool) -> Cause:
    if not mapped:
        return Cause.MAPPING_MISSING
    return Cause.IN_FLIGHT if in_flight else Cause.DRIFT


def compare(
    resolved: Iterable[Resolved],
    costs: Mapping[str, Decimal | None],
    in_flight: frozenset[tuple[str, str | None]],
    first_seen: Mapping[tuple[str, str], int],
    now_us: int,
) -> Comparison:
    """Differences between the hub and a system, each with its cause and its age.

    `in_flight` names (sku, location) pairs with a delivery on its way to the system;
    (sku, None) covers every location of the SKU (a channel push). `first_seen` holds
    when each still-open difference (by system codes) was first found.
    """
    differences: list[Difference] = []
    matched: list[tuple[str, str]] = []
    for r in resolved:
        line = r.line
        key = (line.system_sku, line.system_location)
        mapped = r.sku is not None and r.location is not None and r.hub is not None
        difference = line.quantity - r.hub if r.hub is not None else line.quantity
        if mapped and difference == 0:
            matched.append(key)
            continue
        flying = mapped and ((r.sku, r.location) in in_flight or (r.sku, None) in in_flight)
        cost = costs.get(r.sku) if r.sku is not None else None
        differences.append(
            Difference(
                line_no=line.line_no,
                sku=r.sku,
                location=r.location,
                system_sku=line.system_sku,
                system_location=line.system_location,
                hub=r.hub,
                system=line.quantity,
                difference=difference,
                unit_cost=cost,
                value=difference * cost if cost is not None and mapped else None,
                cause=cause_of(mapped, flying),
                first_seen_us=first_seen.get(key, now_us),
            )
        )
    return Comparison(tuple(differences), tuple(matched))


def action_for(policy: Policy, cause: Cause) -> Action:
    """What a policy does with a difference of this cause.

    A difference in flight explains itself: the pending delivery carries the hub's value.
    A missing mapping is for a person to fix, whatever the policy.
    """
    if cause is Cause.IN_FLIGHT:
        return Action.NONE
    if cause is Cause.MAPPING_MISSING:
        return Action.EXCEPTION
    return {
        Policy.PUSH_OURS: Action.PUSHED,
        Policy.RAISE_EXCEPTIONS: Action.EXCEPTION,
        Policy.ACCEPT_THEIRS: Action.COUNTED,
    }[policy]


def summarise(lines: int, comparison: Comparison) -> Summary:
    units = ZERO
    value = ZERO
    by_cause: dict[str, int] = {}
    oldest: int | None = None
    for d in comparison.differences:
        units += abs(d.difference)
        if d.value is not None:
            value += abs(d.value)
        by_cause[d.cause.value] = by_cause.get(d.cause.value, 0) + 1
        oldest = d.first_seen_us if oldest is None else min(oldest, d.first_seen_us)
    return Summary(
        lines=lines,
        matched=len(comparison.matched),
        differing=len(comparison.differences),
        drift_units=units,
        drift_value=value,
        oldest_us=oldest,
        by_cause=by_cause,
    )
