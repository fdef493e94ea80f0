"""What the Amazon simulator holds: listings quantities, access tokens, feeds, orders and
the notifications waiting for the relay; with its clock, rate buckets and faults.

No HTTP here: `simulator.py` serves it. Time comes from `SimClock`, which tests move
forward to expire tokens or finish feeds without waiting.
"""

from __future__ import annotations

import itertools
import random
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from ...delivery.bucket import TokenBucket
from .listings import ATTRIBUTE

QUOTA_EXCEEDED = {
    "code": "QuotaExceeded",
    "message": "You exceeded your quota for the requested resource.",
    "details": "",
}
INVALID_INPUT = {
    "code": "InvalidInput",
    "message": "Request has missing or invalid parameters and cannot be parsed.",
    "details": "",
}
ACCESS_DENIED = {
    "code": "Unauthorized",
    "message": "Access to requested resource is denied.",
    "details": "",
}
TOKEN_EXPIRED = {
    "code": "Unauthorized",
    "message": "The security token included in the request is expired",
    "details": "",
}
SERVICE_UNAVAILABLE = {
    "code": "ServiceUnavailable",
    "message": "Service temporarily unavailable. Please try again later.",
    "details": "",
}

#: (rate per second, burst) per operation, as documented (connectors.md §2.3, §2.4).
RATES: dict[str, tuple[float, float]] = {
    "patchListingsItem": (5.0, 5.0),
    "getListingsItem": (5.0, 5.0),
    "createFeedDocument": (0.5, 15.0),
    "createFeed": (0.0083, 15.0),
    "getFeed": (2.0, 15.0),
    "getFeedDocument": (0.0222, 10.0),
    "getOrders": (0.0167, 20.0),
    "getOrderItems": (0.5, 30.0),
}
#: How long a presigned document URL works.
URL_LIFETIME = 300.0


class SimClock:
    """Real monotonic seconds plus an offset that `advance` moves forward."""

    def __init__(
        self, monotonic: Callable[[], float] = time.monotonic, start: datetime | None = None
    ) -> None:
        self._monotonic = monotonic
        self._t0 = monotonic()
        self._offset = 0.0
        self._start = start or datetime.now(UTC)

    def now(self) -> float:
        return self._monotonic() + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += seconds

    def utc(self) -> datetime:
        return self._start + timedelta(seconds=self.now() - self._t0)


def iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Faults:
    """What the simulator does wrong on purpose."""

    #: Every SP-API call answers 503.
    outage: bool = False
    #: The next this many listings calls answer 429 whatever the bucket holds.
    throttle_next: int = 0
    #: Seconds a feed waits IN_QUEUE, then IN_PROGRESS, before it is DONE.
    feed_queue_seconds: float = 0.0
    feed_processing_seconds: float = 0.0
    #: Processing reports are served gzip-compressed.
    gzip_reports: bool = False


@dataclass
class Document:
    document_id: str
    created_at: float
    content: bytes | None = None


@dataclass
class Feed:
    feed_id: str
    marketplace_ids: list[str]
    document_id: str
    created_at: float
    created_time: datetime
    status: str = "IN_QUEUE"
    result_document_id: str | None = None


@dataclass
class OrderItem:
    order_item_id: str
    sku: str
    quantity: int
    shipped: int = 0


@dataclass
class Order:
    order_id: str
    marketplace_id: str
    purchased: datetime
    updated: datetime
    items: list[OrderItem]
    status: str = "Unshipped"
    fulfillment: str = "MFN"


