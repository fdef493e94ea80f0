"""The retailer's estate and its trading day: locations, items, demand, and the ground truth.

Pure: no I/O, no hub. `plan_day` draws everything that happens to the retailer from the
seed — customers walking in, online and marketplace orders, returns, deliveries, shrink,
cycle counts, store network outages — before either integration mode runs, so both modes
face the same day. `Truth` is the physical stock no system sees directly.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import dataclass, field
from enum import StrEnum

from .scenarios import Scenario

#: Relative store footfall by local clock hour (lunch and after-work peaks).
STORE_CURVE = {
    8: 0.4,
    9: 0.6,
    10: 0.8,
    11: 1.0,
    12: 1.35,
    13: 1.3,
    14: 1.05,
    15: 1.0,
    16: 1.1,
    17: 1.4,
    18: 1.45,
    19: 1.1,
    20: 0.7,
    21: 0.4,
}
#: Relative online demand by local clock hour (lunch break and evening).
ONLINE_CURVE = {
    8: 0.6,
    9: 0.7,
    10: 0.8,
    11: 0.9,
    12: 1.2,
    13: 1.2,
    14: 0.9,
    15: 0.9,
    16: 1.0,
    17: 1.1,
    18: 1.3,
    19: 1.5,
    20: 1.5,
    21: 1.2,
}


class Kind(StrEnum):
    WALK_IN = "walk_in"  # a customer takes units off a store shelf and pays
    WEB_ORDER = "web_order"  # ship to home
    PICKUP_ORDER = "pickup_order"  # click-and-collect at a store
    MARKETPLACE_ORDER = "marketplace_order"
    RETURN = "return"  # a customer brings units back to a store
    SHRINK = "shrink"  # a unit vanishes from a shelf, unseen by every system
    COUNT = "count"  # a store counts one SKU
    RECEIPT = "receipt"  # a supplier delivery at a DC
    TRANSFER = "transfer"  # a DC ships units to a store


@dataclass(frozen=True, slots=True)
class Intent:
    """Something that happens at second `at` of the day, whatever the integration."""

    at: float
    kind: Kind
    sku: str
    location: str
    quantity: int = 1
    #: The marketplace of a marketplace order.
    channel: str | None = None
    #: A return's condition; "damaged" units come back non-sellable.
    condition: str | None = None
    #: A transfer's destination.
    to: str | None = None
    #: A POS upload that reaches its destination twice.
    duplicated: bool = False
    ref: str = ""


@dataclass(frozen=True, slots=True)
class Estate:
    stores: tuple[str, ...]
    dcs: tuple[str, ...]
    skus: tuple[str, ...]
    marketplaces: tuple[str, ...]
    #: SKU -> relative popularity (Zipf).
    popularity: dict[str, float]
    category: dict[str, str]
    opening: dict[tuple[str, str], int]

    @property
    def locations(self) -> tuple[str, ...]:
        return self.stores + self.dcs

    @property
    def channels(self) -> tuple[str, ...]:
        return ("web", *self.marketplaces)


@dataclass(frozen=True, slots=True)
class Outage:
    store: str
    start: float
    end: float


class Networks:
    """The stores' network outages: when a message sent at `now` gets through."""

    def __init__(self, outages: list[Outage]) -> None:
        self.windows: dict[str, list[tuple[float, float]]] = defaultdict(list)
        for o in outages:
            self.windows[o.store].append((o.start, o.end))

    def back_online(self, location: str, now: float) -> float:
        for start, end in self.windows.get(location, ()):
            if start <= now < end:
                return end
        return now

    def online(self, location: str, now: float) -> bool:
        return self.back_online(location, now) == now


@dataclass
class Day:
    scenario: Scenario
    seed: int
    estate: Estate
    intents: list[Intent]
    outages: list[Outage]
    #: The scripted story's SKU and stores, when the scenario has one.
    story: dict[str, str] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return self.scenario.hours * 3600


def build_estate(sc: Scenario, rng: random.Random) -> Estate:
    stores = tuple(f"S{n:03d}" for n in range(1, sc.stores + 1))
    dcs = tuple(f"DC-{n}" for n in range(1, sc.dcs + 1))
    skus = tuple(f"SKU-{n:04d}" for n in range(1, sc.skus + 1))
    markets = tuple(f"mkt-{chr(ord('a') + n)}" for n in range(sc.marketplaces))
    # Popularity follows Zipf's law: a few SKUs carry the day.
    popularity = {sku: 1.0 / (rank**0.9) for rank, sku in enumerate(skus, start=1)}
    categories = ("apparel", "footwear", "home", "beauty")
    category = {sku: categories[i % len(categories)] for i, sku in enumerate(skus)}
    opening: dict[tuple[str, str], int] = {}
    for sku in skus:
        for store in stores:
            opening[(sku, store)] = rng.randint(*sc.store_stock)
        for dc in dcs:
            opening[(sku, dc)] = rng.randint(*sc.dc_stock)
    return Estate(stores, dcs, skus, markets, popularity, category, opening)


