"""The estate simulator: conservation of units, the same demand in both modes, determinism,
and the properties Stockbridge must show on a seeded day (no duplicate posting, no event
lost) while the status quo shows the faults the seeds describe."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stockbridge.simulate.estate import plan_day
from stockbridge.simulate.run import simulate
from stockbridge.simulate.scenarios import SCENARIOS, Window, scenario
from stockbridge.simulate.status_quo import StatusQuo
from stockbridge.simulate.world import World

SMALL = scenario("weekend-promo").with_overrides(stores=8, skus=10, hours=1.5)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 10_000),
    name=st.sampled_from(sorted(SCENARIOS)),
    stores=st.integers(2, 12),
)
def test_ground_truth_conserves_units(seed: int, name: str, stores: int) -> None:
    """No unit is made or lost but by receipts, sales, returns and write-offs, whatever
    the day brings (transfers only move units, through the road in between)."""
    sc = scenario(name).with_overrides(stores=stores, skus=6, hours=2.0)
    day = plan_day(sc, seed)
    world = World(day, StatusQuo(day), [])
    world.run()
    truth = world.truth
    assert truth.units() == truth.balance()
    assert all(units >= 0 for units in truth.sellable.values())
    assert truth.sold > 0


def test_same_seed_same_day_and_different_seed_different_day() -> None:
    first, again = plan_day(SMALL, 5), plan_day(SMALL, 5)
    assert first.intents == again.intents
    assert first.outages == again.outages
    assert first.estate.opening == again.estate.opening
    assert plan_day(SMALL, 6).intents != first.intents


@pytest.fixture(scope="module")
def rough_day(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A small day with every fault turned up: duplicated uploads, ERP timeouts after
    applying, an ERP outage, store outages."""
    sc = SMALL.with_overrides(
        duplicate_upload_rate=0.15,
        erp_timeout_rate=0.05,
        erp_outages=(Window(0.5, 0.8),),
        store_outage_share=0.5,
        store_outage_minutes=(10, 30),
    )
    return simulate(sc, 3, workdir=tmp_path_factory.mktemp("sim"))


def test_both_modes_meet_the_same_demand(rough_day: dict) -> None:
    quo, hub = rough_day["modes"]["status-quo"], rough_day["modes"]["stockbridge"]
    assert quo["demand"] == hub["demand"]
    assert sum(quo["demand"].values()) > 0


def test_stockbridge_posts_once_and_loses_nothing(rough_day: dict) -> None:
    quo, hub = rough_day["modes"]["status-quo"], rough_day["modes"]["stockbridge"]
    # The faults were there: the status quo posted some movements twice.
    assert quo["duplicate_postings"] > 0
    assert hub["duplicate_postings"] == 0
    assert hub["events_lost"] == 0
    assert hub["events_emitted"] > 0
    # Every movement reached the ERP through the outage, retries and timeouts.
    assert hub["erp_posting_delay_seconds"]["postings"] >= hub["events_emitted"]


def test_the_platform_simulators_end_with_the_ledgers_availability(rough_day: dict) -> None:
    # The storefront (Shopify simulator) and the marketplace (Amazon simulator) were fed
    # through the hub's Shopify and Amazon targets: once the day's pushes drained, every
    # SKU each platform holds is what the hub computed for its channel
    hub = rough_day["modes"]["stockbridge"]
    assert hub["platforms_off_ledger"] == 0
    assert hub["api_calls"]["web"] > 0 and hub["api_calls"]["mkt-a"] > 0
    assert rough_day["modes"]["status-quo"]["platforms_off_ledger"] is None


def test_channels_hear_in_seconds_not_batches(rough_day: dict) -> None:
    quo, hub = rough_day["modes"]["status-quo"], rough_day["modes"]["stockbridge"]
    web_quo, web_hub = quo["propagation_seconds"]["web"], hub["propagation_seconds"]["web"]
    assert web_hub["samples"] > 0 and web_quo["samples"] > 0
    assert web_hub["p50"] < 60 < web_quo["p50"]


def test_the_same_seed_gives_the_same_figures(rough_day: dict, tmp_path: Path) -> None:
    sc = SMALL.with_overrides(
        duplicate_upload_rate=0.15,
        erp_timeout_rate=0.05,
        erp_outages=(Window(0.5, 0.8),),
        store_outage_share=0.5,
        store_outage_minutes=(10, 30),
    )
    again = simulate(sc, 3, workdir=tmp_path)
    assert again["modes"] == rough_day["modes"]
    assert again["series"] == rough_day["series"]


def test_last_unit_story(tmp_path: Path) -> None:
    """14:03 the last unit sells in the store; 14:04 a pickup order for it. The status quo
    takes the order and cancels it at the pick; Stockbridge refuses it at checkout."""
    sc = scenario("last-unit").with_overrides(stores=6, skus=5, hours=6.0)
    figures = simulate(sc, 1, workdir=tmp_path)
    assert figures["modes"]["status-quo"]["story_order"] == "oversold"
    assert figures["modes"]["stockbridge"]["story_order"] == "declined"


