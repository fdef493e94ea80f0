"""API governance over real HTTP: bound keys, per-key rates, body limits, the audit log and
deprecation headers (docs/security.md), on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from stockbridge.api.app import create_app
from stockbridge.api.deprecation import Deprecated, Deprecations
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.domain.access import Binding
from tests.conftest import ADMIN_KEY, LiveServer, event, hub_settings, seed_master
from tests.integration.test_api import assert_problem, bearer, client_with, post_events


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    return client


def store_key(hub: Hub, location: str = "S1", source: str = "pos") -> str:
    key, _ = hub.keys.create(
        f"pos-{location.lower()}",
        ["events:write", "positions:read"],
        binding=Binding.of({"sources": [source], "locations": [location]}),
    )
    return key


# --- bindings --------------------------------------------------------------------------------
def test_a_store_bound_key_is_refused_for_another_stores_events_and_it_is_audited(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given a key bound to source pos at store S1
    key = store_key(hub, "S1")
    with client_with(live, bearer(key)) as s1:
        # When it posts a batch with its own sale and a sale at store S2
        response = post_events(
            s1, event("own-1", "receipt", location="S1"), event("other-1", "sale", location="S2")
        )
        # And then only its own event
        alone = post_events(s1, event("own-2", "receipt", location="S1"))

    # Then the mixed batch is refused whole, naming the event that reached past the binding
    body = assert_problem(response, 403)
    assert body["type"].endswith("/outside-binding")
    assert body["refused"] == [{"location": "S2", "field": "events[1].location"}]
    assert hub.store.event("pos", "own-1") is None
    assert hub.store.event("pos", "other-1") is None
    # And its own event alone is accepted
    assert alone.status_code == 200
    assert alone.json()["totals"]["accepted"] == 1
    # And the refusal is in the audit log, with the key and what it named
    entries = api.get("/v1/audit", params={"action": "request.refused"}).json()["entries"]
    assert len(entries) == 1
    refused = entries[0]
    assert refused["actor"] == "pos-s1"
    assert refused["outcome"] == "refused"
    assert refused["subject_kind"] == "route"
    assert refused["subject_key"] == "POST /v1/events"
    assert refused["detail"]["refused"] == [{"location": "S2", "field": "events[1].location"}]


def test_a_source_bound_key_cannot_post_as_another_source(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given a key bound to source pos
    key = store_key(hub, "S1", source="pos")
    with client_with(live, bearer(key)) as pos:
        # When it posts an event claiming to come from the web shop, and reads one
        posted = post_events(pos, event("w-1", "sale", location="S1", source="web"))
        read = pos.get("/v1/events/web/w-1")

    # Then both are refused for the source
    assert assert_problem(posted, 403)["refused"][0] == {
        "source": "web",
        "field": "events[0].source",
    }
    assert assert_problem(read, 403)["refused"][0]["field"] == "path.source"


def test_a_store_bound_key_reads_only_its_own_positions(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given stock at S1 and S2
    post_events(
        api,
        event("r-1", "receipt", location="S1", quantity=5),
        event("r-2", "receipt", location="S2", quantity=7),
    )
    key = store_key(hub, "S1")
    with client_with(live, bearer(key)) as s1:
        # When the S1 key reads its position, S2's, and the SKU across locations
        own = s1.get("/v1/positions/TEE-M/S1")
        other = s1.get("/v1/positions/TEE-M/S2")
        history = s1.get("/v1/positions/TEE-M/S2/history")
        across = s1.get("/v1/positions/TEE-M")

    # Then it sees S1 only
    assert own.status_code == 200 and own.json()["on_hand"] == 5
    assert_problem(other, 403)
    assert_problem(history, 403)
    assert [p["location"] for p in across.json()["locations"]] == ["S1"]
    assert across.json()["totals"]["on_hand"] == 5


def test_a_channel_bound_key_reads_only_its_channel_and_heartbeats_are_bound(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given two channels and a storefront key bound to one of them
    for name in ("web", "marketplace"):
        assert api.put(f"/v1/channels/{name}", json={"locations": {"S1": 0}}).status_code == 200
    key, _ = hub.keys.create(
        "storefront",
        ["positions:read", "events:write"],
        binding=Binding.of({"channels": ["web"], "locations": ["S1"]}),
    )
    with client_with(live, bearer(key)) as shop:
        # When it reads both channels' availability and reports heartbeats
        own = shop.get("/v1/availability/web/TEE-M")
        other = shop.get("/v1/availability/marketplace/TEE-M")
        beat = shop.post("/v1/heartbeats", json={"heartbeats": [{"location": "S2"}]})

    # Then only its own channel is answered, and a heartbeat for S2 is refused
    assert own.status_code == 200
    assert assert_problem(other, 403)["refused"] == [
        {"channel": "marketplace", "field": "path.channel"}
    ]
    assert assert_problem(beat, 403)["refused"][0]["field"] == "heartbeats[0].location"


def test_a_store_bound_key_may_create_a_transfer_from_or_to_its_store_only(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given a key bound to DC
    key, _ = hub.keys.create("dc", ["events:write"], binding=Binding.of({"locations": ["DC"]}))

    def transfer(transfer_id: str, origin: str, destination: str) -> dict[str, Any]:
        return {
            "transfer_id": transfer_id,
            "source": "wms",
            "from": origin,
            "to": destination,
            "lines": [{"line": 1, "sku": "TEE-M", "quantity": 1}],
        }

    with client_with(live, bearer(key)) as dc:
        # When it creates a transfer out of DC, and one between two stores
        own = dc.post("/v1/transfers", json=transfer("T-1", "DC", "S1"))
        other = dc.post("/v1/transfers", json=transfer("T-2", "S1", "S2"))

    # Then the first is applied and the second refused
    assert own.status_code == 200, own.text
    assert assert_problem(other, 403)["refused"][0]["location"] == "S1"


# --- rates and sizes -------------------------------------------------------------------------
def test_a_key_past_its_rate_gets_429_with_retry_after(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given a key allowed 1 request per second with a burst of 2 (the clock stands still)
    key, _ = hub.keys.create("kiosk", ["positions:read"], rate=(1.0, 2))
    with client_with(live, bearer(key)) as kiosk:
        # When it makes three requests at once
        answers = [kiosk.get("/v1/positions/TEE-M/S1").status_code for _ in range(2)]
        third = kiosk.get("/v1/positions/TEE-M/S1")
        # Then the third is refused with a Retry-After
        assert answers == [200, 200]
        body = assert_problem(third, 429)
        assert body["type"].endswith("/rate-limited")
        assert third.headers["retry-after"] == "1"
        # And after a second its bucket has a token again
        hub.clock.advance(timedelta(seconds=1))  # type: ignore[attr-defined]
        assert kiosk.get("/v1/positions/TEE-M/S1").status_code == 200
    # And another key was never slowed down
    assert all(api.get("/v1/positions/TEE-M/S1").status_code == 200 for _ in range(5))


@pytest.fixture
def small_bodies(store: Any, clock: Any) -> Iterator[LiveServer]:
    """A server whose bodies may be at most 2,048 bytes."""
    h = bootstrap(hub_settings(**{"server.max_body_bytes": 2048}), store=store, clock=clock)
    seed_master(h)
    server = LiveServer(create_app(h)).start()
    try:
        yield server
    finally:
        server.stop()
        h.stop()


def test_a_body_past_the_limit_is_refused_with_413_declared_or_streamed(
    small_bodies: LiveServer,
) -> None:
    big = b'{"items": [' + b'{"sku": "X"},' * 300 + b'{"sku": "Y"}]}'
    with client_with(small_bodies, bearer(ADMIN_KEY)) as c:
        # When a body over the limit is sent with its length, and streamed without one
        declared = c.put("/v1/items", content=big, headers={"content-type": "application/json"})
        streamed = c.put(
            "/v1/items",
            content=iter([big[:1000], big[1000:2000], big[2000:]]),
            headers={"content-type": "application/json"},
        )
        # Then both are refused as problem documents, and nothing is stored
        for response in (declared, streamed):
            body = assert_problem(response, 413)
            assert "2048 bytes" in body["detail"]
        assert c.get("/v1/positions/X").status_code == 404
        # And a body within the limit passes
        assert c.put("/v1/items", json={"items": [{"sku": "Z"}]}).status_code == 200


# --- the audit log -----------------------------------------------------------------------------
def test_administrative_actions_are_audited_and_filtered(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given an admin who upserts cross references, declares a channel and a target,
    # pauses and resumes it, replays dead letters; and a key created and revoked
    assert (
        api.put(
            "/v1/xrefs",
            json={
                "xrefs": [{"source": "pos", "kind": "item", "external_code": "9", "code": "MUG"}]
            },
        ).status_code
        == 200
    )
    api.put("/v1/channels/web", json={"locations": {"S1": 0}})
    api.put(
        "/v1/targets/shop",
        json={"kind": "webhook", "url": "http://127.0.0.1:9/x", "secret": "s3cr3t-value"},
    )
    api.post("/v1/targets/shop/pause")
    api.post("/v1/targets/shop/resume")
    api.post("/v1/dead-letters/replay", json={"target": "shop"})
    _, record = hub.keys.create("temp", ["positions:read"])
    hub.keys.revoke(record.id)

    # When the audit log is read, whole and by action
    entries = api.get("/v1/audit").json()["entries"]
    paused = api.get("/v1/audit", params={"action": "target.pause"}).json()["entries"]
    by_cli = api.get("/v1/audit", params={"actor": "cli"}).json()["entries"]

    # Then each action is there, in order, with who did it and to what
    assert [(e["action"], e["subject_kind"], e["subject_key"]) for e in entries] == [
        ("xrefs.upsert", "xrefs", "*"),
        ("channel.put", "channel", "web"),
        ("target.put", "target", "shop"),
        ("target.pause", "target", "shop"),
        ("target.resume", "target", "shop"),
        ("dead_letters.replay", "target", "shop"),
        ("key.create", "api_key", str(record.id)),
        ("key.revoke", "api_key", str(record.id)),
    ]
    assert {e["actor"] for e in entries[:6]} == {"bootstrap"}
    assert all(e["outcome"] == "ok" for e in entries)
    assert [e["action"] for e in paused] == ["target.pause"]
    assert [e["action"] for e in by_cli] == ["key.create", "key.revoke"]
    # And the target's secret is not in the log
    assert "s3cr3t-value" not in api.get("/v1/audit").text


def test_the_audit_log_pages_by_time_and_id(api: httpx.Client, hub: Hub) -> None:
    # Given three actions a minute apart
    for name in ("a", "b", "c"):
        hub.audit.record("ops", "target.pause", ("target", name))
        hub.clock.advance(timedelta(minutes=1))  # type: ignore[attr-defined]
    first = api.get("/v1/audit").json()["entries"][0]
    start = datetime.fromisoformat(first["at"]).astimezone(UTC)

    # When it is read from the second minute, and paged on after the first id
    since = api.get("/v1/audit", params={"since": (start + timedelta(minutes=1)).isoformat()})
    until = api.get("/v1/audit", params={"until": (start + timedelta(minutes=1)).isoformat()})
    paged = api.get("/v1/audit", params={"after_id": first["id"], "limit": 1})

    # Then each answer holds what it should
    assert [e["subject_key"] for e in since.json()["entries"]] == ["b", "c"]
    assert [e["subject_key"] for e in until.json()["entries"]] == ["a"]
    assert [e["subject_key"] for e in paged.json()["entries"]] == ["b"]


def test_a_missing_scope_is_refused_and_audited(
    api: httpx.Client, live: LiveServer, hub: Hub
) -> None:
    # Given a read-only key
    key, record = hub.keys.create("dashboard", ["positions:read"])
    with client_with(live, bearer(key)) as reader:
        # When it tries to pause a target
        response = reader.post("/v1/targets/shop/pause")
    # Then it is forbidden and the attempt is audited
    assert_problem(response, 403)
    [entry] = api.get("/v1/audit", params={"actor": "dashboard"}).json()["entries"]
    assert entry["detail"] == {"key_id": record.id, "required_scope": "admin"}
    assert entry["outcome"] == "refused"


# --- deprecation ---------------------------------------------------------------------------------
def test_a_deprecated_operation_announces_its_sunset_and_successor(hub: Hub) -> None:
    # Given an app where GET /v1/freshness is deprecated in favour of another path
    since = datetime(2026, 1, 1, tzinfo=UTC)
    sunset = datetime(2026, 7, 1, tzinfo=UTC)
    app = create_app(
        hub,
        deprecations=Deprecations(
            [Deprecated("GET", "/v1/freshness", since, sunset, successor="/v2/freshness")]
        ),
    )
    server = LiveServer(app).start()
    try:
        with client_with(server, bearer(ADMIN_KEY)) as c:
            # When it and another operation are called, and the document is read
            old = c.get("/v1/freshness")
            other = c.get("/v1/channels")
            doc = c.get("/openapi.json").json()
    finally:
        server.stop()

    # Then the deprecated one carries Deprecation, Sunset and Link; the other nothing
    assert old.status_code == 200
    assert old.headers["deprecation"] == f"@{int(since.timestamp())}"
    assert old.headers["sunset"] == "Wed, 01 Jul 2026 00:00:00 GMT"
    assert '</v2/freshness>; rel="successor-version"' in old.headers["link"]
    assert 'rel="deprecation"' in old.headers["link"]
    assert "deprecation" not in other.headers
    # And the OpenAPI document marks it deprecated
    assert doc["paths"]["/v1/freshness"]["get"]["deprecated"] is True
    assert "deprecated" not in doc["paths"]["/v1/channels"]["get"]
