"""Versioned configuration over real HTTP, on SQLite and PostgreSQL: cross references,
channel policies and targets keep every version with who and when; a rollback re-applies
a version through the normal path and is itself recorded."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock
from stockbridge.app.history import HistoryKind
from tests.conftest import LiveServer, seed_master

from .test_api import assert_problem, bearer, client_with


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    return client


def history(api: httpx.Client, path: str) -> list[dict[str, Any]]:
    response = api.get(f"/v1/history/{path}")
    assert response.status_code == 200, response.text
    entries: list[dict[str, Any]] = response.json()["history"]
    return entries


def test_a_channel_policy_rolled_back_is_applied_again_and_recorded(
    api: httpx.Client, hub: Hub, live: LiveServer, clock: ManualClock
) -> None:
    # Given a channel created by one key and changed by another
    put = api.put("/v1/channels/web", json={"locations": {"S1": 0, "DC": 0}})
    assert put.status_code == 200, put.text
    mallory, _ = hub.keys.create("mallory", ["admin"])
    with client_with(live, bearer(mallory)) as other:
        changed = other.put("/v1/channels/web", json={"locations": {"S1": 5}, "share": 0.5})
        assert changed.status_code == 200, changed.text
    # And a write that changes nothing leaves no version
    again = hub.channels.put("web", hub.channels.get("web").model_dump(mode="json"))
    assert again.share == 0.5

    # Then the history tells who changed what, newest first
    versions = history(api, "channel/web")
    assert [(v["version"], v["action"], v["actor"]) for v in versions] == [
        (2, "update", "mallory"),
        (1, "create", "bootstrap"),
    ]
    assert versions[0]["before"] == versions[1]["after"]

    # When the first version is rolled back to
    response = api.post("/v1/history/channel/web/rollback", json={"version": 1})

    # Then it is the live policy again, applied through the channel service
    assert response.status_code == 200, response.text
    assert (response.json()["version"], response.json()["action"]) == (3, "rollback")
    assert response.json()["rollback_of"] == 1
    first: Any = versions[1]["after"]
    live_channel = api.get("/v1/channels/web").json()
    assert set(first["locations"]) == {"S1", "DC"}
    assert (live_channel["locations"], live_channel["share"]) == (
        first["locations"],
        first["share"],
    )
    # And the rollback is in the history under the name of the key that asked
    newest = history(api, "channel/web")[0]
    assert (newest["action"], newest["actor"], newest["rollback_of"]) == (
        "rollback",
        "bootstrap",
        1,
    )
    assert history(api, "channel")[0]["version"] == 3
    # And unknown versions and keys are refused
    assert_problem(api.post("/v1/history/channel/web/rollback", json={"version": 9}), 404)
    assert_problem(api.post("/v1/history/channel/web/rollback", json={"version": 0}), 422)
    assert_problem(api.get("/v1/history/channel/nope"), 404)
    assert_problem(api.get("/v1/history/colour/web"), 422)


def test_a_rolled_back_channel_gets_its_target_back_and_targets_hide_their_secret(
    api: httpx.Client,
) -> None:
    # Given a channel that sent to a target, then was changed to send nowhere
    targets = {"url": "http://127.0.0.1:9/hook"}
    assert api.put("/v1/targets/shop", json=targets).status_code == 200
    assert api.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"}).is_success
    assert api.put("/v1/channels/web", json={"locations": {"S2": 0}}).is_success

    # When the version with the target is rolled back to
    ok = api.post("/v1/history/channel/web/rollback", json={"version": 1})

    # Then it applies; the target keeps its own history with the secret hidden
    assert ok.status_code == 200, ok.text
    assert api.get("/v1/channels/web").json()["target"] == "shop"
    api.put("/v1/targets/shop", json={**targets, "secret": "s3cret"})
    (latest, first) = history(api, "target/shop")
    assert latest["after"]["secret"] == "***"
    assert first["after"]["secret"] is None


def test_cross_references_keep_their_versions_and_roll_back(api: httpx.Client, hub: Hub) -> None:
    # Given a cross reference seeded, then pointed elsewhere by a bulk upsert
    row = {"source": "pos", "kind": "item", "external_code": "4711"}
    upsert = api.put("/v1/xrefs", json={"xrefs": [{**row, "code": "MUG"}]})
    assert upsert.status_code == 200, upsert.text
    assert hub.master_data.store.master_data().sku_for("pos", "4711") == "MUG"

    # When the seeded version is rolled back to
    versions = history(api, "xref/pos/item/4711")
    assert [(v["version"], v["action"], v["actor"]) for v in versions] == [
        (2, "update", "bootstrap"),
        (1, "create", "system"),
    ]
    response = api.post("/v1/history/xref/pos/item/4711/rollback", json={"version": 1})

    # Then the mapping is the seeded one again, recorded as a rollback
    assert response.status_code == 200, response.text
    assert hub.store.master_data().sku_for("pos", "4711") == "TEE-M"
    assert response.json()["after"]["code"] == "TEE-M"
    assert [v["action"] for v in history(api, "xref/pos/item/4711")] == [
        "rollback",
        "update",
        "create",
    ]


def test_declared_configuration_is_recorded_once_per_change(hub: Hub) -> None:
    # Given channels and targets declared in the configuration file
    seed_master(hub)
    hub.deliveries.declare({"shop": {"url": "http://127.0.0.1:9/hook"}}, env={})
    hub.channels.declare({"web": {"locations": {"S1": 0}, "target": "shop"}})

    # When the hub starts again with the same file, then with one change
    hub.deliveries.declare({"shop": {"url": "http://127.0.0.1:9/hook"}}, env={})
    hub.channels.declare({"web": {"locations": {"S1": 0}, "target": "shop"}})
    hub.channels.declare({"web": {"locations": {"S1": 2}, "target": "shop"}})

    # Then each entity has one version per change, written by the configuration file
    channel = hub.history.entries(HistoryKind.CHANNEL, "web")
    assert [(e.version, e.action, e.actor) for e in channel] == [
        (2, "update", "configuration file"),
        (1, "create", "configuration file"),
    ]
    assert [e.version for e in hub.history.entries(HistoryKind.TARGET, "shop")] == [1]
