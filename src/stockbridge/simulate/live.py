"""The live demo's estate: a small retailer trading in accelerated real time against a
running hub, over HTTP, as its real systems would.

Stores post their events to `/v1/events` as they happen (and hold them while their
network is down), send heartbeats, and the storefront and marketplaces reserve through
`/v1/reservations` at checkout. The hub's dispatcher delivers to the simulated platforms,
served on a local port: the storefront is the Shopify simulator (under `/shopify`, fed by
the hub's Shopify target), the marketplace the Amazon SP-API simulator (under
`/amazon-mkt-a`, fed by the hub's Amazon target), and an ERP with maintenance windows
(`/erp`). `GET /web` and `GET /mkt-a` show what each channel's platform holds.
Store S001's till is Square (`simulate.pos`, served under `/square`): its sales are rung
up at the Square register and reach the hub as Square's signed webhooks, and the hub
counts the store's stock back into Square.
One simulated minute passes every `1 / acceleration` minutes of wall time; day after day.
"""

from __future__ import annotations

import contextlib
import logging
import random
import threading
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from ..app.bootstrap import Hub
from .commerce import Commerce
from .estate import Day, Networks, plan_day
from .platforms import Erp, Platforms
from .pos import SquarePos, ring
from .scenarios import Scenario, Window
from .setup import declare_erp, declare_master_data, opening_counts
from .world import Order, SourceEvent, World, channel_policies, new_channels

log = logging.getLogger(__name__)

#: A small retailer that makes every panel of the dashboard move within minutes.
DEMO = Scenario(
    name="demo",
    summary="12 stores, two DCs, a storefront and a marketplace, trading live.",
    stores=12,
    skus=12,
    hours=12,
    store_sales_per_hour=20,
    web_orders_per_hour=60,
    marketplace_orders_per_hour=40,
    store_stock=(2, 12),
    store_outage_share=0.35,
    store_outage_minutes=(20, 60),
    erp_outages=(Window(1.0, 1.5), Window(5.0, 5.5), Window(9.0, 9.5)),
    erp_timeout_rate=0.01,
)
#: Wall seconds a store may stay silent before the hub treats it as stale.
FRESHNESS_SLA_SECONDS = 30.0
HEARTBEAT_WALL_SECONDS = 10.0
#: Stores whose till is Square: their sales reach the hub through Square's webhooks.
SQUARE_STORES = ("S001",)


class StopLive(Exception):
    """Raised from the pacing hook to end the day early."""


