"""Crash recovery: `kill -9` the real server in the middle of an ingest stream.

DESIGN §4 law 4: nothing acknowledged is ever lost, nothing is half-applied. The server
runs as its own process (the `stockbridge serve` command), several clients stream batches
at it, and the test kills it with SIGKILL once a randomly chosen number of requests has
been answered, while other requests are still in flight. After a restart on the same
database every acknowledged event must be there, and the positions must be exactly the
sum of the events that are stored: no event lost, none applied twice.

Only receipts, sales and adjustments are streamed, so on hand at each (sku, location) is
the plain sum of signed quantities of the stored events, whatever their order.
"""

from __future__ import annotations

import os
import random
import re
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import START, fresh_pg_url

pytestmark = pytest.mark.slow

KEY = "sbk_crash_recovery_bootstrap"
AUTH = {"Authorization": f"Bearer {KEY}"}
#: SKU -> base unit; the KG item takes quantities with three decimals.
ITEMS = {"CR-TEE": "EA", "CR-MUG": "EA", "CR-FLOUR": "KG"}
LOCATIONS = ("CR-S1", "CR-S2", "CR-DC")
SOURCES = ("pos", "wms")
WORKERS = 4
STARTUP_TIMEOUT = 30.0
#: connect timeout: a killed server refuses connections at once, a live one accepts at once.
TIMEOUT = httpx.Timeout(30.0, connect=5.0)
_RUNNING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")

Key = tuple[str, str]


