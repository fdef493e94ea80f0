"""Delivery converges whatever faults came and went: a Hypothesis state machine.

Each example runs one hub (SQLite in a temporary folder, its API over real HTTP) and one
receiver. Rules post events and switch faults on and off: the target down and back up,
random 5xx, a short 429 storm with `Retry-After`, a maintenance pause. No invariant holds
in the middle of a run (a down target is behind by design); at the end every fault is
lifted and the target resumed, and once nothing is left to send the channel must show
the ledger's availability, each posting must have been applied once, in order per SKU and
location, and nothing may have become a dead letter.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, rule

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap, open_store

from ..conftest import ADMIN_KEY, START, LiveServer, event, hub_settings, seed_master
from .receiver import Receiver
from .test_delivery import FAST, SECRET, last_pushed, post, settled
from .test_delivery import setup as declare_target_and_channel

SKUS = ("TEE-M", "MUG")
#: Far more attempts than a run can spend: a dead letter here would be a failure.
RETRY = {**FAST, "max_attempts": 10_000}
SETTLE_TIMEOUT = 30.0
#: Longest wait for the dispatcher's next attempt (backoff is at most 0.2 s here).
STEP_TIMEOUT = 10.0

movements = st.tuples(
    st.sampled_from(["receipt", "receipt", "sale", "adjustment"]),
    st.sampled_from(SKUS),
    st.sampled_from(["S1", "S2"]),
    st.integers(1, 4),
    st.booleans(),
)


class DeliveryConvergence(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.mkdtemp(prefix="stockbridge-convergence-")
        self.receiver = Receiver(secret=SECRET, seed=17).start()
        self.hub = bootstrap(
            hub_settings(**{"delivery.poll_interval_seconds": 0.01, "delivery.lease_seconds": 5}),
            store=open_store(str(Path(self.folder) / "hub.db")),
        )
        seed_master(self.hub)
        self.server = LiveServer(create_app(self.hub)).start()
        self.client = httpx.Client(
            base_url=self.server.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
        )
        declare_target_and_channel(self.client, self.receiver, postings=True, retry=RETRY)
        self.events: list[dict[str, Any]] = []
        self.paused = False

    def attempts(self) -> int:
        """Attempts the dispatcher has recorded for the target, whatever their outcome."""
        assert self.hub.dispatcher is not None
        state = self.hub.dispatcher.snapshot().get("shop", {})
        return int(state.get("sent", 0)) + int(state.get("failed", 0))

    def let_some_go(self) -> None:
        """Wait for the dispatcher's next attempt, so the faults now set meet traffic.

        Rules run in microseconds and deliveries take milliseconds: without this, every
        fault would be lifted again before a single request met it.
        """
        if self.paused:
            return
        assert self.hub.dispatcher is not None
        before = self.attempts()
        assert self.hub.dispatcher.wait_until(
            lambda: self.attempts() > before or settled(self.hub), STEP_TIMEOUT
        ), f"no attempt within {STEP_TIMEOUT} s: {self.hub.deliveries.targets()} {self.receiver}"

    # --- traffic --------------------------------------------------------------------------
    @initialize(batch=st.lists(movements, min_size=1, max_size=4))
    def first_events(self, batch: list[tuple[str, str, str, int, bool]]) -> None:
        self.post_events(batch)

    @rule(batch=st.lists(movements, min_size=1, max_size=4))
    def post_events(self, batch: list[tuple[str, str, str, int, bool]]) -> None:
        evs = []
        for type_, sku, location, quantity, negative in batch:
            n = len(self.events)
            ev = event(
                f"h{n}",
                type_,
                sku=sku,
                location=location,
                quantity=-quantity if type_ == "adjustment" and negative else quantity,
                at=(START + timedelta(seconds=n)).isoformat(),
            )
            self.events.append(ev)
            evs.append(ev)
        post(self.client, *evs)
        self.let_some_go()

    @rule()
    def progress(self) -> None:
        self.let_some_go()

    # --- faults ---------------------------------------------------------------------------
    @rule()
    def target_down(self) -> None:
        self.receiver.down()
        self.let_some_go()

    @rule()
    def target_up(self) -> None:
        self.receiver.up()
        self.let_some_go()

    @rule()
    def random_5xx(self) -> None:
        self.receiver.error_rate(0.3)
        self.let_some_go()

    @rule()
    def healthy(self) -> None:
        self.receiver.healthy()
        self.let_some_go()

    @rule()
    def rate_limited(self) -> None:
        self.receiver.rate_limit(times=2, retry_after="0.05")
        self.let_some_go()

    @rule()
    def pause(self) -> None:
        r = self.client.post("/v1/targets/shop/pause")
        assert r.status_code == 200, r.text
        self.paused = True

    @rule()
    def resume(self) -> None:
        r = self.client.post("/v1/targets/shop/resume")
        assert r.status_code == 200, r.text
        self.paused = False

    # --- the end state --------------------------------------------------------------------
    def teardown(self) -> None:
        try:
            self.check_convergence()
        finally:
            self.client.close()
            self.server.stop()  # its lifespan stops the hub's dispatcher and writer
            self.hub.store.close()
            self.receiver.stop()
            shutil.rmtree(self.folder, ignore_errors=True)

    def check_convergence(self) -> None:
        # Given every fault lifted and the target resumed
        self.receiver.healthy()
        self.resume()
        # When nothing is left to send
        assert self.hub.dispatcher is not None
        assert self.hub.dispatcher.wait_until(lambda: settled(self.hub), SETTLE_TIMEOUT), (
            f"deliveries never settled: {self.hub.deliveries.targets()} {self.receiver}"
        )
        ctx = f"({len(self.events)} events; {self.receiver})"
        # Then nothing became a dead letter
        assert self.hub.store.deliveries(target="shop", state="dead") == [], ctx
        # And the channel's last pushed value is the ledger's availability, for every SKU
        # that moved (a SKU that never moved was never pushed)
        moved = {ev["sku"] for ev in self.events}
        for sku in SKUS:
            expected: Decimal | None = (
                self.hub.channels.availability("web", sku).available if sku in moved else None
            )
            got = last_pushed(self.receiver, sku)
            assert got == expected, f"{sku}: channel shows {got}, ledger says {expected} {ctx}"
        # And no idempotency key was applied twice, nor sent twice with different bodies
        keys = self.receiver.applied_keys()
        assert len(keys) == len(set(keys)), ctx
        assert self.receiver.conflicts == [], ctx
        # And each event was posted once, in order per SKU and location
        postings = [x.body for x in self.receiver.applied if x.body.get("type") == "posting"]
        documents = [p["document_number"] for p in postings]
        assert sorted(documents) == sorted(f"pos:{ev['event_id']}" for ev in self.events), ctx
        for key in {(p["sku"], p["location"]) for p in postings}:
            numbers = [int(p["event_id"][1:]) for p in postings if (p["sku"], p["location"]) == key]
            assert numbers == sorted(numbers), f"postings for {key} out of order: {numbers} {ctx}"


DeliveryConvergence.TestCase.settings = settings(
    max_examples=15,
    stateful_step_count=12,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestDeliveryConvergence = DeliveryConvergence.TestCase
