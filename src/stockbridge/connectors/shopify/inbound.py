"""Shopify webhooks in: orders reserve, fulfilments fulfil, cancellations release,
restocked refunds return, inventory level updates are observed.

Each delivery is verified on its raw body (`X-Shopify-Hmac-Sha256`, base64 HMAC-SHA256
with the app's client secret) before it is read. Translation is a pure function of the
payload: event ids come from Shopify's own ids (order, line item, fulfilment, refund), so
a retry, a duplicate delivery or a second subscription to the same topic yields the same
events, which the ledger deduplicates. Shopify's `X-Shopify-Event-Id` (its duplicate
signal, the same on every delivery of one event) becomes the events' correlation id.

Every line of an order is a reservation `{connector}:{order id}:{line item id}` at the
order's location; events rather than checked reservation commands, because Shopify has
already taken the order: the hub records it whatever it thought was available. Out of
order deliveries converge through the ledger's reservation state machine: a release or
a fulfilment that arrives before its reserve is remembered and the late reserve is inert.

Items and locations travel as Shopify gids (`gid://shopify/ProductVariant/N`,
`gid://shopify/Location/N`) and are mapped to SKUs and locations by the hub's cross
references with source = the connector's name.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Self

from pydantic import ValidationError

from ..registry import Translation
from . import signing
from .config import ShopifyInboundSettings
from .ids import gid

log = logging.getLogger(__name__)

#: Where an event's location is unknown: parked as an unknown location until mapped.
UNASSIGNED = "shopify-unassigned-location"
ORDER_TOPICS = ("orders/create", "orders/cancelled")


def header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive header lookup (plain dicts in tests, Starlette headers live)."""
    value = headers.get(name)
    if value is not None:
        return value
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


