"""Channel available-to-sell: derived from positions by a channel's policy (DESIGN §7).

Pure. A channel is fed by some locations; each contributes what it has available above its
buffer, a location whose data is stale contributes conservatively, then the channel's
safety stock, share and cap apply. Never stored as truth: always recomputed from positions.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_FLOOR, Decimal
from enum import StrEnum

from .model import ZERO, Item, Position


class StaleRule(StrEnum):
    """What a location past its freshness SLA contributes to a channel."""

    ZERO = "zero"  # nothing: an offline store cannot cause an oversell
    BUFFER = "buffer"  # its available minus an extra buffer


@dataclass(frozen=True, slots=True)
class ChannelPolicy:
    name: str
    #: Feeding location -> its buffer (units kept back from this channel).
    locations: Mapping[str, Decimal]
    #: Channel safety stock by SKU, then by item category; subtracted from the total.
    safety_stock_by_sku: Mapping[str, Decimal] = field(default_factory=dict)
    safety_stock_by_category: Mapping[str, Decimal] = field(default_factory=dict)
    #: Fraction of the total offered on this channel (0 < share <= 1), if any.
    share: Decimal | None = None
    #: Most this channel may ever show, if any.
    cap: Decimal | None = None
    stale_rule: StaleRule = StaleRule.ZERO
    stale_extra_buffer: Decimal = ZERO

    def safety_stock(self, item: Item | None, sku: str) -> Decimal:
        if sku in self.safety_stock_by_sku:
            return self.safety_stock_by_sku[sku]
        if (
            item is not None
            and item.category is not None
            and (item.category in self.safety_stock_by_category)
        ):
            return self.safety_stock_by_category[item.category]
        return ZERO


@dataclass(frozen=True, slots=True)
class Contribution:
    location: str
    available: Decimal
    buffer: Decimal
    stale: bool
    contributes: Decimal


@dataclass(frozen=True, slots=True)
class ChannelAvailability:
    channel: str
    sku: str
    available: Decimal
    contributions: tuple[Contribution, ...]
    safety_stock: Decimal
    before_share_and_cap: Decimal


def _whole_units(item: Item | None, quantity: Decimal) -> Decimal:
    """Channels sell pieces in whole units; weighed goods keep their decimals."""
    if item is not None and item.base_uom not in ("EA", "PCE", "PC", "UNIT"):
        return quantity
    return quantity.to_integral_value(rounding=ROUND_FLOOR)


def contribution(policy: ChannelPolicy, location: str, available: Decimal, stale: bool) -> Decimal:
    """What one feeding location gives a channel: its available above the buffer, or the
    stale rule's share when the location is past its freshness SLA."""
    if stale and policy.stale_rule is StaleRule.ZERO:
        return ZERO
    extra = policy.stale_extra_buffer if stale else ZERO
    return max(ZERO, available - policy.locations[location] - extra)


def channel_value(
    policy: ChannelPolicy, sku: str, item: Item | None, total: Decimal
) -> tuple[Decimal, Decimal, Decimal]:
    """(available-to-sell, safety stock, before share and cap) from the sum of the
    locations' contributions.

    The sum is kept per (channel, SKU) and moved by the difference a changed position
    makes, so the ingest path never needs the other locations of a SKU.
    """
    safety = policy.safety_stock(item, sku)
    before = max(ZERO, total - safety)
    result = before
    if policy.share is not None:
        result = result * policy.share
    if policy.cap is not None:
        result = min(result, policy.cap)
    return _whole_units(item, result), safety, before


def channel_availability(
    policy: ChannelPolicy,
    sku: str,
    item: Item | None,
    positions: Iterable[Position],
    stale_locations: frozenset[str] = frozenset(),
) -> ChannelAvailability:
    """Available-to-sell of `sku` on a channel, with how each location contributed."""
    by_location = {p.location: p for p in positions if p.sku == sku}
    item_safety = item.safety_stock if item is not None else ZERO
    parts = []
    total = ZERO
    for location in sorted(policy.locations):
        pos = by_location.get(location)
        available = pos.available(item_safety) if pos is not None else ZERO
        stale = location in stale_locations
        gives = contribution(policy, location, available, stale)
        parts.append(Contribution(location, available, policy.locations[location], stale, gives))
        total += gives
    value, safety, before = channel_value(policy, sku, item, total)
    return ChannelAvailability(policy.name, sku, value, tuple(parts), safety, before)


def stale_locations(
    last_seen_us: Mapping[str, int], sla_seconds: Mapping[str, float | None], now_us: int
) -> frozenset[str]:
    """Locations whose last sign of life is older than their freshness SLA.

    A location with an SLA that has never reported is stale; one without an SLA never is.
    """
    stale = set()
    for location, sla in sla_seconds.items():
        if sla is None:
            continue
        seen = last_seen_us.get(location)
        if seen is None or now_us - seen > sla * 1_000_000:
            stale.add(location)
    return frozenset(stale)
