"""Square end to end over real HTTP: the hub and the simulated Square, each served by
uvicorn. Sales and refunds rung up at the simulated register reach the ledger through
signed webhooks (duplicated, reordered, or badly signed), and the hub's channel
availability reaches Square's counts through BatchChangeInventory, throttled or not."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store
from stockbridge.app.master import MasterKind
from stockbridge.connectors.square.protocol import sign
from stockbridge.connectors.square.sim_state import SimState
from stockbridge.connectors.square.simulator import SimFaults, create_app

from ..conftest import LiveServer, event
from .conftest import FAST, admin_client, settled, start_hub, wait_for

#: What Square signs: the public URL of the hub's webhook endpoint (behind a proxy, so
#: not the URL the simulator reaches it on).
NOTIFICATION_URL = "https://hub.example.com/v1/webhooks/sq"
SIGNATURE_KEY = "sq-signature-key"
TOKEN = "sq-access-token"
CATALOG = {"TEE-M": "CATTEE", "MUG": "CATMUG"}


@dataclass
class Square:
    hub: Hub
    client: httpx.Client  # the hub's API, as admin
    sim: httpx.Client  # the simulator, its own API and Square's
    state: SimState
    faults: SimFaults

    def counts(self) -> dict[str, Decimal]:
        """Square's IN_STOCK counts at LOC1 by SKU, read with BatchRetrieveInventoryCounts."""
        r = self.sim.post(
            "/v2/inventory/counts/batch-retrieve",
            json={
                "catalog_object_ids": list(CATALOG.values()),
                "location_ids": ["LOC1"],
                "states": ["IN_STOCK"],
            },
        )
        assert r.status_code == 200, r.text
        by_id = {c["catalog_object_id"]: Decimal(c["quantity"]) for c in r.json().get("counts", [])}
        return {sku: by_id.get(cid, Decimal(0)) for sku, cid in CATALOG.items()}

    def available(self) -> dict[str, Decimal]:
        return {sku: self.hub.channels.availability("pos-s1", sku).available for sku in CATALOG}

    def on_hand(self, sku: str) -> Decimal:
        position = self.hub.positions.position(sku, "S1")
        return position.on_hand if position is not None else Decimal(0)

    def converge(self) -> None:
        """Until the hub has nothing left to send and Square holds the channel's values
        (read back over HTTP), none of them refused or dead on the way."""
        self.settle()
        assert self.counts() == self.available()

    def settle(self) -> None:
        def done() -> bool:
            held = {sku: self.state.quantity(cid, "LOC1") for sku, cid in CATALOG.items()}
            return settled(self.hub) and held == self.available()

        wait_for(self.hub, done, "Square's counts to equal the channel's availability", 30)
        failed = [
            (d.id, d.state, d.last_error)
            for d in self.hub.store.deliveries(target="square")
            if d.state in ("dead", "rejected")
        ]
        assert failed == []

    def flush(self) -> list[dict[str, Any]]:
        r = self.sim.post("/admin/webhooks/flush")
        assert r.status_code == 200, r.text
        attempts: list[dict[str, Any]] = r.json()["attempts"]
        return attempts


@pytest.fixture
def square(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Square]:
    yield from start_square(tmp_path, monkeypatch)


def start_square(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **settings: Any
) -> Iterator[Square]:
    """The simulated Square and a hub whose channel pos-s1 pushes to it (more hub
    settings as `settings`)."""
    monkeypatch.setenv("SQ_SIG", SIGNATURE_KEY)
    monkeypatch.setenv("SQ_TOKEN", TOKEN)
    state = SimState(access_token=TOKEN, seed=7)
    state.locations = {"LOC1", "LOC2"}
    state.catalog = set(CATALOG.values())
    faults = SimFaults()
    sim_server = LiveServer(create_app(state, faults)).start()
    connectors = {
        "sq": {
            "kind": "square",
            "signature_key_env": "SQ_SIG",
            "notification_url": NOTIFICATION_URL,
            "access_token_env": "SQ_TOKEN",
            "api_url": sim_server.url,
        }
    }
    store = open_store(str(tmp_path / "hub.db"))
    hub, server = start_hub(store, connectors=connectors, **settings)
    hub.master_data.import_list(
        MasterKind.XREFS,
        [
            {"source": "sq", "kind": "item", "external_code": c, "code": s}
            for s, c in CATALOG.items()
        ]
        + [{"source": "sq", "kind": "location", "external_code": "LOC1", "code": "S1"}],
    )
    sim = httpx.Client(
        base_url=sim_server.url, timeout=30, headers={"Authorization": f"Bearer {TOKEN}"}
    )
    try:
        with admin_client(server) as client:
            r = client.put(
                "/v1/targets/square",
                json={
                    "kind": "square",
                    "url": sim_server.url,
                    "platform": {
                        "access_token_env": "SQ_TOKEN",
                        "channels": {"pos-s1": "LOC1"},
                        "catalog": CATALOG,
                    },
                    "rate_per_second": 0,
                    "batch_size": 10,
                    "retry": FAST,
                    "circuit": {"failure_threshold": 1000, "cooldown_seconds": 0.1},
                },
            )
            assert r.status_code == 200, r.text
            r = client.put("/v1/channels/pos-s1", json={"locations": {"S1": 0}, "target": "square"})
            assert r.status_code == 200, r.text
            r = sim.post(
                "/admin/subscriptions",
                json={
                    "notification_url": NOTIFICATION_URL,
                    "signature_key": SIGNATURE_KEY,
                    "deliver_to": f"{server.url}/v1/webhooks/sq",
                },
            )
            assert r.status_code == 200, r.text
            yield Square(hub, client, sim, state, faults)
    finally:
        sim.close()
        hub.stop()
        sim_server.stop()
        store.close()


