"""The laws of the ledger (DESIGN §4) as properties of the pure fold."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.ledger import Entry, LedgerBatch, PositionKey
from stockbridge.domain.model import Event, EventKey, Position, Reservation

from .reference import Quantities, expected_positions, without_zeros
from .strategies import NOW_US, arrivals, event_sets


class MemoryLedger:
    """Drives the pure fold the way the ingest transaction does: dedupe by key, then
    apply each batch to the positions and reservations it carries over."""

    def __init__(self, now_us: int = NOW_US) -> None:
        self.now_us = now_us
        self.positions: dict[PositionKey, Position] = {}
        self.reservations: dict[str, Reservation] = {}
        self.entries: list[Entry] = []
        self.seen: set[EventKey] = set()

    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        return sum(
            (
                e.on_hand_delta
                for e in self.entries
                if (e.event.sku, e.event.location) == (sku, location)
                and e.event.occurred_us > after_us
            ),
            Decimal(0),
        )

    def ingest(self, batch: Iterable[Event]) -> None:
        new = []
        for e in batch:
            if e.key not in self.seen:
                self.seen.add(e.key)
                new.append(e)
        ledger = LedgerBatch(self.positions, self.reservations, self, self.now_us)
        self.entries.extend(ledger.apply_all(new))

    def expire_due(self) -> None:
        ledger = LedgerBatch(self.positions, self.reservations, self, self.now_us)
        for res in list(self.reservations.values()):
            ledger.expire(res)

    def snapshot(self) -> dict[PositionKey, Quantities]:
        return without_zeros({k: p.quantities() for k, p in self.positions.items()})


def fold(batches: Iterable[Iterable[Event]], now_us: int = NOW_US) -> MemoryLedger:
    ledger = MemoryLedger(now_us)
    for batch in batches:
        ledger.ingest(batch)
    return ledger


@given(event_sets())
def test_the_fold_in_arrival_order_matches_the_specification(evs: list[Event]) -> None:
    # Given a random set of events, When folded one by one in the order generated
    ledger = fold([[e] for e in evs])
    # Then the positions are those the laws define for the set
    assert ledger.snapshot() == without_zeros(expected_positions(evs, NOW_US))


@given(st.data(), event_sets())
def test_positions_do_not_depend_on_order_duplicates_or_batches(
    data: st.DataObject, evs: list[Event]
) -> None:
    # Given one event set, and the same set shuffled, duplicated and split into batches
    batches = data.draw(arrivals(evs))
    # When both are folded
    in_order = fold([evs])
    scrambled = fold(batches)
    # Then the positions are identical, and are what the specification says
    assert scrambled.snapshot() == in_order.snapshot()
    assert scrambled.snapshot() == without_zeros(expected_positions(evs, NOW_US))


@given(st.data(), event_sets())
def test_applying_a_batch_again_changes_nothing(data: st.DataObject, evs: list[Event]) -> None:
    # Given a folded event set
    ledger = fold([evs])
    before = ledger.snapshot()
    # When any subset of it arrives again
    again = data.draw(st.lists(st.sampled_from(evs), max_size=10)) if evs else []
    ledger.ingest(again)
    # Then nothing moves
    assert ledger.snapshot() == before


@given(st.data(), event_sets())
def test_expiry_by_clock_equals_holding_only_unexpired_reservations(
    data: st.DataObject, evs: list[Event]
) -> None:
    # Given events folded while the clock stood before every expiry
    early = fold(data.draw(arrivals(evs)), now_us=0)
    # When the clock moves to NOW and the expiry sweep runs
    early.now_us = NOW_US
    early.expire_due()
    # Then reserved is what holding only unexpired reservations at NOW gives
    assert early.snapshot() == without_zeros(expected_positions(evs, NOW_US))


@given(event_sets())
def test_reserved_is_never_negative_and_counts_leave_other_buckets_alone(evs: list[Event]) -> None:
    # Given any event set folded
    ledger = fold([evs])
    for pos in ledger.positions.values():
        # Then reserved never goes below zero (a closed reservation releases only once)
        assert pos.reserved >= 0
    # And recomputing without the counts changes only on hand
    no_counts = [e for e in evs if e.type.value != "count"]
    other = fold([no_counts])
    for key, pos in ledger.positions.items():
        twin = other.positions.get(key, Position(*key))
        assert (pos.non_sellable, pos.reserved, pos.in_transit) == (
            twin.non_sellable,
            twin.reserved,
            twin.in_transit,
        )
