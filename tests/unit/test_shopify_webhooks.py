"""The simulator's webhook sender: signed deliveries, Shopify's headers, its retry
schedule on an injected clock, and deliberate duplicates and reordering."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable

import httpx
import orjson

from stockbridge.connectors.shopify import signing
from stockbridge.connectors.shopify.simulator.webhooks import ATTEMPTS, WebhookSender, retry_delays

SECRET = "app-secret"


class Receiver:
    """Answers each delivery with the next scripted status (200 once the script ends)."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.seen: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


def sender(clock: Callable[[], float]) -> WebhookSender:
    return WebhookSender(SECRET, "x.myshopify.com", "2026-04", clock, random.Random(1))


def pump(s: WebhookSender, receiver: Receiver, **how: object) -> list[dict[str, object]]:
    async def go() -> list[dict[str, object]]:
        async with httpx.AsyncClient(transport=httpx.MockTransport(receiver)) as client:
            return await s.pump(client, **how)  # type: ignore[arg-type]

    return asyncio.run(go())


def test_a_delivery_is_signed_and_carries_shopify_headers() -> None:
    s = sender(lambda: 0.0)
    s.subscribe("orders/create", "http://hub/v1/webhooks/shop")
    s.emit("orders/create", {"id": 1}, "2026-03-02T09:00:00+00:00")
    r = Receiver()
    pump(s, r)
    (req,) = r.seen
    assert orjson.loads(req.content) == {"id": 1}
    assert req.headers["X-Shopify-Hmac-Sha256"] == signing.sign(SECRET, req.content)
    assert req.headers["X-Shopify-Topic"] == "orders/create"
    assert req.headers["X-Shopify-Shop-Domain"] == "x.myshopify.com"
    assert req.headers["X-Shopify-API-Version"] == "2026-04"
    assert req.headers["X-Shopify-Triggered-At"] == "2026-03-02T09:00:00+00:00"
    assert req.headers["X-Shopify-Webhook-Id"] and req.headers["X-Shopify-Event-Id"]


def test_failures_are_retried_on_the_schedule_with_the_same_ids() -> None:
    now = [0.0]
    s = sender(lambda: now[0])
    s.subscribe("orders/create", "http://hub/hook")
    s.emit("orders/create", {"id": 1}, "t")
    r = Receiver(500, 503)
    pump(s, r)
    delays = retry_delays()
    # Not before the first delay
    now[0] = delays[0] - 1
    assert pump(s, r) == []
    now[0] = delays[0]
    pump(s, r)
    now[0] += delays[1]
    pump(s, r)
    assert [x.headers["X-Shopify-Webhook-Id"] for x in r.seen] == [
        r.seen[0].headers["X-Shopify-Webhook-Id"]
    ] * 3
    assert len({x.headers["X-Shopify-Event-Id"] for x in r.seen}) == 1
    assert len({x.content for x in r.seen}) == 1
    assert s.queue == [] and len(s.delivered) == 1


def test_after_eight_failed_attempts_the_delivery_is_dropped() -> None:
    now = [0.0]
    s = sender(lambda: now[0])
    s.subscribe("orders/create", "http://hub/hook")
    s.emit("orders/create", {"id": 1}, "t")
    r = Receiver(*([500] * 20))
    for _ in range(20):
        pump(s, r)
        now[0] += 4 * 3600
    assert len(r.seen) == ATTEMPTS
    assert len(s.failed) == 1 and s.queue == []


def test_a_subscription_failing_eight_deliveries_in_a_row_is_deleted() -> None:
    now = [0.0]
    s = sender(lambda: now[0])
    sub = s.subscribe("orders/create", "http://hub/hook")
    for i in range(ATTEMPTS):
        s.emit("orders/create", {"id": i}, "t")
    r = Receiver(*([500] * 1000))
    for _ in range(ATTEMPTS + 1):
        pump(s, r)
        now[0] += 4 * 3600
    assert sub.id not in s.subscriptions


def test_duplicates_and_reverse_order_on_demand() -> None:
    s = sender(lambda: 0.0)
    s.subscribe("orders/create", "http://hub/hook")
    s.subscribe("orders/cancelled", "http://hub/hook")
    s.emit("orders/create", {"id": 1}, "t")
    s.emit("orders/cancelled", {"id": 1}, "t")
    r = Receiver()
    sent = pump(s, r, order="reverse", duplicate=True)
    assert [d["topic"] for d in sent] == ["orders/cancelled", "orders/create"]
    topics = [x.headers["X-Shopify-Topic"] for x in r.seen]
    assert topics == ["orders/cancelled"] * 2 + ["orders/create"] * 2
    assert r.seen[0].headers["X-Shopify-Webhook-Id"] == r.seen[1].headers["X-Shopify-Webhook-Id"]


def test_held_deliveries_wait_until_released() -> None:
    s = sender(lambda: 0.0)
    s.subscribe("orders/create", "http://hub/hook")
    s.hold = True
    s.emit("orders/create", {"id": 1}, "t")
    r = Receiver()
    assert pump(s, r) == [] and r.seen == []
    assert len(pump(s, r, force=True)) == 1
