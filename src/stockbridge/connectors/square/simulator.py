"""A simulated Square: the Inventory and Orders endpoints the connectors use, with
Square's error envelope, idempotency, the 24-hour `occurred_at` rule and rate limiting,
its own inventory, a register that makes sales and refunds, and a webhook sender.

Square's endpoints are under /v2 as documented; /admin is the simulator's own API for
tests and demos (catalog, subscriptions, sales, refunds, faults, the clock).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from ...delivery.bucket import TokenBucket
from .protocol import error, rate_limited
from .sim_state import SimState, new_id
from .sim_webhooks import Sender, Subscription

#: Largest page of BatchRetrieveInventoryCounts.
MAX_PAGE = 1000
DEFAULT_PAGE = 100


@dataclass
class SimFaults:
    """Injected misbehaviour of the API side (the sender has its own)."""

    #: Requests per second allowed before 429 RATE_LIMITED (0: unlimited); Square does
    #: not publish its limits.
    rate_per_second: float = 0.0
    burst: float = 10.0
    #: The next N API calls are answered 429 RATE_LIMITED.
    throttle_next: int = 0
    #: The next N API calls are answered 503 SERVICE_UNAVAILABLE.
    outage_next: int = 0


@dataclass
class Stats:
    requests: int = 0
    rate_limited: int = 0
    unavailable: int = 0
    batch_changes: int = 0


def _json(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status)


async def pump(sender: Sender, interval: float) -> None:
    """Send the due webhooks every `interval` seconds, until cancelled."""
    async with httpx.AsyncClient() as client:
        while True:
            await sender.flush(client)
            await asyncio.sleep(interval)


def create_app(
    state: SimState | None = None,
    faults: SimFaults | None = None,
    *,
    pump_interval: float | None = None,
) -> FastAPI:
    """The simulator; with `pump_interval`, due webhooks are sent that often by itself
    (otherwise on POST /admin/webhooks/flush)."""
    state = state or SimState()
    faults = faults or SimFaults()
    sender = Sender(state.clock, state.merchant_id, state.rng, window=state.window)
    stats = Stats()
    bucket = TokenBucket(faults.rate_per_second, faults.burst)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        task = None
        if pump_interval:
            task = asyncio.create_task(pump(sender, pump_interval))
        try:
            yield
        finally:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    app = FastAPI(title="Square (simulated)", lifespan=lifespan)
    app.state.sim = state
    app.state.faults = faults
    app.state.sender = sender
    app.state.stats = stats

    @app.middleware("http")
    async def gate(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        # Relative to where the simulator is mounted (the demo serves it under /square).
        path = request.scope["path"].removeprefix(request.scope.get("root_path", ""))
        if not path.startswith("/v2/"):
            return await call_next(request)
        stats.requests += 1
        token = state.access_token
        if token is not None and request.headers.get("authorization") != f"Bearer {token}":
            return _json(
                401,
                {
                    "errors": [
                        error(
                            "AUTHENTICATION_ERROR",
                            "UNAUTHORIZED",
                            "This request could not be authorized.",
                        )
                    ]
                },
            )
        version = request.headers.get("square-version")
        if version is not None and not _version_ok(version):
            return _json(
                400,
                {
                    "errors": [
                        error(
                            "INVALID_REQUEST_ERROR",
                            "INVALID_SQUARE_VERSION_FORMAT",
                            f"Invalid Square-Version format: {version}",
                        )
                    ]
                },
            )
        if faults.outage_next > 0:
            faults.outage_next -= 1
            stats.unavailable += 1
            return _json(
                503,
                {"errors": [error("API_ERROR", "SERVICE_UNAVAILABLE", "Service Unavailable")]},
            )
        bucket.set_rate(faults.rate_per_second, faults.burst)
        throttled = faults.throttle_next > 0
        if throttled:
            faults.throttle_next -= 1
        elif faults.rate_per_second > 0:
            throttled = bucket.take(time.monotonic()) > 0
        if throttled:
            stats.rate_limited += 1
            return _json(429, rate_limited())
        return await call_next(request)

    # --- Square's API ---------------------------------------------------------------------
    @app.post("/v2/inventory/changes/batch-create")
    async def batch_change_inventory(request: Request) -> JSONResponse:
        body = await _body(request)
        key = body.get("idempotency_key") if isinstance(body, dict) else None
        replay = isinstance(key, str) and key in state.idempotency
        answer = state.batch_change(body)
        if answer.status == 200 and not replay:
            stats.batch_changes += 1
            for count in answer.body["counts"]:
                sender.publish(
                    "inventory.count.updated",
                    "inventory_counts",
                    new_id(state.rng, 24),
                    {"inventory_counts": [count]},
                )
        return _json(answer.status, answer.body)

    @app.post("/v2/inventory/counts/batch-retrieve")
    async def batch_retrieve_inventory_counts(request: Request) -> JSONResponse:
        body = await _body(request)
        body = body if isinstance(body, dict) else {}
        counts = state.counts(
            body.get("catalog_object_ids"), body.get("location_ids"), body.get("states")
        )
        limit = body.get("limit") or DEFAULT_PAGE
        if not isinstance(limit, int) or not 1 <= limit <= MAX_PAGE:
            return _json(
                400,
                {
                    "errors": [
                        error(
                            "INVALID_REQUEST_ERROR",
                            "VALUE_TOO_HIGH"
                            if isinstance(limit, int) and limit > 1
                            else "INVALID_VALUE",
                            f"limit must be between 1 and {MAX_PAGE}",
                            "limit",
                        )
                    ]
                },
            )
        cursor = body.get("cursor")
        start = int(cursor) if isinstance(cursor, str) and cursor.isdigit() else 0
        page = counts[start : start + limit]
        out: dict[str, Any] = {}
        if page:
            out["counts"] = page
        if start + limit < len(counts):
            out["cursor"] = str(start + limit)
        return _json(200, out)

    @app.get("/v2/orders/{order_id}")
    async def retrieve_order(order_id: str) -> JSONResponse:
        order = state.orders.get(order_id)
        if order is None:
            return _json(
                404,
                {
                    "errors": [
                        error(
                            "INVALID_REQUEST_ERROR",
                            "NOT_FOUND",
                            f"Order with id {order_id} not found.",
                        )
                    ]
                },
            )
        return _json(200, {"order": order})

    @app.post("/v2/orders/batch-retrieve")
    async def batch_retrieve_orders(request: Request) -> JSONResponse:
        body = await _body(request)
        ids = body.get("order_ids") if isinstance(body, dict) else None
        if not isinstance(ids, list) or not ids:
            return _json(
                400,
                {
                    "errors": [
                        error(
                            "INVALID_REQUEST_ERROR",
                            "MISSING_REQUIRED_PARAMETER",
                            "Field must be set",
                            "order_ids",
                        )
                    ]
                },
            )
        orders = [state.orders[i] for i in ids if i in state.orders]
        return _json(200, {"orders": orders} if orders else {})

    # --- the simulator's own API ------------------------------------------------------------
    @app.get("/admin/catalog")
    async def catalog() -> JSONResponse:
        return _json(
            200,
            {
                "locations": sorted(state.locations),
                "catalog_object_ids": sorted(state.catalog),
            },
        )

    @app.post("/admin/catalog")
    async def add_catalog(request: Request) -> JSONResponse:
        body = await _body(request)
        state.locations.update(body.get("locations") or [])
        state.catalog.update(body.get("catalog_object_ids") or [])
        return await catalog()

    @app.post("/admin/subscriptions")
    async def subscribe(request: Request) -> JSONResponse:
        body = await _body(request)
        sender.subscriptions.append(
            Subscription(
                body["notification_url"],
                body["signature_key"],
                list(body.get("event_types") or []),
                body.get("deliver_to"),
            )
        )
        return _json(200, {"subscriptions": len(sender.subscriptions)})

    @app.post("/admin/sales")
    async def sale(request: Request) -> JSONResponse:
        """A sale completed at the register: order.created (OPEN), order.updated
        (COMPLETED), payment.updated (COMPLETED) and the counts it changed."""
        body = await _body(request)
        location = body["location_id"]
        lines = [(li["catalog_object_id"], Decimal(str(li["quantity"]))) for li in body["lines"]]
        order, payment = state.sale(location, lines)
        summary = {
            "created_at": order["created_at"],
            "location_id": location,
            "order_id": order["id"],
        }
        ids = [
            sender.publish(
                "order.created",
                "order_created",
                order["id"],
                {"order_created": {**summary, "state": "OPEN", "version": 1}},
            ),
            sender.publish(
                "order.updated",
                "order_updated",
                order["id"],
                {
                    "order_updated": {
                        **summary,
                        "state": "COMPLETED",
                        "updated_at": order["updated_at"],
                        "version": 2,
                    }
                },
            ),
            sender.publish("payment.updated", "payment", payment["id"], {"payment": payment}),
        ]
        ids += _publish_counts(state, sender, location, [c for c, _ in lines])
        return _json(200, {"order": order, "event_ids": ids})

    @app.post("/admin/refunds")
    async def refund(request: Request) -> JSONResponse:
        body = await _body(request)
        lines = [(li["line_uid"], Decimal(str(li["quantity"]))) for li in body["lines"]]
        order, refund = state.refund(body["order_id"], lines)
        ids = [sender.publish("refund.created", "refund", refund["id"], {"refund": refund})]
        catalog_ids = [li["catalog_object_id"] for li in order["returns"][0]["return_line_items"]]
        ids += _publish_counts(state, sender, order["location_id"], catalog_ids)
        return _json(200, {"order": order, "refund": refund, "event_ids": ids})

    @app.post("/admin/webhooks/flush")
    async def flush() -> JSONResponse:
        async with httpx.AsyncClient() as client:
            attempts = await sender.flush(client)
        return _json(200, {"attempts": attempts, "pending": len(sender.pending)})

    @app.get("/admin/webhooks")
    async def webhooks() -> JSONResponse:
        pending = [
            {
                "event_id": p.event_id,
                "type": p.type,
                "failures": p.failures,
                "next_at": p.next_at.isoformat(),
            }
            for p in sender.pending
        ]
        return _json(200, {"pending": pending, "log": sender.log, "dropped": sender.dropped})

    @app.post("/admin/faults")
    async def set_faults(request: Request) -> JSONResponse:
        body = await _body(request)
        for name in ("rate_per_second", "burst", "throttle_next", "outage_next"):
            if name in body:
                setattr(faults, name, type(getattr(faults, name))(body[name]))
        for name in ("duplicate", "reverse"):
            if name in body:
                setattr(sender.faults, name, bool(body[name]))
        return _json(200, {"ok": True})

    @app.get("/admin/stats")
    async def get_stats() -> JSONResponse:
        return _json(200, vars(stats))

    @app.post("/admin/clock")
    async def move_clock(request: Request) -> JSONResponse:
        body = await _body(request)
        state.clock.advance(float(body.get("advance_seconds", 0)))
        return _json(200, {"now": state.clock.now().isoformat()})

    return app


def _version_ok(version: str) -> bool:
    parts = version.split("-")
    return len(parts) == 3 and all(p.isdigit() for p in parts) and len(version) == 10


async def _body(request: Request) -> Any:
    try:
        return await request.json()
    except ValueError:
        return None


def _publish_counts(
    state: SimState, sender: Sender, location: str, catalog_ids: list[str]
) -> list[str]:
    counts = [state.count(c, location) for c in dict.fromkeys(catalog_ids)]
    return [
        sender.publish(
            "inventory.count.updated",
            "inventory_counts",
            new_id(state.rng, 24),
            {"inventory_counts": counts},
        )
    ]


def demo_state(seed: int) -> SimState:
    """A seller with three locations and twenty item variations, ids drawn from `seed`."""
    state = SimState(seed=seed, access_token=os.environ.get("SQUARE_SIM_ACCESS_TOKEN") or None)
    rng = random.Random(seed)
    state.locations = {new_id(rng, 13) for _ in range(3)}
    state.catalog = {new_id(rng, 24) for _ in range(20)}
    return state


def serve(host: str, port: int, seed: int) -> None:
    """Run the simulator; webhooks to subscriptions go out every half second."""
    import uvicorn

    uvicorn.run(create_app(demo_state(seed), pump_interval=0.5), host=host, port=port)
