"""Square's webhooks into the hub: sales, refunds and inventory counts.

Verified on the raw body before anything is read: `x-square-hmacsha256-signature` is
base64(HMAC-SHA256(signature key, notification URL + body)), with the notification URL
as configured (what Square signs), never the URL the request arrived on.

Order notifications (order.created, order.updated) carry only a summary (id, state,
version), payment ones the payment, refund ones the refund: the order itself, with its
line items or returns, is read from the Orders API (RetrieveOrder) when the notification
says there is something to record. The read is not done while Square waits for its
answer: the notification is kept in the hub's inbox and acknowledged, and the inbox
reads the order (`complete`), again with backoff while Square cannot give it.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from typing import Any, Self

import httpx

from ...app.connectors import BadPayload
from ...domain.errors import StockbridgeError
from ..mapping import mapped_events
from ..registry import Translation
from .config import SquareInboundSettings, secret, validate
from .orders import COMPLETED, count_observations, order_events
from .protocol import SIGNATURE_HEADER, VERSION_HEADER, describe, signature_ok

#: Notification ids remembered to keep repeated count observations out (newest kept).
SEEN_KEPT = 10_000
_NOT_A_RETURN = frozenset({"REJECTED", "FAILED"})


class SquareUnavailable(StockbridgeError):
    """The Orders API did not give the order a notification is about."""


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    if value is not None:
        return value
    for key, v in headers.items():
        if key.lower() == name:
            return v
    return None


class SquareInbound:
    def __init__(
        self,
        name: str,
        settings: SquareInboundSettings,
        signature_key: str,
        access_token: str,
        client: httpx.Client | None = None,
    ) -> None:
        self.source = name
        self.settings = settings
        self._key = signature_key
        self._token = access_token
        self._client = client
        self._seen: OrderedDict[str, None] = OrderedDict()

    @classmethod
    def from_settings(cls, name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> Self:
        settings: SquareInboundSettings = validate(SquareInboundSettings, raw)
        key = secret(env, "signature_key_env", settings.signature_key_env)
        token = secret(env, "access_token_env", settings.access_token_env)
        return cls(name, settings, key, token)

    def use_client(self, client: httpx.Client) -> None:
        """Read orders through `client` (the estate simulator's in-process transport)."""
        self._client = client

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        given = _header(headers, SIGNATURE_HEADER)
        if not given:
            return False
        return signature_ok(self._key, self.settings.notification_url, body, given)

    def translate(self, headers: Mapping[str, str], payload: Any) -> Translation:
        if not isinstance(payload, dict) or not isinstance(payload.get("data"), dict):
            raise BadPayload("a Square notification is an object with a data object")
        kind, event_id = payload.get("type"), payload.get("event_id")
        obj = payload["data"].get("object")
        obj = obj if isinstance(obj, dict) else {}
        if kind == "inventory.count.updated":
            return self._counts(str(event_id), obj)
        order_id = self._order_to_read(kind, payload["data"], obj)
        if order_id is None:
            return Translation()
        # One read per notification (Square's event_id; its redeliveries share it).
        key = f"{event_id or kind}:{order_id}"
        return Translation(deferred=[(key, {"order_id": order_id, "event_id": event_id})])

    def complete(self, deferred: dict[str, Any]) -> Translation:
        """The order a notification was about, read now; SquareUnavailable if Square does
        not give it."""
        order_id = deferred.get("order_id")
        if not isinstance(order_id, str) or not order_id:
            raise BadPayload(f"an inbox entry without an order id: {deferred!r}")
        events = order_events(self.source, self._order(order_id))
        if self.settings.mapping == "settings":
            events = mapped_events(events, self.settings.catalog, self.settings.locations)
        return Translation(events=events)

    def _counts(self, event_id: str, obj: dict[str, Any]) -> Translation:
        if event_id in self._seen:
            return Translation()
        self._seen[event_id] = None
        if len(self._seen) > SEEN_KEPT:
            self._seen.popitem(last=False)
        return Translation(observations=count_observations(event_id, obj.get("inventory_counts")))

    @staticmethod
    def _order_to_read(kind: object, data: dict[str, Any], obj: dict[str, Any]) -> str | None:
        """The order a notification says has something to record, if any."""
        if kind in ("order.created", "order.updated"):
            summary = obj.get("order_created") or obj.get("order_updated") or {}
            if not isinstance(summary, dict) or summary.get("state") != COMPLETED:
                return None  # an open order is not a sale yet
            order_id = summary.get("order_id") or data.get("id")
        elif kind in ("payment.created", "payment.updated"):
            payment = obj.get("payment") or {}
            if not isinstance(payment, dict) or payment.get("status") != COMPLETED:
                return None
            order_id = payment.get("order_id")
        elif kind in ("refund.created", "refund.updated"):
            refund = obj.get("refund") or {}
            if not isinstance(refund, dict) or refund.get("status") in _NOT_A_RETURN:
                return None
            order_id = refund.get("order_id")  # the return order
        else:
            return None
        if not isinstance(order_id, str) or not order_id:
            raise BadPayload(f"a {kind} notification without its order id")
        return order_id

    def _order(self, order_id: str) -> dict[str, Any]:
        """RetrieveOrder; raises SquareUnavailable unless Square returns the order."""
        if self._client is None:
            self._client = httpx.Client(timeout=self.settings.timeout_seconds)
        url = f"{self.settings.api_url.rstrip('/')}/v2/orders/{order_id}"
        headers = {
            "Authorization": f"Bearer {self._token}",
            VERSION_HEADER: self.settings.square_version,
        }
        try:
            response = self._client.get(url, headers=headers)
        except httpx.HTTPError as e:
            raise SquareUnavailable(f"reading order {order_id}: {type(e).__name__}: {e}") from e
        try:
            body = response.json()
        except ValueError:
            body = {}
        order = body.get("order") if isinstance(body, dict) else None
        if response.status_code != 200 or not isinstance(order, dict):
            errors = body.get("errors") if isinstance(body, dict) else None
            raise SquareUnavailable(
                f"reading order {order_id}: HTTP {response.status_code} "
                f"{describe(errors) if isinstance(errors, list) else ''}".rstrip()
            )
        return order