def post(client: httpx.Client, *events: dict[str, Any]) -> None:
    r = client.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def random_events(rng: random.Random, n: int, prefix: str) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        kind = rng.choice(["sale", "receipt", "receipt", "adjustment"])
        qty = rng.randint(1, 4) * (rng.choice([1, -1]) if kind == "adjustment" else 1)
        out.append(
            event(
                f"{prefix}{i}",
                kind,
                sku=rng.choice(list(CATALOG)),
                location=rng.choice(["S1", "S1", "S2"]),
                quantity=qty,
            )
        )
    return out


def test_squares_counts_converge_to_the_channels_availability(square: Square) -> None:
    # Given a Square location fed by a channel of store S1
    # When stock moves, batch after batch
    evs = random_events(random.Random(3), 40, "e")
    for i in range(0, len(evs), 8):
        post(square.client, *evs[i : i + 8])
    # Then Square counts what the channel may sell, SKU by SKU
    square.converge()
    assert square.state.idempotency  # every call carried a key


def test_a_throttling_storm_loses_nothing(square: Square) -> None:
    # Given Square throttles hard: a storm of 429s, then a low rate
    r = square.sim.post(
        "/admin/faults", json={"throttle_next": 12, "rate_per_second": 4, "burst": 2}
    )
    assert r.status_code == 200
    # When stock moves in many small requests
    evs = random_events(random.Random(5), 30, "s")
    for i in range(0, len(evs), 3):
        post(square.client, *evs[i : i + 3])
    # Then pushes slowed to Square's pace, and Square still ends with the ledger's values
    square.settle()
    square.sim.post("/admin/faults", json={"rate_per_second": 0})
    assert square.counts() == square.available()
    stats = square.sim.get("/admin/stats").json()
    assert stats["rate_limited"] >= 12
    dead = [
        d for d in square.hub.store.deliveries(target="square") if d.state in ("dead", "rejected")
    ]
    assert dead == []


def test_register_sales_reach_the_ledger_once_through_duplicate_and_reordered_webhooks(
    square: Square,
) -> None:
    # Given 10 tees and 6 mugs at S1, and Square holding the channel's counts
    post(
        square.client,
        event("r1", "receipt", quantity=10),
        event("r2", "receipt", "MUG", quantity=6),
    )
    square.converge()
    # And Square sends every notification twice, newest first (order.updated before created)
    square.sim.post("/admin/faults", json={"duplicate": True, "reverse": True})
    # When the register sells 2 tees and 1 mug
    r = square.sim.post(
        "/admin/sales",
        json={
            "location_id": "LOC1",
            "lines": [
                {"catalog_object_id": "CATTEE", "quantity": 2},
                {"catalog_object_id": "CATMUG", "quantity": 1},
            ],
        },
    )
    order = r.json()["order"]
    attempts = square.flush()
    # Then every delivery was accepted, the order's notifications arriving before its creation
    assert {a["status"] for a in attempts} == {200}
    types = [a["type"] for a in attempts]
    assert types.index("order.updated") < types.index("order.created")
    # And each line is one sale in the ledger, whatever the notifications' number and order
    # (once the inbox has read the order behind them)
    wait_for(square.hub, lambda: square.on_hand("TEE-M") == 8, "the sale of two tees")
    wait_for(square.hub, lambda: square.on_hand("MUG") == 5, "the sale of a mug")
    wait_for(square.hub, lambda: square.hub.store.inbox_pending("sq") == [], "every order read")
    assert (square.on_hand("TEE-M"), square.on_hand("MUG")) == (8, 5)
    tee = next(li for li in order["line_items"] if li["catalog_object_id"] == "CATTEE")
    stored = square.client.get(f"/v1/events/sq/sale:{order['id']}:{tee['uid']}").json()
    assert (stored["status"], stored["type"], stored["location"]) == ("accepted", "sale", "S1")
    # And the counts Square reported are kept as observations, once per notification
    observed = square.client.get("/v1/connectors/sq/observations").json()["observations"]
    keys = [(o["event_id"], o["catalog_object_id"]) for o in observed]
    assert len(set(keys)) == len(keys) >= 2
    # When one tee is refunded
    r = square.sim.post(
        "/admin/refunds",
        json={"order_id": order["id"], "lines": [{"line_uid": tee["uid"], "quantity": 1}]},
    )
    assert r.status_code == 200, r.text
    assert {a["status"] for a in square.flush()} == {200}
    # Then it is one sellable return, and Square's counts still equal the channel's
    wait_for(square.hub, lambda: square.on_hand("TEE-M") == 9, "the refunded tee back on hand")
    square.converge()


