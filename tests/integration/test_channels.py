"""Channels over HTTP: policy management, available-to-sell, heartbeats and staleness."""

from __future__ import annotations

from datetime import timedelta

import httpx

from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock

from ..conftest import event, seed_master


def post(client: httpx.Client, *events: dict[str, object]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def test_channel_availability_follows_the_ledger(hub: Hub, client: httpx.Client) -> None:
    # Given a web channel fed by S1 (buffer 1) and S2, and stock at both
    seed_master(hub)
    r = client.put("/v1/channels/web", json={"locations": {"S1": 1, "S2": 0}})
    assert r.status_code == 200, r.text
    post(
        client,
        event("1", "receipt", location="S1", quantity=5),
        event("2", "receipt", location="S2", quantity=3),
    )
    # When asked for the channel's available-to-sell
    first = client.get("/v1/availability/web/TEE-M").json()
    # Then it is (5 - 1) + 3, with each location's part shown
    assert first["available"] == 7
    assert [c["contributes"] for c in first["locations"]] == [4, 3]
    # And a sale at S2 moves it at once
    post(client, event("3", "sale", location="S2", quantity=2))
    assert client.get("/v1/availability/web/TEE-M").json()["available"] == 5


def test_a_silent_store_stops_feeding_channels_until_it_reports(
    hub: Hub, client: httpx.Client, clock: ManualClock
) -> None:
    # Given S1 with a 5-minute freshness SLA feeding the web channel
    seed_master(hub)
    r = client.put(
        "/v1/locations",
        json={
            "locations": [
                {
                    "code": "S1",
                    "kind": "store",
                    "timezone": "Europe/Paris",
                    "freshness_sla_seconds": 300,
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    client.put("/v1/channels/web", json={"locations": {"S1": 0}})
    post(client, event("1", "receipt", location="S1", quantity=6))
    assert client.get("/v1/availability/web/TEE-M").json()["available"] == 6
    # When ten minutes pass without a word from S1
    clock.advance(timedelta(minutes=10))
    # Then the channel stops counting its stock, and freshness says why
    assert client.get("/v1/availability/web/TEE-M").json()["available"] == 0
    health = {x["location"]: x for x in client.get("/v1/freshness").json()["locations"]}
    assert health["S1"]["stale"] is True and health["S2"]["stale"] is False
    # And a heartbeat through the POS's own store id restores it
    r = client.post(
        "/v1/heartbeats",
        json={
            "heartbeats": [
                {"source": "pos", "location": "0001"},
                {"source": "pos", "location": "??"},
            ]
        },
    )
    assert [x["status"] for x in r.json()["results"]] == ["recorded", "unknown_location"]
    assert client.get("/v1/availability/web/TEE-M").json()["available"] == 6


def test_a_channel_naming_an_unknown_location_is_refused(hub: Hub, client: httpx.Client) -> None:
    seed_master(hub)
    r = client.put("/v1/channels/web", json={"locations": {"S1": 0, "NOWHERE": 0}})
    assert r.status_code == 422
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"] == [{"field": "locations.NOWHERE", "message": "unknown location"}]
    bad = client.put("/v1/channels/web", json={"locations": {"S1": 0}, "share": 2})
    assert bad.status_code == 422
    assert client.get("/v1/channels/web").status_code == 404


def test_channels_are_listed_and_availability_needs_a_known_sku(
    hub: Hub, client: httpx.Client
) -> None:
    seed_master(hub)
    client.put("/v1/channels/web", json={"locations": {"S1": 0}, "cap": 10})
    client.put(
        "/v1/channels/market",
        json={"locations": {"DC": 2}, "stale": {"rule": "buffer", "extra_buffer": 1}},
    )
    names = [c["name"] for c in client.get("/v1/channels").json()["channels"]]
    assert names == ["market", "web"]
    assert client.get("/v1/availability/web/NOPE").status_code == 404
    assert client.get("/v1/availability/nowhere/TEE-M").status_code == 404
