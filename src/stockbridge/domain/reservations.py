"""Reservation requests: may these units be held, and where? (DESIGN §7).

Pure. A reservation asked for at a location holds there if the position's `available`
covers it. One asked for on a channel (click-and-collect, ship-from-store) must fit the
channel's available-to-sell, and is held at one feeding location that can cover it alone
after its buffer: the one with the most to give, ties by location code.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from .availability import ChannelPolicy, channel_availability
from .model import ZERO, Item, Position


@dataclass(frozen=True, slots=True)
class Hold:
    """The units can be held at `location`; `available` is what it had before the hold."""

    location: str
    available: Decimal


@dataclass(frozen=True, slots=True)
class Short:
    """Not enough: `available` is the most one reservation could hold now."""

    requested: Decimal
    available: Decimal
    detail: str


Decision = Hold | Short


def decide_at_location(
    location: str, position: Position | None, safety_stock: Decimal, quantity: Decimal
) -> Decision:
    """Hold at `location` if its available (after safety stock) covers `quantity`."""
    available = position.available(safety_stock) if position is not None else ZERO
    if available >= quantity:
        return Hold(location, available)
    return Short(quantity, available, f"{available} available at {location}, {quantity} asked")


def decide_for_channel(
    policy: ChannelPolicy,
    sku: str,
    item: Item | None,
    positions: Iterable[Position],
    stale: frozenset[str],
    quantity: Decimal,
) -> Decision:
    """Hold for a channel at the feeding location that alone covers `quantity` and has
    the most to give (ties by location code), if the channel's available-to-sell covers it.
    """
    result = channel_availability(policy, sku, item, positions, stale)
    ranked = sorted(result.contributions, key=lambda c: (-c.contributes, c.location))
    best = ranked[0].contributes if ranked else ZERO
    # One reservation sits at one location: no more than the best location gives, and no
    # more than the channel may sell at all (safety stock, share, cap).
    can_hold = min(result.available, best)
    if can_hold >= quantity:
        return Hold(ranked[0].location, ranked[0].contributes)
    if result.available >= quantity:
        detail = (
            f"channel {policy.name} has {result.available} but no single location can hold "
            f"{quantity} (at most {can_hold})"
        )
    else:
        detail = f"channel {policy.name} has {result.available} available, {quantity} asked"
    return Short(quantity, can_hold, detail)