def test_a_badly_signed_notification_is_refused_and_redelivered_on_schedule(
    square: Square,
) -> None:
    post(square.client, event("r1", "receipt", quantity=10))
    square.converge()
    # Given a second subscription whose key is not the hub's
    r = square.sim.post(
        "/admin/subscriptions",
        json={
            "notification_url": NOTIFICATION_URL,
            "signature_key": "wrong-key",
            "deliver_to": square.client.base_url.join("/v1/webhooks/sq").__str__(),
            "event_types": ["order.updated"],
        },
    )
    assert r.status_code == 200
    square.sim.post("/admin/faults", json={"reverse": False})
    # When a body signed with the wrong key arrives
    body = b'{"type":"order.updated","event_id":"x","data":{"type":"order_updated","object":{}}}'
    refused = square.client.post(
        "/v1/webhooks/sq",
        content=body,
        headers={"x-square-hmacsha256-signature": sign("wrong-key", NOTIFICATION_URL, body)},
    )
    # Then it is a 401 problem and the ledger is untouched
    assert refused.status_code == 401
    assert refused.json()["type"].endswith("invalid-signature")
    assert square.on_hand("TEE-M") == 10
    # When the register sells a tee: the good subscription is taken, the bad one refused
    square.sim.post(
        "/admin/sales",
        json={"location_id": "LOC1", "lines": [{"catalog_object_id": "CATTEE", "quantity": 1}]},
    )
    statuses = sorted(a["status"] for a in square.flush())
    assert statuses.count(401) == 1 and set(statuses) == {200, 401}
    wait_for(square.hub, lambda: square.on_hand("TEE-M") == 9, "the sale read from Square")
    # And Square tries the refused one again a minute later, not before (the counts the
    # hub then pushes make notifications of their own, all taken)
    square.converge()
    assert 401 not in {a["status"] for a in square.flush()}
    square.sim.post("/admin/clock", json={"advance_seconds": 60})
    (again,) = [a for a in square.flush() if a["status"] != 200]
    assert (again["type"], again["status"], again["attempt"]) == ("order.updated", 401, 2)
    assert square.on_hand("TEE-M") == 9


def test_a_sale_is_acknowledged_while_square_cannot_give_the_order_and_lands_later(
    square: Square,
) -> None:
    # Given 10 tees at S1, and Square's API down for its next calls (RetrieveOrder too)
    post(square.client, event("r1", "receipt", quantity=10))
    square.converge()
    square.sim.post("/admin/faults", json={"reverse": False, "outage_next": 1000})
    # When the register sells 3 tees
    square.sim.post(
        "/admin/sales",
        json={"location_id": "LOC1", "lines": [{"catalog_object_id": "CATTEE", "quantity": 3}]},
    )
    attempts = square.flush()
    # Then every notification is acknowledged at once, the order read waiting in the inbox
    assert attempts and {a["status"] for a in attempts} == {200}
    wait_for(
        square.hub,
        lambda: any(i.attempts >= 1 for i in square.hub.store.inbox_pending("sq")),
        "a failed order read recorded in the inbox",
    )
    (waiting, *_) = square.hub.store.inbox_pending("sq")
    assert "503" in (waiting.last_error or "")
    assert square.on_hand("TEE-M") == 10
    # When Square answers again
    square.sim.post("/admin/faults", json={"outage_next": 0})
    # Then the sale lands once, the inbox empties and Square ends with the channel's value
    wait_for(
        square.hub, lambda: square.on_hand("TEE-M") == 7, "the sale once the order can be read"
    )
    wait_for(square.hub, lambda: square.hub.store.inbox_pending("sq") == [], "the inbox to empty")
    square.converge()


def test_catalog_objects_come_from_the_connectors_cross_references(square: Square) -> None:
    # Given the Square target redeclared with no catalog map: the catalog objects are the
    # cross references of source "sq", which also map the register's sales in
    r = square.client.put(
        "/v1/targets/square",
        json={
            "kind": "square",
            "url": str(square.sim.base_url),
            "platform": {
                "access_token_env": "SQ_TOKEN",
                "channels": {"pos-s1": "LOC1"},
                "xref_source": "sq",
            },
            "rate_per_second": 0,
            "batch_size": 10,
            "retry": FAST,
        },
    )
    assert r.status_code == 200, r.text
    # When stock moves at S1
    post(
        square.client,
        event("x1", "receipt", quantity=7),
        event("x2", "receipt", "MUG", quantity=3),
    )
    # Then Square counts each SKU's xref'd catalog object at the channel's location
    square.converge()
    assert square.counts()["TEE-M"] == square.available()["TEE-M"] > 0
