"""The price in force: examples for each rule, then Hypothesis over random price books."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from stockbridge.domain.pricing import (
    Place,
    PriceEntry,
    Promotion,
    Scope,
    ScopeKind,
    base_price,
    money_text,
    price_in_force,
    round_money,
)

T0 = datetime(2026, 3, 1, tzinfo=UTC)
S1 = Place.location("S1")
WEB = Place.channel("web")
ALL = Scope()


def hours(n: float) -> datetime:
    return T0 + timedelta(hours=n)


def entry(
    amount: str,
    start: float = 0,
    end: float | None = None,
    scope: Scope = ALL,
    book: str = "base",
    sku: str = "TEE",
    currency: str = "EUR",
) -> PriceEntry:
    return PriceEntry(
        book,
        sku,
        Decimal(amount),
        currency,
        scope,
        hours(start),
        hours(end) if end is not None else None,
    )


def promo(
    pid: str,
    *,
    price: str | None = None,
    percent: str | None = None,
    start: float = 0,
    end: float | None = None,
    scope: Scope = ALL,
    skus: tuple[str, ...] = ("TEE",),
    currency: str = "EUR",
) -> Promotion:
    return Promotion(
        id=pid,
        skus=frozenset(skus),
        scope=scope,
        start=hours(start),
        end=hours(end) if end is not None else None,
        price=Decimal(price) if price is not None else None,
        currency=currency if price is not None else None,
        percent_off=Decimal(percent) if percent is not None else None,
    )


# --- money -----------------------------------------------------------------------------------
def test_money_rounds_half_to_even_at_the_currency_minor_unit() -> None:
    assert round_money(Decimal("1.005"), "EUR") == Decimal("1.00")
    assert round_money(Decimal("1.015"), "EUR") == Decimal("1.02")
    assert round_money(Decimal("1250.5"), "JPY") == Decimal("1250")
    assert money_text(Decimal("9.9"), "EUR") == "9.90"


# --- the base price --------------------------------------------------------------------------
def test_a_store_price_beats_the_estate_price_even_when_older() -> None:
    # Given an estate price that started after the store's own price
    store = entry("17.00", start=0, scope=Scope.of(ScopeKind.LOCATION, ["S1"]))
    estate = entry("19.99", start=5)
    # When the price is checked at that store and at another one
    at_s1 = price_in_force("TEE", S1, hours(6), [store, estate])
    at_s2 = price_in_force("TEE", Place.location("S2"), hours(6), [store, estate])
    # Then the store has its own price, the other store the estate's
    assert at_s1 is not None and at_s1.final == Decimal("17.00")
    assert at_s2 is not None and at_s2.final == Decimal("19.99")


def test_among_equals_the_latest_start_wins_and_an_ended_entry_falls_away() -> None:
    entries = [entry("20.00", start=0), entry("18.00", start=2, end=4)]
    assert base_price("TEE", S1, hours(1), entries) == entries[0]
    assert base_price("TEE", S1, hours(3), entries) == entries[1]
    assert base_price("TEE", S1, hours(4), entries) == entries[0]  # end is exclusive


def test_a_channel_price_does_not_apply_at_a_store() -> None:
    entries = [entry("15.00", scope=Scope.of(ScopeKind.CHANNEL, ["web"])), entry("20.00")]
    found_store = price_in_force("TEE", S1, hours(1), entries)
    found_web = price_in_force("TEE", WEB, hours(1), entries)
    assert found_store is not None and found_store.final == Decimal("20.00")
    assert found_web is not None and found_web.final == Decimal("15.00")


def test_no_entry_no_price() -> None:
    assert price_in_force("TEE", S1, hours(1), [entry("20.00", start=2)]) is None
    assert price_in_force("MUG", S1, hours(3), [entry("20.00")]) is None


# --- promotions ------------------------------------------------------------------------------
def test_the_lowest_promotional_price_wins_ties_by_id() -> None:
    entries = [entry("20.00")]
    promotions = [promo("B", percent="25"), promo("A", price="15.00"), promo("C", percent="10")]
    found = price_in_force("TEE", S1, hours(1), entries, promotions)
    assert found is not None
    assert found.final == Decimal("15.00")
    assert found.promotion is not None and found.promotion.id == "A"  # A and B tie at 15.00
    assert found.base.amount == Decimal("20.00")


def test_percent_off_is_rounded_half_even() -> None:
    found = price_in_force("TEE", S1, hours(1), [entry("9.99")], [promo("P", percent="15")])
    # 9.99 * 0.85 = 8.4915 -> 8.49
    assert found is not None and found.final == Decimal("8.49")


def test_a_promotion_never_raises_a_price_nor_crosses_currencies() -> None:
    entries = [entry("10.00")]
    promotions = [promo("UP", price="12.00"), promo("USD", price="5.00", currency="USD")]
    found = price_in_force("TEE", S1, hours(1), entries, promotions)
    assert found is not None and found.promotion is None and found.final == Decimal("10.00")


def test_the_window_is_when_this_exact_price_holds() -> None:
    # Given a base price from 0, a promotion from 10 to 20, and a new base price from 30
    entries = [entry("20.00", start=0), entry("22.00", start=30)]
    promotions = [promo("SPRING", percent="50", start=10, end=20)]
    # When checked during the promotion, and after it
    during = price_in_force("TEE", S1, hours(12), entries, promotions)
    after = price_in_force("TEE", S1, hours(25), entries, promotions)
    # Then each answer says since when and until when it holds
    assert during is not None and (during.effective_from, during.effective_until) == (
        hours(10),
        hours(20),
    )
    assert after is not None and (after.effective_from, after.effective_until) == (
        hours(20),
        hours(30),
    )


# --- Hypothesis ------------------------------------------------------------------------------
CODES = ["S1", "S2", "web"]


@st.composite
def scopes(draw: st.DrawFn) -> Scope:
    kind = draw(st.sampled_from(list(ScopeKind)))
    if kind is ScopeKind.ALL:
        return Scope()
    pool = ["S1", "S2"] if kind is ScopeKind.LOCATION else ["web", "app"]
    return Scope.of(kind, draw(st.sets(st.sampled_from(pool), min_size=1)))


def windows(draw: st.DrawFn) -> tuple[datetime, datetime | None]:
    start = draw(st.integers(0, 40))
    length = draw(st.none() | st.integers(1, 20))
    return hours(start), hours(start + length) if length is not None else None


amounts = st.decimals(min_value=0, max_value=500, places=2, allow_nan=False)


@st.composite
def price_entries(draw: st.DrawFn) -> PriceEntry:
    start, end = windows(draw)
    return PriceEntry(
        draw(st.sampled_from(["base", "clearance"])),
        draw(st.sampled_from(["TEE", "MUG"])),
        draw(amounts),
        "EUR",
        draw(scopes()),
        start,
        end,
    )


@st.composite
def promotions(draw: st.DrawFn) -> Promotion:
    start, end = windows(draw)
    fixed = draw(st.booleans())
    return Promotion(
        id=draw(st.sampled_from(["P1", "P2", "P3", "P4"])),
        skus=frozenset(draw(st.sets(st.sampled_from(["TEE", "MUG"]), min_size=1))),
        scope=draw(scopes()),
        start=start,
        end=end,
        price=draw(amounts) if fixed else None,
        currency="EUR" if fixed else None,
        percent_off=None
        if fixed
        else draw(st.decimals(min_value="0.5", max_value=100, places=1, allow_nan=False)),
    )


places = st.sampled_from(
    [Place(), Place.location("S1"), Place.location("S2"), Place.channel("web")]
)
instants = st.integers(0, 70 * 60).map(lambda m: T0 + timedelta(minutes=m))


# 300 examples in every profile: the suite's time budget goes to the ledger laws (1,000).
@settings(max_examples=300)
@given(
    entries=st.lists(price_entries(), max_size=8),
    promos=st.lists(promotions(), max_size=5, unique_by=lambda p: p.id),
    place=places,
    at=instants,
)
def test_the_price_in_force_obeys_the_rules(
    entries: list[PriceEntry], promos: list[Promotion], place: Place, at: datetime
) -> None:
    found = price_in_force("TEE", place, at, entries, promos)
    candidates = [e for e in entries if e.sku == "TEE" and e.scope.covers(place) and e.active(at)]
    if not candidates:
        assert found is None
        return
    assert found is not None
    # The base is one of the candidates: active, covering the place, for this SKU.
    assert found.base in candidates
    # Scope specificity: a location's or channel's own entry beats an estate-wide one ...
    if any(c.scope.specificity for c in candidates):
        assert found.base.scope.specificity == 1
    # ... and among equals the latest start wins.
    same_level = [c for c in candidates if c.scope.specificity == found.base.scope.specificity]
    assert found.base.start == max(c.start for c in same_level)
    if found.promotion is None:
        assert found.final == found.base.amount
    else:
        # A promotion applies only inside its window, to its SKUs and places, and lowers.
        p = found.promotion
        assert p.active(at) and "TEE" in p.skus and p.scope.covers(place)
        assert found.final == p.applied_to(found.base.amount, found.base.currency)
    assert found.final <= found.base.amount
    # No applicable promotion would have given a lower price.
    for p in promos:
        if p.active(at) and "TEE" in p.skus and p.scope.covers(place):
            other = p.applied_to(found.base.amount, "EUR")
            assert other is None or other >= found.final
    # The window holds `at`, and the answer is the same at both of its ends.
    assert found.effective_from <= at
    assert found.effective_until is None or at < found.effective_until
    again = price_in_force("TEE", place, found.effective_from, entries, promos)
    assert again is not None and again.final == found.final
    if found.effective_until is not None:
        last = found.effective_until - timedelta(microseconds=1)
        before_end = price_in_force("TEE", place, last, entries, promos)
        assert before_end is not None and before_end.final == found.final


# 300 examples in every profile: the suite's time budget goes to the ledger laws (1,000).
@settings(max_examples=300)
@given(
    entries=st.lists(price_entries(), max_size=8),
    promos=st.lists(promotions(), max_size=5, unique_by=lambda p: p.id),
    place=places,
)
def test_a_promotion_outside_its_window_never_applies(
    entries: list[PriceEntry], promos: list[Promotion], place: Place
) -> None:
    for p in promos:
        just_before = p.start - timedelta(microseconds=1)
        for at in (just_before, p.end) if p.end is not None else (just_before,):
            found = price_in_force("TEE", place, at, entries, promos)
            assert found is None or found.promotion != p


@example(
    entries=[
        PriceEntry("base", "TEE", Decimal("0.00"), "EUR", Scope.of(ScopeKind.ALL, []), T0),
        PriceEntry(
            "base",
            "TEE",
            Decimal("0.00"),
            "EUR",
            Scope.of(ScopeKind.ALL, []),
            T0,
            T0 + timedelta(hours=1),
        ),
    ],
    at=T0,
    place=Place(ScopeKind.ALL, None),
)  # equal on every ranked field but the end: the order must still be total
# 300 examples in every profile: the suite's time budget goes to the ledger laws (1,000).
@settings(max_examples=300)
@given(entries=st.lists(price_entries(), min_size=1, max_size=8), at=instants, place=places)
def test_the_answer_does_not_depend_on_storage_order(
    entries: list[PriceEntry], at: datetime, place: Place
) -> None:
    forward = price_in_force("TEE", place, at, entries)
    backward = price_in_force("TEE", place, at, list(reversed(entries)))
    assert forward == backward


def test_scope_keys_round_trip_and_reject_commas() -> None:
    scope = Scope.of(ScopeKind.LOCATION, ["S2", "S1"])
    assert scope.key == "location:S1,S2"
    assert Scope.parse(scope.key) == scope
    assert Scope.parse("all") == Scope()
    with pytest.raises(ValueError):
        Scope.of(ScopeKind.CHANNEL, ["a,b"])
