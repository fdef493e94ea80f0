"""The live demo's estate against a real hub over HTTP: events, reservations and
heartbeats reach the hub, and the hub's dispatcher reaches the simulated platforms: the
storefront is the Shopify simulator, the marketplace the Amazon one, both served on the
platforms port and fed through the hub's Shopify and Amazon targets."""

from __future__ import annotations

from pathlib import Path

import httpx

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
    platforms = LiveServer(platforms_app(estate.platforms, estate.commerce)).start()
    estate.declare(platforms.url)
    estate.start()
    try:
        assert hub.dispatcher is not None
        web = estate.platforms.channels["web"]

        def traded() -> bool:
            return (
                len(estate.platforms.erp.posted) >= 20
                and web.calls > 0
                and estate.platforms.channels["mkt-a"].calls > 0
            )

        assert hub.dispatcher.wait_until(traded, timeout=120), (
            f"postings {len(estate.platforms.erp.posted)}, Shopify calls {web.calls}"
        )
        # The marketplace's pushes went through the Amazon SP-API (patches or a feed)
        assert (
            estate.commerce.markets["mkt-a"].calls.get("patchListingsItem", 0)
            + (estate.commerce.markets["mkt-a"].calls.get("createFeed", 0))
            > 0
        )
        # And when the estate pauses, each platform ends with what the hub computed for
        # its channel, SKU by SKU, read from the simulator's own inventory over HTTP
        estate.stop()
        skus = estate.day.estate.skus

        def converged() -> bool:
            return all(
                estate.commerce.shown(ch).get(sku, 0)
                == int(hub.channels.availability(ch, sku).available)
                for ch in ("web", "mkt-a")
                for sku in skus
            )

        assert hub.dispatcher.wait_until(converged, timeout=60), {
            ch: {
                sku: (
                    estate.commerce.shown(ch).get(sku),
                    hub.channels.availability(ch, sku).available,
                )
                for sku in skus
            }
            for ch in ("web", "mkt-a")
        }
        shown = httpx.get(f"{platforms.url}/web").json()["shown"]
        assert shown == {sku: int(hub.channels.availability("web", sku).available) for sku in skus}
        # Stores reported in: the hub has heard from every location at least once.
        assert set(hub.store.liveness()) >= set(estate.day.estate.locations)
    finally:
        estate.stop()
        api.stop()
        platforms.stop()
        hub.close()
