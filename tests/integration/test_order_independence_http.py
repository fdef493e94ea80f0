"""Order independence over real HTTP (DESIGN §4, laws 1 and 2).

The same set of events goes to two servers: to A once, in order, in one request; to B
shuffled, with random re-sends, split into random batches (sent one after the other, or
all at once so the group-commit writer folds several requests into one transaction).
Positions are a function of the set of accepted events, so every SKU must read the same
on both, and the same as a reference fold written from the laws alone.
"""

from __future__ import annotations

import itertools
import random
import tempfile
from collections import defaultdict
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.domain.model import to_micros
from tests.conftest import ADMIN_KEY, START, LiveServer, event, fresh_pg_url, seed_master
from tests.conftest import hub_settings as settings_for_tests

SKUS = ("TEE-M", "MUG", "CHEESE")  # from seed_master; MUG has a safety stock of 2
LOCATIONS = ("S1", "S2", "DC")
RESERVATIONS = ("R1", "R2", "R3")
SOURCES = ("pos", "web")
#: Few instants, so that ties (and ties between counts) are common.
TIMES = tuple(START + timedelta(minutes=m) for m in (-30, 0, 0, 15, 60))
#: Far after the server's manual clock: no reservation expires during a test.
EXPIRES = (START + timedelta(days=30)).isoformat()
PARIS_SUMMER = timezone(timedelta(hours=2))
QUANTITIES = ("on_hand", "non_sellable", "reserved", "in_transit")
SAFETY = {"MUG": Decimal(2)}
_ON_HAND_SIGN = {
    "sale": -1,
    "return": 1,
    "receipt": 1,
    "adjustment": 1,
    "transfer_out": -1,
    "transfer_in": 1,
    "fulfil": -1,
}


# --- servers -------------------------------------------------------------------------------
@contextmanager
def serving(store: SqlStore) -> Iterator[httpx.Client]:
    """A hub over `store` with the seed master data, served over HTTP on 127.0.0.1."""
    hub = bootstrap(settings_for_tests(), store=store, clock=ManualClock(START))
    seed_master(hub)
    server = LiveServer(create_app(hub)).start()
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
        ) as c:
            yield c
    finally:
        server.stop()
        store.close()


