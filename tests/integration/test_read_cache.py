"""The read cache of positions and the ledger change feed that keeps it honest.

Runs on SQLite and PostgreSQL through the `store` fixture; the last test writes from a
child process, the way `serve` runs, and reads through the parent's cache.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.read_cache import FEED_PAGE, PositionCache

from ..conftest import event, hub_settings, seed_master


def on_hand(cache: PositionCache, sku: str = "TEE-M", location: str = "S1") -> Decimal | None:
    pos = cache.position(sku, location)
    return None if pos is None else pos.on_hand


def test_reads_are_served_from_memory_until_the_ledger_moves_the_sku(hub: Hub) -> None:
    # Given stock of two SKUs and a cache that has read both
    seed_master(hub)
    hub.submit([event("1", "receipt", quantity=5), event("2", "receipt", sku="MUG", quantity=3)])
    cache = PositionCache(hub.store)
    assert (on_hand(cache), on_hand(cache, "MUG")) == (5, 3)
    misses = cache.stats.misses

    # When they are read again with nothing new in the ledger
    assert (on_hand(cache), on_hand(cache, "MUG")) == (5, 3)
    # Then no position was read from the database
    assert cache.stats.misses == misses
    assert cache.stats.hits == 2

    # When a sale of one SKU commits
    hub.submit([event("3", "sale", quantity=2)])
    # Then the next read sees it at once, and only that SKU was dropped
    assert on_hand(cache) == 3
    assert on_hand(cache, "MUG") == 3
    assert cache.stats.invalidations == 1
    assert cache.stats.misses == misses + 1


def test_availability_and_positions_follow_every_commit(hub: Hub) -> None:
    # Given a channel over two stores, read once so its positions are cached
    seed_master(hub)
    hub.channels.put("web", {"locations": {"S1": 0, "S2": 1}})
    hub.submit([event("1", "receipt", quantity=4), event("2", "receipt", location="S2")])
    assert hub.channels.availability("web", "TEE-M").available == 4
    # When transfers, sales and reservations move the SKU, one commit at a time
    moves = [
        event("3", "transfer_out", quantity=2, counterparty_location="S2"),
        event("4", "transfer_in", location="S2", quantity=2),
        event("5", "reserve", location="S2", reservation_id="r1"),
        event("6", "sale", quantity=1),
    ]
    for move in moves:
        hub.submit([move])
        # Then each read agrees with the database, never with what was cached before
        fresh = hub.store.positions_for_sku("TEE-M")
        assert list(hub.positions.cache.positions("TEE-M")) == fresh
    assert hub.channels.availability("web", "TEE-M").available == 1 + (3 - 1 - 1)
    view = hub.positions.position("TEE-M", "S2")
    assert view is not None and (view.on_hand, view.reserved) == (3, 1)


def test_expiry_of_a_reservation_reaches_the_cache(hub: Hub, clock: ManualClock) -> None:
    # Given a reservation that expires in a minute, seen through the cache
    seed_master(hub)
    hub.submit(
        [
            event("1", "receipt", quantity=3),
            event(
                "2",
                "reserve",
                quantity=2,
                reservation_id="r1",
                expires_at=(clock.now() + timedelta(minutes=1)).isoformat(),
            ),
        ]
    )
    view = hub.positions.position("TEE-M", "S1")
    assert view is not None and view.available == 1
    # When the minute passes and the writer's expiry runs
    clock.advance(timedelta(minutes=2))
    assert hub.ingest.expire_reservations() == 1
    # Then the released units are available again
    view = hub.positions.position("TEE-M", "S1")
    assert view is not None and view.available == 3


def test_the_change_feed_is_pruned_and_a_cache_behind_it_starts_over(
    hub: Hub, clock: ManualClock
) -> None:
    # Given a cache that has read a position, then stopped looking
    seed_master(hub)
    hub.submit([event("1", "receipt", quantity=5)])
    cache = PositionCache(hub.store)
    assert on_hand(cache) == 5
    # When more commits happen and the feed is pruned past them by retention
    for i in range(3):
        hub.submit([event(f"s{i}", "sale")])
        clock.advance(timedelta(minutes=5))
    clock.advance(timedelta(minutes=20))
    hub.submit([event("last", "sale", sku="MUG")])
    pruned = hub.ingest.prune_change_feed()
    # Then old rows are gone but the newest stays, so ids never go back
    assert pruned >= 3
    assert hub.store.outbox_depth() == 1
    feed = hub.store.ledger_changes(None, FEED_PAGE)
    assert feed.pruned_through < feed.last
    # And the cache, behind the pruned rows, starts over instead of serving a stale value
    assert on_hand(cache) == 2
    assert cache.stats.resets == 1
    # And a second prune with nothing old finds nothing to do
    assert hub.ingest.prune_change_feed() == 0


def test_a_cache_far_behind_starts_over(hub: Hub) -> None:
    # Given a cache that has read a position
    seed_master(hub)
    hub.submit([event("0", "receipt", quantity=FEED_PAGE * 2)])
    cache = PositionCache(hub.store)
    assert on_hand(cache) == FEED_PAGE * 2
    # When more transactions commit than one catch-up reads
    for i in range(FEED_PAGE + 1):
        hub.ingest.ingest([event(f"s{i}", "sale")])
    # Then the cache drops everything rather than reading the whole feed, and is right
    assert on_hand(cache) == FEED_PAGE * 2 - (FEED_PAGE + 1)
    assert cache.stats.resets == 1


def test_commits_of_the_child_writer_reach_the_parent_cache(tmp_path: Path) -> None:
    # Given a hub whose ingest runs in a child process, and a position read by the parent
    settings = hub_settings(str(tmp_path / "hub.db"), **{"ingest.writer": "process"})
    hub = bootstrap(settings)
    seed_master(hub)
    hub.start()
    try:
        hub.submit([event("1", "receipt", quantity=10)])
        first = hub.positions.position("TEE-M", "S1")
        # When the child commits a sale
        hub.submit([event("2", "sale", quantity=4)])
        # Then the parent's next read has it
        second = hub.positions.position("TEE-M", "S1")
    finally:
        hub.close()
    assert first is not None and second is not None
    assert (first.on_hand, second.on_hand) == (10, 6)
    assert hub.positions.cache.stats.invalidations >= 1
