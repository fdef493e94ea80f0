"""The store's webhook deliveries: signed, retried on Shopify's schedule, and on purpose
duplicated or delivered out of order when a test asks.

A delivery is sent again on any non-2xx answer or timeout, with the same body and the
same `X-Shopify-Webhook-Id` and `X-Shopify-Event-Id`, 8 attempts in all spread over
4 hours with exponential backoff; a subscription whose deliveries fail 8 times in a row is
deleted. Nothing here sleeps: `pump` sends whatever is due on the injected clock, so a test
skips hours by advancing the clock, and `serve` pumps on real time.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import orjson

from ..signing import sign

ATTEMPTS = 8
WINDOW_SECONDS = 4 * 3600.0
#: Shopify's limits on our receiver: 1 s to connect, 5 s in all.
TIMEOUT = httpx.Timeout(5.0, connect=1.0)


def retry_delays(attempts: int = ATTEMPTS, window: float = WINDOW_SECONDS) -> list[float]:
    """Waits after each failed attempt: doubling, summing to `window` over `attempts`."""
    gaps = attempts - 1
    base = window / (2**gaps - 1)
    return [base * 2**k for k in range(gaps)]


@dataclass
class Subscription:
    id: int
    topic: str
    address: str
    #: Deliveries in a row that failed every attempt.
    failures: int = 0


@dataclass
class Outgoing:
    subscription: int
    topic: str
    address: str
    body: bytes
    webhook_id: str
    event_id: str
    triggered_at: str
    due: float
    attempts: int = 0
    statuses: list[int | str] = field(default_factory=list)


class WebhookSender:
    def __init__(
        self,
        secret: str,
        domain: str,
        api_version: str,
        clock: Callable[[], float],
        rng: random.Random,
    ) -> None:
        self.secret = secret
        self.domain = domain
        self.api_version = api_version
        self.clock = clock
        self.rng = rng
        self.subscriptions: dict[int, Subscription] = {}
        self.queue: list[Outgoing] = []
        self.delivered: list[Outgoing] = []
        self.failed: list[Outgoing] = []
        self.delays = retry_delays()
        #: Faults: hold every delivery until released; send each one twice.
        self.hold = False
        self.duplicate_rate = 0.0
        self._ids = 0

    def _uuid(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def subscribe(self, topic: str, address: str) -> Subscription:
        self._ids += 1
        sub = Subscription(self._ids, topic, address)
        self.subscriptions[sub.id] = sub
        return sub

    def emit(self, topic: str, payload: dict[str, Any], triggered_at: str) -> list[Outgoing]:
        """One event: a delivery per subscription to its topic, all with one event id."""
        event_id = self._uuid()
        body = orjson.dumps(payload)
        out = []
        for sub in self.subscriptions.values():
            if sub.topic != topic:
                continue
            item = Outgoing(
                sub.id, topic, sub.address, body, self._uuid(), event_id, triggered_at, self.clock()
            )
            self.queue.append(item)
            out.append(item)
        return out

    def headers(self, item: Outgoing) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "X-Shopify-Topic": item.topic,
            "X-Shopify-Hmac-Sha256": sign(self.secret, item.body),
            "X-Shopify-Shop-Domain": self.domain,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": item.webhook_id,
            "X-Shopify-Event-Id": item.event_id,
            "X-Shopify-Triggered-At": item.triggered_at,
        }

    async def pump(
        self,
        client: httpx.AsyncClient,
        *,
        order: str = "fifo",
        duplicate: bool = False,
        force: bool = False,
    ) -> list[dict[str, Any]]:
        """Send every due delivery (`order`: fifo, reverse or shuffle); what happened.

        Held deliveries wait unless `force`: that is how a test releases them in an order
        of its choosing.
        """
        if self.hold and not force:
            return []
        now = self.clock()
        due = [d for d in self.queue if d.due <= now]
        if order == "reverse":
            due.reverse()
        elif order == "shuffle":
            self.rng.shuffle(due)
        report = []
        for item in due:
            self.queue.remove(item)
            copies = 2 if duplicate or self.rng.random() < self.duplicate_rate else 1
            status: int | str = "none"
            for _ in range(copies):
                status = await self._send(client, item)
            report.append(
                {
                    "topic": item.topic,
                    "webhook_id": item.webhook_id,
                    "event_id": item.event_id,
                    "status": status,
                    "copies": copies,
                    "attempt": item.attempts,
                }
            )
        return report

    async def _send(self, client: httpx.AsyncClient, item: Outgoing) -> int | str:
        item.attempts += 1
        try:
            response = await client.post(
                item.address, content=item.body, headers=self.headers(item), timeout=TIMEOUT
            )
            status: int | str = response.status_code
            ok = response.is_success
        except httpx.HTTPError as e:
            status, ok = type(e).__name__, False
        item.statuses.append(status)
        sub = self.subscriptions.get(item.subscription)
        if ok:
            if item not in self.delivered:
                self.delivered.append(item)
            if sub is not None:
                sub.failures = 0
            return status
        if item.attempts >= ATTEMPTS:
            self.failed.append(item)
            if sub is not None:
                sub.failures += 1
                if sub.failures >= ATTEMPTS:
                    del self.subscriptions[sub.id]
            return status
        if item not in self.queue and item not in self.delivered:
            item.due = self.clock() + self.delays[item.attempts - 1]
            self.queue.append(item)
        return status
