"""Today's batch integration, as the seeds describe it.

Stores and DCs write their movements to files uploaded every 15 minutes (a store offline
uploads when it is back; at peak the middleware adds its own delay). The ERP imports the
files at the rate it can, overwriting on hand with a count when it meets one, and keeps
reservations for the online orders the storefront and marketplaces send it. A refresh job
reads the ERP every 15 minutes for the storefront and every 30 for the marketplaces and
pushes what changed. Nothing deduplicates: a file sent twice, or re-sent after a timeout,
posts twice.
"""

from __future__ import annotations

import heapq
import random
import zlib
from collections import defaultdict, deque
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ..app.routing import ChannelIn
from ..domain.availability import ChannelPolicy, channel_availability
from ..domain.model import Item, Position
from .estate import Day, Networks
from .platforms import Channel, Erp, RateLimited
from .world import Order, SourceEvent, World, channel_policies, new_channels

#: Seconds a file takes from the store to the ERP's import folder.
FILE_TRANSFER_SECONDS = 60.0


@dataclass
class _Book:
    on_hand: int = 0
    non_sellable: int = 0
    reserved: int = 0

    @property
    def available(self) -> int:
        return max(0, self.on_hand - max(0, self.non_sellable) - self.reserved)


@dataclass
class _Call:
    at: float
    channel: str
    #: (sku, value, [(computed_at, earliest occurred) of the changes it carries])
    items: list[tuple[str, int, list[float]]]


