"""Delivery through real faults, over real HTTP, on SQLite and PostgreSQL.

The receiving end is a real server (tests/integration/receiver.py) that dedupes by
idempotency key, so "none delivered twice to effect" is checked where it matters.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub

from ..conftest import event
from .conftest import FAST, SECRET, admin_client, put_target, settled, start_hub, wait_for
from .receiver import Receiver


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=11) as r:
        yield r


@pytest.fixture
def system(store: SqlStore) -> Iterator[tuple[Hub, httpx.Client]]:
    """A hub on the real clock (retries wait real time) with its API over HTTP."""
    hub, server = start_hub(store)
    with admin_client(server) as client:
        yield hub, client


def setup(client: httpx.Client, receiver: Receiver, **target: Any) -> None:
    put_target(client, "shop", receiver.url + "/hook", **target)
    r = client.put("/v1/channels/web", json={"locations": {"S1": 0, "S2": 1}, "target": "shop"})
    assert r.status_code == 200, r.text


def post(client: httpx.Client, *events: dict[str, Any]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def last_pushed(receiver: Receiver, sku: str) -> Decimal | None:
    values = [
        Decimal(x.body["available"])
        for x in receiver.applied
        if x.body.get("type") == "availability" and x.body["sku"] == sku
    ]
    return values[-1] if values else None


def random_events(rng: random.Random, n: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        kind = rng.choice(["sale", "receipt", "receipt", "adjustment"])
        qty = rng.randint(1, 4) * (rng.choice([1, -1]) if kind == "adjustment" else 1)
        out.append(
            event(
                f"{prefix}{i}",
                kind,
                sku=rng.choice(["TEE-M", "MUG"]),
                location=rng.choice(["S1", "S2"]),
                quantity=qty,
                at=f"2026-03-02T09:{i // 60:02d}:{i % 60:02d}+00:00",
            )
        )
    return out


def wait_converged(receiver: Receiver, hub: Hub) -> None:
    """Until nothing is left to send and the channel shows what the ledger says."""
    expected = {sku: hub.channels.availability("web", sku).available for sku in ("TEE-M", "MUG")}

    def converged() -> bool:
        return settled(hub) and all(
            (last_pushed(receiver, sku) or 0) == value for sku, value in expected.items()
        )

    wait_for(hub, converged, f"channel to converge on {expected}; {receiver}")


def test_pushes_converge_to_the_ledger_through_random_5xx(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    # Given a channel pushed to a target that fails 20% of requests
    setup(client, receiver)
    receiver.error_rate(0.2)
    # When a stream of events moves stock, request after request, each pushed
    evs = random_events(random.Random(3), 60, "e")
    for i in range(0, len(evs), 3):
        post(client, *evs[i : i + 3])
        wait_converged(receiver, hub)
    # Then the channel's last received value equals the ledger's availability
    # And no push was applied twice, and every body was signed (the receiver checks)
    keys = receiver.applied_keys()
    assert len(keys) == len(set(keys))
    assert 503 in receiver.statuses()


def test_a_target_down_for_a_while_gets_everything_when_back(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    setup(client, receiver, postings=True)
    # Given the target is down
    receiver.down()
    # When events arrive
    evs = random_events(random.Random(5), 20, "d")
    post(client, *evs)
    # Then nothing is lost meanwhile: deliveries wait, retrying
    pending = hub.store.deliveries(target="shop", kind="posting")
    assert len(pending) == 20
    # And once the target is back every posting arrives exactly once, in order per key
    receiver.up()
    wait_converged(receiver, hub)
    postings = [x.body for x in receiver.applied if x.body.get("type") == "posting"]
    assert sorted(p["document_number"] for p in postings) == sorted(f"pos:d{i}" for i in range(20))
    for key in {(p["sku"], p["location"]) for p in postings}:
        ids = [int(p["event_id"][1:]) for p in postings if (p["sku"], p["location"]) == key]
        assert ids == sorted(ids), f"postings for {key} out of order: {ids}"


def test_429_storms_with_retry_after_are_honoured(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    setup(client, receiver, postings=True)
    # Given the target answers 429 with Retry-After to its next five requests
    receiver.rate_limit(retry_after="0.2", times=5)
    # When events arrive
    post(client, *random_events(random.Random(9), 10, "r"))
    # Then everything is delivered after the storm, without dead letters
    wait_converged(receiver, hub)
    assert receiver.statuses().count(429) == 5
    assert not hub.store.deliveries(target="shop", state="dead")


def test_slow_answers_past_the_timeout_are_retried_and_deduplicated(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    # Given a target slower than its timeout
    setup(client, receiver, timeout_seconds=0.1, postings=True)
    receiver.slow(0.3)
    post(client, event("s1", "receipt", location="S1", quantity=4))
    # When the first attempts have timed out, the target becomes fast again
    receiver.wait_for(lambda r: r.requests >= 2, message="no retry after a timeout")
    receiver.healthy()
    # Then each delivery took effect once even though it was sent more than once
    wait_converged(receiver, hub)
    keys = receiver.applied_keys()
    assert len(keys) == len(set(keys))
    assert any(d.attempts > 1 for d in hub.store.deliveries(target="shop"))


def test_business_rejections_go_to_the_exception_queue_and_replay(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    setup(client, receiver, postings=True)
    # Given the ERP rejects the next posting as a business error
    receiver.reject(422, {"error": "unknown item"}, times=1)
    post(client, event("b1", "receipt", location="S1", quantity=2))
    receiver.wait_for(lambda r: 422 in r.statuses())
    # Then the posting is rejected (not retried) and waits as an exception
    rejected: list[Any] = []

    def has_rejection() -> bool:
        rejected[:] = hub.store.deliveries(target="shop", state="rejected")
        return bool(rejected)

    wait_for(hub, has_rejection, "a rejected delivery")
    exc = client.get("/v1/exceptions", params={"reason": "target_rejected"}).json()["exceptions"]
    assert [(x["source"], x["event_id"]) for x in exc] == [("target:shop", str(rejected[0].id))]
    assert exc[0]["payload"] == rejected[0].payload
    # When it is replayed after the fix
    r = client.post(f"/v1/deliveries/{rejected[0].id}/replay")
    assert r.status_code == 200, r.text
    # Then it is delivered
    wait_converged(receiver, hub)
    assert hub.store.delivery(rejected[0].id).state == "delivered"  # type: ignore[union-attr]


def test_dead_letters_keep_the_request_and_replay_to_success(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    # Given a small retry budget and a target that is down
    setup(client, receiver, postings=True, retry={**FAST, "max_attempts": 2})
    receiver.down()
    post(client, event("x1", "receipt", location="S1", quantity=3))
    dead: list[Any] = []

    def all_dead() -> bool:
        dead[:] = hub.store.deliveries(target="shop", state="dead")
        return len(dead) == 2 and settled(hub)

    wait_for(hub, all_dead, "both deliveries to become dead letters")
    assert all(d.last_error for d in dead)
    detail = client.get(f"/v1/deliveries/{dead[0].id}").json()
    assert len(detail["attempt_log"]) == 2 and detail["payload"]
    # When the target is back and the dead letters are replayed in bulk
    receiver.up()
    r = client.post("/v1/dead-letters/replay", json={"target": "shop"})
    assert r.json() == {"requeued": 2}
    # Then they are delivered
    wait_converged(receiver, hub)
    assert {x.body.get("document_number") for x in receiver.applied} >= {"pos:x1"}


def test_a_paused_target_queues_in_order_and_drains_after_resume(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    setup(client, receiver, postings=True)
    # Given the ERP is in a maintenance window
    assert client.post("/v1/targets/shop/pause").json()["paused"] is True
    evs = [
        event(
            f"p{i}",
            "sale" if i % 2 else "receipt",
            location="S1",
            quantity=1,
            at=f"2026-03-02T10:00:{i:02d}+00:00",
        )
        for i in range(10)
    ]
    for e in evs:  # one request each: ten transactions, ten availability changes
        post(client, e)
    targets = {t["name"]: t for t in client.get("/v1/targets").json()["targets"]}
    assert targets["shop"]["paused"] is True and targets["shop"]["backlog"] >= 10
    # And the ten availability changes wait as one push: nine calls saved by coalescing
    assert targets["shop"]["pushes_saved"] == 9
    # And Prometheus sees the same
    paused = scrape(client)
    assert paused[("stockbridge_target_paused", "shop")] == 1
    assert paused[("stockbridge_outbox_depth", "shop")] >= 10
    assert paused[("stockbridge_pushes_coalesced_total", "shop")] == 9
    # When it is resumed
    client.post("/v1/targets/shop/resume")
    # Then the queue drains and postings arrive in their order
    wait_converged(receiver, hub)
    postings = [x.body["event_id"] for x in receiver.applied if x.body.get("type") == "posting"]
    assert postings == [f"p{i}" for i in range(10)]
    drained = scrape(client)
    assert drained[("stockbridge_target_paused", "shop")] == 0
    assert drained[("stockbridge_outbox_depth", "shop")] == 0
    delivered = sum(
        drained.get(("stockbridge_delivery_attempts_total", f"{kind}/delivered/shop"), 0)
        for kind in ("availability", "posting")
    )
    assert delivered >= 11
    assert drained[("stockbridge_circuit_state", "closed/shop")] == 1


def scrape(client: httpx.Client) -> dict[tuple[str, str], float]:
    """/metrics as (sample name, label values joined by label name) -> value."""
    r = client.get("/metrics", headers={"Authorization": ""})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(r.text):
        for sample in family.samples:
            label = "/".join(v for k, v in sorted(sample.labels.items()))
            out[(sample.name, label)] = sample.value
    return out


def test_pushes_go_in_bulk_when_the_target_takes_batches(
    system: tuple[Hub, httpx.Client], receiver: Receiver
) -> None:
    hub, client = system
    # Given a target that takes up to eight availability pushes per request, paused
    setup(client, receiver, batch_size=8)
    client.post("/v1/targets/shop/pause")
    for i, sku in enumerate(["TEE-M", "MUG", "CHEESE"]):
        post(client, event(f"k{i}", "receipt", sku=sku, location="S1", quantity=i + 2))
    # When it resumes
    client.post("/v1/targets/shop/resume")
    receiver.wait_applied(1)

    def all_sent() -> bool:
        return settled(hub)

    wait_for(hub, all_sent, "the batch to be recorded")
    # Then one request carried the three SKUs, each with its own idempotency key
    batches = [x.body for x in receiver.applied if x.body.get("type") == "availability_batch"]
    assert len(batches) == 1 and len(receiver.applied) == 1
    items = {i["sku"]: i for i in batches[0]["items"]}
    assert set(items) == {"TEE-M", "MUG", "CHEESE"}
    assert len({i["idempotency_key"] for i in items.values()}) == 3
    for sku, item in items.items():
        assert Decimal(item["available"]) == hub.channels.availability("web", sku).available
    assert {d.state for d in hub.store.deliveries(target="shop")} == {"delivered"}
