"""The trading day, run on virtual time through one integration mode.

The world owns what is physical and what customers do: the ground truth, shoppers taking
units off shelves, orders placed on channels against what the channel shows, stores
picking orders and finding (or not finding) the unit. What reaches which system, and
when, is the integration's business (`status_quo.StatusQuo`, `hub.HubIntegration`).
"""

from __future__ import annotations

import functools
import heapq
import itertools
import random
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Protocol

from .estate import Day, Intent, Kind, Truth
from .platforms import MARKETPLACE_LIMITS, STOREFRONT_LIMITS, Channel, Erp

#: Minutes a store takes to pick a click-and-collect order, and a DC or store to ship one.
PICKUP_PICK_MINUTES = (10, 40)
SHIP_PICK_MINUTES = (20, 120)
#: Hours a DC-to-store transfer is on the road.
TRANSFER_HOURS = 2.0
#: After closing, how long the integration may take to deliver what it still holds.
DRAIN_SECONDS = 3 * 3600

#: The channels' availability policies, the same in both modes: the storefront keeps one
#: unit back per store; marketplaces two per store and half of the total.
WEB_STORE_BUFFER = 1
MARKET_STORE_BUFFER = 2
MARKET_SHARE = "0.5"


def channel_policies(day: Day) -> dict[str, dict[str, Any]]:
    """Channel definitions in the hub's own `ChannelIn` shape (the status quo's ERP
    applies the same policy to its own numbers)."""
    est = day.estate
    web = {s: WEB_STORE_BUFFER for s in est.stores} | {d: 0 for d in est.dcs}
    market = {s: MARKET_STORE_BUFFER for s in est.stores} | {d: 0 for d in est.dcs}
    out: dict[str, dict[str, Any]] = {"web": {"locations": web}}
    for m in est.marketplaces:
        out[m] = {"locations": market, "share": MARKET_SHARE}
    return out


@dataclass(frozen=True, slots=True)
class SourceEvent:
    """A fact a source system (POS, WMS) records, in the hub's canonical event shape."""

    event_id: str
    source: str
    type: str
    sku: str
    location: str
    quantity: int
    at: float
    condition: str | None = None
    counterparty: str | None = None
    duplicated: bool = False

    @property
    def key(self) -> str:
        return f"{self.source}:{self.event_id}"

    def canonical(self, start: datetime) -> dict[str, Any]:
        raw: dict[str, Any] = {
            "event_id": self.event_id,
            "source": self.source,
            "type": self.type,
            "sku": self.sku,
            "location": self.location,
            "quantity": self.quantity,
            "occurred_at": (start + timedelta(seconds=self.at)).isoformat(),
        }
        if self.condition is not None:
            raw["condition"] = self.condition
        if self.counterparty is not None:
            raw["counterparty_location"] = self.counterparty
        return raw


@dataclass
class Order:
    ref: str
    channel: str
    sku: str
    quantity: int
    at: float
    #: Where it is picked: a store (click-and-collect, ship-from-store) or a DC.
    location: str | None = None
    pickup_store: str | None = None
    outcome: str = "open"  # open, fulfilled, oversold, declined


class Integration(Protocol):
    """How the systems are wired: the status quo's batches, or Stockbridge."""

    channels: dict[str, Channel]
    erp: Erp

    def start(self, world: World) -> None: ...

    def emit(self, event: SourceEvent, now: float) -> None:
        """A source system recorded a movement."""

    def checkout(self, order: Order, now: float) -> str:
        """An order placed on a channel: 'accepted' (order.location set), 'declined' (the
        checkout refused it), or 'oversold' (the channel took it, no stock behind it)."""

    def fulfilled(self, order: Order, now: float) -> None: ...

    def cancelled(self, order: Order, now: float) -> None: ...

    def tick(self, now: float) -> float:
        """Run the integration's own work due at `now`; return when to be called next."""

    def drained(self) -> bool:
        """Nothing left to deliver (after closing)."""

    def finish(self, world: World) -> dict[str, Any]:
        """Figures only the integration knows (drift, events lost, latency samples)."""


@dataclass
class Meter:
    channels: tuple[str, ...]
    orders: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    oversells: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    declined: int = 0
    #: Oversells by order kind, cause and where the order was to be picked.
    oversell_causes: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    phantom: dict[str, float] = field(default_factory=lambda: defaultdict(float))
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    #: Per hot SKU: per channel, what it showed each minute; and the truth.
    #: Intents met, by kind: the demand, which must be the same in both modes.
    demand: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    shown_series: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    truth_series: dict[str, dict[str, list[int]]] = field(default_factory=dict)


