"""Synthetic transactions: a canary stock count per channel, sent through real ingest.

Each run counts the reserved canary SKU at one feeding location of every channel that
pushes somewhere, alternating 1 and 2 units so that every run changes the channel's
value and queues a push. The events carry the source `stockbridge-canary`: they move
only the canary SKU, are never posted to the ERP and are no sign of life from a store
(app/routing.py, app/ingest.py); their pushes measure the `canary` SLA.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..config import CanarySettings
from ..domain.model import Item, to_micros
from ..domain.slas import CANARY_SOURCE
from .ingest import BatchResult, MasterCache
from .ports import Clock, Store


class CanaryService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        master: MasterCache,
        settings: CanarySettings,
        submit: Callable[[Sequence[Any]], BatchResult],
    ) -> None:
        self.store = store
        self.clock = clock
        self.master = master
        self.settings = settings
        self._submit = submit

    def locations(self) -> dict[str, str]:
        """Channel -> the location its canary counts at (channels with a target only)."""
        self.master.get()
        chosen = {}
        for name, policy in sorted(self.master.routing.channels.items()):
            wanted = self.settings.locations.get(name)
            if wanted is not None and wanted in policy.locations:
                chosen[name] = wanted
            elif policy.locations:
                chosen[name] = sorted(policy.locations)[0]
        return chosen

    def run(self) -> BatchResult:
        """One canary count per distinct location feeding a channel."""
        sku = self.settings.sku
        now = self.clock.now()
        now_us = to_micros(now)
        if sku not in self.master.get().items:
            self.store.upsert_items(
                [Item(sku=sku, description="Stockbridge canary: not for sale")], now_us
            )
        raws = []
        for location in sorted(set(self.locations().values())):
            here = self.store.position(sku, location)
            quantity = 2 if here is not None and here.on_hand == 1 else 1
            raws.append(
                {
                    "event_id": f"canary-{location}-{now_us}",
                    "source": CANARY_SOURCE,
                    "type": "count",
                    "sku": sku,
                    "location": location,
                    "quantity": quantity,
                    "occurred_at": now.isoformat(),
                    "reason": "canary",
                }
            )
        return self._submit(raws) if raws else BatchResult()
