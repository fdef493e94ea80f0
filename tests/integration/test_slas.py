"""Service levels on SQLite and PostgreSQL: the store's window counts, breach episodes
with their exception and alerts, and `GET /v1/slas` over real HTTP."""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.ports import Finished, NewDelivery
from stockbridge.domain.model import to_micros
from stockbridge.domain.slas import Objective, Transition, compliance
from tests.conftest import ADMIN_KEY, START, LiveServer, hub_settings, seed_master

S = 1_000_000
T0 = to_micros(START)
#: store sale -> channel within 10 s for 90% of deliveries, over the last minute.
SALE_SLA = {"target_seconds": 10, "objective": 0.9, "window_seconds": 60, "min_samples": 2}


@pytest.fixture
def sla_hub(store: SqlStore, clock: ManualClock) -> Iterator[Hub]:
    """A hub on a manual clock with no dispatcher: deliveries move only when told to."""
    settings = hub_settings(**{"delivery.enabled": False, "slas.store_sale_to_channel": SALE_SLA})
    hub = bootstrap(settings, store=store, clock=clock)
    yield hub
    hub.stop()


def queue(store: SqlStore, key: str, occurred_us: int, at_us: int, target: str = "shop") -> None:
    with store.transaction() as tx:
        tx.enqueue_deliveries(
            [
                NewDelivery(
                    target,
                    "availability",
                    key,
                    f"{key}:{at_us}",
                    {"key": key},
                    2,
                    [],
                    workflow="store_sale_to_channel",
                    occurred_us=occurred_us,
                )
            ],
            at_us,
        )


def deliver_all(store: SqlStore, at_us: int, target: str = "shop") -> int:
    claimed = store.claim_deliveries(target, at_us, 60 * S, 1000)
    store.finish_deliveries(
        [Finished(d, "delivered", 200, None, 1.0, None) for d in claimed], at_us
    )
    return len(claimed)


def test_window_counts_follow_the_domain_rule(store: SqlStore) -> None:
    # Given deliveries occurred at random instants, some delivered at random delays
    rng = random.Random(7)
    now = T0 + 500 * S
    pairs: list[tuple[int, int | None]] = []
    for i in range(60):
        occurred = T0 + rng.randint(0, 480) * S
        queue(store, f"web/{i}", occurred, occurred)
        if rng.random() < 0.7:
            delivered = occurred + rng.randint(0, 30) * S
            claimed = store.claim_deliveries("shop", delivered, 60 * S, 1000)
            mine = [d for d in claimed if d.key == f"web/{i}"]
            store.finish_deliveries(
                [Finished(d, "delivered", 200, None, 1.0, None) for d in mine]
                + [
                    Finished(d, "pending", None, None, 0.0, None, sent=False)
                    for d in claimed
                    if d.key != f"web/{i}"
                ],
                delivered,
            )
            pairs.append((occurred, delivered))
        else:
            pairs.append((occurred, None))
    objective = Objective("store_sale_to_channel", 10, 0.9, 300)
    # When the store counts the window
    counted = store.sla_compliance("store_sale_to_channel", now - 300 * S, now, 10 * S)
    # Then it judges every delivery as the domain rule does
    assert counted == compliance(pairs, now, objective)
    assert counted.met and counted.missed


def test_breach_raises_once_alerts_and_recovers(sla_hub: Hub, clock: ManualClock) -> None:
    store = sla_hub.store
    assert isinstance(store, SqlStore)
    sla_hub.deliveries.put_target("ops", {"url": "http://127.0.0.1:9/alerts", "alerts": True})
    # Given three sales pushes stuck for longer than the 10 s target
    for i in range(3):
        queue(store, f"web/{i}", T0, T0)
    clock.set(START + timedelta(seconds=15))
    # When the SLAs are evaluated twice
    first = sla_hub.slas.evaluate()
    second = sla_hub.slas.evaluate()
    # Then one breach episode opened, with one exception and one alert
    assert first == [("store_sale_to_channel", Transition.BREACH)]
    assert second == []
    breaches = sla_hub.exceptions.store.exceptions(
        status="open", reason="sla_breach", source=None, after_id=0, limit=10
    )
    assert len(breaches) == 1
    assert "0.0% of 3 deliveries within 10 s" in breaches[0].detail
    alerts = store.deliveries(target="ops", kind="alert")
    assert [a.payload["type"] for a in alerts] == ["sla_breach"]
    assert alerts[0].payload["missed"] == 3
    # When the pushes are delivered late and new ones go on time...
    deliver_all(store, to_micros(clock.now()))
    # ...the late ones still count while they are in the window
    assert sla_hub.slas.evaluate() == []
    # Then once they leave the window and fresh ones are on time, it recovers, once
    clock.set(START + timedelta(seconds=70))
    for i in range(3, 6):
        queue(store, f"web/{i}", to_micros(clock.now()), to_micros(clock.now()))
    clock.advance(timedelta(seconds=1))
    deliver_all(store, to_micros(clock.now()))
    assert sla_hub.slas.evaluate() == [("store_sale_to_channel", Transition.RECOVERY)]
    assert sla_hub.slas.evaluate() == []
    resolved = sla_hub.exceptions.get(breaches[0].id)
    assert resolved.status == "resolved" and resolved.note is not None
    assert "recovered" in resolved.note
    alerts = store.deliveries(target="ops", kind="alert")
    assert [a.payload["type"] for a in alerts] == ["sla_breach", "sla_recovered"]


