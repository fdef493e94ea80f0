"""The simulated Square's webhook sender.

Each notification is serialised once and signed with the subscription's key over its
notification URL and the body (`x-square-hmacsha256-signature`), so a redelivery is the
same bytes with the same `event_id`. A delivery that gets no 2xx is tried again after
1, 2, 4, 8, 16 and 32 minutes, then every hour, until `window` after the event has
passed; then it is dropped. The schedule runs on the simulator's clock, which tests move
on. Faults: every delivery sent twice (`duplicate`), a flush sending newest first
(`reverse`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import orjson

from .protocol import ENVIRONMENT_HEADER, SIGNATURE_HEADER, rfc3339, sign
from .sim_state import SimClock, new_id

#: Waits after the first six failures; every hour after that.
RETRY_MINUTES = (1, 2, 4, 8, 16, 32)
HOURLY = timedelta(hours=1)


def retry_delay(failures: int) -> timedelta:
    """Wait after the `failures`-th failed attempt (1-based)."""
    if failures <= len(RETRY_MINUTES):
        return timedelta(minutes=RETRY_MINUTES[failures - 1])
    return HOURLY


@dataclass
class Subscription:
    notification_url: str
    signature_key: str
    #: Event types sent (empty: all).
    event_types: list[str] = field(default_factory=list)
    #: Where the simulator actually POSTs, when the notification URL (what is signed)
    #: is a public address in front of it; default: the notification URL.
    deliver_to: str | None = None


@dataclass
class Pending:
    seq: int
    event_id: str
    type: str
    url: str
    deliver_to: str
    key: str
    body: bytes
    created: datetime
    next_at: datetime
    failures: int = 0


@dataclass
class WebhookFaults:
    duplicate: bool = False
    reverse: bool = False


class Sender:
    def __init__(
        self,
        clock: SimClock,
        merchant_id: str,
        rng: Any,
        window: timedelta = timedelta(hours=24),
        environment: str = "Production",
    ) -> None:
        self.clock = clock
        self.merchant_id = merchant_id
        self.rng = rng
        self.window = window
        self.environment = environment
        self.subscriptions: list[Subscription] = []
        self.faults = WebhookFaults()
        self.pending: list[Pending] = []
        #: Every attempt: event id, type, attempt number, status (None: no answer).
        self.log: list[dict[str, Any]] = []
        self.dropped: list[str] = []
        self._seq = 0

    def publish(self, kind: str, data_type: str, data_id: str, obj: dict[str, Any]) -> str:
        """Queue a notification for every subscription that takes `kind`."""
        now = self.clock.now()
        event_id = "-".join(new_id(self.rng, n).lower() for n in (8, 4, 4, 4, 12))
        envelope = {
            "merchant_id": self.merchant_id,
            "type": kind,
            "event_id": event_id,
            "created_at": rfc3339(now),
            "data": {"type": data_type, "id": data_id, "object": obj},
        }
        body = orjson.dumps(envelope)
        for sub in self.subscriptions:
            if sub.event_types and kind not in sub.event_types:
                continue
            self._seq += 1
            self.pending.append(
                Pending(
                    self._seq,
                    event_id,
                    kind,
                    sub.notification_url,
                    sub.deliver_to or sub.notification_url,
                    sub.signature_key,
                    body,
                    now,
                    now,
                )
            )
        return event_id

    def headers(self, p: Pending) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(p.key, p.url, p.body),
            ENVIRONMENT_HEADER: self.environment,
        }

    async def flush(self, client: httpx.AsyncClient) -> list[dict[str, Any]]:
        """Send every delivery due now; returns the attempts made."""
        now = self.clock.now()
        due = sorted((p for p in self.pending if p.next_at <= now), key=lambda p: p.seq)
        if self.faults.reverse:
            due.reverse()
        attempts = []
        for p in due:
            times = 2 if self.faults.duplicate else 1
            statuses = [await self._send(client, p) for _ in range(times)]
            ok = any(s is not None and 200 <= s < 300 for s in statuses)
            for s in statuses:
                entry = {
                    "event_id": p.event_id,
                    "type": p.type,
                    "url": p.url,
                    "attempt": p.failures + 1,
                    "status": s,
                    "at": rfc3339(now),
                }
                attempts.append(entry)
                self.log.append(entry)
            self.pending.remove(p)
            if ok:
                continue
            p.failures += 1
            p.next_at = now + retry_delay(p.failures)
            if p.next_at > p.created + self.window:
                self.dropped.append(p.event_id)
            else:
                self.pending.append(p)
        return attempts

    async def _send(self, client: httpx.AsyncClient, p: Pending) -> int | None:
        try:
            response = await client.post(
                p.deliver_to, content=p.body, headers=self.headers(p), timeout=10
            )
        except httpx.HTTPError:
            return None
        return response.status_code
