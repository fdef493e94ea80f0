"""Amazon over real HTTP: a hub pushing to the SP-API simulator, and order notifications
relayed back to the hub.

The simulator holds its own listings quantities; every test ends by comparing them with
what the hub says the channel may sell.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store
from stockbridge.app.master import MasterKind
from stockbridge.connectors.amazon.inbound import AmazonInbound, poll_orders
from stockbridge.connectors.amazon.sim_state import AmazonState
from stockbridge.connectors.amazon.simulator import NotificationRelay, create_app
from stockbridge.domain.model import ReservationState

from ..conftest import LiveServer, event
from .conftest import FAST, admin_client, settled, start_hub, wait_for

RELAY_SECRET = "relay-s3cret"
#: Enterprise SKU -> seller SKU on Amazon (TEE-M is listed under another code).
SELLER_SKUS = {"TEE-M": "AMZ-TEE-M"}
EXTRA = [f"K{i}" for i in range(8)]


@pytest.fixture
def amazon(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[AmazonState, LiveServer]]:
    """The simulator, serving one seller whose listings are the hub's SKUs but K7."""
    state = AmazonState(rng=random.Random(4))
    for sku in ["AMZ-TEE-M", "MUG", *EXTRA[:-1]]:
        state.listings[sku] = {"DEFAULT": 0}
    monkeypatch.setenv("AMZ_CLIENT_ID", state.client_id)
    monkeypatch.setenv("AMZ_CLIENT_SECRET", state.client_secret)
    monkeypatch.setenv("AMZ_REFRESH_TOKEN", state.refresh_token)
    monkeypatch.setenv("AMZ_RELAY_SECRET", RELAY_SECRET)
    server = LiveServer(create_app(state)).start()
    try:
        yield state, server
    finally:
        server.stop()


def connector(sim_url: str) -> dict[str, Any]:
    return {
        "kind": "amazon",
        "secret_env": "AMZ_RELAY_SECRET",
        "location": "S1",
        "url": sim_url,
        "marketplace_ids": ["A1PA6795UKMFR9"],
        "lwa_client_id_env": "AMZ_CLIENT_ID",
        "lwa_client_secret_env": "AMZ_CLIENT_SECRET",
        "lwa_refresh_token_env": "AMZ_REFRESH_TOKEN",
        "lwa_token_url": sim_url + "/auth/o2/token",
    }


@pytest.fixture
def system(
    tmp_path: Path, amazon: tuple[AmazonState, LiveServer]
) -> Iterator[tuple[Hub, httpx.Client, AmazonState, str]]:
    state, sim = amazon
    hub, server = start_hub(
        open_store(str(tmp_path / "hub.db")), **{"connectors.amz": connector(sim.url)}
    )
    hub.master_data.import_list(MasterKind.ITEMS, [{"sku": s} for s in EXTRA])
    hub.master_data.import_list(
        MasterKind.XREFS,
        [{"source": "amz", "kind": "item", "external_code": "AMZ-TEE-M", "code": "TEE-M"}],
    )
    with admin_client(server) as client:
        yield hub, client, state, sim.url
    hub.stop()


def declare(client: httpx.Client, sim_url: str, **target: Any) -> dict[str, Any]:
    """The Amazon target `amz` behind channel `amazon`; answers the target as stored."""
    body = {
        "kind": "amazon",
        "url": sim_url,
        "platform": {
            "seller_id": "A1SIMSELLER0001",
            "marketplace_ids": ["A1PA6795UKMFR9"],
            "lwa_client_id_env": "AMZ_CLIENT_ID",
            "lwa_client_secret_env": "AMZ_CLIENT_SECRET",
            "lwa_refresh_token_env": "AMZ_REFRESH_TOKEN",
            "lwa_token_url": sim_url + "/auth/o2/token",
            "skus": SELLER_SKUS,
            **target.pop("platform", {}),
        },
        "retry": FAST,
        "circuit": {"failure_threshold": 1000, "cooldown_seconds": 0.1},
        **target,
    }
    r = client.put("/v1/targets/amz", json=body)
    assert r.status_code == 200, r.text
    stored: dict[str, Any] = r.json()
    r = client.put("/v1/channels/amazon", json={"locations": {"S1": 0, "S2": 0}, "target": "amz"})
    assert r.status_code == 200, r.text
    return stored