# --- the server as a separate process ------------------------------------------------------
class ServerProcess:
    """`stockbridge serve` in a child process; ready when it logs the address it serves on.

    The server is started with `--port 0` and the port is read from its own log line, so
    no other process can take the port between choosing and binding it.
    """

    def __init__(self, database: str) -> None:
        # `python -m stockbridge.cli` does nothing: cli.py has no `__main__` guard, so the
        # entry point is called explicitly.
        self.command = [
            sys.executable,
            "-c",
            "from stockbridge.cli import main; main()",
            "serve",
            "--database",
            database,
            "--host",
            "127.0.0.1",
            "--port",
            "0",
        ]
        self.env = {**os.environ, "STOCKBRIDGE_BOOTSTRAP_KEY": KEY}
        self.env.pop("STOCKBRIDGE_DATABASE", None)
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self.port: int | None = None
        self._ready = threading.Event()
        self.proc: subprocess.Popen[str] | None = None

    def start(self) -> ServerProcess:
        self.proc = subprocess.Popen(
            self.command,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            bufsize=1,
        )
        threading.Thread(target=self._read_log, daemon=True).start()
        # The reader sets the event on the "running" line, or at end of file if the
        # process died first; either way the wait ends on a real condition.
        finished = self._ready.wait(STARTUP_TIMEOUT)
        assert finished and self.port is not None, (
            f"server did not start within {STARTUP_TIMEOUT}s:\n" + "".join(self.lines[-30:])
        )
        return self

    def _read_log(self) -> None:
        assert self.proc is not None and self.proc.stderr is not None
        # Keep draining after readiness so the server never blocks on a full pipe.
        for line in self.proc.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
            found = _RUNNING.search(line)
            if found and self.port is None:
                self.port = int(found.group(1))
                self._ready.set()
        self._ready.set()

    def wait_for_lines(self, predicate: Callable[[list[str]], bool], timeout: float) -> bool:
        """Wait until the log read so far satisfies `predicate` (woken by each new line)."""
        with self._new_line:
            return self._new_line.wait_for(lambda: predicate(self.lines), timeout)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def kill(self) -> None:
        """SIGKILL: no shutdown hook, no flush, no final commit."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def client(url: str) -> httpx.Client:
    return httpx.Client(base_url=url, headers=AUTH, timeout=TIMEOUT)


# --- the event stream --------------------------------------------------------------------
def _quantity(rng: random.Random, sku: str) -> Decimal:
    if ITEMS[sku] == "KG":
        return Decimal(rng.randint(1, 50_000)).scaleb(-3)  # 0.001 .. 50.000 kg
    return Decimal(rng.randint(1, 40))


def signed(ev: dict[str, Any]) -> Decimal:
    """The on-hand change an event stands for, computed from what the test sent."""
    q = Decimal(ev["quantity"])
    return -q if ev["type"] == "sale" else q


@dataclass
class Stream:
    """What the clients sent and what the server answered, shared by the worker threads."""

    kill_after: int
    server: ServerProcess
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: dict[Key, dict[str, Any]] = field(default_factory=dict)
    acknowledged: set[Key] = field(default_factory=set)
    accepted: Counter[Key] = field(default_factory=Counter)
    answered: int = 0
    cut_off: int = 0
    problems: list[str] = field(default_factory=list)
    killed: threading.Event = field(default_factory=threading.Event)

    def new_event(self, rng: random.Random, worker: int, n: int) -> dict[str, Any]:
        sku = rng.choice(list(ITEMS))
        type_ = rng.choice(("receipt", "sale", "adjustment"))
        qty = _quantity(rng, sku)
        if type_ == "adjustment" and rng.random() < 0.5:
            qty = -qty
        return {
            "event_id": f"w{worker}-{n}",
            "source": rng.choice(SOURCES),
            "type": type_,
            "sku": sku,
            "location": rng.choice(LOCATIONS),
            "quantity": str(qty),
            "occurred_at": (START + timedelta(seconds=rng.randint(0, 86_400))).isoformat(),
        }

    def batch(
        self, rng: random.Random, worker: int, counter: Iterator[int]
    ) -> list[dict[str, Any]]:
        size = rng.randint(1, 200)
        with self.lock:
            earlier = list(self.sent.values()) if rng.random() < 0.3 else []
        out = []
        for _ in range(size):
            if earlier and rng.random() < 0.25:
                out.append(rng.choice(earlier))  # a re-send of an earlier event
            else:
                out.append(self.new_event(rng, worker, next(counter)))
        if len(out) > 1 and rng.random() < 0.1:
            out.append(rng.choice(out))  # the same event twice in one batch
        with self.lock:
            for ev in out:
                self.sent.setdefault((ev["source"], ev["event_id"]), ev)
        return out

    def record(self, events: list[dict[str, Any]], response: httpx.Response) -> None:
        if response.status_code != 200:
            self.problems.append(f"HTTP {response.status_code}: {response.text[:300]}")
            return
        results = response.json()["results"]
        if len(results) != len(events):
            self.problems.append(f"{len(results)} results for {len(events)} events")
            return
        with self.lock:
            for ev, res in zip(events, results, strict=True):
                key = (ev["source"], ev["event_id"])
                if (res["source"], res["event_id"]) != key:
                    self.problems.append(f"result {res} answers another event than {key}")
                elif res["status"] in ("accepted", "duplicate"):
                    self.acknowledged.add(key)
                    if res["status"] == "accepted":
                        self.accepted[key] += 1
                else:
                    self.problems.append(f"{key} answered {res}")
            self.answered += 1
            if self.answered == self.kill_after:
                self.killed.set()  # first, so that every failure after it is expected
                self.server.kill()

    def work(self, worker: int, rng: random.Random) -> None:
        counter = iter(range(10**9))
        try:
            with client(self.server.url) as c:
                while not self.killed.is_set():
                    events = self.batch(rng, worker, counter)
                    try:
                        response = c.post("/v1/events", json={"events": events})
                    except httpx.TransportError as e:
                        # The server died with this request in flight: its outcome is
                        # unknown, so nothing of it counts as acknowledged.
                        with self.lock:
                            self.cut_off += 1
                            if not self.killed.is_set():
                                self.problems.append(f"worker {worker} before the kill: {e!r}")
                        return
                    self.record(events, response)
        except Exception as e:
            self.problems.append(f"worker {worker}: {e!r}")


# --- checks over HTTP ----------------------------------------------------------------------
def seed_master(c: httpx.Client) -> None:
    items = [{"sku": sku, "base_uom": uom} for sku, uom in ITEMS.items()]
    r = c.put("/v1/items", json={"items": items})
    assert r.status_code == 200, r.text
    r = c.put("/v1/locations", json={"locations": [{"code": code} for code in LOCATIONS]})
    assert r.status_code == 200, r.text


def stored_events(c: httpx.Client) -> dict[Key, list[dict[str, Any]]]:
    """Every stored event, found through the history of each position, by key."""
    found: dict[Key, list[dict[str, Any]]] = {}
    for sku in ITEMS:
        for location in LOCATIONS:
            r = c.get(f"/v1/positions/{sku}/{location}/history", params={"limit": 1000})
            assert r.status_code == 200, r.text
            events = r.json()["events"]
            assert len(events) < 1000, "history truncated: the check would miss events"
            for e in events:
                found.setdefault((e["source"], e["event_id"]), []).append(e)
    return found


def on_hand(c: httpx.Client) -> dict[tuple[str, str], Decimal]:
    out: dict[tuple[str, str], Decimal] = {}
    for sku in ITEMS:
        r = c.get(f"/v1/positions/{sku}")
        assert r.status_code == 200, r.text
        for p in r.json()["locations"]:
            out[(sku, p["location"])] = Decimal(str(p["on_hand"]))
    return out


def nonzero(positions: dict[tuple[str, str], Decimal]) -> dict[tuple[str, str], Decimal]:
    return {k: v for k, v in positions.items() if v != 0}


def run_crash_recovery(database: str, servers: list[ServerProcess]) -> None:
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    ctx = f"(seed {seed}, database {database})"

    # Given a server with master data, seeded through the API with the bootstrap key
    first = ServerProcess(database)
    servers.append(first)
    first.start()
    with client(first.url) as c:
        seed_master(c)

    # When several clients stream batches at it and it is killed with SIGKILL once a
    # random number of requests has been answered
    stream = Stream(kill_after=rng.randint(8, 20), server=first)
    workers = [
        threading.Thread(target=stream.work, args=(w, random.Random(rng.random())))
        for w in range(WORKERS)
    ]
    for t in workers:
        t.start()
    for t in workers:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in workers), f"a client thread hung {ctx}"
    assert stream.problems == [], f"{stream.problems[:5]} {ctx}"
    assert stream.killed.is_set() and first.proc is not None and first.proc.returncode == -9, ctx
    ctx += (
        f" answered={stream.answered} cut_off={stream.cut_off}"
        f" acknowledged={len(stream.acknowledged)} sent={len(stream.sent)}"
    )
    assert stream.acknowledged, ctx
    # No event is accepted twice, not even by concurrent senders racing each other.
    twice = [k for k, n in stream.accepted.items() if n > 1]
    assert twice == [], f"accepted more than once: {twice[:5]} {ctx}"

    # ... and is started again on the same database
    second = ServerProcess(database)
    servers.append(second)
    second.start()
    with client(second.url) as c:
        # Then every acknowledged event is retrievable, as it was sent
        for source, event_id in sorted(stream.acknowledged):
            sent = stream.sent[(source, event_id)]
            r = c.get(f"/v1/events/{source}/{event_id}")
            assert r.status_code == 200, f"acknowledged {source}/{event_id} lost {ctx}: {r.text}"
            got = r.json()
            assert got["status"] == "accepted", ctx
            assert (got["type"], got["sku"], got["location"]) == (
                sent["type"],
                sent["sku"],
                sent["location"],
            ), ctx
            assert Decimal(str(got["quantity"])) == Decimal(sent["quantity"]), ctx
            assert Decimal(str(got["on_hand_delta"])) == signed(sent), ctx

        # and the stored events are a superset of the acknowledged ones, each stored once,
        # each one the test sent
        stored = stored_events(c)
        assert stored.keys() >= stream.acknowledged, ctx
        assert stored.keys() <= stream.sent.keys(), f"events nobody sent {ctx}"
        doubled = [k for k, rows in stored.items() if len(rows) != 1]
        assert doubled == [], f"stored more than once: {doubled[:5]} {ctx}"

        # and on hand is exactly the sum of the stored events: none lost, none twice
        expected: dict[tuple[str, str], Decimal] = {}
        for key in stored:
            ev = stream.sent[key]
            at = (ev["sku"], ev["location"])
            expected[at] = expected.get(at, Decimal(0)) + signed(ev)
        before = on_hand(c)
        assert nonzero(before) == nonzero(expected), ctx

        # When every acknowledged event is sent again
        keys = sorted(stream.acknowledged)
        statuses: Counter[str] = Counter()
        odd: list[dict[str, Any]] = []
        for i in range(0, len(keys), 1000):
            chunk = [stream.sent[k] for k in keys[i : i + 1000]]
            r = c.post("/v1/events", json={"events": chunk})
            assert r.status_code == 200, r.text
            results = r.json()["results"]
            statuses.update(res["status"] for res in results)
            odd.extend(res for res in results if res["status"] != "duplicate")

        # Then each one is a duplicate and the positions do not move
        assert statuses == Counter({"duplicate": len(keys)}), f"{statuses} {odd[:3]} {ctx}"
        assert on_hand(c) == before, ctx


def test_kill_9_mid_stream_loses_nothing_acknowledged_sqlite(
    tmp_path: Path, servers: list[ServerProcess]
) -> None:
    run_crash_recovery(str(tmp_path / "crash.db"), servers)


@pytest.mark.postgres
def test_kill_9_mid_stream_loses_nothing_acknowledged_postgres(
    pg_server: str, servers: list[ServerProcess]
) -> None:
    run_crash_recovery(fresh_pg_url(pg_server), servers)