def test_simulate_command_writes_the_report(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from stockbridge.cli import app

    result = CliRunner().invoke(
        app,
        [
            "simulate",
            "--scenario",
            "bopis-dc",
            "--stores",
            "4",
            "--skus",
            "5",
            "--hours",
            "1",
            "--seed",
            "2",
            "--output",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "Oversells" in result.output or "oversells" in result.output
    figures = json.loads((tmp_path / "bopis-dc-seed2.json").read_text())
    assert set(figures["modes"]) == {"status-quo", "stockbridge"}
    html = (tmp_path / "bopis-dc-seed2.html").read_text()
    assert "bopis-dc" in html and "<svg" in html


def test_simulate_command_names_the_known_scenarios() -> None:
    from typer.testing import CliRunner

    from stockbridge.cli import app

    result = CliRunner().invoke(app, ["simulate", "--scenario", "black-monday"])
    assert result.exit_code == 2
    assert "weekend-promo" in result.output


def test_bench_simulate_rewrites_its_section(tmp_path: Path) -> None:
    from rich.console import Console

    from stockbridge.bench_simulate import run_simulate_bench

    doc = tmp_path / "benchmarks.md"
    doc.write_text("# Benchmarks\n\n<!-- bench:simulate -->\nold\n<!-- /bench:simulate -->\n")
    rates = run_simulate_bench(
        name="weekend-promo",
        seed=1,
        stores=3,
        hours=0.5,
        output=doc,
        console=Console(file=None, quiet=True),
    )
    assert set(rates) == {"status-quo", "stockbridge"} and all(r > 0 for r in rates.values())
    text = doc.read_text()
    assert "old" not in text
    assert "## Simulated day" in text and "stockbridge bench simulate" in text


def test_the_simulated_hub_sends_correlation_headers_to_the_platforms(tmp_path: Path) -> None:
    import re

    from stockbridge.domain.correlation import traceparent_for
    from stockbridge.simulate.hub import HubIntegration
    from stockbridge.simulate.world import SourceEvent, World, day_start

    # Given the estate's hub on a small day, and a sale at a store's till
    day = plan_day(SMALL, 3)
    sim = HubIntegration(day, tmp_path, day_start(day))
    sim.start(World(day, sim, []))  # where propagation is measured
    # (the second store: the first one's till is Square)
    store, sku = day.estate.stores[1], day.estate.skus[0]
    sale = SourceEvent("till-1", "pos", "sale", sku, store, 1, 5.0)
    document = "pos:till-1"
    try:
        sim.emit(sale, 5.0)
        # When the simulated day runs until the ERP has the sale's posting
        second = 5.0
        while document not in sim.erp.references and second < 600:
            second += 1
            sim.tick(second)
    finally:
        sim.close()
    # Then the ERP got it with the event's correlation id and a W3C traceparent of its trace
    correlation, traceparent = sim.erp.references[document]
    assert correlation == "event:pos:till-1"
    assert traceparent is not None and re.fullmatch(r"00-[0-9a-f]{32}-[0-9a-f]{16}-01", traceparent)
    assert traceparent.split("-")[1] == traceparent_for(correlation, "any").split("-")[1]


def test_a_square_stores_sale_reaches_the_ledger_through_squares_webhooks(
    tmp_path: Path,
) -> None:
    from stockbridge.simulate.hub import HubIntegration
    from stockbridge.simulate.pos import CONNECTOR
    from stockbridge.simulate.world import SourceEvent, World, day_start

    # Given the estate's hub on a small day, whose first store's till is Square
    day = plan_day(SMALL, 3)
    sim = HubIntegration(day, tmp_path, day_start(day))
    sim.start(World(day, sim, []))
    store = day.estate.stores[0]
    assert store in sim.pos.stores
    stocked = [
        (p.on_hand, p.sku)
        for p in (sim.hub.positions.position(s, store) for s in day.estate.skus)
        if p is not None
    ]
    _, sku = max(stocked)  # a SKU the store has at least two of
    on_hand = sim.hub.positions.position(sku, store)
    assert on_hand is not None and on_hand.on_hand >= 2
    sale = SourceEvent("till-1", "pos", "sale", sku, store, 2, 5.0, duplicated=True)
    try:
        # When the shopper buys (the store's upload sent twice) and the day runs on
        sim.emit(sale, 5.0)
        second = 5.0
        while not sim.drained() and second < 600:
            second += 1
            sim.tick(second)
        # Then the register rang it once, Square notified the hub, and the ledger has
        # the order's line under the connector's source, not the store's upload
        assert len(sim.pos.state.orders) == 1
        (order,) = sim.pos.state.orders.values()
        key = f"sale:{order['id']}:{order['line_items'][0]['uid']}"
        assert sim.hub.store.event(CONNECTOR, key) is not None
        assert sim.hub.store.event("pos", "till-1") is None
        after = sim.hub.positions.position(sku, store)
        assert after is not None and after.on_hand == on_hand.on_hand - 2
        delivered = {e["type"] for e in sim.pos.sender.log if e["status"] == 200}
        assert {"order.created", "order.updated", "inventory.count.updated"} <= delivered
        # And the hub counted the store's stock back into Square
        assert sim.pos.units(store, sku) == int(
            sim.hub.channels.availability(f"pos-{store}", sku).available
        )
    finally:
        sim.close()
