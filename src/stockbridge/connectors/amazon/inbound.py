"""Amazon orders into the hub: relayed ORDER_CHANGE notifications, or getOrders polling.

Amazon delivers notifications through SQS or EventBridge, not to a URL, and signs nothing
a receiver could check. A small relay (or the simulator's) POSTs each notification to
`/v1/webhooks/{name}` with `X-Stockbridge-Relay-Signature: sha256=<hex>`, an HMAC-SHA256
of the raw body under a secret shared with the hub: the signature proves the relay sent
it, not Amazon.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Self

import httpx

from ..registry import Translation
from .config import AmazonInboundSettings
from .lwa import LwaTokens, TokenError
from .orders import NotAnOrder, OrderChange, commands, from_notification, from_orders_api


def relay_signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


class AmazonInbound:
    def __init__(self, name: str, settings: AmazonInboundSettings, secret: str) -> None:
        self.source = name
        self.settings = settings
        self._secret = secret

    @classmethod
    def from_settings(cls, name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> Self:
        """Raises ValueError("key: message") naming the offending key."""
        settings = AmazonInboundSettings.parse(raw)
        secret = env.get(settings.secret_env)
        if not secret:
            raise ValueError(f"secret_env: environment variable {settings.secret_env} is not set")
        if settings.url is not None:
            if not settings.marketplace_ids:
                raise ValueError("marketplace_ids: required to poll getOrders (url is set)")
            for key in ("lwa_client_id_env", "lwa_client_secret_env", "lwa_refresh_token_env"):
                if not getattr(settings, key):
                    raise ValueError(f"{key}: required to poll getOrders (url is set)")
            settings.credentials(env)
        return cls(name, settings, secret)

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = _header(headers, self.settings.signature_header)
        if given is None:
            return False
        return hmac.compare_digest(given.encode(), relay_signature(self._secret, body).encode())

    def translate(self, headers: Mapping[str, str], payload: Any) -> Translation:
        try:
            change = from_notification(payload)
        except NotAnOrder:
            return Translation()  # other notification types: acknowledged, nothing to do
        return self.translate_change(change)

    def translate_change(self, change: OrderChange) -> Translation:
        wanted = self.settings.seller_id
        if wanted is not None and change.seller_id not in (None, wanted):
            return Translation()
        return Translation(commands=commands(change, self.source, self.settings.location))


def _header(headers: Mapping[str, str], name: str) -> str | None:
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


class PollError(Exception):
    pass


@dataclass
class Polled:
    """What one getOrders pass found."""

    translation: Translation = field(default_factory=Translation)
    orders: int = 0
    #: Where the next pass starts (the newest LastUpdateDate seen, or the given start).
    cursor: str = ""
    error: str | None = None


#: Orders updated this long before the cursor are asked for again: an order updated at
#: the same instant as the newest seen, but listed later, is not missed. Repeats are
#: harmless (reservations are idempotent).
OVERLAP = timedelta(minutes=2)


def _minus_overlap(cursor: str) -> str:
    at = datetime.fromisoformat(cursor.replace("Z", "+00:00")) - OVERLAP
    return at.isoformat(timespec="milliseconds").replace("+00:00", "Z")


async def poll_orders(
    inbound: AmazonInbound,
    client: httpx.AsyncClient,
    since: str,
    env: Mapping[str, str],
    tokens: LwaTokens | None = None,
    timeout: float = 30.0,
) -> Polled:
    """Orders updated after `since` (ISO 8601) through getOrders and getOrderItems,
    translated like notifications.

    A pass stops at the first failed call (`error` says which); what it gathered before
    is returned and the cursor is not moved past it.
    """
    settings = inbound.settings
    if settings.url is None:
        raise ValueError("url: the connector has no SP-API URL to poll")
    tokens = tokens or LwaTokens()
    creds = settings.credentials(env)
    base = settings.url.rstrip("/")
    polled = Polled(cursor=since)

    async def get(path: str, params: dict[str, str] | None = None) -> Any:
        token = await tokens.get(client, creds, timeout)
        r = await client.get(
            base + path, params=params, headers={"x-amz-access-token": token}, timeout=timeout
        )
        if r.status_code != 200:
            raise PollError(f"GET {path} answered {r.status_code}: {r.text[:200]}")
        return r.json()["payload"]

    params = {
        "MarketplaceIds": ",".join(settings.marketplace_ids),
        "LastUpdatedAfter": _minus_overlap(since),
    }
    try:
        while True:
            page = await get("/orders/v0/orders", params)
            for order in page.get("Orders") or []:
                items = await get(f"/orders/v0/orders/{order['AmazonOrderId']}/orderItems")
                change = from_orders_api(order, items.get("OrderItems") or [])
                polled.translation.commands += inbound.translate_change(change).commands
                polled.orders += 1
                polled.cursor = max(polled.cursor, str(order.get("LastUpdateDate") or ""))
            token = page.get("NextToken")
            if not token:
                break
            params = {**params, "NextToken": token}
    except (PollError, TokenError, httpx.HTTPError, KeyError, ValueError) as e:
        polled.error = f"{type(e).__name__}: {e}"
        polled.cursor = since
    return polled
