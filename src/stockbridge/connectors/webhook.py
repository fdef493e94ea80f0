"""The generic webhook target: JSON over HTTP POST, signed, with an idempotency key."""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field

import httpx
import orjson

from ..app.ports import Delivery
from ..app.targets import TargetIn
from ..domain.correlation import primary_correlation_id


@dataclass(frozen=True, slots=True)
class SendResult:
    """What came back from one attempt: a status and headers, or the error instead."""

    status: int | None
    headers: dict[str, str]
    error: str | None
    duration_ms: float
    #: Deliveries of a batch the platform refused one by one (delivery id -> why); they
    #: go to the exception queue while the rest follow `status`.
    rejected: dict[int, str] = field(default_factory=dict)
    #: Deliveries of a batch the target held back unsent to stay within the platform's
    #: budget: they come back after `deferred_seconds`, with no attempt counted (pacing
    #: is not a failure, so it neither backs off nor spends the retry budget).
    deferred: frozenset[int] = frozenset()
    deferred_seconds: float = 0.0


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class WebhookTarget:
    def __init__(self, name: str, config: TargetIn, client: httpx.AsyncClient) -> None:
        self.name = name
        self.config = config
        self.client = client

    def request(self, delivery: Delivery) -> tuple[bytes, dict[str, str]]:
        """The exact body and headers of a delivery (kept the same on every retry)."""
        body = orjson.dumps(delivery.payload)
        headers = {
            "Content-Type": "application/json",
            self.config.idempotency_header: delivery.idempotency_key,
            "X-Stockbridge-Delivery": str(delivery.id),
            "X-Stockbridge-Kind": delivery.kind,
        }
        correlation = primary_correlation_id(delivery.payload)
        if correlation:
            headers["X-Correlation-Id"] = correlation
        if self.config.secret:
            headers[self.config.signature_header] = signature(self.config.secret, body)
        return body, headers

    def batch_request(self, deliveries: list[Delivery]) -> tuple[bytes, dict[str, str]]:
        """One body for several availability pushes, each item with its own key.

        The request's idempotency key is derived from the items' keys, so a retry of the
        same set carries the same key; a receiver may also dedupe item by item.
        """
        items = [{**d.payload, "idempotency_key": d.idempotency_key} for d in deliveries]
        body = orjson.dumps({"type": "availability_batch", "items": items})
        key = hashlib.sha256(
            "\n".join(sorted(d.idempotency_key for d in deliveries)).encode()
        ).hexdigest()
        headers = {
            "Content-Type": "application/json",
            self.config.idempotency_header: f"batch:{key}",
            "X-Stockbridge-Delivery": ",".join(str(d.id) for d in deliveries),
            "X-Stockbridge-Kind": "availability_batch",
        }
        if self.config.secret:
            headers[self.config.signature_header] = signature(self.config.secret, body)
        return body, headers

    async def send(self, delivery: Delivery) -> SendResult:
        return await self._post(*self.request(delivery))

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        return await self._post(*self.batch_request(deliveries))

    async def _post(self, body: bytes, headers: dict[str, str]) -> SendResult:
        started = time.perf_counter()
        try:
            response = await self.client.post(
                self.config.address,
                content=body,
                headers=headers,
                timeout=self.config.timeout_seconds,
            )
        except httpx.TimeoutException:
            return SendResult(None, {}, "timeout", (time.perf_counter() - started) * 1000)
        except httpx.HTTPError as e:
            return SendResult(
                None, {}, f"{type(e).__name__}: {e}", (time.perf_counter() - started) * 1000
            )
        return SendResult(
            response.status_code,
            dict(response.headers),
            None if response.is_success else response.text[:500],
            (time.perf_counter() - started) * 1000,
        )
