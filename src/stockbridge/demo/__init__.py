"""The embedded demo: sample master data and a gentle stream of store and DC events."""

from __future__ import annotations

import itertools
import random
import threading
from datetime import timedelta
from importlib.resources import files
from pathlib import Path
from typing import Any

from ..app.bootstrap import Hub
from ..app.master import MasterKind

SAMPLE_FILES = {
    MasterKind.ITEMS: "items.csv",
    MasterKind.LOCATIONS: "locations.csv",
    MasterKind.XREFS: "xrefs.csv",
}

_STORES = ["0101", "0102", "0103", "0104"]
_STORE_ITEMS = ["100045", "100046", "200310", "JEANS-SLIM-32", "SNEAKER-WHT-42", "CANDLE-FIG"]


def load_sample_master_data(hub: Hub) -> None:
    for kind, name in SAMPLE_FILES.items():
        path = Path(str(files("stockbridge.demo").joinpath(name)))
        hub.master_data.import_file(path, kind)
    # The web shop sells from the stores (keeping one unit back in each) and the north DC.
    hub.channels.put(
        "web",
        {
            "locations": {
                "STORE-01": 1,
                "STORE-02": 1,
                "STORE-03": 1,
                "STORE-04": 1,
                "DC-NORTH": 0,
            },
            "safety_stock": {"category": {"grocery": 2}},
        },
    )


class SampleStream:
    """Opening stock, then a sale, return, transfer or reservation now and then.

    One event in fifty names an item code no one mapped, so the exception queue has
    something to show.
    """

    def __init__(self, hub: Hub, interval: float = 0.5, seed: int = 7) -> None:
        self.hub = hub
        self.interval = interval
        self.random = random.Random(seed)
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-stream", daemon=True)

    def start(self) -> None:
        self.hub.submit(self.opening_stock())
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _event(
        self, source: str, kind: str, sku: str, location: str, qty: Any, **extra: Any
    ) -> dict[str, Any]:
        at = self.hub.clock.now() - timedelta(seconds=self.random.randint(0, 5))
        return {
            "event_id": f"demo-{next(self._ids)}",
            "source": source,
            "type": kind,
            "sku": sku,
            "location": location,
            "quantity": qty,
            "occurred_at": at.isoformat(),
            **extra,
        }

    def opening_stock(self) -> list[dict[str, Any]]:
        events = [
            self._event("pos", "count", sku, store, self.random.randint(4, 30))
            for store in _STORES
            for sku in _STORE_ITEMS
        ]
        events += [
            self._event("wms", "receipt", sku, wh, 2, uom="CASE12")
            for wh in ("WH1", "WH2")
            for sku in ("TSHIRT-BLK-M", "TSHIRT-BLK-L", "CANDLE-FIG")
        ]
        events.append(self._event("wms", "receipt", "CHEESE-COMTE", "WH1", "3.25"))
        return events

    def next_event(self) -> dict[str, Any]:
        r = self.random
        store = r.choice(_STORES)
        sku = r.choice(_STORE_ITEMS)
        roll = r.random()
        if roll < 0.02:
            return self._event("pos", "sale", "UNMAPPED-9999", store, 1)
        if roll < 0.70:
            return self._event("pos", "sale", sku, store, r.randint(1, 2))
        if roll < 0.80:
            return self._event(
                "pos",
                "return",
                sku,
                store,
                1,
                condition=r.choice(["sellable", "sellable", "damaged"]),
            )
        if roll < 0.90:
            return self._event(
                "wms", "transfer_out", "TSHIRT-BLK-M", "WH1", 2, counterparty_location="STORE-01"
            )
        return self._event(
            "web",
            "reserve",
            sku if sku in ("JEANS-SLIM-32", "CANDLE-FIG") else "JEANS-SLIM-32",
            "STORE-02",
            1,
            reservation_id=f"cc-{next(self._ids)}",
            expires_at=(self.hub.clock.now() + timedelta(minutes=2)).isoformat(),
        )

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.hub.submit([self.next_event()])
            except Exception:
                continue