class LiveIntegration:
    """The estate's systems speaking to a running hub over HTTP."""

    name = "live"

    def __init__(
        self,
        day: Day,
        client: httpx.Client,
        platforms: Platforms,
        prefix: str,
        acceleration: float,
        wall_start: float,
        pos: SquarePos | None = None,
        register: httpx.Client | None = None,
    ) -> None:
        self.day = day
        self.pos = pos
        self.register = register
        self.client = client
        self.channels = platforms.channels
        self.erp = platforms.erp
        self.prefix = prefix
        self.acceleration = acceleration
        self.wall_start = wall_start
        self.networks = Networks(day.outages)
        self.queued: list[tuple[float, SourceEvent]] = []
        self.next_heartbeat = 0.0

    def start(self, world: World) -> None:
        pass

    def _occurred(self, at: float) -> str:
        return datetime.fromtimestamp(self.wall_start + at / self.acceleration, UTC).isoformat()

    def _at_square_till(self, event: SourceEvent) -> bool:
        return self.pos is not None and event.type == "sale" and event.location in self.pos.stores

    def emit(self, event: SourceEvent, now: float) -> None:
        self.queued.append((self.networks.back_online(event.location, now), event))
        # A Square register rings a sale once; Square itself repeats its notifications.
        if event.duplicated and not self._at_square_till(event):
            self.queued.append((self.networks.back_online(event.location, now) + 20, event))

    def _post(self, path: str, body: dict[str, Any]) -> httpx.Response | None:
        try:
            return self.client.post(path, json=body)
        except httpx.HTTPError as e:
            log.warning("demo estate: %s failed: %s", path, e)
            return None

    def checkout(self, order: Order, now: float) -> str:
        self._flush(now)
        body: dict[str, Any] = {
            "reservation_id": self.prefix + order.ref,
            "sku": order.sku,
            "quantity": order.quantity,
            "expires_at": self._occurred(now + 6 * 3600),
            "source": "web" if order.channel == "web" else order.channel,
        }
        if order.pickup_store:
            body["location"] = order.pickup_store
        else:
            body["channel"] = order.channel
        answer = self._post("/v1/reservations", body)
        if answer is not None and answer.status_code == 201:
            order.location = answer.json()["location"]
            return "accepted"
        return "declined" if order.channel == "web" else "oversold"

    def fulfilled(self, order: Order, now: float) -> None:
        self._post(f"/v1/reservations/{self.prefix}{order.ref}/fulfil", {})

    def cancelled(self, order: Order, now: float) -> None:
        if order.location is not None:
            self._post(f"/v1/reservations/{self.prefix}{order.ref}/release", {})

    def _flush(self, now: float) -> None:
        due = [e for at, e in self.queued if at <= now]
        if not due:
            return
        self.queued = [(at, e) for at, e in self.queued if at > now]
        events = []
        for e in due:
            if self._at_square_till(e):
                self._ring(e)
                continue
            raw = e.canonical(datetime.fromtimestamp(self.wall_start, UTC))
            raw["event_id"] = self.prefix + e.event_id
            raw["occurred_at"] = self._occurred(e.at)
            events.append(raw)
        for i in range(0, len(events), 500):
            self._post("/v1/events", {"events": events[i : i + 500]})

    def _ring(self, sale: SourceEvent) -> None:
        """The sale, rung up at the store's Square register (its order reaches the hub
        through Square's webhooks)."""
        assert self.pos is not None and self.register is not None
        if not ring(self.register, self.pos.sale_request(sale.location, {sale.sku: sale.quantity})):
            log.warning(
                "demo estate: the Square register at %s could not ring a sale", sale.location
            )

    def tick(self, now: float) -> float:
        self._flush(now)
        if now >= self.next_heartbeat:
            beats = [
                {"source": "pos" if loc in self.day.estate.stores else "wms", "location": loc}
                for loc in self.day.estate.locations
                if self.networks.back_online(loc, now) == now
            ]
            self._post("/v1/heartbeats", {"heartbeats": beats})
            self.next_heartbeat = now + HEARTBEAT_WALL_SECONDS * self.acceleration
        nxt = [self.next_heartbeat, now + self.acceleration]
        nxt += [at for at, _ in self.queued]
        return min(nxt)

    def drained(self) -> bool:
        return not self.queued

    def finish(self, world: World) -> dict[str, Any]:
        return {}