def _poisson(rng: random.Random, lam: float) -> int:
    """Knuth's method, split so large means do not underflow."""
    n = 0
    while lam > 30:
        n += _poisson(rng, 30)
        lam -= 30
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return n + k
        k += 1


def _multiplier(sc: Scenario, hour: float, channel: str) -> float:
    m = 1.0
    for promo in sc.promotions:
        if channel in promo.channels and promo.window.contains(hour):
            m *= promo.multiplier
    return m


class _Picker:
    """Weighted choice by cumulative weights (bisect), cheap for thousands of draws."""

    def __init__(self, items: tuple[str, ...], weights: list[float]) -> None:
        self.items = items
        total = 0.0
        self.cum = []
        for w in weights:
            total += w
            self.cum.append(total)

    def __call__(self, rng: random.Random) -> str:
        import bisect

        return self.items[bisect.bisect_left(self.cum, rng.random() * self.cum[-1])]


def plan_day(sc: Scenario, seed: int) -> Day:
    """Everything that happens to the retailer in the day, drawn from `seed` alone."""
    rng = random.Random(seed)
    estate = build_estate(sc, rng)
    sku_pick = _Picker(estate.skus, [estate.popularity[s] for s in estate.skus])
    intents: list[Intent] = []
    seq = iter(range(1, 10**9))

    def add(at: float, kind: Kind, sku: str, location: str, **kw: object) -> None:
        intents.append(Intent(at, kind, sku, location, ref=f"{kind.value}-{next(seq)}", **kw))  # type: ignore[arg-type]

    minutes = int(sc.hours * 60)
    for minute in range(minutes):
        hour = minute / 60
        clock_hour = (sc.open_hour + int(hour)) % 24
        store_rate = STORE_CURVE.get(clock_hour, 0.3) * _multiplier(sc, hour, "store")
        online_rate = ONLINE_CURVE.get(clock_hour, 0.5)
        lam = sc.stores * sc.store_sales_per_hour / 60 * store_rate
        for _ in range(_poisson(rng, lam)):
            at = minute * 60 + rng.random() * 60
            qty = 1 if rng.random() < 0.9 else 2
            dup = rng.random() < sc.duplicate_upload_rate
            add(
                at,
                Kind.WALK_IN,
                sku_pick(rng),
                rng.choice(estate.stores),
                quantity=qty,
                duplicated=dup,
            )
        for _ in range(_poisson(rng, lam * sc.return_rate)):
            at = minute * 60 + rng.random() * 60
            cond = "damaged" if rng.random() < 0.15 else "sellable"
            dup = rng.random() < sc.duplicate_upload_rate
            add(
                at,
                Kind.RETURN,
                sku_pick(rng),
                rng.choice(estate.stores),
                condition=cond,
                duplicated=dup,
            )
        web = sc.web_orders_per_hour / 60 * online_rate * _multiplier(sc, hour, "web")
        for _ in range(_poisson(rng, web)):
            at = minute * 60 + rng.random() * 60
            if rng.random() < sc.click_and_collect_share:
                add(at, Kind.PICKUP_ORDER, sku_pick(rng), rng.choice(estate.stores))
            else:
                add(at, Kind.WEB_ORDER, sku_pick(rng), "")
        mkt = sc.marketplace_orders_per_hour / 60 * online_rate
        mkt *= _multiplier(sc, hour, "marketplace")
        for market in estate.marketplaces:
            for _ in range(_poisson(rng, mkt / len(estate.marketplaces))):
                at = minute * 60 + rng.random() * 60
                add(at, Kind.MARKETPLACE_ORDER, sku_pick(rng), "", channel=market)
    seconds = sc.hours * 3600
    for store in estate.stores:
        for _ in range(_poisson(rng, sc.shrink_per_store)):
            add(rng.random() * seconds, Kind.SHRINK, sku_pick(rng), store)
        for _ in range(_poisson(rng, sc.counts_per_store)):
            add(rng.random() * seconds, Kind.COUNT, sku_pick(rng), store)
    # Supplier deliveries at the DCs in the morning and early afternoon; DC-to-store
    # replenishment of the best sellers in between, two hours on the road.
    for dc in estate.dcs:
        for at in (0.5 * 3600, min(5.5, sc.hours / 2) * 3600):
            for sku in estate.skus:
                if rng.random() < 0.5:
                    add(at + rng.random() * 600, Kind.RECEIPT, sku, dc, quantity=rng.randint(4, 24))
    best = estate.skus[: max(1, len(estate.skus) // 5)]
    for at in (1.0 * 3600, min(6.0, sc.hours / 2 + 0.5) * 3600):
        for store in rng.sample(estate.stores, max(1, len(estate.stores) // 4)):
            sku = rng.choice(best)
            dc = rng.choice(estate.dcs)
            add(
                at + rng.random() * 900,
                Kind.TRANSFER,
                sku,
                dc,
                quantity=rng.randint(1, 3),
                to=store,
            )
    outages = []
    for store in estate.stores:
        if rng.random() < sc.store_outage_share:
            length = rng.randint(*sc.store_outage_minutes) * 60
            start = rng.random() * max(1.0, seconds - length)
            outages.append(Outage(store, start, start + length))
    story: dict[str, str] = {}
    if sc.scripted_last_unit and len(estate.stores) >= 2 and sc.hours * 3600 > 5 * 3600 + 600:
        story = _last_unit_story(sc, estate, intents, add)
        outages = [o for o in outages if o.store != story["store"]]
    intents.sort(key=lambda i: (i.at, i.ref))
    return Day(sc, seed, estate, intents, outages, story)


def _last_unit_story(
    sc: Scenario, estate: Estate, intents: list[Intent], add: object
) -> dict[str, str]:
    """14:03 the last unit sells in a store, 14:04 a pickup order for it there, 14:10 two
    units come back at another store (times relative to a 09:00 opening)."""
    sku, store, other = estate.skus[0], estate.stores[0], estate.stores[1]
    base = (14 - sc.open_hour) * 3600
    if base <= 0 or base + 600 >= sc.hours * 3600:
        base = 5 * 3600
    assert callable(add)
    # The story's store opens with one unit, and nothing else happens to it there.
    estate.opening[(sku, store)] = 1
    intents[:] = [i for i in intents if not (sku == i.sku and store in (i.location, i.to))]
    add(base - 3600, Kind.COUNT, sku, store)
    add(base + 180, Kind.WALK_IN, sku, store, quantity=1)
    add(base + 240, Kind.PICKUP_ORDER, sku, store)
    add(base + 600, Kind.RETURN, sku, other, quantity=2, condition="sellable")
    order = next(i.ref for i in reversed(intents) if i.kind is Kind.PICKUP_ORDER)
    return {"sku": sku, "store": store, "return_store": other, "order": order}


class Truth:
    """Physical units per (SKU, location): on the shelf, damaged in the back room, and on
    the road between a DC and a store. Only intents change it."""

    def __init__(self, opening: dict[tuple[str, str], int]) -> None:
        self.sellable: dict[tuple[str, str], int] = dict(opening)
        self.damaged: dict[tuple[str, str], int] = defaultdict(int)
        self.in_transit: dict[tuple[str, str], int] = defaultdict(int)
        self.opening = sum(opening.values())
        self.received = 0
        self.sold = 0
        self.returned = 0
        self.written_off = 0

    def on_hand(self, key: tuple[str, str]) -> int:
        return self.sellable.get(key, 0) + self.damaged.get(key, 0)

    def take(self, key: tuple[str, str], quantity: int) -> int:
        """Units sold off the shelf: as many as there are, up to `quantity`."""
        got = min(quantity, self.sellable.get(key, 0))
        self.sellable[key] = self.sellable.get(key, 0) - got
        self.sold += got
        return got

    def give_back(self, key: tuple[str, str], quantity: int, damaged: bool) -> None:
        if damaged:
            self.damaged[key] += quantity
        else:
            self.sellable[key] = self.sellable.get(key, 0) + quantity
        self.returned += quantity

    def receive(self, key: tuple[str, str], quantity: int) -> None:
        self.sellable[key] = self.sellable.get(key, 0) + quantity
        self.received += quantity

    def lose(self, key: tuple[str, str]) -> bool:
        if self.sellable.get(key, 0) <= 0:
            return False
        self.sellable[key] -= 1
        self.written_off += 1
        return True

    def ship(self, key: tuple[str, str], to: tuple[str, str], quantity: int) -> int:
        got = min(quantity, self.sellable.get(key, 0))
        self.sellable[key] = self.sellable.get(key, 0) - got
        self.in_transit[to] += got
        return got

    def arrive(self, to: tuple[str, str], quantity: int) -> None:
        self.in_transit[to] -= quantity
        self.sellable[to] = self.sellable.get(to, 0) + quantity

    def units(self) -> int:
        return (
            sum(self.sellable.values()) + sum(self.damaged.values()) + sum(self.in_transit.values())
        )

    def balance(self) -> int:
        """Units the movements account for: must always equal `units()`."""
        return self.opening + self.received + self.returned - self.sold - self.written_off