class ShopifyInbound:
    def __init__(self, name: str, settings: ShopifyInboundSettings, secret: str) -> None:
        self.source = name
        self.settings = settings
        self._secret = secret

    @classmethod
    def from_settings(cls, name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> Self:
        try:
            settings = ShopifyInboundSettings.model_validate(dict(raw))
        except ValidationError as e:
            err = e.errors()[0]
            where = ".".join(str(p) for p in err["loc"]) or "kind"
            raise ValueError(f"{where}: {err['msg']}") from None
        secret = env.get(settings.secret_env)
        if not secret:
            raise ValueError(f"secret_env: environment variable {settings.secret_env} is not set")
        return cls(name, settings, secret)

    # --- verification ----------------------------------------------------------------------
    def _header(self, headers: Mapping[str, str], name: str) -> str | None:
        value = header(headers, f"X-Shopify-{name}")
        if value is None and self.settings.accept_events_header:
            value = header(headers, f"Shopify-{name}")
        return value

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        return signing.verify(self._secret, body, self._header(headers, "Hmac-Sha256"))

    # --- translation -----------------------------------------------------------------------
    def translate(self, headers: Mapping[str, str], payload: Any) -> Translation:
        topic = self._header(headers, "Topic") or ""
        event_id = self._header(headers, "Event-Id")
        webhook_id = self._header(headers, "Webhook-Id")
        version = self._header(headers, "API-Version")
        log.info("shopify %s: %s event %s delivery %s", self.source, topic, event_id, webhook_id)
        if version and version != self.settings.api_version:
            log.warning(
                "shopify %s: payload of API version %s, connector set to %s",
                self.source,
                version,
                self.settings.api_version,
            )
        if not isinstance(payload, dict):
            return Translation()
        if topic == "orders/create":
            return Translation(events=self._order_lines(payload, "reserve", event_id))
        if topic == "orders/cancelled":
            return Translation(events=self._order_lines(payload, "release", event_id))
        if topic == "fulfillments/create":
            return Translation(events=self._fulfilment(payload, event_id))
        if topic == "refunds/create":
            return Translation(events=self._refund(payload, event_id))
        if topic == "inventory_levels/update":
            return Translation(observations=[self._level(payload, topic, event_id, webhook_id)])
        log.info("shopify %s: topic %r is not used", self.source, topic)
        return Translation()

    def reservation_id(self, order_id: Any, line_id: Any) -> str:
        return f"{self.source}:{order_id}:{line_id}"

    def _location(self, location_id: Any) -> str:
        if isinstance(location_id, int | str) and str(location_id).isdigit():
            shopify = gid("Location", location_id)
        else:
            shopify = self.settings.default_location_id or UNASSIGNED
        return self._mapped(shopify, self.settings.locations)

    def _item(self, line: Mapping[str, Any]) -> str | None:
        if self.settings.item_key == "sku":
            sku = line.get("sku")
            if not isinstance(sku, str) or not sku.strip():
                return None
            return self._mapped(sku, self.settings.variants)
        variant = line.get("variant_id")
        if isinstance(variant, int | str) and str(variant).isdigit():
            return self._mapped(gid("ProductVariant", variant), self.settings.variants)
        return None  # a custom line: no stock behind it

    def _mapped(self, code: str, table: Mapping[str, str]) -> str:
        """With mapping = "settings", the hub code of `code` from the explicit map; with
        "xrefs" (or when the map lacks it) `code` itself, which ingest maps through the
        cross references of this source or parks as unknown."""
        if self.settings.mapping == "settings":
            return table.get(code, code)
        return code

    def _event(
        self,
        event_id: str,
        type_: str,
        sku: str,
        location: str,
        quantity: int,
        occurred_at: str,
        correlation_id: str | None,
        **extra: Any,
    ) -> dict[str, Any]:
        out = {
            "event_id": event_id,
            "source": self.source,
            "type": type_,
            "sku": sku,
            "location": location,
            "quantity": quantity,
            "occurred_at": occurred_at,
            **{k: v for k, v in extra.items() if v is not None},
        }
        if correlation_id:
            out["correlation_id"] = correlation_id
        return out

    def _order_lines(
        self, order: Mapping[str, Any], type_: str, correlation: str | None
    ) -> list[dict[str, Any]]:
        order_id = order.get("id")
        if order_id is None:
            return []
        at = (order.get("cancelled_at") if type_ == "release" else None) or order.get("created_at")
        location = self._location(order.get("location_id"))
        events = []
        for line in order.get("line_items") or []:
            sku = self._item(line)
            quantity = line.get("quantity")
            if sku is None or not isinstance(quantity, int) or quantity <= 0 or not at:
                continue
            rid = self.reservation_id(order_id, line.get("id"))
            events.append(
                self._event(
                    rid if type_ == "reserve" else f"{rid}:{type_}",
                    type_,
                    sku,
                    location,
                    quantity,
                    str(at),
                    correlation,
                    reservation_id=rid,
                    reference=f"order {order.get('name') or order_id}",
                )
            )
        return events

    def _fulfilment(
        self, fulfilment: Mapping[str, Any], correlation: str | None
    ) -> list[dict[str, Any]]:
        if fulfilment.get("status") in ("cancelled", "error", "failure"):
            return []
        order_id, fid = fulfilment.get("order_id"), fulfilment.get("id")
        at = fulfilment.get("created_at")
        if order_id is None or fid is None or not at:
            return []
        location = self._location(fulfilment.get("location_id"))
        events = []
        for line in fulfilment.get("line_items") or []:
            sku = self._item(line)
            quantity = line.get("quantity")
            if sku is None or not isinstance(quantity, int) or quantity <= 0:
                continue
            rid = self.reservation_id(order_id, line.get("id"))
            events.append(
                self._event(
                    f"{rid}:fulfil:{fid}",
                    "fulfil",
                    sku,
                    location,
                    quantity,
                    str(at),
                    correlation,
                    reservation_id=rid,
                    reference=f"fulfillment {fid} of order {order_id}",
                )
            )
        return events

    def _refund(self, refund: Mapping[str, Any], correlation: str | None) -> list[dict[str, Any]]:
        order_id, refund_id, at = refund.get("order_id"), refund.get("id"), refund.get("created_at")
        if order_id is None or refund_id is None or not at:
            return []
        events = []
        for rli in refund.get("refund_line_items") or []:
            line = rli.get("line_item") or {}
            restock = rli.get("restock_type") or (
                "legacy_restock" if refund.get("restock") else None
            )
            quantity = rli.get("quantity")
            sku = self._item(line)
            if sku is None or not isinstance(quantity, int) or quantity <= 0:
                continue
            if restock == "legacy_restock":
                # The deprecated type restocked whatever the line's state: fulfilled units
                # came back, unfulfilled ones were cancelled.
                restock = "return" if line.get("fulfillment_status") == "fulfilled" else "cancel"
            rid = self.reservation_id(order_id, rli.get("line_item_id") or line.get("id"))
            if restock == "return":
                events.append(
                    self._event(
                        f"{self.source}:refund:{refund_id}:{rli.get('id')}",
                        "return",
                        sku,
                        self._location(rli.get("location_id")),
                        quantity,
                        str(at),
                        correlation,
                        reference=f"refund {refund_id} of order {order_id}",
                    )
                )
            elif restock == "cancel" and quantity >= (line.get("quantity") or 0):
                # Unfulfilled units put back: the line's reservation is released. The ledger
                # closes reservations whole, so a partial cancel leaves the hold in place
                # until the fulfilment or the order's cancellation closes it. Its own event
                # id: the order's cancellation releases the same reservation (whichever
                # comes first closes it, the other is recorded and changes nothing).
                events.append(
                    self._event(
                        f"{rid}:release:refund:{refund_id}",
                        "release",
                        sku,
                        self._location(rli.get("location_id")),
                        quantity,
                        str(at),
                        correlation,
                        reservation_id=rid,
                        reference=f"refund {refund_id} of order {order_id}",
                    )
                )
        return events

    def _level(
        self,
        level: Mapping[str, Any],
        topic: str,
        event_id: str | None,
        webhook_id: str | None,
    ) -> dict[str, Any]:
        item, location = level.get("inventory_item_id"), level.get("location_id")
        return {
            "connector": self.source,
            "topic": topic,
            "inventory_item_id": gid("InventoryItem", item) if item is not None else None,
            "location_id": gid("Location", location) if location is not None else None,
            "available": level.get("available"),
            "updated_at": level.get("updated_at"),
            "event_id": event_id,
            "webhook_id": webhook_id,
        }