def platforms_app(
    platforms: Platforms, commerce: Commerce | None = None, pos: SquarePos | None = None
) -> FastAPI:
    """The simulated storefront, marketplace, Square stores and ERP, as the hub's targets
    reach them: the commerce platforms' own APIs under their prefixes (Square sending its
    webhooks while served), the ERP at `/erp`."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with pos.sending() if pos is not None else contextlib.nullcontext():
            yield

    app = FastAPI(
        title="Stockbridge demo: simulated platforms",
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
    )
    for mount in commerce.mounts if commerce is not None else []:
        app.router.routes.append(mount)
    if pos is not None:
        app.router.routes.append(pos.mount)

    @app.post("/{name}")
    async def receive(name: str, request: Request) -> JSONResponse:
        answer = platforms.handle(name, request.headers, await request.body())
        if answer.timed_out:  # applied, but the gateway gave up waiting
            return JSONResponse({"error": "gateway timeout"}, status_code=504)
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    @app.get("/{name}")
    async def shown(name: str) -> JSONResponse:
        channel = platforms.channels.get(name)
        if channel is None:
            return JSONResponse({"error": f"no channel {name!r}"}, status_code=404)
        return JSONResponse(
            {
                "channel": name,
                "calls": channel.calls,
                "throttled": channel.throttled,
                "shown": dict(sorted(channel.shown.items())),
            }
        )

    return app


class LiveEstate:
    """Trades day after day against the hub until stopped."""

    def __init__(
        self,
        hub: Hub,
        hub_url: str,
        api_key: str,
        acceleration: float = 60.0,
        seed: int = 1,
        scenario: Scenario = DEMO,
    ) -> None:
        self.hub = hub
        self.scenario = scenario
        self.seed = seed
        self.acceleration = acceleration
        self.day = plan_day(scenario, seed)
        self.client = httpx.Client(
            base_url=hub_url, headers={"Authorization": f"Bearer {api_key}"}, timeout=10
        )
        self.wall_start = time.time()
        self.platforms = Platforms(
            new_channels(self.day),
            Erp(scenario.erp_outages, scenario.erp_timeout_rate, random.Random(seed)),
            self._sim_now,
            self._sim_seconds,
        )
        self.commerce = Commerce(self.platforms.channels, list(self.day.estate.skus))
        self.pos = SquarePos(list(SQUARE_STORES), list(self.day.estate.skus), seed)
        self.register: httpx.Client | None = None
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-estate", daemon=True)

    def _sim_seconds(self, iso: str) -> float:
        return (datetime.fromisoformat(iso).timestamp() - self.wall_start) * self.acceleration

    def _sim_now(self) -> float:
        return (time.time() - self.wall_start) * self.acceleration

    def declare(self, platforms_url: str) -> None:
        """Master data, channels, targets (pointing at `platforms_url`, where
        `platforms_app(self.platforms, self.commerce, self.pos)` is served), the Square
        connector of the Square stores, and opening stock, into the hub, before it starts."""
        est = self.day.estate
        declare_master_data(self.hub, est, FRESHNESS_SLA_SECONDS)
        self.commerce.declare(self.hub, channel_policies(self.day), platforms_url)
        self.pos.declare(self.hub, str(self.client.base_url).rstrip("/"), platforms_url)
        self.register = httpx.Client(base_url=platforms_url, timeout=10)
        declare_erp(self.hub, f"{platforms_url}/erp")
        now = datetime.now(UTC) - timedelta(seconds=5)
        self.hub.submit(opening_counts(est, now, prefix=f"d{self.seed}-"))

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        self.client.close()
        if self.register is not None:
            self.register.close()

    def _pace(self, now: float) -> None:
        if self._stop.is_set():
            raise StopLive
        ahead = now / self.acceleration - (time.time() - self.wall_start)
        if ahead > 0:
            self._stop.wait(ahead)  # pacing to the wall clock, not synchronisation

    def _hub_ready(self) -> bool:
        """Wait (up to a minute) for the hub's server to answer before trading starts."""
        for _ in range(600):
            try:
                if self.client.get("/metrics").status_code == 200:
                    return True
            except httpx.HTTPError:
                pass
            if self._stop.wait(0.1):
                return False
        log.error("demo estate: the hub at %s never answered", self.client.base_url)
        return False

    def _run(self) -> None:
        if not self._hub_ready():
            return
        day_number = 0
        while not self._stop.is_set():
            day = self.day if day_number == 0 else plan_day(self.scenario, self.seed + day_number)
            self.wall_start = time.time()
            if day_number:  # each morning the stores and DCs count again
                counts = opening_counts(
                    day.estate, datetime.now(UTC), prefix=f"d{self.seed + day_number}-"
                )
                for i in range(0, len(counts), 500):
                    self.client.post("/v1/events", json={"events": counts[i : i + 500]})
            integration = LiveIntegration(
                day,
                self.client,
                self.platforms,
                f"d{self.seed + day_number}-",
                self.acceleration,
                self.wall_start,
                self.pos,
                self.register,
            )
            world = World(day, integration, [])
            try:
                world.run(self._pace)
            except StopLive:
                return
            except Exception:
                log.exception("the demo estate's day stopped")
                return
            day_number += 1
