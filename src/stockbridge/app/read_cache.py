"""Positions held in memory for reads, dropped as soon as the ledger moves them.

Availability lookups and position reads come far more often than a SKU changes, and a
storefront must never wait behind the writer. Each ingest transaction that moves positions
writes one change-feed row naming them (the outbox's `positions_changed`); before every
answer the cache reads the rows committed since the last one it saw and drops the SKUs
they name. A read therefore sees every transaction committed before it began, like a read
from the database, at the price of one indexed range read instead of several queries.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

from ..domain.model import Position
from .ports import Store

#: Change-feed rows read per catch-up; a reader further behind starts over.
FEED_PAGE = 500


@dataclass(slots=True)
class CacheStats:
    hits: int = 0
    misses: int = 0
    invalidations: int = 0
    resets: int = 0


class PositionCache:
    """Every position of a SKU, by SKU, least recently used dropped past `max_skus`."""

    def __init__(self, store: Store, max_skus: int = 50_000) -> None:
        self.store = store
        self.max_skus = max_skus
        self.stats = CacheStats()
        self._lock = threading.Lock()
        self._skus: OrderedDict[str, tuple[Position, ...]] = OrderedDict()
        self._after: int | None = None

    def positions(self, sku: str) -> tuple[Position, ...]:
        # One lock over catch-up and fill: a fill read before a change must not land after
        # the catch-up that dropped it.
        with self._lock:
            self._catch_up()
            cached = self._skus.get(sku)
            if cached is not None:
                self._skus.move_to_end(sku)
                self.stats.hits += 1
                return cached
            self.stats.misses += 1
            fresh = tuple(self.store.positions_for_sku(sku))
            self._skus[sku] = fresh
            if len(self._skus) > self.max_skus:
                self._skus.popitem(last=False)
            return fresh

    def position(self, sku: str, location: str) -> Position | None:
        for pos in self.positions(sku):
            if pos.location == location:
                return pos
        return None

    def _catch_up(self) -> None:
        if self._after is None:
            self._after = self.store.ledger_changes(None, FEED_PAGE).last
            return
        changes = self.store.ledger_changes(self._after, FEED_PAGE)
        if changes.pruned_through > self._after or not changes.complete:
            # Rows this cache never saw are gone, or too many wait: start over.
            self._skus.clear()
            self.stats.resets += 1
            self._after = self.store.ledger_changes(None, FEED_PAGE).last
            return
        for sku in changes.skus:
            if self._skus.pop(sku, None) is not None:
                self.stats.invalidations += 1
        self._after = changes.last
