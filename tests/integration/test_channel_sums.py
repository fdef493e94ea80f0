"""Channel sums kept by difference always equal the sum over every feeding location.

The ingest path moves each (channel, SKU) sum by what a changed position gives before and
after, instead of reading every feeding location. A Hypothesis state machine drives late
events, counts, reservations, transfers, stores going silent and coming back, and policy
changes; after every step each trusted sum must equal the one recomputed from all
positions under the freshness status it was kept for.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.app.master import MasterKind
from stockbridge.domain.availability import contribution

from ..conftest import START, event, hub_settings, seed_master

SKUS = ("TEE-M", "MUG")
LOCATIONS = ("S1", "S2", "DC")
KINDS = [
    "receipt",
    "sale",
    "adjustment",
    "count",
    "reserve",
    "release",
    "fulfil",
    "transfer_out",
    "transfer_in",
    "return",
    "status_change",
]

steps = st.tuples(
    st.sampled_from(KINDS),
    st.sampled_from(SKUS),
    st.sampled_from(LOCATIONS),
    st.integers(1, 6),
    st.integers(-30, 30),  # seconds from now: late and early events
    st.sampled_from(["r1", "r2", "r3"]),
)


class ChannelSums(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="stockbridge-sums-")
        self.clock = ManualClock(START)
        self.hub = bootstrap(
            hub_settings(**{"delivery.enabled": False}),
            store=open_store(str(Path(self.folder) / "hub.db")),
            clock=self.clock,
        )
        seed_master(self.hub)
        self.hub.master_data.import_list(
            MasterKind.LOCATIONS,
            [{"code": "S1", "kind": "store", "freshness_sla_seconds": 300}],
        )
        self.hub.deliveries.put_target("shop", {"url": "http://127.0.0.1:9/hook"})
        self.buffers = {"S1": 1, "S2": 0, "DC": 2}
        self.put_channels()
        self.n = 0

    def put_channels(self) -> None:
        self.hub.channels.put("web", {"locations": self.buffers, "target": "shop"})
        self.hub.channels.put(
            "app",
            {
                "locations": {"S1": 0, "S2": 0},
                "target": "shop",
                "stale": {"rule": "buffer", "extra_buffer": 2},
            },
        )

    @rule(batch=st.lists(steps, min_size=1, max_size=5))
    def ingest(self, batch: list[tuple[str, str, str, int, int, str]]) -> None:
        raws: list[dict[str, Any]] = []
        for kind, sku, location, quantity, offset, rid in batch:
            self.n += 1
            extra: dict[str, Any] = {}
            if kind in ("reserve", "release", "fulfil"):
                extra["reservation_id"] = f"{rid}-{sku}-{location}"
            if kind == "transfer_out":
                extra["counterparty_location"] = "S2" if location != "S2" else "S1"
            if kind in ("return", "status_change"):
                extra["condition"] = "damaged" if quantity % 2 else "sellable"
            at = self.clock.now() + timedelta(seconds=offset)
            raws.append(
                event(
                    f"e{self.n}",
                    kind,
                    sku=sku,
                    location=location,
                    quantity=quantity,
                    at=at.isoformat(),
                    **extra,
                )
            )
        self.hub.ingest.ingest(raws)

    @rule(minutes=st.integers(1, 10))
    def time_passes(self, minutes: int) -> None:
        self.clock.advance(timedelta(minutes=minutes))
        self.hub.ingest.refresh_freshness()

    @rule()
    def store_heartbeat(self) -> None:
        self.hub.channels.heartbeats([{"source": "pos", "location": "S1"}])
        self.hub.ingest.refresh_freshness()

    @rule(buffer=st.integers(0, 3))
    def policy_changes(self, buffer: int) -> None:
        self.buffers = {**self.buffers, "S2": buffer}
        self.put_channels()

    @invariant()
    def sums_match_a_full_recount(self) -> None:
        master = self.hub.ingest.master
        md = master.get()
        routing = master.routing
        with self.hub.store.transaction() as tx:
            stale = frozenset(loc for loc, s in tx.location_status().items() if s)
            pairs = [(c, sku) for c in routing.channels for sku in SKUS]
            states = tx.channel_values(pairs)
        for (channel, sku), state in states.items():
            if state.basis != master.version:
                continue  # recomputed in full at the SKU's next move
            policy = routing.channels[channel]
            safety = md.items[sku].safety_stock
            expected = Decimal(0)
            for loc in policy.locations:
                pos = self.hub.store.position(sku, loc)
                available = pos.available(safety) if pos is not None else Decimal(0)
                expected += contribution(policy, loc, available, loc in stale)
            assert state.total == expected, (channel, sku, state, expected, stale)

    def teardown(self) -> None:
        self.hub.close()
        shutil.rmtree(self.folder, ignore_errors=True)


ChannelSums.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=15,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_channel_sums_match_a_full_recount = ChannelSums.TestCase