@dataclass
class AmazonState:
    """One seller account on the simulated SP-API."""

    seller_id: str = "A1SIMSELLER0001"
    marketplace_id: str = "A1PA6795UKMFR9"
    client_id: str = "amzn1.application-oa2-client.sim"
    client_secret: str = "sim-client-secret"
    refresh_token: str = "Atzr|sim-refresh-token"
    token_lifetime: int = 3600
    clock: SimClock = field(default_factory=SimClock)
    rng: random.Random = field(default_factory=lambda: random.Random(0))
    faults: Faults = field(default_factory=Faults)
    #: Refuse patches to SKUs without a listing (otherwise create the listing, as Amazon
    #: accepts an offer-only patch for a SKU it does not know).
    strict_skus: bool = True
    #: Seller SKU -> fulfilment channel code -> quantity.
    listings: dict[str, dict[str, int]] = field(default_factory=dict)
    tokens: dict[str, float] = field(default_factory=dict)
    buckets: dict[str, TokenBucket] = field(default_factory=dict)
    documents: dict[str, Document] = field(default_factory=dict)
    feeds: dict[str, Feed] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    #: ORDER_CHANGE notifications not yet relayed.
    outbox: list[dict[str, Any]] = field(default_factory=list)
    #: Counts per operation, 429s included.
    calls: dict[str, int] = field(default_factory=dict)
    throttled: int = 0
    #: Access tokens granted, and requests refused for their token.
    grants: int = 0
    refused_tokens: int = 0
    _ids: Any = field(default_factory=lambda: itertools.count(1))

    def __post_init__(self) -> None:
        for op, (rate, burst) in RATES.items():
            self.buckets[op] = TokenBucket(rate, burst)

    def quantity(self, sku: str, channel: str = "DEFAULT") -> int | None:
        listing = self.listings.get(sku)
        return None if listing is None else listing.get(channel)

    def next_id(self) -> int:
        n: int = next(self._ids)
        return n

    # --- auth ----------------------------------------------------------------------------
    def grant(self, form: Mapping[str, str]) -> tuple[int, dict[str, Any]]:
        """The LWA token endpoint: a refresh-token grant."""
        if form.get("grant_type") != "refresh_token":
            return 400, {
                "error": "unsupported_grant_type",
                "error_description": "The authorization grant type is not supported",
            }
        if form.get("client_id") != self.client_id or form.get("client_secret") != (
            self.client_secret
        ):
            return 401, {
                "error": "invalid_client",
                "error_description": "Client authentication failed",
            }
        if form.get("refresh_token") != self.refresh_token:
            return 400, {
                "error": "invalid_grant",
                "error_description": "The request has an invalid grant parameter : refresh_token",
            }
        token = f"Atza|{uuid.UUID(int=self.rng.getrandbits(128)).hex}"
        self.tokens[token] = self.clock.now() + self.token_lifetime
        self.grants += 1
        return 200, {
            "access_token": token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
        }

    def check_token(self, token: str | None) -> dict[str, str] | None:
        """The error of a request with this access token, or None if it is good."""
        expires = self.tokens.get(token or "")
        refusal = None
        if expires is None:
            refusal = ACCESS_DENIED
        elif self.clock.now() >= expires:
            refusal = TOKEN_EXPIRED
        self.refused_tokens += refusal is not None
        return refusal

    def expire_tokens(self) -> None:
        """Every access token handed out so far expires now."""
        now = self.clock.now()
        self.tokens = {t: min(exp, now) for t, exp in self.tokens.items()}

    def admit(self, operation: str) -> bool:
        """Whether a call to `operation` fits its bucket now (and count it)."""
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if operation in ("patchListingsItem", "getListingsItem") and self.faults.throttle_next:
            self.faults.throttle_next -= 1
            self.throttled += 1
            return False
        if self.buckets[operation].take(self.clock.now()) > 0:
            self.throttled += 1
            return False
        return True

    # --- listings ------------------------------------------------------------------------
    def patch(self, sku: str, body: Any) -> tuple[int, dict[str, Any]]:
        """patchListingsItem on a known seller: 400 for a malformed request, 200 with
        ACCEPTED or INVALID otherwise."""
        if not _well_formed(body):
            return 400, {"errors": [INVALID_INPUT]}
        issues: list[dict[str, Any]] = []
        listing = self.listings.get(sku)
        if listing is None and not self.strict_skus:
            listing = self.listings[sku] = {}
        if listing is None:
            issues.append(
                _issue("NOT_FOUND", f"SKU '{sku}' not found in marketplace {self.marketplace_id}")
            )
        changes: list[tuple[str, str, int]] = []
        for patch in body["patches"]:
            if patch["path"] != f"/attributes/{ATTRIBUTE}":
                continue
            entries, problem = _availability(patch)
            if problem is not None:
                issues.append(problem)
                continue
            changes += [(patch["op"], code, qty) for code, qty in entries]
        submission = uuid.UUID(int=self.rng.getrandbits(128)).hex
        if issues:
            return 200, {
                "sku": sku,
                "status": "INVALID",
                "submissionId": submission,
                "issues": issues,
            }
        assert listing is not None
        for op, code, qty in changes:
            if op == "replace":
                listing.clear()
            if op == "delete":
                listing.pop(code, None)
            else:
                listing[code] = qty
        return 200, {"sku": sku, "status": "ACCEPTED", "submissionId": submission, "issues": []}

    # --- feeds ---------------------------------------------------------------------------
    def new_document(self) -> Document:
        doc = Document(f"amzn1.tortuga.4.eu.{self.next_id():08d}", self.clock.now())
        self.documents[doc.document_id] = doc
        return doc

    def new_feed(self, marketplace_ids: list[str], document_id: str) -> Feed:
        feed = Feed(
            str(50_000_000 + self.next_id()),
            marketplace_ids,
            document_id,
            self.clock.now(),
            self.clock.utc(),
        )
        self.feeds[feed.feed_id] = feed
        return feed

    def advance_feed(self, feed: Feed) -> None:
        """Move a feed along with the clock; at DONE its messages are applied once."""
        if feed.status in ("DONE", "FATAL", "CANCELLED"):
            return
        age = self.clock.now() - feed.created_at
        if age < self.faults.feed_queue_seconds:
            return
        feed.status = "IN_PROGRESS"
        if age < self.faults.feed_queue_seconds + self.faults.feed_processing_seconds:
            return
        report, fatal = self._process(feed)
        result = self.new_document()
        result.content = report
        feed.result_document_id = result.document_id
        feed.status = "FATAL" if fatal else "DONE"

    def _process(self, feed: Feed) -> tuple[bytes, bool]:
        content = self.documents[feed.document_id].content or b""
        header = {"sellerId": self.seller_id, "version": "2.0", "feedId": feed.feed_id}
        try:
            doc = orjson.loads(content)
            messages = doc["messages"]
            if doc["header"]["sellerId"] != self.seller_id or not isinstance(messages, list):
                raise ValueError("wrong seller or no messages")
        except (ValueError, KeyError, TypeError):
            fatal = {
                "messageId": 0,
                "code": "4000003",
                "severity": "ERROR",
                "message": "The feed document could not be parsed as a JSON listings feed.",
            }
            return orjson.dumps({"header": header, "issues": [fatal]}), True
        issues: list[dict[str, Any]] = []
        accepted = 0
        for message in messages:
            found = self._message(message)
            if found:
                issues += found
            else:
                accepted += 1
        errors = sum(1 for i in issues if i["severity"] == "ERROR")
        report = {
            "header": header,
            "issues": issues,
            "summary": {
                "errors": errors,
                "warnings": len(issues) - errors,
                "messagesProcessed": len(messages),
                "messagesAccepted": accepted,
                "messagesInvalid": len(messages) - accepted,
            },
        }
        return orjson.dumps(report), False

    def _message(self, message: Any) -> list[dict[str, Any]]:
        """Apply one feed message; its issues (messageId and sku set) if refused."""
        message_id = message.get("messageId") if isinstance(message, dict) else None
        sku = message.get("sku") if isinstance(message, dict) else None
        if (
            not isinstance(message_id, int)
            or not isinstance(sku, str)
            or message.get("operationType") != "PATCH"
        ):
            found = [_issue("BAD_REQUEST", "Invalid parameters provided.")]
        else:
            status, body = self.patch(sku, message)
            found = (
                body.get("issues", [])
                if status == 200
                else [_issue("BAD_REQUEST", "Invalid parameters provided.")]
            )
        return [
            {
                "messageId": message_id,
                "sku": sku,
                **{k: i[k] for k in ("code", "severity", "message")},
            }
            for i in found
            if i["severity"] == "ERROR"
        ]

    # --- orders --------------------------------------------------------------------------
    def place_order(self, lines: Mapping[str, int], status: str = "Unshipped") -> Order:
        """A buyer orders `lines` (seller SKU -> units): the listing goes down, and an
        ORDER_CHANGE notification waits for the relay."""
        n = self.next_id()
        now = self.clock.utc()
        order = Order(
            f"{400 + n % 500:03d}-{1_000_000 + n:07d}-{2_000_000 + n:07d}",
            self.marketplace_id,
            now,
            now,
            [
                OrderItem(f"{30_000_000_000_000 + n * 100 + i}", sku, qty)
                for i, (sku, qty) in enumerate(lines.items())
            ],
            status,
        )
        for item in order.items:
            listing = self.listings.get(item.sku)
            if listing is not None:
                listing["DEFAULT"] = max(0, listing.get("DEFAULT", 0) - item.quantity)
        self.orders[order.order_id] = order
        self._notify(order, "Order placed")
        return order

    def ship(self, order_id: str) -> Order:
        order = self.orders[order_id]
        order.status = "Shipped"
        for item in order.items:
            item.shipped = item.quantity
        order.updated = self.clock.utc()
        self._notify(order, "Order shipped")
        return order

    def cancel(self, order_id: str) -> Order:
        order = self.orders[order_id]
        order.status = "Canceled"
        for item in order.items:
            listing = self.listings.get(item.sku)
            if listing is not None:
                listing["DEFAULT"] = listing.get("DEFAULT", 0) + item.quantity
        order.updated = self.clock.utc()
        self._notify(order, "Buyer Requested Cancel")
        return order

    def _notify(self, order: Order, reason: str) -> None:
        now = iso(self.clock.utc())
        unshipped = sum(i.quantity - i.shipped for i in order.items)
        self.outbox.append(
            {
                "NotificationVersion": "1.0",
                "NotificationType": "ORDER_CHANGE",
                "PayloadVersion": "1.0",
                "EventTime": now,
                "Payload": {
                    "OrderChangeNotification": {
                        "NotificationLevel": "OrderLevel",
                        "SellerId": self.seller_id,
                        "AmazonOrderId": order.order_id,
                        "OrderChangeType": "OrderStatusChange",
                        "OrderChangeTrigger": {
                            "TimeOfOrderChange": iso(order.updated),
                            "ChangeReason": reason,
                        },
                        "Summary": {
                            "MarketplaceId": order.marketplace_id,
                            "OrderStatus": order.status,
                            "PurchaseDate": iso(order.purchased),
                            "FulfillmentType": order.fulfillment,
                            "OrderType": "StandardOrder",
                            "NumberOfItemsShipped": sum(i.shipped for i in order.items),
                            "NumberOfItemsUnshipped": unshipped,
                            "OrderItems": [
                                {
                                    "OrderItemId": i.order_item_id,
                                    "SellerSKU": i.sku,
                                    "OrderItemStatus": order.status,
                                    "Quantity": i.quantity,
                                    "QuantityShipped": i.shipped,
                                }
                                for i in order.items
                            ],
                        },
                    }
                },
                "NotificationMetadata": {
                    "ApplicationId": "amzn1.sellerapps.app.sim",
                    "SubscriptionId": "sim-subscription",
                    "PublishTime": now,
                    "NotificationId": str(uuid.UUID(int=self.rng.getrandbits(128))),
                },
            }
        )

    def order_json(self, order: Order) -> dict[str, Any]:
        """An order as getOrders lists it."""
        return {
            "AmazonOrderId": order.order_id,
            "PurchaseDate": iso(order.purchased),
            "LastUpdateDate": iso(order.updated),
            "OrderStatus": order.status,
            "FulfillmentChannel": order.fulfillment,
            "NumberOfItemsShipped": sum(i.shipped for i in order.items),
            "NumberOfItemsUnshipped": sum(i.quantity - i.shipped for i in order.items),
            "MarketplaceId": order.marketplace_id,
            "OrderType": "StandardOrder",
        }

    def items_json(self, order: Order) -> dict[str, Any]:
        """An order's items as getOrderItems answers them."""
        return {
            "AmazonOrderId": order.order_id,
            "OrderItems": [
                {
                    "OrderItemId": i.order_item_id,
                    "SellerSKU": i.sku,
                    "QuantityOrdered": i.quantity,
                    "QuantityShipped": i.shipped,
                }
                for i in order.items
            ],
        }


