"""Stockbridge mode: the day's events through the real hub, on the simulator's clock.

The hub is wired by `bootstrap` as in production, on a throwaway SQLite file and a
`ManualClock`. Events arrive over each store's network (held while it is down, sometimes
twice); the storefront and marketplaces reserve through the hub at checkout; the real
dispatcher sends pushes and postings to the simulated platforms through an in-process
HTTP transport, stepped once per virtual second. Freshness, expiry and coalescing are the
hub's own code: nothing of it is re-implemented here.

The storefront and the marketplaces are the Shopify and Amazon SP-API simulators, reached
through the hub's Shopify and Amazon targets (simulate/commerce.py) on the same virtual
clock: what a channel shows is what its platform holds, and its API calls and throttled
answers are the platform's. One store in ten has a Square till (simulate/pos.py): its
sales are rung up at the Square simulator, whose signed webhooks reach the hub's API
in process, and the hub's connector inbox reads each order back before the ledger
records it; the propagation of those sales is measured from the shopper's purchase.
The status quo keeps its generic channels (and every store its file uploads): its batch
jobs are modelled, not its connectors.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
from starlette.routing import Router

from ..adapters.sqlite import SqliteStore
from ..api.app import create_app
from ..app.bootstrap import Hub, bootstrap
from ..app.clock import ManualClock
from ..app.reservations import Close, Reserve, Verdict
from ..config import load_settings_from
from ..connectors.square.inbound import SquareInbound
from ..delivery.dispatcher import Dispatcher, StepResult
from ..delivery.trace_headers import TracedTransport
from ..domain.model import EventKey, EventType, to_micros
from .commerce import Commerce, in_process
from .estate import Day, Networks
from .platforms import (
    Erp,
    Platforms,
)
from .pos import CONNECTOR, SQUARE_PREFIX, SquarePos
from .setup import declare_erp, declare_master_data, opening_counts
from .world import Order, SourceEvent, World, channel_policies, new_channels

#: Seconds a store's request takes over its network (drawn between these).
NETWORK_SECONDS = (0.2, 2.5)
#: When a POS sends an upload twice, the copy follows this many seconds later.
DUPLICATE_AFTER_SECONDS = 20.0
#: Freshness SLA of every store and DC: silent longer than this, a location is stale.
FRESHNESS_SLA_SECONDS = 600.0
HEARTBEAT_EVERY = 60.0
HOUSEKEEPING_EVERY = 30.0
#: An online order's reservation holds this long before it expires by itself.
RESERVATION_HOURS = 6
#: Where the targets point; the in-process transport answers for every platform.
PLATFORMS = "http://platforms.sim"
#: Where Square sends its webhooks: the hub's API, reached in process.
HUB = "http://hub.sim"
#: One store in this many (the first, the eleventh, ...) has a Square till.
SQUARE_EVERY = 10


class LoopTransport(httpx.BaseTransport):
    """Synchronous requests answered by an async handler on the simulator's event loop:
    the connector inbox reads Square's orders between steps, while the loop is idle."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        handler: Callable[[httpx.Request], Awaitable[httpx.Response]],
    ) -> None:
        self.loop = loop
        self.handler = handler

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        return self.loop.run_until_complete(self.handler(request))


