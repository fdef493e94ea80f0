"""The live demo's estate against a real hub over HTTP: events, reservations and
heartbeats reach the hub, and the hub's dispatcher reaches the simulated platforms."""

from __future__ import annotations

from pathlib import Path

from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap
from stockbridge.simulate.live import LiveEstate, platforms_app

from ..conftest import ADMIN_KEY, LiveServer, hub_settings


def test_estate_trades_live_against_the_hub(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "demo.db")
    store.migrate()
    hub = bootstrap(hub_settings(**{"delivery.poll_interval_seconds": 0.01}), store=store)
    api = LiveServer(create_app(hub)).start()
    estate = LiveEstate(hub, api.url, ADMIN_KEY, acceleration=600.0, seed=3)
    platforms = LiveServer(platforms_app(estate.platforms)).start()
    estate.declare(platforms.url)
    estate.start()
    try:
        assert hub.dispatcher is not None
        web = estate.platforms.channels["web"]

        def traded() -> bool:
            return (
                len(estate.platforms.erp.posted) >= 20
                and len(web.shown) == len(estate.day.estate.skus)
                and estate.platforms.channels["mkt-a"].calls > 0
            )

        assert hub.dispatcher.wait_until(traded, timeout=120), (
            f"postings {len(estate.platforms.erp.posted)}, web shows {len(web.shown)} SKUs"
        )
        # What the storefront shows is what the hub computed (once pushes have settled,
        # at most the values still in flight differ).
        sku = estate.day.estate.skus[0]
        computed = hub.channels.availability("web", sku).available
        assert abs(web.shown[sku] - int(computed)) <= 10
        # Stores reported in: the hub has heard from every location at least once.
        assert set(hub.store.liveness()) >= set(estate.day.estate.locations)
    finally:
        estate.stop()
        api.stop()
        platforms.stop()
        hub.close()