def post(c: httpx.Client, events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    r = c.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    results: list[dict[str, Any]] = r.json()["results"]
    return results


def sku_positions(c: httpx.Client) -> dict[str, Any]:
    out = {}
    for sku in SKUS:
        r = c.get(f"/v1/positions/{sku}")
        assert r.status_code == 200, r.text
        out[sku] = r.json()
    return out


def values(answer: dict[str, Any]) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    """Positions as values: a location whose quantities are all zero is the same as none."""
    out = {}
    for sku, body in answer.items():
        for p in body["locations"]:
            q = tuple(Decimal(str(p[f])) for f in (*QUANTITIES, "available"))
            if any(q[:4]):
                out[(sku, p["location"])] = q
    return out


# --- the reference fold, written from DESIGN §4 alone ------------------------------------
def _order(e: dict[str, Any]) -> tuple[int, str, str]:
    return (_us(e), e["source"], e["event_id"])


def _us(e: dict[str, Any]) -> int:
    return to_micros(datetime.fromisoformat(e["occurred_at"]))


def reference(events: Sequence[dict[str, Any]]) -> dict[tuple[str, str], tuple[Decimal, ...]]:
    """Expected positions of an event set (each event once), by the laws of the ledger."""
    pos: dict[tuple[str, str], list[Decimal]] = defaultdict(lambda: [Decimal(0)] * 4)
    by_position: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        by_position[(e["sku"], e["location"])].append(e)
    # On hand: the latest count (ties by key) plus every delta strictly after it.
    for key, evs in by_position.items():
        counts = [e for e in evs if e["type"] == "count"]
        deltas = [
            (e, _ON_HAND_SIGN[e["type"]] * Decimal(e["quantity"]))
            for e in evs
            if e["type"] in _ON_HAND_SIGN
        ]
        if counts:
            anchor = max(counts, key=_order)
            pos[key][0] = Decimal(anchor["quantity"]) + sum(
                (d for e, d in deltas if _us(e) > _us(anchor)), Decimal(0)
            )
        else:
            pos[key][0] = sum((d for _, d in deltas), Decimal(0))
    for e in events:
        q, key = Decimal(e["quantity"]), (e["sku"], e["location"])
        if e["type"] == "return" and e.get("condition") not in (None, "sellable"):
            pos[key][1] += q
        elif e["type"] == "status_change":
            pos[key][1] += -q if e["condition"] == "sellable" else q
        elif e["type"] == "transfer_out":
            pos[(e["sku"], e["counterparty_location"])][3] += q
        elif e["type"] == "transfer_in":
            pos[key][3] -= q
    # Reserved: a reservation with any release or fulfil holds nothing, whatever the
    # arrival order; otherwise its earliest reserve holds (none expires here).
    by_reservation: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events:
        if e["type"] in ("reserve", "release", "fulfil"):
            by_reservation[e["reservation_id"]].append(e)
    for evs in by_reservation.values():
        if any(e["type"] != "reserve" for e in evs):
            continue
        first = min(evs, key=_order)
        pos[(first["sku"], first["location"])][2] += Decimal(first["quantity"])
    out = {}
    for (sku, location), (on_hand, non_sellable, reserved, in_transit) in pos.items():
        if any((on_hand, non_sellable, reserved, in_transit)):
            # Non-sellable below zero (status changes out of order) frees nothing.
            held = max(Decimal(0), non_sellable) + reserved + SAFETY.get(sku, Decimal(0))
            available = max(Decimal(0), on_hand - held)
            out[(sku, location)] = (on_hand, non_sellable, reserved, in_transit, available)
    return out


# --- event sets ----------------------------------------------------------------------------
def _quantity(draw: st.DrawFn, sku: str, type_: str) -> str:
    if sku == "CHEESE":  # kilograms: quarters of a kilo
        n = draw(st.integers(1, 40))
        q = Decimal(n) / 4
    else:
        q = Decimal(draw(st.integers(1, 12)))
    if type_ == "count":
        q = draw(st.sampled_from([q, Decimal(0)]))
    if type_ == "adjustment" and draw(st.booleans()):
        q = -q
    return str(q)


@st.composite
def event_bodies(draw: st.DrawFn) -> dict[str, Any]:
    type_ = draw(
        st.sampled_from(
            [
                "sale",
                "return",
                "receipt",
                "adjustment",
                "count",
                "transfer_out",
                "transfer_in",
                "reserve",
                "release",
                "fulfil",
                "status_change",
            ]
        )
    )
    sku = draw(st.sampled_from(SKUS))
    location = draw(st.sampled_from(LOCATIONS))
    at = draw(st.sampled_from(TIMES))
    # The same instant written with another offset is the same instant.
    at = at.astimezone(PARIS_SUMMER) if draw(st.booleans()) else at
    body: dict[str, Any] = {
        "source": draw(st.sampled_from(SOURCES)),
        "type": type_,
        "sku": sku,
        "location": location,
        "quantity": _quantity(draw, sku, type_),
        "occurred_at": at.isoformat(),
    }
    if type_ == "return":
        condition = draw(st.sampled_from(["sellable", "damaged", None]))
        if condition:
            body["condition"] = condition
    elif type_ == "status_change":
        body["condition"] = draw(st.sampled_from(["damaged", "sellable"]))
    elif type_ == "transfer_out":
        others = [x for x in LOCATIONS if x != location]
        body["counterparty_location"] = draw(st.sampled_from(others))
    elif type_ in ("reserve", "release", "fulfil"):
        body["reservation_id"] = draw(st.sampled_from(RESERVATIONS))
        if type_ == "reserve" and draw(st.booleans()):
            body["expires_at"] = EXPIRES
    return body


def with_ids(bodies: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"event_id": f"e{i}", **b} for i, b in enumerate(bodies)]