class HubIntegration:
    name = "stockbridge"

    def __init__(self, day: Day, workdir: Path, start: datetime) -> None:
        self.day = day
        self.start_at = start
        self.clock = ManualClock(start)
        self.rng = random.Random(day.seed * 17 + 5)
        self.channels = new_channels(day)
        sc = day.scenario
        self.erp = Erp(sc.erp_outages, sc.erp_timeout_rate, random.Random(day.seed * 31 + 3))
        self.store = SqliteStore(workdir / "stockbridge-sim.db", durable=False)
        self.store.migrate()
        settings = load_settings_from({"database": {"url": str(self.store.path)}})
        self.hub: Hub = bootstrap(settings, store=self.store, clock=self.clock)
        self.networks = Networks(day.outages)
        self.dispatcher = Dispatcher(
            self.store,
            self.clock,
            rng=random.Random(day.seed),
            monotonic=lambda: self.clock.now().timestamp(),
        )
        self.commerce = Commerce(
            self.channels,
            list(day.estate.skus),
            monotonic=lambda: self.clock.now().timestamp(),
            start=start,
        )
        self.platforms = Platforms(
            self.channels,
            self.erp,
            self._now,
            lambda iso: (datetime.fromisoformat(iso) - self.start_at).total_seconds(),
            self._shown,
        )
        self.pos = SquarePos(
            list(day.estate.stores[::SQUARE_EVERY]),
            list(day.estate.skus),
            day.seed,
            now=self.clock.now,
        )
        self._square = httpx.ASGITransport(app=Router(routes=[self.pos.mount]))
        #: Square-till sales: the store's event key -> the ledger's key of its order line.
        self.rung: dict[str, EventKey] = {}
        #: Rung up, not yet in the ledger.
        self.awaiting: dict[EventKey, SourceEvent] = {}
        self.loop = asyncio.new_event_loop()
        # The same header wrapper as the real dispatcher's client: the platforms see
        # `X-Correlation-Id` and `traceparent` on every call.
        transport = TracedTransport(httpx.MockTransport(self._platform), self.dispatcher.tracing)
        self.client = httpx.AsyncClient(transport=transport)
        self.hub_api = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=create_app(self.hub, manage_hub=False))
        )
        self.orders_client = httpx.Client(transport=LoopTransport(self.loop, self._platform))
        self.arrivals: list[tuple[float, int, SourceEvent]] = []
        self._seq = itertools.count()
        self.world: World | None = None
        self.next_heartbeat = 0.0
        self.next_housekeeping = HOUSEKEEPING_EVERY
        self.dirty = False
        self.retry_at = float("inf")
        #: Per (channel, SKU): value changes not yet shown, as (hub time, earliest occurred).
        self.unshown: dict[tuple[str, str], list[tuple[float, float]]] = defaultdict(list)
        self.reservations: set[str] = set()
        self._load_master_data()

    def _load_master_data(self) -> None:
        est = self.day.estate
        declare_master_data(self.hub, est, FRESHNESS_SLA_SECONDS)
        self.commerce.declare(self.hub, channel_policies(self.day), PLATFORMS)
        self.pos.declare(self.hub, HUB, PLATFORMS)
        inbound = self.hub.connectors.connectors[CONNECTOR]
        assert isinstance(inbound, SquareInbound)
        inbound.use_client(self.orders_client)
        # Opening stock: each location's count before the doors open. The ERP has it
        # already, so it learns of postings only from the first movement of the day.
        opening = opening_counts(est, self.start_at - timedelta(minutes=30))
        self._at(-1800.0)
        for i in range(0, len(opening), 5000):
            self.hub.ingest.ingest(opening[i : i + 5000])
        declare_erp(self.hub, f"{PLATFORMS}/erp")
        # The channels get their opening figures before the doors open.
        for second in range(-1800, 0):
            self._at(float(second))
            if second % 60 == 0:
                self._heartbeats(float(second))
            if not self._step().claimed and second > -1700:
                break
        for channel in self.channels.values():
            channel.calls = channel.throttled = 0

    # --- time ---------------------------------------------------------------------------
    def _at(self, now: float) -> None:
        self.clock.set(self.start_at + timedelta(seconds=now))

    def _now(self) -> float:
        return (self.clock.now() - self.start_at).total_seconds()

    def start(self, world: World) -> None:
        self.world = world

    # --- sources ------------------------------------------------------------------------
    def emit(self, event: SourceEvent, now: float) -> None:
        sent = self.networks.back_online(event.location, now)
        arrive = sent + self.rng.uniform(*NETWORK_SECONDS)
        heapq.heappush(self.arrivals, (arrive, next(self._seq), event))
        if event.duplicated:
            heapq.heappush(
                self.arrivals, (arrive + DUPLICATE_AFTER_SECONDS, next(self._seq), event)
            )

    def _ingest_due(self, now: float) -> int:
        batch: list[SourceEvent] = []
        while self.arrivals and self.arrivals[0][0] <= now:
            batch.append(heapq.heappop(self.arrivals)[2])
        if not batch:
            return 0
        self._at(now)
        for sale in [e for e in batch if self._at_square_till(e)]:
            self._ring(sale)
        batch = [e for e in batch if not self._at_square_till(e)]
        if batch:
            self._recording(
                batch,
                now,
                lambda: self.hub.ingest.ingest([e.canonical(self.start_at) for e in batch]),
            )
        return len(batch)

    def _recording(self, events: list[SourceEvent], now: float, record: Callable[[], Any]) -> None:
        """`record()`, and the channel values it changed noted as not yet shown, from the
        earliest of `events` on their SKUs."""
        skus = sorted({e.sku for e in events})
        pairs = [(ch, sku) for ch in self.channels for sku in skus]
        before = self._values(pairs)
        record()
        after = self._values(pairs)
        earliest: dict[str, float] = {}
        for e in events:
            earliest[e.sku] = min(earliest.get(e.sku, e.at), e.at)
        for pair in pairs:
            if after.get(pair) != before.get(pair):
                self.unshown[pair].append((now, earliest[pair[1]]))

    # --- the Square tills ------------------------------------------------------------------
    def _at_square_till(self, event: SourceEvent) -> bool:
        return event.type == "sale" and event.location in self.pos.stores

    def _ring(self, sale: SourceEvent) -> None:
        """The sale rung up at the store's Square register (once: a repeated upload is
        the store's, Square repeats only its notifications)."""
        if sale.key in self.rung:
            return
        body = self.pos.sale_request(sale.location, {sale.sku: sale.quantity})
        request = httpx.Request("POST", f"{PLATFORMS}{SQUARE_PREFIX}/admin/sales", json=body)
        order = self.loop.run_until_complete(self._platform(request)).json()["order"]
        key = EventKey(CONNECTOR, f"sale:{order['id']}:{order['line_items'][0]['uid']}")
        self.rung[sale.key] = key
        self.awaiting[key] = sale

    def _square_sends(self, now: float) -> None:
        """Square sends its due webhooks to the hub; the inbox reads the orders back."""
        self._at(now)
        self.loop.run_until_complete(self.pos.sender.flush(self.hub_api))
        if not self.awaiting:
            return
        waiting = list(self.awaiting.values())
        self._recording(waiting, now, self.hub.inbox.process)
        with self.store.transaction() as tx:
            recorded = tx.find_events(list(self.awaiting))
        for key in recorded:
            del self.awaiting[key]
        self.dirty = self.dirty or bool(recorded)

    def _values(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], Decimal]:
        with self.store.transaction() as tx:
            return {k: v.value for k, v in tx.channel_values(pairs).items()}

    def _heartbeats(self, now: float) -> None:
        self._at(now)
        seen = {
            loc: "pos" if loc.startswith("S") else "wms"
            for loc in self.day.estate.locations
            if self.networks.back_online(loc, now) == now
        }
        self.store.record_heartbeats(seen, to_micros(self.clock.now()))

    # --- orders -------------------------------------------------------------------------
    def checkout(self, order: Order, now: float) -> str:
        self._ingest_due(now)
        self._at(now)
        expires = to_micros(self.clock.now() + timedelta(hours=RESERVATION_HOURS))
        command = Reserve(
            reservation_id=order.ref,
            sku=order.sku,
            quantity=Decimal(order.quantity),
            location=order.pickup_store,
            channel=None if order.pickup_store else order.channel,
            expires_us=expires,
            source="web" if order.channel == "web" else order.channel,
        )
        outcome = self.hub.ingest.execute(command)
        self.dirty = True
        if outcome.verdict is Verdict.CREATED and outcome.reservation is not None:
            order.location = outcome.reservation.location
            self.reservations.add(order.ref)
            return "accepted"
        # The storefront asks the hub at checkout and refuses; a marketplace already
        # took the order on the figure it was last sent.
        return "declined" if order.channel == "web" else "oversold"

    def _close(self, order: Order, action: EventType, now: float) -> None:
        if order.ref not in self.reservations:
            return
        self._at(now)
        self.hub.ingest.execute(Close(order.ref, action))
        self.dirty = True

    def fulfilled(self, order: Order, now: float) -> None:
        self._close(order, EventType.FULFIL, now)

    def cancelled(self, order: Order, now: float) -> None:
        self._close(order, EventType.RELEASE, now)

    # --- the hub's own work -------------------------------------------------------------
    def tick(self, now: float) -> float:
        if self._ingest_due(now):
            self.dirty = True
        if self.pos.sender.pending or self.awaiting:
            self._square_sends(now)
        if now >= self.next_heartbeat:
            self._heartbeats(now)
            self.next_heartbeat = now + HEARTBEAT_EVERY
        if now >= self.next_housekeeping:
            self._at(now)
            self.hub.ingest.housekeeping()
            self.next_housekeeping = now + HOUSEKEEPING_EVERY
            self.dirty = True
        # The dispatcher runs when work may be due: new deliveries, work its bucket held
        # back, or a retry whose time has come.
        if self.dirty or self.retry_at <= now:
            self._at(now)
            step = self._step()
            self.dirty = step.more
            self.retry_at = (
                (step.next_us - to_micros(self.start_at)) / 1e6
                if step.next_us is not None
                else float("inf")
            )
        wakes = [self.next_heartbeat, self.next_housekeeping, self.retry_at]
        if self.arrivals:
            wakes.append(self.arrivals[0][0])
        if self.dirty or self.pos.sender.pending or self.awaiting:
            wakes.append(now + 1)
        return min(wakes)

    def _step(self) -> StepResult:
        step = self.loop.run_until_complete(self.dispatcher.step(self.client))
        # A platform's own API carries no computed-at: the pushes it took say which value.
        for d in step.delivered:
            if d.kind == "availability" and d.target in self.commerce.channels:
                computed = datetime.fromisoformat(str(d.payload["computed_at"]))
                self._shown(
                    d.target, str(d.payload["sku"]), (computed - self.start_at).total_seconds()
                )
        return step

    async def _platform(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith(SQUARE_PREFIX + "/"):
            return await in_process(self._square, request)
        if self.commerce.serves(request.url.path):
            return await self.commerce.handle(request)
        answer = self.platforms.handle(
            request.url.path.strip("/"), request.headers, request.content
        )
        if answer.timed_out:
            raise httpx.ReadTimeout("the platform did not answer in time", request=request)
        return httpx.Response(answer.status, headers=answer.headers, json=answer.body)

    def _shown(self, channel: str, sku: str, computed: float) -> None:
        """A channel took a value computed at `computed`: the changes it carries are shown."""
        waiting = self.unshown.get((channel, sku))
        now = self._now()
        while waiting and waiting[0][0] <= computed + 1e-6:
            _, occurred = waiting.pop(0)
            assert self.world is not None
            self.world.record_latency(channel, now - occurred)

    # --- the end of the day -------------------------------------------------------------
    def drained(self) -> bool:
        if self.arrivals or self.awaiting or self.pos.sender.pending:
            return False
        backlog = self.store.target_backlog()
        return all(row[0] == 0 for row in backlog.values())

    def finish(self, world: World) -> dict[str, Any]:
        # A Square till's sale is in the ledger under its order line's key.
        keys = [self.rung.get(key) or EventKey(*key.split(":", 1)) for key in world.emitted]
        all_keys = set(world.truth.sellable) | set(world.truth.damaged)
        with self.store.transaction() as tx:
            recorded = tx.find_events(keys)
            positions = tx.read_positions(all_keys)
        lost = sum(1 for k in keys if k not in recorded)
        drift = 0
        for key in all_keys:
            pos = positions.get(key)
            drift += abs(int(pos.on_hand if pos is not None else 0) - world.truth.on_hand(key))
        stats = self.store.target_stats()
        return {
            "platforms_off_ledger": self.platforms_off_ledger(),
            "end_drift_units": drift,
            "events_lost": lost,
            "pushes_coalesced": sum(row[3] for row in stats.values()),
            "dead_letters": sum(row[2] for row in stats.values()),
        }

    def platforms_off_ledger(self) -> int:
        """(channel, SKU) pairs where a platform holds another figure than the hub last
        computed for the channel: zero once the day's pushes have drained."""
        pairs = [(ch, sku) for ch in self.commerce.channels for sku in self.day.estate.skus]
        values = self._values(pairs)
        # Each platform's inventory read once, not once per SKU.
        shown = {ch: self.commerce.shown(ch) for ch in self.commerce.channels}
        return sum(
            1
            for ch, sku in pairs
            if shown[ch].get(sku, 0) != int(values.get((ch, sku), Decimal(0)))
        )

    def close(self) -> None:
        self.loop.run_until_complete(self.client.aclose())
        self.loop.run_until_complete(self.hub_api.aclose())
        self.orders_client.close()
        self.loop.close()
        self.hub.close()