def _issue(code: str, message: str) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "severity": "ERROR",
        "attributeNames": [ATTRIBUTE] if code != "NOT_FOUND" else [],
        "categories": [],
    }


def _well_formed(body: Any) -> bool:
    if not isinstance(body, dict):
        return False
    product_type, patches = body.get("productType"), body.get("patches")
    if not isinstance(product_type, str) or not product_type:
        return False
    if not isinstance(patches, list) or not patches:
        return False
    return all(
        isinstance(p, dict)
        and p.get("op") in ("add", "replace", "merge", "delete")
        and isinstance(p.get("path"), str)
        and p["path"].startswith("/attributes/")
        for p in patches
    )


def _availability(patch: dict[str, Any]) -> tuple[list[tuple[str, int]], dict[str, Any] | None]:
    """(channel code, quantity) entries of a fulfillment_availability patch, or its issue."""
    value = patch.get("value")
    if not isinstance(value, list) or not value:
        return [], _issue(
            "4000001", "The provided value for 'Fulfillment Availability' is invalid."
        )
    entries = []
    for entry in value:
        code = entry.get("fulfillment_channel_code") if isinstance(entry, dict) else None
        if not isinstance(code, str) or not code:
            return [], _issue(
                "99022",
                "The field 'fulfillment_channel_code' for the attribute "
                "'fulfillment_availability' does not have enough values. The required "
                "minimum is '1' value(s).",
            )
        qty = entry.get("quantity")
        if patch["op"] != "delete" and (
            not isinstance(qty, int) or isinstance(qty, bool) or qty < 0
        ):
            return [], _issue("4000001", "The provided value for 'Quantity' is invalid.")
        entries.append((code, qty if isinstance(qty, int) else 0))
    return entries, None