def split(events: Sequence[dict[str, Any]], cuts: Sequence[int]) -> list[list[dict[str, Any]]]:
    bounds = [0, *sorted(set(cuts)), len(events)]
    return [list(events[a:b]) for a, b in itertools.pairwise(bounds) if b > a]


# --- the check -----------------------------------------------------------------------------
def check_order_independence(
    a: httpx.Client,
    b: httpx.Client,
    events: list[dict[str, Any]],
    batches: list[list[dict[str, Any]]],
    concurrent: bool,
) -> None:
    # When A gets every event once, in order, in one request
    answers_a = post(a, events)
    # and B gets them shuffled, with re-sends, in batches
    if concurrent:
        with ThreadPoolExecutor(max_workers=len(batches)) as pool:
            answers_b = [r for rs in pool.map(lambda x: post(b, x), batches) for r in rs]
    else:
        answers_b = [r for batch in batches for r in post(b, batch)]

    # Then A accepts each event, and B accepts each exactly once and calls the rest duplicates
    assert [r["status"] for r in answers_a] == ["accepted"] * len(events), answers_a
    statuses: dict[tuple[str, str], list[str]] = defaultdict(list)
    for r in answers_b:
        statuses[(r["source"], r["event_id"])].append(r["status"])
    for e in events:
        got = sorted(statuses[(e["source"], e["event_id"])])
        assert got[0] == "accepted" and set(got[1:]) <= {"duplicate"}, (e, got)
    assert sum(len(s) for s in statuses.values()) == sum(len(x) for x in batches)

    # and every SKU holds the same positions on both, those the laws give. Locations
    # whose quantities are all zero are left out here: whether such a location is listed
    # at all is checked on its own below (it depends on arrival order and backend today).
    on_a, on_b = sku_positions(a), sku_positions(b)
    assert values(on_b) == values(on_a)
    assert values(on_a) == reference(events)
    assert {s: on_b[s]["totals"] for s in SKUS} == {s: on_a[s]["totals"] for s in SKUS}


@st.composite
def scenarios(draw: st.DrawFn) -> tuple[list[dict[str, Any]], list[list[dict[str, Any]]], bool]:
    events = with_ids(draw(st.lists(event_bodies(), min_size=1, max_size=40)))
    resent = draw(st.lists(st.sampled_from(events), max_size=12))
    shuffled = draw(st.permutations(events + resent))
    cuts = draw(st.lists(st.integers(1, max(1, len(shuffled) - 1)), max_size=6))
    return events, split(shuffled, cuts), draw(st.booleans())


@settings(max_examples=25)
@given(scenarios())
def test_positions_depend_on_the_event_set_not_on_arrival(
    scenario: tuple[list[dict[str, Any]], list[list[dict[str, Any]]], bool],
) -> None:
    # Given two fresh servers over two fresh SQLite files, with the same master data
    events, batches, concurrent = scenario
    with tempfile.TemporaryDirectory() as tmp:
        store_a = open_store(str(Path(tmp) / "a.db"))
        store_b = open_store(str(Path(tmp) / "b.db"))
        with serving(store_a) as a, serving(store_b) as b:
            check_order_independence(a, b, events, batches, concurrent)


