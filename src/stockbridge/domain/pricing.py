"""Prices and promotions: which price is in force for a SKU, where, and when.

The ERP owns price books and promotions (DESIGN §2); the hub mirrors them, publishes them
to POS and channels, and answers price checks. This module is the rule, and nothing else:

- a **price entry** puts an amount on a SKU in a price book, for a scope (the whole
  estate, some locations, or some channels), from `start` until `end` (exclusive, open
  when absent);
- the **base price** at a place and instant is the active entry whose scope covers the
  place, the most specific scope first (a location's or channel's own entry over an
  estate-wide one), then the latest start; exact ties go to the lower amount, then to the
  price book and scope by name, so the answer never depends on storage order;
- an active **promotion** covering the SKU and place applies over the base price: a fixed
  promotional price (same currency) or a percentage off. With several, the lowest
  resulting price wins, ties by promotion id. A promotion never raises a price;
- money is rounded to the currency's minor unit, half to even.

Pure: no I/O, no clock. Instants are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal
from enum import StrEnum

from .model import to_micros

HUNDRED = Decimal(100)
#: ISO 4217 currencies whose minor unit is not the cent; every other has two places.
_MINOR_UNITS = {
    "BHD": 3,
    "CLP": 0,
    "ISK": 0,
    "JOD": 3,
    "JPY": 0,
    "KRW": 0,
    "KWD": 3,
    "OMR": 3,
    "TND": 3,
    "VND": 0,
}


def minor_units(currency: str) -> int:
    """Decimal places of a currency's minor unit (2 for EUR and USD, 0 for JPY)."""
    return _MINOR_UNITS.get(currency, 2)


def round_money(amount: Decimal, currency: str) -> Decimal:
    """An amount rounded to the currency's minor unit, half to even: 1.005 -> 1.00."""
    return amount.quantize(Decimal(1).scaleb(-minor_units(currency)), ROUND_HALF_EVEN)


def money_text(amount: Decimal, currency: str) -> str:
    """An amount as the plain string a POS or a storefront expects: "9.90", never "9.9"."""
    return format(round_money(amount, currency), "f")


class ScopeKind(StrEnum):
    ALL = "all"
    LOCATION = "location"
    CHANNEL = "channel"


@dataclass(frozen=True, slots=True)
class Place:
    """Where a price is asked for: a location (a store's POS), a channel, or the estate."""

    kind: ScopeKind = ScopeKind.ALL
    code: str | None = None

    @classmethod
    def location(cls, code: str) -> Place:
        return cls(ScopeKind.LOCATION, code)

    @classmethod
    def channel(cls, code: str) -> Place:
        return cls(ScopeKind.CHANNEL, code)

    @property
    def label(self) -> str:
        return "the estate" if self.code is None else f"{self.kind.value} {self.code}"


@dataclass(frozen=True, slots=True)
class Scope:
    """What a price or promotion applies to: every location and channel, or a list of one."""

    kind: ScopeKind = ScopeKind.ALL
    codes: frozenset[str] = frozenset()

    @classmethod
    def of(cls, kind: ScopeKind, codes: Iterable[str] = ()) -> Scope:
        codes = frozenset(codes)
        if kind is ScopeKind.ALL and codes:
            raise ValueError("an estate-wide scope lists no codes")
        if kind is not ScopeKind.ALL and not codes:
            raise ValueError(f"a {kind.value} scope needs at least one code")
        for code in codes:
            if not code or "," in code:
                raise ValueError(f"{code!r} is not a usable {kind.value} code")
        return cls(kind, codes)

    @classmethod
    def parse(cls, key: str) -> Scope:
        """The inverse of `key`: "all", "location:S1,S2" or "channel:web"."""
        kind, _, codes = key.partition(":")
        return cls.of(ScopeKind(kind), codes.split(",") if codes else ())

    @property
    def key(self) -> str:
        """A canonical text form, part of a price's natural key and idempotency key."""
        if self.kind is ScopeKind.ALL:
            return "all"
        return f"{self.kind.value}:{','.join(sorted(self.codes))}"

    @property
    def specificity(self) -> int:
        return 0 if self.kind is ScopeKind.ALL else 1

    def covers(self, place: Place) -> bool:
        if self.kind is ScopeKind.ALL:
            return True
        return place.kind is self.kind and place.code in self.codes


def _active(start: datetime, end: datetime | None, at: datetime) -> bool:
    return start <= at and (end is None or at < end)


@dataclass(frozen=True, slots=True)
class PriceEntry:
    """One line of a price book: the SKU's price in a scope over a time window."""

    book: str
    sku: str
    amount: Decimal
    currency: str
    scope: Scope
    start: datetime
    end: datetime | None = None

    @property
    def key(self) -> tuple[str, str, str, int]:
        """The natural key: price book, SKU, scope and start. Imports upsert by it."""
        return (self.book, self.sku, self.scope.key, to_micros(self.start))

    def active(self, at: datetime) -> bool:
        return _active(self.start, self.end, at)


