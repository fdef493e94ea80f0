"""A fault run seen from outside: `/metrics` and the alert target while a channel's
webhook fails for a while, on the real clock, over real HTTP (SQLite)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from stockbridge.app.bootstrap import Hub

from ..conftest import event, make_store
from .conftest import SECRET, admin_client, put_target, start_hub, wait_for
from .receiver import Receiver
from .test_delivery import scrape

#: Sales must reach the channel within 0.5 s, 90% of the time, over the last 4 s.
SLA = {"target_seconds": 0.5, "objective": 0.9, "window_seconds": 4, "min_samples": 1}
SALES = "store_sale_to_channel"


@pytest.fixture
def fault_run(
    tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[Hub, httpx.Client, Receiver, Receiver]]:
    store = make_store("sqlite", tmp_path, request)
    hub, server = start_hub(
        store,
        **{"slas.evaluate_interval_seconds": 0.05, f"slas.{SALES}": SLA},
    )
    with (
        Receiver(secret=SECRET, seed=3) as channel,
        Receiver(secret=SECRET, seed=4) as pager,
        admin_client(server) as client,
    ):
        put_target(client, "shop", channel.url + "/hook")
        put_target(client, "ops", pager.url + "/alerts", alerts=True)
        r = client.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"})
        assert r.status_code == 200, r.text
        yield hub, client, channel, pager
    store.close()


def sell(client: httpx.Client, event_id: str) -> None:
    now = datetime.now(UTC).isoformat()
    r = client.post("/v1/events", json={"events": [event(event_id, "sale", at=now)]})
    assert r.status_code == 200 and r.json()["totals"]["accepted"] == 1, r.text


def pushed(channel: Receiver) -> str | None:
    values = [x.body["available"] for x in channel.applied if x.body["type"] == "availability"]
    return values[-1] if values else None


def alerts(pager: Receiver) -> list[str]:
    return [x.body["type"] for x in pager.applied if x.body.get("workflow") == SALES]


def test_metrics_follow_a_fault_and_its_recovery(
    fault_run: tuple[Hub, httpx.Client, Receiver, Receiver],
) -> None:
    hub, client, channel, pager = fault_run
    depth = ("stockbridge_outbox_depth", "shop")
    ratio = ("stockbridge_sla_compliance_ratio", SALES)
    breached = ("stockbridge_sla_breached", SALES)
    retries = ("stockbridge_delivery_attempts_total", "availability/retry/shop")
    # Given stock at the store and a first sale that reaches the channel on time
    now = datetime.now(UTC).isoformat()
    client.post("/v1/events", json={"events": [event("r0", "receipt", quantity=1000, at=now)]})
    sell(client, "s0")
    channel.wait_for(lambda r: pushed(r) == "999", message="the first sale on the channel")
    wait_for(hub, lambda: scrape(client).get(ratio) == 1.0, "compliance at 1 after an on-time push")
    assert scrape(client)[breached] == 0
    # When the channel's webhook fails every request for a while, and sales go on
    channel.error_rate(1.0, 503)
    for i in range(1, 4):
        sell(client, f"s{i}")
    # Then the outbox depth rises, retries are counted
    wait_for(hub, lambda: scrape(client).get(depth, 0) >= 1, "the outbox to fill")
    wait_for(hub, lambda: scrape(client).get(retries, 0) >= 3, "retries to be counted")
    # And compliance drops below the objective: a breach, alerted once
    wait_for(hub, lambda: scrape(client).get(ratio, 1) < SLA["objective"], "compliance to drop")
    wait_for(hub, lambda: scrape(client).get(breached) == 1, "the breach")
    pager.wait_for(lambda r: alerts(r) == ["sla_breach"], message="the breach alert")
    open_breaches = client.get("/v1/exceptions", params={"reason": "sla_breach"}).json()
    assert len(open_breaches["exceptions"]) == 1, open_breaches
    # When the webhook heals
    channel.healthy()
    # Then the outbox drains
    wait_for(hub, lambda: scrape(client).get(depth) == 0, "the outbox to drain")
    # And with fresh sales on time, compliance recovers once the late ones leave the window
    n = 4

    def recovered() -> bool:
        nonlocal n
        seen = len(channel.applied)
        sell(client, f"s{n}")
        n += 1
        channel.wait_for(lambda r: len(r.applied) > seen, message="a fresh push")
        m = scrape(client)
        return m[ratio] >= SLA["objective"] and m[breached] == 0

    wait_for(hub, recovered, "compliance to recover", timeout=60)
    pager.wait_for(
        lambda r: alerts(r) == ["sla_breach", "sla_recovered"], message="the recovery alert"
    )
    # And every push the channel took is in the latency histogram, once recorded
    delivered = len([x for x in channel.applied if x.body["type"] == "availability"])
    latency = ("stockbridge_propagation_latency_seconds_count", "availability/shop")
    wait_for(hub, lambda: scrape(client).get(latency) == delivered, "every push in the histogram")
    final = scrape(client)
    assert final[("stockbridge_sla_objective_ratio", SALES)] == SLA["objective"]
    assert final[("stockbridge_events_total", "pos/accepted/sale")] == n
    assert hub.store.sla_breaches() == {}
