"""Dispatcher crash: `kill -9` the real server while deliveries are in flight.

The dispatcher claims deliveries with a lease; a server killed mid-send leaves them in
flight in the database. After a restart on the same database the leases run out and the
deliveries go again under the same idempotency key, so the receiver, which dedupes by
key, takes each posting exactly once, in order per SKU and location, and the channel
ends on the ledger's availability.

The server runs as its own process (`stockbridge serve`, the default process writer) with
a TOML file that declares the ERP target; master data and the channel are created over
the API after start, because a channel needs its locations to exist.
"""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import open_store
from stockbridge.app.ports import NewDelivery

from ..conftest import START
from .receiver import Receiver
from .test_crash_recovery import ServerProcess, client
from .test_delivery import last_pushed, post

pytestmark = pytest.mark.slow

SECRET = "s3cret"
SKUS = ("DC-TEE", "DC-MUG")
LOCATIONS = ("DC-S1", "DC-S2")
#: Postings the receiver has applied when the server is killed: some, far from all.
KILL_AFTER = 10
#: A bound on the stream before the kill, should the receiver stop answering.
MAX_EVENTS = 400
EVENTS_AFTER_RESTART = 20
SETTLE_TIMEOUT = 60.0


class ConfiguredServer(ServerProcess):
    """`stockbridge serve` with a configuration file."""

    def __init__(self, database: str, config: Path) -> None:
        super().__init__(database)
        self.command += ["--config", str(config)]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=7) as r:
        yield r


def write_config(path: Path, receiver: Receiver) -> Path:
    path.write_text(
        f"""
[delivery]
lease_seconds = 1
poll_interval_seconds = 0.01

[targets.erp]
url = "{receiver.url}/erp"
secret = "{SECRET}"
postings = true
rate_per_second = 0
timeout_seconds = 5

[targets.erp.retry]
base_seconds = 0.02
max_seconds = 0.2
max_attempts = 1000

[targets.erp.circuit]
failure_threshold = 1000
cooldown_seconds = 0.1
"""
    )
    return path