def post(client: httpx.Client, *events: dict[str, Any]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def expected(hub: Hub, skus: list[str]) -> dict[str, int]:
    return {
        SELLER_SKUS.get(s, s): int(hub.channels.availability("amazon", s).available) for s in skus
    }


def wait_converged(hub: Hub, state: AmazonState, skus: list[str]) -> None:
    def converged() -> bool:
        want = expected(hub, skus)
        return settled(hub) and all(state.quantity(s) == q for s, q in want.items())

    wait_for(hub, converged, f"Amazon to show {expected(hub, skus)}", timeout=20)


def moves(rng: random.Random, n: int, prefix: str, skus: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        kind = rng.choice(["receipt", "receipt", "sale", "adjustment"])
        qty = rng.randint(1, 5) * (rng.choice([1, -1]) if kind == "adjustment" else 1)
        out.append(
            event(
                f"{prefix}{i}",
                kind,
                sku=rng.choice(skus),
                location=rng.choice(["S1", "S2"]),
                quantity=qty,
                at=f"2026-03-02T09:{i // 60:02d}:{i % 60:02d}+00:00",
            )
        )
    return out


def test_listings_quantities_converge_to_the_channel_availability(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    # Given an Amazon target with its documented rate (5 per second, burst 5) by default
    assert declare(client, url)["rate_per_second"] == 5.0
    # When stock moves, request after request
    evs = moves(random.Random(1), 40, "c", ["TEE-M", "MUG"])
    for i in range(0, len(evs), 4):
        post(client, *evs[i : i + 4])
    # Then each seller SKU's quantity on Amazon is what the hub says the channel may sell
    wait_converged(hub, state, ["TEE-M", "MUG"])
    assert state.calls["patchListingsItem"] >= 2
    assert "TEE-M" not in state.listings  # sent under its seller SKU
    assert not hub.store.deliveries(target="amz", state="dead")


def test_a_throttling_storm_slows_pushes_and_loses_none(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    skus = ["TEE-M", "MUG", *EXTRA[:-1]]
    declare(client, url, rate_per_second=5, burst=5)
    # Given Amazon throttles the next 25 listings calls whatever its bucket holds
    state.faults.throttle_next = 25
    # When stock moves on nine SKUs
    evs = moves(random.Random(2), 60, "t", skus)
    for i in range(0, len(evs), 6):
        post(client, *evs[i : i + 6])
    # Then every SKU ends with the ledger's value, none dead or refused
    wait_converged(hub, state, skus)
    assert state.faults.throttle_next == 0
    assert state.throttled >= 25
    assert not hub.store.deliveries(target="amz", state="dead")
    assert not hub.store.deliveries(target="amz", state="rejected")
    # And the hub waited as asked rather than hammering: few 429s beyond the storm's
    assert state.throttled - 25 <= 10, state.throttled


def test_a_large_batch_goes_as_one_feed_and_a_refused_message_is_an_exception(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    # Given batches of at least 5 pushes go as a feed, which Amazon takes a while to process
    declare(client, url, batch_size=20, platform={"feed_threshold": 5, "feed_polls": 1})
    state.faults.feed_processing_seconds = 600
    # When eight SKUs get stock at once (K7 has no listing on Amazon)
    post(client, *[event(f"f{i}", "receipt", sku=s, quantity=i + 3) for i, s in enumerate(EXTRA)])
    wait_for(hub, lambda: state.calls.get("getFeed", 0) >= 3, "the feed to be polled")
    # Then one feed was created and is followed across attempts, nothing applied yet
    assert len(state.feeds) == 1
    assert state.quantity("K0") == 0
    assert "patchListingsItem" not in state.calls
    # When Amazon has processed it
    state.clock.advance(601)
    wait_for(hub, lambda: settled(hub), "the feed's deliveries to be settled")
    # Then the listed SKUs have their quantities, still from that one feed
    assert len(state.feeds) == 1
    assert {s: state.quantity(s) for s in EXTRA[:-1]} == expected(hub, EXTRA[:-1])
    # And the refused message is a rejected delivery, waiting in the exception queue
    rejected = hub.store.deliveries(target="amz", state="rejected")
    assert [d.payload["sku"] for d in rejected] == ["K7"]
    assert "NOT_FOUND" in (rejected[0].last_error or "")
    exc = client.get("/v1/exceptions", params={"reason": "target_rejected"}).json()["exceptions"]
    assert [x["payload"]["sku"] for x in exc] == ["K7"]


def test_an_expired_access_token_is_refreshed_once_and_the_push_retried(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    declare(client, url)
    post(client, event("a1", "receipt", sku="MUG", quantity=7))
    wait_converged(hub, state, ["MUG"])
    assert state.grants == 1
    # Given Amazon's clock passed the token's hour
    state.clock.advance(3601)
    # When the next push goes out
    post(client, event("a2", "sale", sku="MUG", quantity=2))
    # Then it got a 403, a new token, and went through on its first attempt
    wait_converged(hub, state, ["MUG"])
    assert state.grants == 2
    assert state.refused_tokens == 1
    last = max(hub.store.deliveries(target="amz"), key=lambda d: d.id)
    assert (last.state, last.attempts) == ("delivered", 1)


def test_relayed_order_changes_reserve_fulfil_and_release_once(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    declare(client, url)
    post(client, event("o1", "receipt", sku="TEE-M", location="S1", quantity=10))
    wait_converged(hub, state, ["TEE-M"])
    relay = NotificationRelay(state, url_of(client) + "/v1/webhooks/amz", RELAY_SECRET)
    # Given two orders on Amazon, one shipped and one cancelled afterwards
    shipped = state.place_order({"AMZ-TEE-M": 2})
    cancelled = state.place_order({"AMZ-TEE-M": 3})
    state.ship(shipped.order_id)
    state.cancel(cancelled.order_id)
    # When the relay delivers them shuffled, some twice
    with httpx.Client(timeout=10) as http:
        statuses = relay.deliver(http, duplicate=0.7, reorder=True)
    # Then every delivery is taken, and the orders end as they did on Amazon
    assert len(statuses) > 4 and set(statuses) == {200}
    assert reservation(hub, shipped) is ReservationState.FULFILLED
    assert reservation(hub, cancelled) is ReservationState.RELEASED
    # And the hub sold 2 units once: Amazon converges on 8
    wait_converged(hub, state, ["TEE-M"])
    assert state.quantity("AMZ-TEE-M") == 8
    # When an order's "shipped" arrives before its "placed"
    late = state.place_order({"AMZ-TEE-M": 1})
    state.ship(late.order_id)
    state.outbox.reverse()
    with httpx.Client(timeout=10) as http:
        assert relay.deliver(http) == [200, 200]
    # Then it still ends fulfilled, not held open by the late "placed"
    assert reservation(hub, late) is ReservationState.FULFILLED
    wait_converged(hub, state, ["TEE-M"])
    assert state.quantity("AMZ-TEE-M") == 7


def test_an_outage_delays_pushes_until_amazon_is_back(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    declare(client, url)
    # Given Amazon answers 503 to everything
    state.faults.outage = True
    post(client, *moves(random.Random(3), 12, "u", ["TEE-M", "MUG"]))
    wait_for(
        hub,
        lambda: any(d.attempts >= 2 for d in hub.store.deliveries(target="amz")),
        "pushes to be retried",
    )
    assert not state.listings["MUG"]["DEFAULT"] and not state.listings["AMZ-TEE-M"]["DEFAULT"]
    # When it is back, every SKU gets the ledger's value
    state.faults.outage = False
    wait_converged(hub, state, ["TEE-M", "MUG"])
    assert not hub.store.deliveries(target="amz", state="dead")


def test_a_badly_signed_notification_is_refused_and_changes_nothing(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    declare(client, url)
    post(client, event("b1", "receipt", sku="MUG", location="S1", quantity=5))
    before = hub.channels.availability("amazon", "MUG").available
    relay = NotificationRelay(state, url_of(client) + "/v1/webhooks/amz", RELAY_SECRET)
    order = state.place_order({"MUG": 1})
    # When the body is changed after it was signed
    with httpx.Client(timeout=10) as http:
        statuses = relay.deliver(http, tamper=lambda b: b.replace(b'"Quantity":1', b'"Quantity":4'))
        # Then the hub answers 401 and records nothing
        assert statuses == [401]
        assert hub.channels.availability("amazon", "MUG").available == before
        r = client.get(f"/v1/reservations/amz:{order.order_id}:{order.items[0].order_item_id}")
        assert r.status_code == 404
        # And without a signature at all, the same
        r = http.post(url_of(client) + "/v1/webhooks/amz", json=state.outbox or {"x": 1})
        assert r.status_code == 401


def test_polling_get_orders_reserves_like_notifications(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    declare(client, url)
    post_direct(hub, event("p1", "receipt", sku="MUG", location="S1", quantity=9))
    since = "2000-01-01T00:00:00.000Z"
    placed = state.place_order({"MUG": 2})
    gone = state.place_order({"MUG": 1})
    state.cancel(gone.order_id)
    inbound = hub.connectors.connectors["amz"]
    assert isinstance(inbound, AmazonInbound)

    async def poll() -> Any:
        async with httpx.AsyncClient() as http:
            return await poll_orders(inbound, http, since, dict_env(state))

    # When the orders are pulled through getOrders and getOrderItems, twice
    first = asyncio.run(poll())
    again = asyncio.run(poll())
    assert first.error is None and first.orders == 2
    for command in first.translation.commands + again.translation.commands:
        hub.submit_command(command).result()
    # Then the open order holds its units, the cancelled one none, whatever the repeats
    assert reservation(hub, placed) is ReservationState.OPEN
    assert reservation(hub, gone) is ReservationState.RELEASED
    assert hub.channels.availability("amazon", "MUG").available == 9 - 2 - 2  # safety stock 2
    assert first.cursor > since


# --- helpers ------------------------------------------------------------------------------
def url_of(client: httpx.Client) -> str:
    return str(client.base_url).rstrip("/")


def reservation(hub: Hub, order: Any) -> ReservationState:
    return hub.reservations.get(f"amz:{order.order_id}:{order.items[0].order_item_id}").state


def post_direct(hub: Hub, *events: dict[str, Any]) -> None:
    assert hub.submit(list(events)).totals()["exception"] == 0


def dict_env(state: AmazonState) -> dict[str, str]:
    return {
        "AMZ_CLIENT_ID": state.client_id,
        "AMZ_CLIENT_SECRET": state.client_secret,
        "AMZ_REFRESH_TOKEN": state.refresh_token,
    }


def test_seller_skus_come_from_cross_references_without_an_explicit_map(
    system: tuple[Hub, httpx.Client, AmazonState, str],
) -> None:
    hub, client, state, url = system
    # Given a target with no `skus` map: TEE-M's seller SKU is its cross reference of
    # source "amz" (the one relayed orders are mapped by), MUG has none and goes as it is
    declare(client, url, platform={"skus": {}, "xref_source": "amz"})
    assert hub.store.targets()["amz"][0]["platform"].get("mapping") is None
    # When both get stock
    post(
        client,
        event("x1", "receipt", quantity=5),
        event("x2", "receipt", "MUG", quantity=9),
    )
    # Then Amazon holds them under AMZ-TEE-M and MUG, as the channel may sell them
    wait_converged(hub, state, ["TEE-M", "MUG"])
    assert state.quantity("AMZ-TEE-M") > 0 and "TEE-M" not in state.listings


def test_a_feed_submitted_before_a_restart_is_polled_after_it(
    tmp_path: Path, amazon: tuple[AmazonState, LiveServer]
) -> None:
    state, sim = amazon
    path = str(tmp_path / "hub.db")
    # Given batches of 5 or more go as a feed, which Amazon takes ten minutes to process
    store = open_store(path)
    hub, server = start_hub(store, **{"connectors.amz": connector(sim.url)})
    hub.master_data.import_list(MasterKind.ITEMS, [{"sku": s} for s in EXTRA])
    with admin_client(server) as client:
        declare(client, sim.url, batch_size=20, platform={"feed_threshold": 5, "feed_polls": 1})
        state.faults.feed_processing_seconds = 600
        # When eight SKUs get stock at once (K7 has no listing) and the feed is submitted
        post(
            client, *[event(f"f{i}", "receipt", sku=s, quantity=i + 3) for i, s in enumerate(EXTRA)]
        )
        wait_for(hub, lambda: state.calls.get("getFeed", 0) >= 2, "the feed to be polled")
    # And the hub stops mid-feed
    hub.stop()
    store.close()
    assert len(state.feeds) == 1
    (feed_id,) = state.feeds
    # Then the feed is kept in the hub's database with the pushes its messages carry
    store = open_store(path)
    (kept,) = store.open_feeds("amz")
    assert kept.feed_id == feed_id and len(kept.lines) == 8
    # When a new hub starts over the same database, and Amazon finishes the feed
    hub, server = start_hub(store, **{"connectors.amz": connector(sim.url)})
    try:
        with admin_client(server) as client:
            polls = state.calls.get("getFeed", 0)
            wait_for(hub, lambda: state.calls.get("getFeed", 0) > polls, "the feed polled again")
            state.clock.advance(601)
            wait_for(hub, lambda: settled(hub), "the feed's deliveries to be settled")
            # Then the same feed was polled to its end, no second one submitted
            assert list(state.feeds) == [feed_id]
            assert state.calls.get("createFeed", 0) == 1
            assert {s: state.quantity(s) for s in EXTRA[:-1]} == expected(hub, EXTRA[:-1])
            # And its report's refused message is an exception, the feed no longer open
            rejected = hub.store.deliveries(target="amz", state="rejected")
            assert [d.payload["sku"] for d in rejected] == ["K7"]
            assert "NOT_FOUND" in (rejected[0].last_error or "")
            exc = client.get("/v1/exceptions", params={"reason": "target_rejected"}).json()
            assert [x["payload"]["sku"] for x in exc["exceptions"]] == ["K7"]
            assert store.open_feeds("amz") == []
    finally:
        hub.stop()
        store.close()
