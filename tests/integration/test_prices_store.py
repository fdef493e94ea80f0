"""Prices and promotions on SQLite and PostgreSQL: storage, idempotent upserts, and the
`price` deliveries queued in the import transaction."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.pricing import PricingKind
from stockbridge.domain.model import to_micros
from stockbridge.domain.pricing import Place, PriceEntry, Promotion, Scope, ScopeKind

from ..conftest import START, hub_settings, seed_master

LEAD = timedelta(hours=1)


@pytest.fixture
def estate(store: SqlStore, clock: ManualClock) -> Hub:
    """Master data, a web channel pushing to `shop`, and store S1's POS at `pos-s1`."""
    hub = bootstrap(
        hub_settings(**{"pricing": {"location_targets": {"S1": "pos-s1", "*": "pos-hub"}}}),
        store=store,
        clock=clock,
    )
    seed_master(hub)
    for name in ("shop", "pos-s1", "pos-hub"):
        hub.deliveries.put_target(name, {"url": f"http://127.0.0.1:9/{name}"})
    hub.channels.put("web", {"locations": {"S1": 0}, "target": "shop"})
    return hub


def iso(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


def price(sku: str = "TEE-M", amount: str = "19.99", start: float = 0, **extra: Any) -> Any:
    return {"sku": sku, "amount": amount, "currency": "EUR", "start": iso(start), **extra}


def test_entries_and_promotions_round_trip(store: SqlStore) -> None:
    # Given one entry and one promotion saved in a transaction
    entry = PriceEntry(
        "base",
        "TEE-M",
        Decimal("19.99"),
        "EUR",
        Scope.of(ScopeKind.LOCATION, ["S1", "S2"]),
        START,
        START + timedelta(days=7),
    )
    promotion = Promotion(
        id="SPRING",
        skus=frozenset({"TEE-M", "MUG"}),
        scope=Scope.of(ScopeKind.CHANNEL, ["web"]),
        start=START,
        percent_off=Decimal("12.5"),
        description="spring sale",
    )
    with store.transaction() as tx:
        tx.save_prices([entry], 1)
        tx.save_promotions([promotion], 1)
    # Then they read back equal, by SKU and by id
    assert store.prices_for_sku("TEE-M") == [entry]
    assert store.promotions_for_sku("MUG") == [promotion]
    assert store.promotions_for_sku("CHEESE") == []
    with store.transaction() as tx:
        assert tx.prices_for_skus(["TEE-M"]) == [entry]
        assert tx.promotions_by_id(["SPRING", "NOPE"]) == {"SPRING": promotion}


def test_a_promotion_upsert_replaces_its_skus(store: SqlStore) -> None:
    base = Promotion(
        id="P",
        skus=frozenset({"A", "B"}),
        scope=Scope(),
        start=START,
        price=Decimal(1),
        currency="EUR",
    )
    with store.transaction() as tx:
        tx.save_promotions([base], 1)
    smaller = Promotion(
        id="P", skus=frozenset({"B"}), scope=Scope(), start=START, price=Decimal(1), currency="EUR"
    )
    with store.transaction() as tx:
        tx.save_promotions([smaller], 2)
    assert store.promotions_for_sku("A") == []
    assert [p.skus for p in store.promotions_for_sku("B")] == [frozenset({"B"})]


def test_import_is_idempotent_by_natural_key(estate: Hub) -> None:
    # Given a price imported once
    first = estate.pricing.import_list(PricingKind.PRICES, [price()])
    assert first.as_dict()["upserted"] == 1 and first.published > 0
    queued = len(estate.store.deliveries(kind="price"))
    # When the same row comes again, then with a corrected amount
    again = estate.pricing.import_list(PricingKind.PRICES, [price()])
    corrected = estate.pricing.import_list(PricingKind.PRICES, [price(amount="18.99")])
    # Then the repeat changes and publishes nothing; the correction updates the same entry
    assert [r["status"] for r in again.imported] == ["unchanged"]
    assert again.published == 0
    assert len(estate.store.deliveries(kind="price")) == queued + corrected.published
    assert [r["status"] for r in corrected.imported] == ["updated"]
    assert [e.amount for e in estate.store.prices_for_sku("TEE-M")] == [Decimal("18.99")]


def test_targets_follow_the_scope(estate: Hub) -> None:
    # When an estate price, a store price, a price for an unmapped store and a channel
    # price are imported
    estate.pricing.import_list(
        PricingKind.PRICES,
        [
            price(book="estate"),
            price(book="s1", locations=["S1"]),
            price(book="s2", locations=["S2"]),
            price(book="web", channels=["web"]),
        ],
    )
    # Then each goes to the targets of the places it applies to, once per target
    sent: dict[str, set[str]] = {}
    for d in estate.store.deliveries(kind="price"):
        sent.setdefault(d.payload["book"], set()).add(d.target)
    assert sent == {
        "estate": {"shop", "pos-s1", "pos-hub"},
        "s1": {"pos-s1"},
        "s2": {"pos-hub"},  # S2 has no target of its own: the "*" one
        "web": {"shop"},
    }


def test_deliveries_are_due_a_lead_time_before_the_start(estate: Hub, clock: ManualClock) -> None:
    # Given a price starting in a day, and one that started an hour ago
    estate.pricing.import_list(
        PricingKind.PRICES,
        [
            price(book="later", start=24, channels=["web"]),
            price(book="now", start=-1, channels=["web"]),
        ],
    )
    due = {d.payload["book"]: d.next_attempt_us for d in estate.store.deliveries(kind="price")}
    # Then the first waits until an hour before its start, the second goes at once
    assert due["later"] == to_micros(START + timedelta(hours=24) - LEAD)
    assert due["now"] == to_micros(clock.now())
    # And the dispatcher's claim does not take the future one before its time
    now_us = to_micros(clock.now())
    lease_us = 48 * 3_600_000_000  # the first claim's lease outlives the second claim
    claimed = estate.store.claim_deliveries("shop", now_us, lease_us, 10)
    assert [d.payload["book"] for d in claimed] == ["now"]
    later_us = to_micros(START + timedelta(hours=23))
    assert [
        d.payload["book"] for d in estate.store.claim_deliveries("shop", later_us, lease_us, 10)
    ] == ["later"]


def test_a_correction_supersedes_the_pending_version(estate: Hub) -> None:
    estate.pricing.import_list(PricingKind.PRICES, [price(start=24, channels=["web"])])
    estate.pricing.import_list(
        PricingKind.PRICES, [price(start=24, channels=["web"], amount="17.50")]
    )
    rows = estate.store.deliveries(kind="price", target="shop")
    assert [(d.state, d.payload["price"]) for d in rows] == [
        ("superseded", "19.99"),
        ("pending", "17.50"),
    ]
    # Same entry, so the same key; another version, so another idempotency key
    assert rows[0].key == rows[1].key
    assert rows[0].idempotency_key != rows[1].idempotency_key
    assert rows[1].idempotency_key.startswith(f"price:base:TEE-M:channel:web:{iso(24)}:")


def test_a_promotion_is_published_per_sku_and_checked(estate: Hub, clock: ManualClock) -> None:
    estate.pricing.import_list(PricingKind.PRICES, [price(sku="MUG", amount="8.00")])
    report = estate.pricing.import_list(
        PricingKind.PROMOTIONS,
        [{"id": "MUGS", "skus": ["MUG"], "percent_off": "25", "start": iso(2), "end": iso(5)}],
    )
    assert report.as_dict()["upserted"] == 1
    lines = [d for d in estate.store.deliveries(kind="price") if d.payload["promotion"]]
    assert {d.target for d in lines} == {"shop", "pos-s1", "pos-hub"}
    assert all(d.key == "promotion:MUGS:MUG" for d in lines)
    found = estate.pricing.check("MUG", location="S1", at=START + timedelta(hours=3))
    assert (found.final, found.promotion and found.promotion.id) == (Decimal("6.00"), "MUGS")
    assert (
        estate.pricing.check("MUG", location="S1", at=START + timedelta(hours=5)).promotion is None
    )


def test_a_finished_price_is_stored_but_not_published(estate: Hub) -> None:
    report = estate.pricing.import_list(PricingKind.PRICES, [price(start=-48, end=iso(-24))])
    assert report.as_dict()["upserted"] == 1
    assert report.published == 0


def test_bad_rows_are_named_and_good_ones_kept(estate: Hub) -> None:
    report = estate.pricing.import_list(
        PricingKind.PRICES,
        [
            price(),
            price(sku="NOPE"),
            price(amount="1.999"),
            price(locations=["S1"], channels=["web"]),
            {"sku": "MUG", "amount": "2", "currency": "EUR", "start": "2026-03-02T09:00:00"},
            price(sku="MUG", locations=["S9"]),
        ],
    )
    errors = {(e.row, e.field) for e in report.errors}
    assert errors == {(1, "sku"), (2, "$"), (3, "$"), (4, "start"), (5, "locations")}
    assert [r["row"] for r in report.imported] == [0]
    assert report.as_dict()["rejected"] == 5


def test_a_csv_file_reports_lines(estate: Hub, tmp_path: Path) -> None:
    path = tmp_path / "prices.csv"
    path.write_text(
        "book,sku,amount,currency,locations,start,end\n"
        f"base,TEE-M,19.99,EUR,S1;S2,{iso(0)},\n"
        f"base,MUG,abc,EUR,,{iso(0)},\n"
    )
    (report,) = estate.pricing.import_file(path)
    assert [(e.row, e.field) for e in report.errors] == [(3, "amount")]
    assert [r["scope"] for r in report.imported] == ["location:S1,S2"]
    assert estate.pricing.check("TEE-M", location="S2", at=START).final == Decimal("19.99")


def test_a_mismatch_is_parked_once_and_counted(estate: Hub) -> None:
    estate.pricing.import_list(PricingKind.PRICES, [price(amount="10.00")])
    seen = {
        "source": "pos",
        "sku": "4711",
        "location": "0001",
        "price": "12.00",
        "currency": "EUR",
        "observed_at": iso(1),
    }
    first = estate.pricing.observe([seen, {**seen, "price": "10.0"}])
    again = estate.pricing.observe([seen])
    assert [r["status"] for r in first] == ["mismatch", "match"]
    assert first[0]["sku"] == "TEE-M" and first[0]["location"] == "S1"  # cross references
    (record,) = estate.store.exceptions(reason="price_mismatch")
    assert record.occurrences == 2 and again[0]["exception_id"] == record.id
    assert "12.00 EUR" in record.detail and "10.00 EUR" in record.detail
    assert record.payload["expected"]["price"] == "10.00"


def test_price_check_place(estate: Hub) -> None:
    estate.pricing.import_list(PricingKind.PRICES, [price(amount="10.00")])
    assert estate.pricing.check("00012345678905", channel="web", at=START).sku == "TEE-M"
    assert estate.pricing.check("TEE-M", at=START).place == Place()
