"""The live demo's estate against a real hub over HTTP: events, reservations and
heartbeats reach the hub, and the hub's dispatcher reaches the simulated platforms: the
storefront is the Shopify simulator, the marketplace the Amazon one, both served on the
platforms port and fed through the hub's Shopify and Amazon targets. Store S001's till is
the Square simulator: its sales reach the ledger only through Square's signed webhooks."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx
import orjson

from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.connectors.square.protocol import SIGNATURE_HEADER, sign
from stockbridge.simulate.live import SQUARE_STORES, LiveEstate, platforms_app
from stockbridge.simulate.pos import CONNECTOR

from ..conftest import ADMIN_KEY, LiveServer, hub_settings
from .conftest import wait_for


def square_sales(hub: Hub, store: str, skus: tuple[str, ...]) -> dict[str, int]:
    """Sale events in the ledger at `store`, by source."""
    by_source: dict[str, int] = {}
    for sku in skus:
        for e in hub.store.history(sku, store, 100_000):
            if e.type == "sale" and e.location == store:
                by_source[e.source] = by_source.get(e.source, 0) + 1
    return by_source


def test_estate_trades_live_against_the_hub(tmp_path: Path) -> None:
    store = SqliteStore(tmp_path / "demo.db")
    store.migrate()
    hub = bootstrap(hub_settings(**{"delivery.poll_interval_seconds": 0.01}), store=store)
    api = LiveServer(create_app(hub))  # bound now, started once the estate is declared
    estate = LiveEstate(hub, api.url, ADMIN_KEY, acceleration=600.0, seed=3)
    platforms = LiveServer(platforms_app(estate.platforms, estate.commerce, estate.pos)).start()
    estate.declare(platforms.url)
    api.start()
    estate.start()
    try:
        assert hub.dispatcher is not None
        web = estate.platforms.channels["web"]

        def traded() -> bool:
            return (
                len(estate.platforms.erp.posted) >= 20
                and web.calls > 0
                and estate.platforms.channels["mkt-a"].calls > 0
                and len(estate.pos.state.orders) >= 3
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

        # The Square store's sales were Square orders, and every one reached the ledger
        # through Square's webhooks and the connector's order reads, none posted directly
        (store,) = SQUARE_STORES
        orders = estate.pos.state.orders

        def all_recorded() -> bool:
            return square_sales(hub, store, skus).get(CONNECTOR, 0) == len(orders)

        wait_for(hub, all_recorded, "every Square order at the ledger", timeout=60)
        assert len(orders) > 0
        assert set(square_sales(hub, store, skus)) == {CONNECTOR}
        assert any(e["type"] == "order.updated" for e in estate.pos.sender.log)
        # Square's own count notifications were kept as observations, not movements
        assert hub.connectors.observations(CONNECTOR)

        # And the hub counted the store's stock back into Square: Square holds what the
        # store's channel may sell (a walk-in sale of a unit held for click-and-collect
        # takes Square below zero, where the channel already stood at nothing)
        def square_converged() -> bool:
            return all(
                max(0, estate.pos.units(store, sku))
                == int(hub.channels.availability(f"pos-{store}", sku).available)
                for sku in skus
            )

        assert hub.dispatcher.wait_until(square_converged, timeout=60), {
            sku: (
                estate.pos.units(store, sku),
                hub.channels.availability(f"pos-{store}", sku).available,
            )
            for sku in skus
        }

        # Served under /square, Square still wants its bearer token
        anonymous = httpx.post(
            f"{platforms.url}/square/v2/inventory/counts/batch-retrieve", json={}
        )
        assert anonymous.status_code == 401
        assert anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"

        # A notification with a bad signature is refused and records nothing; the same
        # bytes signed with the subscription's key are recorded
        order, _ = estate.pos.state.sale(
            estate.pos.locations[store], [(estate.pos.catalog[skus[0]], Decimal(1))]
        )
        body = orjson.dumps(
            {
                "merchant_id": estate.pos.state.merchant_id,
                "type": "order.updated",
                "event_id": "forged-0001",
                "created_at": order["created_at"],
                "data": {
                    "type": "order_updated",
                    "id": order["id"],
                    "object": {
                        "order_updated": {
                            "order_id": order["id"],
                            "location_id": order["location_id"],
                            "state": "COMPLETED",
                            "version": 2,
                        }
                    },
                },
            }
        )
        url = f"{api.url}/v1/webhooks/{CONNECTOR}"
        key = f"sale:{order['id']}:{order['line_items'][0]['uid']}"
        forged = httpx.post(
            url, content=body, headers={SIGNATURE_HEADER: sign("not-the-key", url, body)}
        )
        assert forged.status_code == 401, forged.text
        assert hub.store.event(CONNECTOR, key) is None
        signed = httpx.post(
            url, content=body, headers={SIGNATURE_HEADER: sign(estate.pos.signature_key, url, body)}
        )
        assert signed.status_code == 200, signed.text
        wait_for(hub, lambda: hub.store.event(CONNECTOR, key) is not None, "the signed sale")
    finally:
        estate.stop()
        api.stop()
        platforms.stop()
        hub.close()
