"""The ledger laws stated declaratively: positions as a function of the event *set*.

This is the specification the incremental fold must agree with; it recomputes
everything from scratch and knows nothing of arrival order or batches.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal

from stockbridge.domain.model import SELLABLE, Event, EventType

Quantities = tuple[
    Decimal, Decimal, Decimal, Decimal
]  # on hand, non-sellable, reserved, in transit

_SIGN = {
    EventType.SALE: -1,
    EventType.RETURN: 1,
    EventType.RECEIPT: 1,
    EventType.ADJUSTMENT: 1,
    EventType.TRANSFER_OUT: -1,
    EventType.TRANSFER_IN: 1,
    EventType.FULFIL: -1,
}


def expected_positions(events: Iterable[Event], now_us: int) -> dict[tuple[str, str], Quantities]:
    by_key = {e.key: e for e in events}  # a set: one event per idempotency key
    evs = list(by_key.values())
    zero = Decimal(0)
    on_hand: dict[tuple[str, str], Decimal] = defaultdict(lambda: zero)
    non_sellable: dict[tuple[str, str], Decimal] = defaultdict(lambda: zero)
    reserved: dict[tuple[str, str], Decimal] = defaultdict(lambda: zero)
    in_transit: dict[tuple[str, str], Decimal] = defaultdict(lambda: zero)

    positions = {(e.sku, e.location) for e in evs}
    positions |= {
        (e.sku, e.counterparty_location)
        for e in evs
        if e.type is EventType.TRANSFER_OUT and e.counterparty_location
    }
    for pos in positions:
        counts = [e for e in evs if e.type is EventType.COUNT and (e.sku, e.location) == pos]
        anchor = max(counts, key=lambda e: e.order) if counts else None
        total = anchor.quantity if anchor else zero
        for e in evs:
            later = anchor is None or e.occurred_us > anchor.occurred_us
            if (e.sku, e.location) == pos and e.type in _SIGN and later:
                total += _SIGN[e.type] * e.quantity
        on_hand[pos] = total

    for e in evs:
        pos = (e.sku, e.location)
        if e.type is EventType.RETURN and e.condition not in (None, SELLABLE):
            non_sellable[pos] += e.quantity
        elif e.type is EventType.STATUS_CHANGE:
            non_sellable[pos] += -e.quantity if e.condition == SELLABLE else e.quantity
        elif e.type is EventType.TRANSFER_OUT and e.counterparty_location:
            in_transit[(e.sku, e.counterparty_location)] += e.quantity
        elif e.type is EventType.TRANSFER_IN:
            in_transit[pos] -= e.quantity

    by_reservation: dict[str, list[Event]] = defaultdict(list)
    for e in evs:
        if e.reservation_id is not None:
            by_reservation[e.reservation_id].append(e)
    for group in by_reservation.values():
        reserves = [e for e in group if e.type is EventType.RESERVE]
        closed = any(e.type in (EventType.RELEASE, EventType.FULFIL) for e in group)
        if not reserves or closed:
            continue
        first = min(reserves, key=lambda e: e.order)  # the earliest reserve stands
        if first.expires_us is None or now_us < first.expires_us:
            reserved[(first.sku, first.location)] += first.quantity

    keys = set(on_hand) | set(non_sellable) | set(reserved) | set(in_transit)
    return {k: (on_hand[k], non_sellable[k], reserved[k], in_transit[k]) for k in keys}


def without_zeros(
    positions: dict[tuple[str, str], Quantities],
) -> dict[tuple[str, str], Quantities]:
    return {k: v for k, v in positions.items() if any(v)}
