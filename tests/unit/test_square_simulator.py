"""The simulated Square's own rules: count arithmetic, the 24-hour window, idempotency,
and the webhook sender's signature and retry schedule."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import httpx
import orjson

from stockbridge.connectors.square.protocol import rfc3339, signature_ok
from stockbridge.connectors.square.sim_state import SimClock, SimState
from stockbridge.connectors.square.sim_webhooks import Sender, Subscription, retry_delay

START = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def state() -> SimState:
    s = SimState(clock=SimClock(START))
    s.locations = {"LOC1"}
    s.catalog = {"CATTEE"}
    return s


def count(quantity: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "PHYSICAL_COUNT",
        "physical_count": {
            "catalog_object_id": "CATTEE",
            "location_id": "LOC1",
            "state": "IN_STOCK",
            "quantity": quantity,
            "occurred_at": rfc3339(at),
        },
    }


def sold(quantity: str, at: datetime) -> dict[str, Any]:
    return {
        "type": "ADJUSTMENT",
        "adjustment": {
            "catalog_object_id": "CATTEE",
            "location_id": "LOC1",
            "from_state": "IN_STOCK",
            "to_state": "SOLD",
            "quantity": quantity,
            "occurred_at": rfc3339(at),
        },
    }


def test_counts_follow_occurred_at_not_arrival() -> None:
    s = state()
    t = s.clock.now() - timedelta(minutes=30)
    # An adjustment after the count arrives first, the count later, an older count last
    assert s.batch_change({"idempotency_key": "a", "changes": [sold("2", t)]}).status == 200
    assert (
        s.batch_change(
            {"idempotency_key": "b", "changes": [count("10", t - timedelta(minutes=1))]}
        ).status
        == 200
    )
    assert s.quantity("CATTEE", "LOC1") == Decimal(8)
    s.batch_change({"idempotency_key": "c", "changes": [count("20", t - timedelta(minutes=9))]})
    assert s.quantity("CATTEE", "LOC1") == Decimal(8)  # superseded by the newer count


def test_a_batch_is_validated_whole_and_names_each_bad_field() -> None:
    s = state()
    now = s.clock.now()
    bad = count("1", now - timedelta(hours=25))
    bad["physical_count"]["catalog_object_id"] = "NOPE"
    answer = s.batch_change({"idempotency_key": "k", "changes": [count("5", now), bad]})
    assert answer.status == 400
    fields = [e["field"] for e in answer.body["errors"]]
    assert fields == [
        "changes[1].physical_count.catalog_object_id",
        "changes[1].physical_count.occurred_at",
    ]
    assert s.quantity("CATTEE", "LOC1") == 0  # nothing applied
    future = s.batch_change(
        {"idempotency_key": "f", "changes": [count("5", now + timedelta(minutes=1))]}
    )
    assert future.body["errors"][0]["detail"] == "occurred_at must not be in the future."


def test_a_repeated_key_replays_and_a_reused_key_is_refused() -> None:
    s = state()
    body = {"idempotency_key": "k1", "changes": [sold("1", s.clock.now())]}
    first = s.batch_change(body)
    assert s.batch_change(body) is first
    assert s.quantity("CATTEE", "LOC1") == Decimal(-1)  # applied once
    reused = s.batch_change({"idempotency_key": "k1", "changes": [sold("2", s.clock.now())]})
    assert reused.status == 400
    assert reused.body["errors"][0]["code"] == "IDEMPOTENCY_KEY_REUSED"
    too_many = s.batch_change(
        {"idempotency_key": "k2", "changes": [sold("1", s.clock.now())] * 101}
    )
    assert too_many.body["errors"][0]["code"] == "ARRAY_LENGTH_TOO_LONG"


def test_the_retry_schedule() -> None:
    assert [retry_delay(n) for n in range(1, 9)] == [
        timedelta(minutes=m) for m in (1, 2, 4, 8, 16, 32, 60, 60)
    ]


def test_the_sender_signs_url_and_body_and_retries_on_the_schedule_until_dropped() -> None:
    clock = SimClock(START)
    sender = Sender(clock, "M1", __import__("random").Random(1), window=timedelta(hours=3))
    sender.subscriptions.append(Subscription("https://hub.example.com/hook", "key"))
    received: list[httpx.Request] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        received.append(request)
        return httpx.Response(500)

    async def flush() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as client:
            return await sender.flush(client)

    event_id = sender.publish("order.updated", "order_updated", "ORD1", {"order_updated": {}})
    assert len(asyncio.run(flush())) == 1
    request = received[0]
    assert request.headers["square-environment"] == "Production"
    assert signature_ok(
        "key",
        "https://hub.example.com/hook",
        request.content,
        request.headers["x-square-hmacsha256-signature"],
    )
    assert orjson.loads(request.content)["event_id"] == event_id
    # Not due again before a minute has passed
    assert asyncio.run(flush()) == []
    clock.advance(60)
    assert asyncio.run(flush())[0]["attempt"] == 2
    assert received[1].content == request.content  # the same bytes every time
    # After the window the delivery is dropped
    for _ in range(20):
        clock.advance(3600)
        asyncio.run(flush())
    assert sender.dropped == [event_id] and sender.pending == []