class Stream:
    """Numbered movement events; the number is the order they were accepted in."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.events: list[dict[str, Any]] = []

    def batch(self, size: int) -> list[dict[str, Any]]:
        out = []
        for _ in range(size):
            n = len(self.events)
            type_ = self.rng.choice(("receipt", "receipt", "sale", "adjustment"))
            quantity = self.rng.randint(1, 5)
            if type_ == "adjustment" and self.rng.random() < 0.5:
                quantity = -quantity
            ev = {
                "event_id": f"c{n}",
                "source": "pos",
                "type": type_,
                "sku": SKUS[n % 2] if n < 2 else self.rng.choice(SKUS),
                "location": self.rng.choice(LOCATIONS),
                "quantity": quantity,
                "occurred_at": (START + timedelta(seconds=n)).isoformat(),
            }
            self.events.append(ev)
            out.append(ev)
        return out

    def document_numbers(self) -> set[str]:
        return {f"{ev['source']}:{ev['event_id']}" for ev in self.events}


def postings(receiver: Receiver) -> list[dict[str, Any]]:
    return [x.body for x in receiver.applied if x.body.get("type") == "posting"]


def erp_target(c: httpx.Client) -> dict[str, Any]:
    r = c.get("/v1/targets")
    assert r.status_code == 200, r.text
    return next(t for t in r.json()["targets"] if t["name"] == "erp")


def test_kill_9_with_deliveries_in_flight_delivers_each_once_in_order(
    tmp_path: Path, servers: list[ServerProcess], receiver: Receiver
) -> None:
    seed = random.randrange(2**32)
    stream = Stream(random.Random(seed))
    database = str(tmp_path / "dispatch.db")
    config = write_config(tmp_path / "stockbridge.toml", receiver)

    # Given a server whose TOML declares the ERP target, with items, locations and a
    # channel pushed to the same target created over the API
    first = ConfiguredServer(database, config)
    servers.append(first)
    first.start()
    with client(first.url) as c:
        r = c.put("/v1/items", json={"items": [{"sku": s, "base_uom": "EA"} for s in SKUS]})
        assert r.status_code == 200, r.text
        r = c.put("/v1/locations", json={"locations": [{"code": code} for code in LOCATIONS]})
        assert r.status_code == 200, r.text
        r = c.put("/v1/channels/web", json={"locations": {"DC-S1": 0, "DC-S2": 1}, "target": "erp"})
        assert r.status_code == 200, r.text

        # And a receiver slow enough that deliveries are always in flight
        receiver.slow(0.2)

        # When events stream in, a batch per request the receiver decides, and the server
        # is killed with SIGKILL just after the receiver applied its KILL_AFTER-th posting,
        # whose answer (0.2 s late) the dispatcher has not yet seen
        while len(postings(receiver)) < KILL_AFTER:
            assert len(stream.events) < MAX_EVENTS, f"the stream outran the receiver: {receiver}"
            seen = receiver.requests
            post(c, *stream.batch(stream.rng.randint(1, 3)))
            receiver.wait_for(lambda r, seen=seen: r.requests > seen, message="a request")
        first.kill()
    assert first.proc is not None and first.proc.returncode == -9
    ctx = f"(seed {seed}, {len(stream.events)} events before the kill; {receiver})"
    applied_before = len(postings(receiver))
    assert KILL_AFTER <= applied_before < len(stream.events), ctx

    # And the server is started again on the same database and configuration, the
    # receiver healthy, and more events arrive
    second = ConfiguredServer(database, config)
    servers.append(second)
    second.start()
    receiver.healthy()
    with client(second.url) as c:
        for _ in range(EVENTS_AFTER_RESTART // 4):
            post(c, *stream.batch(4))
        expected = stream.document_numbers()
        receiver.wait_for(
            lambda r: {p["document_number"] for p in postings(r)} >= expected,
            timeout=SETTLE_TIMEOUT,
            message=f"every posting {ctx}",
        )
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while (erp := erp_target(c))["backlog"]:
            assert time.monotonic() < deadline, f"backlog never drained: {erp} {ctx}"
        shown = {}
        for sku in SKUS:
            r = c.get(f"/v1/availability/web/{sku}")
            assert r.status_code == 200, r.text
            shown[sku] = Decimal(str(r.json()["available"]))

    # Then every posting was applied exactly once: one per event, none missing
    documents = [p["document_number"] for p in postings(receiver)]
    assert len(documents) == len(set(documents)), ctx
    assert set(documents) == expected, ctx
    keys = receiver.applied_keys()
    assert len(keys) == len(set(keys)), ctx
    # And a resent delivery carried the body first sent under its key
    assert receiver.conflicts == [], ctx
    # And the delivery in flight at the kill was sent again and absorbed by its key
    assert receiver.duplicates >= 1, ctx
    # And postings kept their order per SKU and location across the crash
    for key in {(p["sku"], p["location"]) for p in postings(receiver)}:
        numbers = [
            int(p["event_id"][1:]) for p in postings(receiver) if (p["sku"], p["location"]) == key
        ]
        assert numbers == sorted(numbers), f"postings for {key} out of order: {numbers} {ctx}"
    # And nothing became a dead letter
    assert erp["dead_letters"] == 0, ctx
    # And the channel's last pushed value is the ledger's availability, for every SKU
    pushed = {sku: last_pushed(receiver, sku) for sku in SKUS}
    assert pushed == shown, f"channel shows {pushed}, ledger says {shown} {ctx}"


def test_a_push_left_in_flight_by_a_crash_is_not_claimed_with_its_newer_value(
    tmp_path: Path,
) -> None:
    """The claim that follows a crash keeps one push per channel and SKU on the wire.

    A dispatcher dies with push A (available 5) in flight; a newer push B (available 3,
    lowering, so priority 1) is queued meanwhile. Once A's lease runs out, the next claim
    must not hand out A and B together: the dispatcher sends a claim's rows at once, so
    the older value could land last and stay on the channel.
    """
    store = open_store(str(tmp_path / "claim.db"))
    try:
        store.put_target("erp", {"url": "http://127.0.0.1:9/erp"}, 0)

        def push(available: str, priority: int, now_us: int) -> None:
            with store.transaction() as tx:
                tx.enqueue_deliveries(
                    [
                        NewDelivery(
                            "erp",
                            "availability",
                            "web/DC-TEE",
                            f"availability:web:DC-TEE:{now_us}",
                            {"type": "availability", "sku": "DC-TEE", "available": available},
                            priority,
                            [],
                        )
                    ],
                    now_us,
                )

        lease_us = 1_000_000
        # Given push A claimed by a dispatcher that then died
        push("5", 2, 1_000)
        assert [d.payload["available"] for d in store.claim_deliveries("erp", 2_000, lease_us, 4)]
        # And a newer push B queued while A was in flight
        push("3", 1, 3_000)
        assert store.claim_deliveries("erp", 4_000, lease_us, 4) == []
        # When A's lease has run out and a new dispatcher claims
        claimed = store.claim_deliveries("erp", 2_000 + lease_us + 1, lease_us, 4)
        # Then at most one push for the channel and SKU is handed out
        got = [(d.id, d.payload["available"], d.priority) for d in claimed]
        assert len({d.key for d in claimed}) == len(claimed), (
            f"claimed together, newer first: {got}"
        )
    finally:
        store.close()
