"""The simulator's HTTP side: the GraphQL Admin endpoint, and an admin API for tests.

`/admin/api/{version}/graphql.json` answers as Shopify does (auth by
`X-Shopify-Access-Token`, cost in every answer, THROTTLED when the bucket is short).
`/_sim/...` drives the store: catalogue and levels, orders and what follows them (each
sends its webhooks to the subscriptions), faults, and the webhook queue.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass
from typing import Any, Literal

import httpx
import orjson
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from ..ids import gid
from ..throttle import CostBucket
from .graphql import VERSIONS, GraphQL
from .shop import Shop, ShopError, Webhook
from .webhooks import WebhookSender


@dataclass
class Faults:
    #: Every API call answers 503.
    outage: bool = False
    #: Seconds each API call takes.
    latency_seconds: float = 0.0


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class LocationIn(_In):
    name: str


class ItemIn(_In):
    sku: str
    #: Stock it at these locations with this available (location id -> available).
    levels: dict[int, int] = Field(default_factory=dict)


class LevelIn(_In):
    inventory_item_id: int
    location_id: int
    available: int


class SubscriptionIn(_In):
    topic: str
    address: str


class LineIn(_In):
    variant_id: int
    quantity: int = Field(gt=0)


class OrderIn(_In):
    line_items: list[LineIn] = Field(min_length=1)
    location_id: int | None = None


class FulfilIn(_In):
    location_id: int | None = None


class RefundLineIn(_In):
    line_item_id: int
    quantity: int = Field(gt=0)
    restock_type: str = "return"


class RefundIn(_In):
    refund_line_items: list[RefundLineIn] = Field(min_length=1)
    location_id: int | None = None


class PumpIn(_In):
    order: str = Field("fifo", pattern="^(fifo|reverse|shuffle)$")
    duplicate: bool = False


class DropIn(_In):
    #: Only deliveries of this topic; none: every queued delivery.
    topic: str | None = None


class FaultsIn(_In):
    outage: bool | None = None
    latency_seconds: float | None = Field(None, ge=0)
    #: 200 (THROTTLED in the body, Shopify's usual answer) or 429.
    throttle_status: Literal[200, 429] | None = None
    bucket_maximum: float | None = Field(None, gt=0)
    restore_rate: float | None = Field(None, gt=0)
    #: Empty the bucket now (another app's burst).
    drain: bool = False
    hold_webhooks: bool | None = None
    duplicate_rate: float | None = Field(None, ge=0, le=1)


class ClockIn(_In):
    advance_seconds: float = Field(ge=0)


def create_app(
    shop: Shop,
    sender: WebhookSender,
    faults: Faults | None = None,
    *,
    auto_pump: float | None = None,
) -> FastAPI:
    """The simulator as an ASGI app. With `auto_pump` (seconds), due webhooks are sent
    in the background on that period, as a live store does."""
    faults = faults or Faults()
    api = GraphQL(shop)
    client_box: dict[str, httpx.AsyncClient] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        async with httpx.AsyncClient() as client:
            client_box["client"] = client
            task = asyncio.create_task(_pumping(client)) if auto_pump else None
            try:
                yield
            finally:
                if task is not None:
                    task.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await task

    async def _pumping(client: httpx.AsyncClient) -> None:
        assert auto_pump is not None
        while True:
            await sender.pump(client)
            await asyncio.sleep(auto_pump)

    app = FastAPI(title="Shopify simulator", lifespan=lifespan)
    app.state.shop, app.state.sender, app.state.graphql, app.state.faults = (
        shop,
        sender,
        api,
        faults,
    )

    def send(hooks: list[Webhook]) -> None:
        at = shop.clock.wall().isoformat()
        for topic, payload in hooks:
            sender.emit(topic, payload, at)

    # --- the Admin API -----------------------------------------------------------------------
    @app.post("/admin/api/{version}/graphql.json")
    async def graphql(version: str, request: Request) -> Response:
        if faults.latency_seconds:
            await asyncio.sleep(faults.latency_seconds)
        if faults.outage:
            return JSONResponse({"errors": "Service Unavailable"}, status_code=503)
        if version not in VERSIONS:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        if request.headers.get("X-Shopify-Access-Token") != shop.access_token:
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token "
                    "(unrecognized login or wrong password)"
                },
                status_code=401,
            )
        try:
            body = orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            body = None
        answer = api.execute(version, body)
        send(answer.webhooks)
        headers = {}
        if answer.status == 429:
            cost = answer.body["extensions"]["cost"]
            status = cost["throttleStatus"]
            missing = cost["requestedQueryCost"] - status["currentlyAvailable"]
            headers["Retry-After"] = f"{max(1.0, missing / status['restoreRate']):.0f}"
        return Response(
            orjson.dumps(answer.body),
            status_code=answer.status,
            media_type="application/json",
            headers=headers,
        )

    # --- admin: catalogue and stock ----------------------------------------------------------
    @app.exception_handler(ShopError)
    async def _shop_error(_: Request, e: ShopError) -> Response:
        return JSONResponse({"error": str(e)}, status_code=422)

    @app.post("/_sim/locations")
    def add_location(body: LocationIn) -> dict[str, Any]:
        location_id = shop.add_location(body.name)
        return {"id": location_id, "gid": gid("Location", location_id), "name": body.name}

    @app.post("/_sim/items")
    def add_item(body: ItemIn) -> dict[str, Any]:
        item = shop.add_item(body.sku)
        for location_id, available in body.levels.items():
            send(shop.stock(item.inventory_item_id, location_id, available))
        return {
            **asdict(item),
            "inventory_item_gid": gid("InventoryItem", item.inventory_item_id),
            "variant_gid": gid("ProductVariant", item.variant_id),
        }

    @app.put("/_sim/levels")
    def set_level(body: LevelIn) -> dict[str, Any]:
        send(shop.stock(body.inventory_item_id, body.location_id, body.available))
        return {"levels": shop.snapshot()}

    @app.get("/_sim/levels")
    def levels() -> dict[str, Any]:
        return {"levels": shop.snapshot()}

    # --- admin: orders -------------------------------------------------------------------------
    @app.post("/_sim/orders")
    def create_order(body: OrderIn) -> dict[str, Any]:
        hooks = shop.create_order(
            [(line.variant_id, line.quantity) for line in body.line_items], body.location_id
        )
        send(hooks)
        return hooks[0][1]

    @app.post("/_sim/orders/{order_id}/cancel")
    def cancel_order(order_id: int) -> dict[str, Any]:
        hooks = shop.cancel_order(order_id)
        send(hooks)
        return hooks[0][1]

    @app.post("/_sim/orders/{order_id}/fulfillments")
    def fulfil(order_id: int, body: FulfilIn) -> dict[str, Any]:
        hooks = shop.fulfil(order_id, body.location_id)
        send(hooks)
        return hooks[0][1]

    @app.post("/_sim/orders/{order_id}/refunds")
    def refund(order_id: int, body: RefundIn) -> dict[str, Any]:
        lines = [(r.line_item_id, r.quantity, r.restock_type) for r in body.refund_line_items]
        hooks = shop.refund(order_id, lines, body.location_id)
        send(hooks)
        return hooks[0][1]

    # --- admin: webhooks, faults, clock ---------------------------------------------------------
    @app.post("/_sim/webhooks")
    def subscribe(body: SubscriptionIn) -> dict[str, Any]:
        return asdict(sender.subscribe(body.topic, body.address))

    @app.post("/_sim/webhooks/pump")
    async def pump(body: PumpIn) -> dict[str, Any]:
        sent = await sender.pump(
            client_box["client"], order=body.order, duplicate=body.duplicate, force=True
        )
        return {"sent": sent, "queued": len(sender.queue)}

    @app.post("/_sim/webhooks/drop")
    def drop(body: DropIn) -> dict[str, Any]:
        """Lose queued deliveries for good: the webhooks Shopify never sent."""
        lost = [d for d in sender.queue if body.topic in (None, d.topic)]
        sender.queue = [d for d in sender.queue if d not in lost]
        return {"dropped": [d.topic for d in lost], "queued": len(sender.queue)}

    @app.get("/_sim/webhooks")
    def webhook_state() -> dict[str, Any]:
        def row(d: Any) -> dict[str, Any]:
            return {
                "topic": d.topic,
                "webhook_id": d.webhook_id,
                "event_id": d.event_id,
                "attempts": d.attempts,
                "statuses": d.statuses,
                "due": d.due,
            }

        return {
            "subscriptions": [asdict(s) for s in sender.subscriptions.values()],
            "queued": [row(d) for d in sender.queue],
            "delivered": [row(d) for d in sender.delivered],
            "failed": [row(d) for d in sender.failed],
        }

    @app.put("/_sim/faults")
    def set_faults(body: FaultsIn) -> dict[str, Any]:
        now = shop.clock.now()
        if body.outage is not None:
            faults.outage = body.outage
        if body.latency_seconds is not None:
            faults.latency_seconds = body.latency_seconds
        if body.throttle_status is not None:
            api.throttle_status = body.throttle_status
        if body.bucket_maximum is not None or body.restore_rate is not None:
            old = shop.bucket
            maximum = body.bucket_maximum or old.maximum
            shop.bucket = CostBucket(
                maximum, body.restore_rate or old.restore_rate, min(maximum, old.level(now)), now
            )
        if body.drain:
            shop.bucket.drain(now)
        if body.hold_webhooks is not None:
            sender.hold = body.hold_webhooks
        if body.duplicate_rate is not None:
            sender.duplicate_rate = body.duplicate_rate
        return stats()

    @app.get("/_sim/stats")
    def stats() -> dict[str, Any]:
        now = shop.clock.now()
        return {
            "calls": api.calls,
            "throttled": api.throttled,
            "spent": api.spent,
            "bucket": shop.bucket.status(now),
            "outage": faults.outage,
            "latency_seconds": faults.latency_seconds,
            "hold_webhooks": sender.hold,
        }

    @app.post("/_sim/clock")
    def advance(body: ClockIn) -> dict[str, Any]:
        shop.clock.advance(body.advance_seconds)
        return {"now": shop.clock.now(), "wall": shop.clock.wall().isoformat()}

    return app