class World:
    def __init__(self, day: Day, integration: Integration, hot_skus: list[str]) -> None:
        self.day = day
        self.integration = integration
        self.truth = Truth(day.estate.opening)
        self.start = day_start(day)
        self.meter = Meter(day.estate.channels)
        self.hot_skus = hot_skus
        self.rng = random.Random(day.seed * 7919 + 1)
        self.emitted: dict[str, SourceEvent] = {}
        self.orders: dict[str, Order] = {}
        self._heap: list[tuple[float, int, Callable[[float], None]]] = []
        self._seq = itertools.count()
        # Per channel: the buffers and share of its policy, and per SKU what it would
        # show on the physical truth (before the share): the yardstick of phantom stock.
        self.policies = {
            name: (
                {loc: int(b) for loc, b in body["locations"].items()},
                Decimal(str(body.get("share", 1))),
            )
            for name, body in channel_policies(day).items()
        }
        self.honest: dict[str, dict[str, int]] = {ch: defaultdict(int) for ch in self.policies}
        for key, units in day.estate.opening.items():
            self._moved(key, 0, units)
        for sku in hot_skus:
            self.meter.truth_series[sku] = {ch: [] for ch in day.estate.channels}
            self.meter.shown_series[sku] = {ch: [] for ch in day.estate.channels}

    # --- scheduling ------------------------------------------------------------------
    def at(self, when: float, action: Callable[[float], None]) -> None:
        heapq.heappush(self._heap, (when, next(self._seq), action))

    def run(self, progress: Callable[[float], None] | None = None) -> None:
        day_end = self.day.seconds
        for intent in self.day.intents:
            self.at(intent.at, functools.partial(self._happen, intent))
        for minute in range(int(day_end // 60) + 1):
            self.at(minute * 60.0, self._sample)
        self.integration.start(self)
        now = 0.0
        wake = 0.0
        while True:
            next_action = self._heap[0][0] if self._heap else None
            if next_action is None and now >= day_end and self.integration.drained():
                break
            if now > day_end + DRAIN_SECONDS:
                break
            # Whole virtual seconds: the integration works at most once a second.
            candidates = [wake] + ([next_action] if next_action is not None else [])
            now = max(now + 1.0, float(int(min(candidates)) + (min(candidates) % 1 > 0)))
            if progress is not None:
                progress(now)  # before the second's work: the live demo paces here
            while self._heap and self._heap[0][0] <= now:
                when, _, action = heapq.heappop(self._heap)
                action(when)
            wake = self.integration.tick(now)

    # --- what happens -------------------------------------------------------------------
    def _happen(self, i: Intent, now: float) -> None:
        self.meter.demand[i.kind.value] += i.quantity
        key = (i.sku, i.location)
        if i.kind is Kind.WALK_IN:
            got = self._take(key, i.quantity)
            if got:
                self._emit(i.ref, "pos", "sale", i.sku, i.location, got, now, dup=i.duplicated)
        elif i.kind is Kind.RETURN:
            damaged = i.condition == "damaged"
            self._track(key, lambda: self.truth.give_back(key, i.quantity, damaged))
            self._emit(
                i.ref,
                "pos",
                "return",
                i.sku,
                i.location,
                i.quantity,
                now,
                condition=i.condition,
                dup=i.duplicated,
            )
        elif i.kind is Kind.SHRINK:
            self._track(key, lambda: self.truth.lose(key))
        elif i.kind is Kind.COUNT:
            self._emit(i.ref, "pos", "count", i.sku, i.location, self.truth.on_hand(key), now)
        elif i.kind is Kind.RECEIPT:
            self._track(key, lambda: self.truth.receive(key, i.quantity))
            self._emit(i.ref, "wms", "receipt", i.sku, i.location, i.quantity, now)
        elif i.kind is Kind.TRANSFER:
            assert i.to is not None
            to = (i.sku, i.to)
            got = self._track(key, lambda: self.truth.ship(key, to, i.quantity))
            if got:
                self._emit(
                    i.ref + "-out",
                    "wms",
                    "transfer_out",
                    i.sku,
                    i.location,
                    got,
                    now,
                    counterparty=i.to,
                )
                self.at(now + TRANSFER_HOURS * 3600, lambda t: self._arrive(i, to, got, t))
        else:
            self._order(i, now)

    def _arrive(self, i: Intent, to: tuple[str, str], quantity: int, now: float) -> None:
        self._track(to, lambda: self.truth.arrive(to, quantity))
        assert i.to is not None
        self._emit(
            i.ref + "-in", "pos", "transfer_in", i.sku, i.to, quantity, now, counterparty=i.location
        )

    def _take(self, key: tuple[str, str], quantity: int) -> int:
        got: int = self._track(key, lambda: self.truth.take(key, quantity))
        return got

    def _track(self, key: tuple[str, str], change: Callable[[], Any]) -> Any:
        """Apply a change to the truth and keep the channels' yardsticks up to date."""
        before = self.truth.sellable.get(key, 0)
        result = change()
        after = self.truth.sellable.get(key, 0)
        if after != before:
            self._moved(key, before, after)
        return result

    def _moved(self, key: tuple[str, str], before: int, after: int) -> None:
        sku, loc = key
        for name, (buffers, _) in self.policies.items():
            buffer = buffers.get(loc)
            if buffer is not None:
                self.honest[name][sku] += max(0, after - buffer) - max(0, before - buffer)

    def honest_value(self, channel: str, sku: str) -> int:
        """What the channel's policy would show if it saw the physical truth."""
        _, share = self.policies[channel]
        return int(self.honest[channel].get(sku, 0) * share)

    def _emit(
        self,
        event_id: str,
        source: str,
        kind: str,
        sku: str,
        location: str,
        quantity: int,
        now: float,
        *,
        condition: str | None = None,
        counterparty: str | None = None,
        dup: bool = False,
    ) -> None:
        event = SourceEvent(
            event_id, source, kind, sku, location, quantity, now, condition, counterparty, dup
        )
        self.emitted[event.key] = event
        self.integration.emit(event, now)

    def _order(self, i: Intent, now: float) -> None:
        channel = i.channel or "web"
        order = Order(
            i.ref,
            channel,
            i.sku,
            i.quantity,
            now,
            pickup_store=i.location if i.kind is Kind.PICKUP_ORDER else None,
        )
        self.orders[order.ref] = order
        shown = self.integration.channels[channel]
        if order.pickup_store is None and shown.shown.get(i.sku, 0) < i.quantity:
            return  # shown as sold out: the shopper does not order
        verdict = self.integration.checkout(order, now)
        if verdict == "declined":
            order.outcome = "declined"
            self.meter.declined += 1
            return
        if verdict == "not_offered":
            return
        self.meter.orders[channel] += 1
        if verdict == "oversold":
            self._oversold(order, now, "not_reservable")
            return
        low, high = PICKUP_PICK_MINUTES if order.pickup_store else SHIP_PICK_MINUTES
        self.at(now + self.rng.uniform(low, high) * 60, lambda t: self._pick(order, t))

    def _pick(self, order: Order, now: float) -> None:
        assert order.location is not None
        key = (order.sku, order.location)
        if self.truth.sellable.get(key, 0) >= order.quantity:
            self._take(key, order.quantity)
            order.outcome = "fulfilled"
            self.integration.fulfilled(order, now)
        else:
            self._oversold(order, now, "no_unit_at_pick")

    def _oversold(self, order: Order, now: float, cause: str) -> None:
        order.outcome = "oversold"
        self.meter.oversells[order.channel] += 1
        kind = "pickup" if order.pickup_store else "ship" if order.channel == "web" else "market"
        where = "store" if order.location in self.day.estate.stores else "dc"
        self.meter.oversell_causes[f"{kind}/{cause}" + (f"/{where}" if order.location else "")] += 1
        self.integration.cancelled(order, now)

    # --- measuring ----------------------------------------------------------------------
    def _sample(self, now: float) -> None:
        if now > self.day.seconds:
            return
        channels = self.integration.channels
        for name, channel in channels.items():
            phantom = 0
            for sku, shown in channel.shown.items():
                over = shown - self.honest_value(name, sku)
                if over > 0:
                    phantom += over
            self.meter.phantom[name] += phantom
        for sku in self.hot_skus:
            for name, channel in channels.items():
                self.meter.truth_series[sku][name].append(self.honest_value(name, sku))
                self.meter.shown_series[sku][name].append(channel.shown.get(sku, 0))

    def record_latency(self, channel: str, seconds: float) -> None:
        self.meter.latencies[channel].append(seconds)


def day_start(day: Day) -> datetime:
    """The simulated day opens on a Saturday at the scenario's opening hour (UTC)."""
    return datetime(2026, 11, 28, day.scenario.open_hour, tzinfo=UTC)


def new_channels(day: Day) -> dict[str, Channel]:
    chans = {"web": Channel("web", STOREFRONT_LIMITS)}
    for m in day.estate.marketplaces:
        chans[m] = Channel(m, MARKETPLACE_LIMITS)
    return chans