def test_slas_endpoint_reports_each_workflow(sla_hub: Hub, clock: ManualClock) -> None:
    store = sla_hub.store
    assert isinstance(store, SqlStore)
    # Given one sale push on time and one late
    queue(store, "web/a", T0, T0)
    deliver_all(store, T0 + 2 * S)
    queue(store, "web/b", T0, T0)
    clock.set(START + timedelta(seconds=30))
    deliver_all(store, T0 + 30 * S)
    live = LiveServer(create_app(sla_hub)).start()
    try:
        with httpx.Client(base_url=live.url, timeout=30) as client:
            # When an anonymous caller asks
            assert client.get("/v1/slas").status_code == 401
            # And a reader asks
            r = client.get("/v1/slas", headers={"Authorization": f"Bearer {ADMIN_KEY}"})
    finally:
        live.stop()
    # Then every default workflow is listed, the sales one at 50% against 90%
    assert r.status_code == 200, r.text
    slas = {s["workflow"]: s for s in r.json()["slas"]}
    assert set(slas) == {
        "store_sale_to_channel",
        "reservation_to_channel",
        "return_to_erp",
        "ticket_to_erp",
        "order_to_erp",
        "canary",
    }
    sales = slas["store_sale_to_channel"]
    assert (sales["met"], sales["missed"], sales["waiting"]) == (1, 1, 0)
    assert sales["compliance"] == 0.5 and sales["meeting_objective"] is False
    assert sales["target_seconds"] == 10 and sales["objective"] == 0.9
    assert slas["ticket_to_erp"]["compliance"] is None
    assert slas["ticket_to_erp"]["meeting_objective"] is True


def test_canaries_reach_the_channel_and_stay_out_of_business_figures(
    store: SqlStore, clock: ManualClock
) -> None:
    hub = bootstrap(
        hub_settings(**{"delivery.enabled": False, "canaries": {"enabled": True}}),
        store=store,
        clock=clock,
    )
    try:
        seed_master(hub)
        # Given a channel fed by S1 and S2 whose target also takes ERP postings
        hub.deliveries.put_target("shop", {"url": "http://127.0.0.1:9/hook", "postings": True})
        hub.channels.put("web", {"locations": {"S2": 0, "S1": 0}, "target": "shop"})
        # When the canary runs twice, its push delivered in between
        first = hub.canaries.run()
        assert deliver_all(store, T0 + S) == 1
        clock.advance(timedelta(seconds=60))
        second = hub.canaries.run()
        assert deliver_all(store, T0 + 61 * S) == 1
        # Then each run counted the canary item at the channel's first location, 1 then 2
        assert [r.status.value for r in first.results + second.results] == ["accepted"] * 2
        assert store.position("STOCKBRIDGE-CANARY", "S1").on_hand == 2  # type: ignore[union-attr]
        # And each queued a canary push to the channel, none an ERP posting
        pushes = store.deliveries(target="shop", kind="availability")
        assert [(p.workflow, p.payload["available"]) for p in pushes] == [
            ("canary", "1"),
            ("canary", "2"),
        ]
        assert [p.occurred_us for p in pushes] == [T0, T0 + 60 * S]
        assert store.deliveries(target="shop", kind="posting") == []
        # And S1 has not been heard from: a canary is no sign of life from a store
        assert "S1" not in store.liveness()
        # And the canary SLA sees both pushes met
        canary = next(s for s in hub.slas.report() if s.objective.workflow == "canary")
        assert (canary.compliance.met, canary.compliance.missed) == (2, 0)
    finally:
        hub.stop()