def sample_events() -> list[dict[str, Any]]:
    """One event set touching every law: counts with late deltas and ties, reservations
    closed before their reserve, a second reserve, transfers, damaged stock."""
    t0, t1, t2 = (f"2026-03-02T{h}:00:00+00:00" for h in ("08", "09", "10"))
    return [
        event("p1", "receipt", "TEE-M", "S1", 20, t0),
        event("p2", "sale", "TEE-M", "S1", 3, t1),
        event("p3", "count", "TEE-M", "S1", 15, t1),
        event("p4", "count", "TEE-M", "S1", 12, t1, source="web"),  # tie: key decides
        event("p5", "sale", "TEE-M", "S1", 2, t2),  # after the count: counts
        event("p6", "adjustment", "TEE-M", "S1", -1, t0),  # before the count: inside it
        event("p7", "return", "TEE-M", "S1", 2, t2, condition="damaged"),
        event("p8", "return", "TEE-M", "S2", 1, t2, condition="sellable"),
        event("p9", "status_change", "TEE-M", "S1", 1, t2, condition="sellable"),
        event("p10", "transfer_out", "MUG", "DC", 6, t0, counterparty_location="S2"),
        event("p11", "transfer_in", "MUG", "S2", 4, t1),
        event("p12", "receipt", "MUG", "S2", 10, t0),
        event("p13", "reserve", "MUG", "S2", 3, t1, reservation_id="R1", expires_at=EXPIRES),
        event("p14", "release", "MUG", "S2", 3, t2, reservation_id="R1"),
        event("p15", "reserve", "MUG", "S2", 2, t1, reservation_id="R2"),
        event("p16", "reserve", "MUG", "S2", 5, t2, reservation_id="R2"),  # later: inert
        event("p17", "fulfil", "CHEESE", "S1", "0.25", t2, reservation_id="R3"),
        event("p18", "reserve", "CHEESE", "S1", "0.25", t1, reservation_id="R3"),
        event("p19", "receipt", "CHEESE", "S1", "2.5", t0),
        event("p20", "count", "CHEESE", "DC", 0, t1),
        event("p21", "receipt", "CHEESE", "DC", "1.75", t1),  # same instant: inside the count
    ]


@pytest.mark.postgres
def test_postgres_server_agrees_with_sqlite_on_a_shuffled_resent_event_set(
    pg_server: str,
) -> None:
    # Given server A over SQLite and server B over PostgreSQL, with the same master data
    events = sample_events()
    rng = random.Random(20260302)
    mixed = events + rng.sample(events, 8)
    rng.shuffle(mixed)
    batches = split(mixed, [3, 4, 11, 17, 25])
    with tempfile.TemporaryDirectory() as tmp:
        store_a = open_store(str(Path(tmp) / "a.db"))
        store_b = open_store(fresh_pg_url(pg_server))
        with serving(store_a) as a, serving(store_b) as b:
            # When / Then: as in the property above
            check_order_independence(a, b, events, batches, concurrent=False)


RESERVE = event("z1", "reserve", "MUG", "S1", 2, reservation_id="RZ")
RELEASE = event("z2", "release", "MUG", "S1", 2, reservation_id="RZ")


@pytest.mark.parametrize(
    ("backend_b", "to_a", "to_b"),
    [
        # reserve then release on A, release then reserve on B: same set, same backend
        pytest.param("sqlite", [RESERVE, RELEASE], [RELEASE, RESERVE], id="arrival-order"),
        # one release on both, nothing else at MUG/S1: same set, same order, other backend
        pytest.param("postgres", [RELEASE], [RELEASE], id="backend", marks=pytest.mark.postgres),
    ],
)
def test_sku_listing_is_the_same_for_the_same_event_set(
    backend_b: str,
    to_a: list[dict[str, Any]],
    to_b: list[dict[str, Any]],
    request: pytest.FixtureRequest,
) -> None:
    # Given server A over SQLite and server B over `backend_b`, with the same master data
    with tempfile.TemporaryDirectory() as tmp:
        store_a = open_store(str(Path(tmp) / "a.db"))
        if backend_b == "sqlite":
            store_b = open_store(str(Path(tmp) / "b.db"))
        else:
            store_b = open_store(fresh_pg_url(request.getfixturevalue("pg_server")))
        with serving(store_a) as a, serving(store_b) as b:
            # When both get the same set of events, that leaves MUG at S1 at zero
            assert [r["status"] for r in post(a, to_a)] == ["accepted"] * len(to_a)
            assert [r["status"] for r in post(b, to_b)] == ["accepted"] * len(to_b)

            # Then GET /v1/positions/MUG is the same document on both: the same locations
            # listed, not a zero row on one and no row on the other
            on_a, on_b = sku_positions(a), sku_positions(b)
            assert values(on_a) == values(on_b) == {}
            assert on_b["MUG"] == on_a["MUG"]