class StatusQuo:
    name = "status-quo"

    def __init__(self, day: Day) -> None:
        sc = day.scenario
        self.day = day
        self.channels: dict[str, Channel] = new_channels(day)
        self.erp = Erp(sc.erp_outages, sc.erp_timeout_rate, random.Random(day.seed * 31 + 3))
        self.book: dict[tuple[str, str], _Book] = defaultdict(_Book)
        for key, units in day.estate.opening.items():
            self.book[key].on_hand = units
        self.policies: dict[str, ChannelPolicy] = {
            name: ChannelIn.model_validate(body).policy(name)
            for name, body in channel_policies(day).items()
        }
        self.items = {sku: Item(sku, category=day.estate.category[sku]) for sku in day.estate.skus}
        self.files: dict[str, list[SourceEvent]] = defaultdict(list)
        self.import_queue: deque[tuple[float, list[SourceEvent]]] = deque()
        self.networks = Networks(day.outages)
        # Each location uploads on its own 15-minute phase.
        step = sc.store_batch_minutes * 60
        self.batches: list[tuple[float, str]] = [
            (zlib.crc32(loc.encode()) % int(step) + 1.0, loc) for loc in day.estate.locations
        ]
        heapq.heapify(self.batches)
        self.next_import = 60.0
        self.refresh_every = {
            name: (sc.web_refresh_minutes if name == "web" else sc.marketplace_refresh_minutes) * 60
            for name in self.channels
        }
        self.next_refresh = dict.fromkeys(self.channels, 0.0)
        self.last_sent: dict[str, dict[str, int]] = {name: {} for name in self.channels}
        #: Per channel and SKU: earliest occurred time of movements the ERP has imported
        #: since the channel's values were last computed.
        self.unreflected: dict[str, dict[str, float]] = {name: {} for name in self.channels}
        self.calls: list[_Call] = []
        self.orders_waiting: list[tuple[Order, int]] = []
        self.world: World | None = None
        self.closed = False

    def start(self, world: World) -> None:
        self.world = world

    # --- sources ------------------------------------------------------------------------
    def emit(self, event: SourceEvent, now: float) -> None:
        self.files[event.location].append(event)
        if event.duplicated:
            self.files[event.location].append(event)

    # --- orders -------------------------------------------------------------------------
    def checkout(self, order: Order, now: float) -> str:
        if order.pickup_store is not None:
            shown = self.channels["web"].shown_at_store.get((order.sku, order.pickup_store), 0)
            if shown < order.quantity:
                return "not_offered"
            order.location = order.pickup_store
        else:
            order.location = self._allocate(order)
        self._reserve(order, +1, now)
        return "accepted"

    def _allocate(self, order: Order) -> str:
        """The order management rule on the ERP's numbers: a DC if one has it, else the
        store with the most above the channel's buffer, else the best DC all the same."""
        est = self.day.estate
        buffers = self.policies[order.channel].locations
        best_dc = max(est.dcs, key=lambda d: (self.book[(order.sku, d)].available, d))
        if self.book[(order.sku, best_dc)].available >= order.quantity:
            return best_dc
        store = max(est.stores, key=lambda s: (self.book[(order.sku, s)].available - buffers[s], s))
        if self.book[(order.sku, store)].available - buffers[store] >= order.quantity:
            return store
        return best_dc

    def _reserve(self, order: Order, sign: int, now: float) -> None:
        if self.erp.up(now / 3600):
            assert order.location is not None
            self.book[(order.sku, order.location)].reserved += sign * order.quantity
        else:  # the OMS holds orders while the ERP is down
            self.orders_waiting.append((order, sign))

    def fulfilled(self, order: Order, now: float) -> None:
        assert order.location is not None
        source = "wms" if order.location in self.day.estate.dcs else "pos"
        self.emit(
            SourceEvent(
                order.ref + "-fulfil",
                source,
                "fulfil",
                order.sku,
                order.location,
                order.quantity,
                now,
            ),
            now,
        )

    def cancelled(self, order: Order, now: float) -> None:
        if order.location is not None:
            self._reserve(order, -1, now)

    # --- the batch jobs -----------------------------------------------------------------
    def tick(self, now: float) -> float:
        sc = self.day.scenario
        hour = now / 3600
        while self.batches and self.batches[0][0] <= now:
            _, loc = heapq.heappop(self.batches)
            if self.networks.online(loc, now) and self.files.get(loc):
                late = sc.peak_batch_delay_minutes * 60 if sc.peak.contains(hour) else 0.0
                self.import_queue.append((now + FILE_TRANSFER_SECONDS + late, self.files.pop(loc)))
            if not self.closed or self.files.get(loc):
                heapq.heappush(self.batches, (now + sc.store_batch_minutes * 60, loc))
        erp_up = self.erp.up(hour)
        if now >= self.next_import:
            self.next_import = now + 60
            if erp_up:
                for order, sign in self.orders_waiting:
                    assert order.location is not None
                    self.book[(order.sku, order.location)].reserved += sign * order.quantity
                self.orders_waiting.clear()
                self._import(now, int(sc.erp_import_lines_per_minute))
        for name in self.channels:
            if now >= self.next_refresh[name] and now <= self.day.seconds:
                self.next_refresh[name] = now + self.refresh_every[name]
                if erp_up:  # the refresh job reads the ERP; when it is down, nothing moves
                    self._refresh(name, now)
        self._send_calls(now)
        wakes = [self.next_import, *self.next_refresh.values()]
        if self.batches:
            wakes.append(self.batches[0][0])
        if self.calls:
            wakes.append(min(c.at for c in self.calls))
        return min(wakes)

    def _import(self, now: float, capacity: int) -> None:
        while self.import_queue and capacity > 0 and self.import_queue[0][0] <= now:
            ready, lines = self.import_queue.popleft()
            self.erp.calls += 1
            if len(lines) > capacity:  # the rest of the file waits for the next run
                self.import_queue.appendleft((ready, lines[capacity:]))
                lines = lines[:capacity]
            for event in lines:
                self._apply(event, now)
            capacity -= len(lines)
            if self.erp.times_out():
                # The import ran, but the middleware saw a timeout and sends the file again.
                self.import_queue.append((now + 60, lines))

    def _apply(self, event: SourceEvent, now: float) -> None:
        b = self.book[(event.sku, event.location)]
        q = event.quantity
        kind = event.type
        if kind in ("sale", "transfer_out"):
            b.on_hand -= q
        elif kind in ("receipt", "transfer_in"):
            b.on_hand += q
        elif kind == "return":
            b.on_hand += q
            if event.condition == "damaged":
                b.non_sellable += q
        elif kind == "count":
            b.on_hand = q  # the import overwrites: movements since the count are lost
        elif kind == "fulfil":
            b.on_hand -= q
            b.reserved -= q
        self.erp.post(event.key, event.at, now)
        for name in self.channels:
            seen = self.unreflected[name]
            seen[event.sku] = min(seen.get(event.sku, event.at), event.at)

    def _positions(self, sku: str) -> list[Position]:
        return [
            Position(sku, loc, Decimal(b.on_hand), Decimal(b.non_sellable), Decimal(b.reserved))
            for loc in self.day.estate.locations
            if (b := self.book.get((sku, loc))) is not None
        ]

    def _refresh(self, name: str, now: float) -> None:
        channel = self.channels[name]
        policy = self.policies[name]
        last = self.last_sent[name]
        changed: list[tuple[str, int, list[float]]] = []
        for sku in self.day.estate.skus:
            value = int(
                channel_availability(policy, sku, self.items[sku], self._positions(sku)).available
            )
            earliest = self.unreflected[name].pop(sku, None)
            if last.get(sku) != value:
                last[sku] = value
                changed.append((sku, value, [earliest] if earliest is not None else []))
        if name == "web":
            for store in self.day.estate.stores:
                for sku in self.day.estate.skus:
                    b = self.book.get((sku, store))
                    channel.shown_at_store[(sku, store)] = b.available if b is not None else 0
        per_call = channel.limits.items_per_call
        for i in range(0, len(changed), per_call):
            self.calls.append(_Call(now, name, changed[i : i + per_call]))

    def _send_calls(self, now: float) -> None:
        due = [c for c in self.calls if c.at <= now]
        if not due:
            return
        self.calls = [c for c in self.calls if c.at > now]
        assert self.world is not None
        for call in due:
            channel = self.channels[call.channel]
            try:
                channel.admit(now)
            except RateLimited as e:  # the job sleeps as told and sends it again
                call.at = now + e.retry_after
                self.calls.append(call)
                continue
            for sku, value, changes in call.items:
                channel.shown[sku] = value
                for occurred in changes:
                    self.world.record_latency(call.channel, now - occurred)

    # --- the end of the day -------------------------------------------------------------
    def drained(self) -> bool:
        self.closed = True
        return not self.import_queue and not any(self.files.values()) and not self.calls

    def finish(self, world: World) -> dict[str, Any]:
        drift = 0
        for key in set(self.book) | set(world.truth.sellable):
            b = self.book.get(key)
            drift += abs((b.on_hand if b is not None else 0) - world.truth.on_hand(key))
        lost = sum(1 for key in world.emitted if key not in self.erp.posted)
        return {"end_drift_units": drift, "events_lost": lost}
