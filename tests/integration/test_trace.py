"""One store ticket followed to a channel push and an ERP posting through GET /v1/trace only.

The channel and the ERP are real webhook receivers (tests/integration/receiver.py) over
HTTP; the hub runs on SQLite and PostgreSQL. What the receivers saw (X-Correlation-Id,
traceparent) is checked against what the trace says.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub
from stockbridge.domain.correlation import (
    event_correlation_id,
    parse_traceparent,
    trace_id_for,
    traceparent_for,
)

from ..conftest import event
from .conftest import SECRET, admin_client, put_target, settled, start_hub, wait_for
from .receiver import Receiver
from .test_tickets_orders_api import ticket

HOPS = ("recorded_to_queued_ms", "queued_to_delivered_ms", "occurred_to_delivered_ms")


@pytest.fixture
def shop() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=3) as r:
        yield r


@pytest.fixture
def erp() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=5) as r:
        yield r


@pytest.fixture
def system(store: SqlStore, shop: Receiver, erp: Receiver) -> Iterator[tuple[Hub, httpx.Client]]:
    """A hub pushing the `web` channel (store S1) to `shop` and posting to `erp`."""
    hub, server = start_hub(store)
    with admin_client(server) as client:
        connect(client, shop.url, erp.url)
        yield hub, client


def connect(client: httpx.Client, shop_url: str, erp_url: str) -> None:
    """The `web` channel (store S1) pushed to `shop_url`, postings to `erp_url`."""
    put_target(client, "shop", shop_url + "/inventory")
    put_target(client, "erp", erp_url + "/postings", postings=True)
    r = client.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"})
    assert r.status_code == 200, r.text


def drained(hub: Hub) -> None:
    wait_for(hub, lambda: settled(hub), "deliveries to drain")


def trace_of(client: httpx.Client, path: str, **params: str) -> dict[str, Any]:
    r = client.get(path, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def test_a_store_ticket_is_traced_to_the_channel_push_and_the_erp_posting(
    system: tuple[Hub, httpx.Client], shop: Receiver, erp: Receiver
) -> None:
    hub, client = system
    # Given stock received at the store and pushed to the channel
    r = client.post("/v1/events", json={"events": [event("r1", "receipt", quantity=10)]})
    assert r.json()["totals"]["accepted"] == 1
    drained(hub)
    # When the store sells two tees (and takes a mug back) on ticket T1
    assert client.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
    drained(hub)

    # Then the ticket's trace, found by its number, holds its events and their effects
    trace = trace_of(client, "/v1/trace", source="pos", ticket="T1")
    assert trace["correlation_id"] == "ticket:pos:T1"
    events = {(e["type"], e["sku"]): e for e in trace["events"]}
    assert set(events) == {("sale", "TEE-M"), ("return", "MUG")}
    for e in trace["events"]:
        assert e["occurred_to_recorded_ms"] >= 0
        assert e["recorded_at"] >= e["occurred_at"]
    (sale_effect,) = events[("sale", "TEE-M")]["effects"]
    assert (sale_effect["location"], sale_effect["on_hand_delta"]) == ("S1", -2)

    # And the channel push and the ERP posting, delivered, with every hop's latency
    pushes = {d["key"]: d for d in trace["deliveries"] if d["target"] == "shop"}
    (posting,) = [d for d in trace["deliveries"] if d["target"] == "erp"]
    assert set(pushes) == {"web/TEE-M", "web/MUG"}
    assert posting["kind"] == "posting"
    assert posting["idempotency_key"] == "ticket:pos:T1"
    assert trace["complete"] is True
    for d in trace["deliveries"]:
        assert d["state"] == "delivered"
        for hop in HOPS:
            assert d[hop] is not None and d[hop] >= 0, (d["target"], hop)
        assert d["occurred_to_delivered_ms"] >= d["queued_to_delivered_ms"]
        assert d["attempts"], d
        last = d["attempts"][-1]
        assert (last["verdict"], last["status"]) == ("delivered", 200)
        assert last["duration_ms"] >= 0 and last["queued_to_attempt_ms"] is not None
    assert set(posting["events"]) == {"pos/ticket:T1:1", "pos/ticket:T1:2"}

    # And the same chain answers by correlation id and by one of its events
    assert trace_of(client, "/v1/trace/ticket:pos:T1")["deliveries"] == trace["deliveries"]
    by_event = trace_of(client, "/v1/trace", source="pos", event_id="ticket:T1:1")
    assert by_event["correlation_id"] == "ticket:pos:T1"

    # And the receivers saw the correlation id and a traceparent of the trace's trace id
    (erp_request,) = [x for x in erp.applied if x.key == "ticket:pos:T1"]
    assert erp_request.headers["x-correlation-id"] == "ticket:pos:T1"
    assert erp_request.headers["traceparent"] == traceparent_for(
        "ticket:pos:T1", str(posting["id"])
    )
    seen = [x for x in shop.applied if x.headers.get("x-correlation-id") == "ticket:pos:T1"]
    assert sorted(x.body["sku"] for x in seen) == ["MUG", "TEE-M"]
    for x in seen:
        delivery = pushes[f"web/{x.body['sku']}"]
        assert x.headers["traceparent"] == traceparent_for("ticket:pos:T1", str(delivery["id"]))
        parsed = parse_traceparent(x.headers["traceparent"])
        assert parsed is not None and parsed[0] == trace["trace_id"]


def test_an_event_sent_without_a_correlation_id_gets_a_stable_one(
    system: tuple[Hub, httpx.Client], shop: Receiver, erp: Receiver
) -> None:
    hub, client = system
    # Given a receipt sent twice without a correlation id
    for expected in ("accepted", "duplicate"):
        r = client.post("/v1/events", json={"events": [event("r9", "receipt", quantity=3)]})
        assert r.json()["results"][0]["status"] == expected
    drained(hub)
    # Then its trace is under the id derived from its source and event id
    trace = trace_of(client, "/v1/trace", source="pos", event_id="r9")
    made = event_correlation_id("pos", "r9")
    assert trace["correlation_id"] == made == "event:pos:r9"
    assert trace["trace_id"] == trace_id_for(made)
    assert trace_of(client, f"/v1/trace/{made}")["events"] == trace["events"]
    assert [e["event_id"] for e in trace["events"]] == ["r9"]
    assert {(d["target"], d["kind"]) for d in trace["deliveries"]} == {
        ("shop", "availability"),
        ("erp", "posting"),
    }
    # And the ERP posting carried it on the wire
    (posted,) = [x for x in erp.applied if x.key == "pos:r9"]
    assert posted.headers["x-correlation-id"] == made
    assert posted.body["correlation_id"] == made


def test_unknown_traces_and_bad_lookups_answer_problems(
    system: tuple[Hub, httpx.Client],
) -> None:
    _, client = system
    r = client.get("/v1/trace/nothing-here")
    assert r.status_code == 404
    assert r.headers["content-type"] == "application/problem+json"
    assert "nothing-here" in r.json()["detail"]
    r = client.get("/v1/trace", params={"source": "pos", "ticket": "T404"})
    assert (r.status_code, r.json()["detail"]) == (404, "no ticket 'T404' from source 'pos'")
    r = client.get("/v1/trace", params={"channel": "web", "order": "O404"})
    assert (r.status_code, r.json()["detail"]) == (404, "no order 'O404' from channel 'web'")
    r = client.get("/v1/trace", params={"ticket": "T1"})
    assert (r.status_code, r.json()["detail"]) == (422, "a ticket lookup needs its source")
    r = client.get("/v1/trace", params={"source": "pos", "ticket": "T1", "event_id": "e"})
    assert r.status_code == 422
    assert "exactly one" in r.json()["detail"]


def test_reading_a_trace_needs_a_read_scope(system: tuple[Hub, httpx.Client]) -> None:
    hub, client = system
    # Given a till's key, which may only send events
    key, _ = hub.keys.create("till", ["events:write"])
    # When it asks for a trace, it is refused, naming the scope it lacks
    r = httpx.get(f"{client.base_url}/v1/trace/x", headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403
    assert r.json()["required_scope"] == "positions:read"