@dataclass(frozen=True, slots=True)
class Promotion:
    """A promotion on some SKUs: a fixed promotional price or a percentage off."""

    id: str
    skus: frozenset[str]
    scope: Scope
    start: datetime
    end: datetime | None = None
    price: Decimal | None = None
    currency: str | None = None
    percent_off: Decimal | None = None
    description: str | None = None

    def __post_init__(self) -> None:
        if (self.price is None) == (self.percent_off is None):
            raise ValueError("a promotion has either a price or a percent_off")
        if self.price is not None and self.currency is None:
            raise ValueError("a promotional price needs a currency")

    def active(self, at: datetime) -> bool:
        return _active(self.start, self.end, at)

    def applied_to(self, amount: Decimal, currency: str) -> Decimal | None:
        """The promotional price over a base price; None if it cannot apply to it
        (another currency) or would not lower it."""
        if self.percent_off is not None:
            result = round_money(amount * (HUNDRED - self.percent_off) / HUNDRED, currency)
        elif self.currency == currency and self.price is not None:
            result = round_money(self.price, currency)
        else:
            return None
        return result if result <= amount else None


@dataclass(frozen=True, slots=True)
class PriceInForce:
    """The answer to a price check, and what a POS or channel should be showing."""

    sku: str
    place: Place
    at: datetime
    base: PriceEntry
    promotion: Promotion | None
    final: Decimal
    currency: str
    #: Since when, and until when (None: no known end), this very price holds.
    effective_from: datetime
    effective_until: datetime | None


def _base_rank(e: PriceEntry) -> tuple[int, int, Decimal, str, str, str, int]:
    # The last keys only make the order total: storage never holds two entries with the
    # same book, SKU, scope and start, but a caller's list may.
    end = to_micros(e.end) if e.end is not None else -1
    return (
        -e.scope.specificity,
        -to_micros(e.start),
        e.amount,
        e.book,
        e.scope.key,
        e.currency,
        end,
    )


def base_price(
    sku: str, place: Place, at: datetime, entries: Iterable[PriceEntry]
) -> PriceEntry | None:
    """The base price entry in force (see the module docstring for the order)."""
    candidates = [e for e in entries if e.sku == sku and e.scope.covers(place) and e.active(at)]
    return min(candidates, key=_base_rank) if candidates else None


def best_promotion(
    base: PriceEntry, place: Place, at: datetime, promotions: Iterable[Promotion]
) -> tuple[Promotion, Decimal] | None:
    """The promotion giving the lowest price over `base` (ties by id), with that price."""
    options: list[tuple[Decimal, str, Promotion]] = []
    for p in promotions:
        if base.sku in p.skus and p.scope.covers(place) and p.active(at):
            price = p.applied_to(base.amount, base.currency)
            if price is not None:
                options.append((price, p.id, p))
    if not options:
        return None
    price, _, promotion = min(options, key=lambda o: (o[0], o[1]))
    return promotion, price


def _resolve(
    sku: str,
    place: Place,
    at: datetime,
    entries: Sequence[PriceEntry],
    promotions: Sequence[Promotion],
) -> tuple[PriceEntry, Promotion | None, Decimal] | None:
    base = base_price(sku, place, at, entries)
    if base is None:
        return None
    best = best_promotion(base, place, at, promotions)
    if best is None:
        return base, None, round_money(base.amount, base.currency)
    return base, best[0], best[1]


def _signature(
    found: tuple[PriceEntry, Promotion | None, Decimal] | None,
) -> tuple[Decimal, str, Decimal, str | None] | None:
    """What must stay the same for the price in force to be "the same price"."""
    if found is None:
        return None
    base, promotion, final = found
    return (final, base.currency, base.amount, promotion.id if promotion else None)


def price_in_force(
    sku: str,
    place: Place,
    at: datetime,
    entries: Iterable[PriceEntry],
    promotions: Iterable[Promotion] = (),
) -> PriceInForce | None:
    """The price of `sku` at `place` at instant `at`, or None when no entry covers it.

    The window is exact: the resolution only changes where an entry or promotion for this
    SKU and place starts or ends, so those instants are walked back from `at` to find
    since when this price (same base, same promotion, same final amount) holds, and
    forward to find when it first changes.
    """
    mine = [e for e in entries if e.sku == sku and e.scope.covers(place)]
    promos = [p for p in promotions if sku in p.skus and p.scope.covers(place)]
    found = _resolve(sku, place, at, mine, promos)
    if found is None:
        return None
    base, promotion, final = found
    current = _signature(found)
    windows = [(x.start, x.end) for x in mine] + [(x.start, x.end) for x in promos]
    bounds = sorted({b for window in windows for b in window if b is not None})
    earlier = [b for b in bounds if b <= at]
    since = earlier[-1]
    for b in reversed(earlier[:-1]):
        # The resolution is constant on [b, since): checking at b checks all of it.
        if _signature(_resolve(sku, place, b, mine, promos)) != current:
            break
        since = b
    until = None
    for b in (b for b in bounds if b > at):
        if _signature(_resolve(sku, place, b, mine, promos)) != current:
            until = b
            break
    return PriceInForce(sku, place, at, base, promotion, final, base.currency, since, until)
