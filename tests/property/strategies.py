"""Hypothesis strategies for random event sets over a small estate (to force collisions:
shared positions, equal timestamps, reused reservation ids)."""

from __future__ import annotations

import hashlib
from decimal import Decimal

from hypothesis import strategies as st

from stockbridge.domain.model import SELLABLE, Event, EventKey, EventType

SKUS = ["A", "B"]
LOCATIONS = ["L1", "L2", "L3"]
SOURCES = ["pos", "wms"]
RESERVATIONS = ["r1", "r2", "r3", "r4"]
BASE_US = 1_770_000_000_000_000
NOW_US = BASE_US + 50 * 1_000_000

quantities = st.sampled_from([Decimal(q) for q in ("1", "2", "3", "5", "0.5", "1.25", "12")])
instants = st.integers(0, 20).map(lambda s: BASE_US + s * 1_000_000)


@st.composite
def events(draw: st.DrawFn, event_id: str) -> Event:
    kind = draw(st.sampled_from(list(EventType)))
    sku = draw(st.sampled_from(SKUS))
    location = draw(st.sampled_from(LOCATIONS))
    quantity = draw(quantities)
    extra: dict[str, object] = {}
    if kind is EventType.ADJUSTMENT and draw(st.booleans()):
        quantity = -quantity
    if kind is EventType.COUNT:
        quantity = draw(st.sampled_from([Decimal(0), Decimal(4), Decimal(10), Decimal("7.5")]))
    if kind in (EventType.RESERVE, EventType.RELEASE, EventType.FULFIL):
        extra["reservation_id"] = draw(st.sampled_from(RESERVATIONS))
    if kind is EventType.RESERVE:
        # Some already expired at NOW_US, some still holding, some without expiry.
        extra["expires_us"] = draw(
            st.sampled_from([None, NOW_US - 1_000_000, NOW_US, NOW_US + 60_000_000])
        )
    if kind is EventType.RETURN:
        extra["condition"] = draw(st.sampled_from([None, SELLABLE, "damaged"]))
    if kind is EventType.STATUS_CHANGE:
        extra["condition"] = draw(st.sampled_from([SELLABLE, "damaged"]))
    if kind is EventType.TRANSFER_OUT:
        extra["counterparty_location"] = draw(st.sampled_from(LOCATIONS))
    source = draw(st.sampled_from(SOURCES))
    return Event(
        key=EventKey(source, event_id),
        type=kind,
        sku=sku,
        location=location,
        quantity=quantity,
        occurred_us=draw(instants),
        payload_hash=hashlib.md5(f"{event_id}{kind}{quantity}".encode()).hexdigest(),
        **extra,  # type: ignore[arg-type]
    )


@st.composite
def event_sets(draw: st.DrawFn, max_size: int = 30) -> list[Event]:
    n = draw(st.integers(0, max_size))
    return [draw(events(f"e{i}")) for i in range(n)]


@st.composite
def arrivals(draw: st.DrawFn, base: list[Event]) -> list[list[Event]]:
    """The same set as it may arrive: shuffled, with duplicates, split into batches."""
    shuffled = draw(st.permutations(base))
    dupes = draw(st.lists(st.sampled_from(base), max_size=len(base))) if base else []
    stream = list(shuffled)
    for d in dupes:
        stream.insert(draw(st.integers(0, len(stream))), d)
    batches: list[list[Event]] = []
    i = 0
    while i < len(stream):
        size = draw(st.integers(1, max(1, len(stream))))
        batches.append(stream[i : i + size])
        i += size
    return batches
