"""Reservations as a checked command over real HTTP, on SQLite and PostgreSQL (DESIGN §7)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.writer_process import ProcessWriter
from tests.conftest import (
    ADMIN_KEY,
    START,
    LiveServer,
    event,
    fresh_pg_url,
    hub_settings,
    seed_master,
)

PROBLEM = "application/problem+json"


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    """The admin client over a hub holding the sample estate."""
    seed_master(hub)
    return client


def stock(c: httpx.Client, *events: dict[str, Any]) -> None:
    r = c.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["exception"] == 0, r.text


def reserve(c: httpx.Client, rid: str, quantity: Any = 1, **fields: Any) -> httpx.Response:
    body = {"reservation_id": rid, "sku": "TEE-M", "quantity": quantity, **fields}
    if "channel" not in body and "location" not in body:
        body["location"] = "S1"
    return c.post("/v1/reservations", json=body)


def position(c: httpx.Client, sku: str = "TEE-M", location: str = "S1") -> dict[str, Any]:
    r = c.get(f"/v1/positions/{sku}/{location}")
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def problem(response: httpx.Response, status: int, kind: str) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert body["type"].endswith("/" + kind)
    return body


# --- reserving -----------------------------------------------------------------------------
def test_a_reservation_holds_units_and_answers_what_is_left(api: httpx.Client) -> None:
    # Given 5 T-shirts at S1
    stock(api, event("r1", "receipt", quantity=5))
    # When 2 are reserved for a click-and-collect order
    r = reserve(api, "CC-1", 2, reference="order 881", expires_at="2026-03-03T09:00:00+00:00")
    # Then the reservation is open at S1 and 3 are left
    assert r.status_code == 201, r.text
    assert r.headers["location"] == "/v1/reservations/CC-1"
    body = r.json()
    assert body["reservation_id"] == "CC-1"
    assert (body["sku"], body["location"], body["quantity"]) == ("TEE-M", "S1", 2)
    assert (body["state"], body["source"], body["available"]) == ("open", "reservations", 3)
    assert body["expires_at"].startswith("2026-03-03T09:00:00")
    # And the position holds them, like any reserve event
    pos = position(api)
    assert (pos["on_hand"], pos["reserved"], pos["available"]) == (5, 2, 3)
    # And the ledger recorded a reserve event under the reservation id
    recorded = api.get("/v1/events/reservations/CC-1").json()
    assert (recorded["type"], recorded["reservation_id"], recorded["reference"]) == (
        "reserve",
        "CC-1",
        "order 881",
    )
    assert api.get("/v1/reservations/CC-1").json()["state"] == "open"


def test_a_shortage_is_a_409_saying_what_is_left(api: httpx.Client) -> None:
    # Given 3 mugs at S1 with a safety stock of 2, so 1 can be sold
    stock(api, event("r1", "receipt", sku="MUG", quantity=3))
    # When 2 are asked
    r = reserve(api, "CC-1", 2, sku="MUG")
    # Then nothing is held and the problem says 1 is left of the 2 asked
    body = problem(r, 409, "insufficient-stock")
    assert (body["available"], body["requested"], body["reservation_id"]) == (1, 2, "CC-1")
    assert position(api, "MUG")["reserved"] == 0
    assert api.get("/v1/reservations/CC-1").status_code == 404
    # And the same id may be tried again once stock is there
    stock(api, event("r2", "receipt", sku="MUG", quantity=1))
    assert reserve(api, "CC-1", 2, sku="MUG").status_code == 201


def test_source_codes_and_units_are_mapped(api: httpx.Client) -> None:
    # Given 24 T-shirts at S1
    stock(api, event("r1", "receipt", quantity=24))
    # When one case is reserved with the POS's own codes for item and store
    r = reserve(api, "CC-1", 1, sku="4711", location="0001", uom="CASE12", source="pos")
    # Then 12 units are held at S1, under the POS as source
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["sku"], body["location"], body["quantity"], body["source"]) == (
        "TEE-M",
        "S1",
        12,
        "pos",
    )
    assert body["available"] == 12


def test_the_same_request_again_answers_the_same_reservation(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    first = reserve(api, "CC-1", 2)
    assert first.status_code == 201
    # When the caller sends the same request again (a retry after a timeout)
    again = reserve(api, "CC-1", 2.0)
    # Then it gets the reservation it made, and nothing more is held
    assert again.status_code == 200, again.text
    assert {k: v for k, v in again.json().items() if k != "available"} == {
        k: v for k, v in first.json().items() if k != "available"
    }
    assert position(api)["reserved"] == 2


def test_another_request_under_the_same_id_is_a_conflict(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    assert reserve(api, "CC-1", 2).status_code == 201
    # When the id is reused for 3 units
    body = problem(reserve(api, "CC-1", 3), 409, "reservation-conflict")
    # Then nothing changes
    assert body["reservation_id"] == "CC-1"
    assert position(api)["reserved"] == 2
    # And an id already used by reserve events from a source is taken too
    stock(api, event("e1", "reserve", reservation_id="OMS-7", source="oms"))
    problem(reserve(api, "OMS-7", 1), 409, "reservation-conflict")


def test_a_channel_reservation_is_held_at_the_best_feeding_location(api: httpx.Client) -> None:
    # Given a web channel fed by S1 (buffer 1) and S2, with 5 and 3 T-shirts
    assert api.put("/v1/channels/web", json={"locations": {"S1": 1, "S2": 0}}).status_code == 200
    stock(
        api,
        event("r1", "receipt", location="S1", quantity=5),
        event("r2", "receipt", location="S2", quantity=3),
    )
    # When 2 are reserved for shipping from store
    r = reserve(api, "SFS-1", 2, channel="web")
    # Then S1 holds them (4 to give against S2's 3) and the channel has 5 left
    assert r.status_code == 201, r.text
    body = r.json()
    assert (body["location"], body["channel"], body["available"]) == ("S1", "web", 5)
    assert api.get("/v1/availability/web/TEE-M").json()["available"] == 5
    assert api.get("/v1/reservations/SFS-1").json()["channel"] == "web"
    # When 4 more are asked: the channel has 5, but no store can give 4 alone
    short = problem(reserve(api, "SFS-2", 4, channel="web"), 409, "insufficient-stock")
    # Then the most one reservation could hold is S2's 3
    assert (short["available"], short["requested"]) == (3, 4)
    assert "no single location" in short["detail"]


# --- fulfil, release, expiry ---------------------------------------------------------------
def test_fulfil_ships_the_units_and_closes_the_reservation(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    assert reserve(api, "CC-1", 2).status_code == 201
    # When the order is collected
    r = api.post("/v1/reservations/CC-1/fulfil")
    # Then the units leave on hand and are no longer reserved
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["available"]) == ("fulfilled", 3)
    pos = position(api)
    assert (pos["on_hand"], pos["reserved"], pos["available"]) == (3, 0, 3)
    assert api.get("/v1/events/reservations/CC-1:fulfil").json()["type"] == "fulfil"
    # And a second fulfil or a release is refused: the reservation is closed
    again = problem(api.post("/v1/reservations/CC-1/fulfil"), 409, "reservation-closed")
    assert again["state"] == "fulfilled"
    problem(api.post("/v1/reservations/CC-1/release"), 409, "reservation-closed")
    assert position(api)["on_hand"] == 3


def test_release_gives_the_units_back(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    assert reserve(api, "CC-1", 2).status_code == 201
    r = api.post("/v1/reservations/CC-1/release", json={"reference": "customer cancelled"})
    assert r.status_code == 200, r.text
    assert (r.json()["state"], r.json()["available"]) == ("released", 5)
    assert position(api)["reserved"] == 0
    assert api.get("/v1/reservations/CC-1").json()["state"] == "released"
    problem(api.post("/v1/reservations/CC-1/fulfil"), 409, "reservation-closed")


def test_a_reservation_is_fulfilled_whole(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    assert reserve(api, "CC-1", 2).status_code == 201
    # When only 1 of the 2 is said to be fulfilled
    body = problem(
        api.post("/v1/reservations/CC-1/fulfil", json={"quantity": 1}), 422, "invalid-request"
    )
    # Then it is refused, naming the field, and the reservation still holds both
    assert body["errors"][0]["field"] == "body.quantity"
    assert position(api)["reserved"] == 2
    # And the whole quantity is accepted
    assert api.post("/v1/reservations/CC-1/fulfil", json={"quantity": 2}).status_code == 200


def test_unknown_reservations_are_404(api: httpx.Client) -> None:
    problem(api.get("/v1/reservations/NOPE"), 404, "not-found")
    problem(api.post("/v1/reservations/NOPE/fulfil"), 404, "not-found")
    problem(api.post("/v1/reservations/NOPE/release"), 404, "not-found")


def test_a_reservation_expires_by_itself(api: httpx.Client, clock: ManualClock) -> None:
    # Given 2 of 5 reserved until 09:30
    stock(api, event("r1", "receipt", quantity=5))
    expires = (START + timedelta(minutes=30)).isoformat()
    assert reserve(api, "CC-1", 2, expires_at=expires).status_code == 201
    assert position(api)["available"] == 3
    # When the time passes and the hub next commits (any command or event does)
    clock.advance(timedelta(minutes=31))
    assert reserve(api, "CC-2", 5).status_code == 201
    # Then the expired hold went back before CC-2 was checked, so all 5 could be held
    assert api.get("/v1/reservations/CC-1").json()["state"] == "expired"
    assert position(api)["reserved"] == 5
    # And an expired reservation cannot be collected
    body = problem(api.post("/v1/reservations/CC-1/fulfil"), 409, "reservation-closed")
    assert body["state"] == "expired"


def test_an_expiry_in_the_past_is_refused(api: httpx.Client) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    past = (START - timedelta(minutes=1)).isoformat()
    body = problem(reserve(api, "CC-1", 1, expires_at=past), 422, "invalid-request")
    assert body["errors"][0]["field"] == "body.expires_at"


# --- bad input and scopes ------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"quantity": 0}, "body.quantity"),
        ({"quantity": "lots"}, "body.quantity"),
        ({"reservation_id": ""}, "body.reservation_id"),
        ({"expires_at": "2026-03-03T09:00:00"}, "body.expires_at"),
        ({"colour": "red"}, "body.colour"),
        ({"channel": "web"}, "body.location"),  # both location and channel
        ({"location": None}, "body.location"),  # neither
        ({"sku": "NOPE"}, "body.sku"),
        ({"location": "MARS"}, "body.location"),
        ({"uom": "PALLET"}, "body.uom"),
        ({"location": None, "channel": "nowhere"}, "body.channel"),
    ],
)
def test_bad_input_is_a_422_naming_the_field(
    api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    body = {"reservation_id": "CC-1", "sku": "TEE-M", "location": "S1", "quantity": 1}
    body.update(change)
    response = api.post("/v1/reservations", json={k: v for k, v in body.items() if v is not None})
    problem_body = problem(response, 422, "invalid-request")
    assert field in [e["field"] for e in problem_body["errors"]], problem_body
    assert position(api)["reserved"] == 0


def test_scopes_events_write_to_reserve_positions_read_to_look(
    hub: Hub, live: LiveServer, api: httpx.Client
) -> None:
    stock(api, event("r1", "receipt", quantity=5))
    assert reserve(api, "CC-1", 1).status_code == 201
    reader_key, _ = hub.keys.create("dashboard", ["positions:read"])
    writer_key, _ = hub.keys.create("oms", ["events:write"])
    with (
        httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {reader_key}"}) as rd,
        httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {writer_key}"}) as wr,
    ):
        # A reader may look but not reserve, fulfil or release
        assert rd.get("/v1/reservations/CC-1").status_code == 200
        assert problem(reserve(rd, "CC-2"), 403, "missing-scope")["required_scope"] == (
            "events:write"
        )
        problem(rd.post("/v1/reservations/CC-1/release"), 403, "missing-scope")
        # A writer may reserve and release, but not read reservations
        assert reserve(wr, "CC-2").status_code == 201
        assert wr.post("/v1/reservations/CC-1/release").status_code == 200
        problem(wr.get("/v1/reservations/CC-1"), 403, "missing-scope")
    assert position(api)["reserved"] == 1


# --- the race for the last units -----------------------------------------------------------
def race(base_url: str, quantity_left: int, clients: int, sku: str = "TEE-M") -> list[Any]:
    """`clients` threads, each with its own connection, reserve 1 unit at once."""
    ready = threading.Barrier(clients)

    def one(i: int) -> httpx.Response:
        with httpx.Client(
            base_url=base_url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
        ) as c:
            c.get("/healthz")  # connected before the start line
            ready.wait()
            return reserve(c, f"RACE-{i}", 1, sku=sku)

    with ThreadPoolExecutor(clients) as pool:
        return list(pool.map(one, range(clients)))


def check_race(c: httpx.Client, answers: list[httpx.Response], left: int) -> None:
    won = [r for r in answers if r.status_code == 201]
    lost = [r for r in answers if r.status_code != 201]
    # Exactly as many succeed as there were units
    assert len(won) == left, [r.text for r in answers]
    # Every other one is a 409 problem saying none is left
    for r in lost:
        body = problem(r, 409, "insufficient-stock")
        assert (body["available"], body["requested"]) == (0, 1)
    # No answer ever showed a negative availability
    assert all(r.json()["available"] >= 0 for r in won)
    assert sorted(r.json()["available"] for r in won) == list(range(left))
    # And the position holds exactly the winners
    pos = position(c)
    assert pos["reserved"] == left
    assert pos["available"] == 0
    held = [c.get(f"/v1/reservations/{r.json()['reservation_id']}").json() for r in won]
    assert all(h["state"] == "open" for h in held)


def test_parallel_clients_never_reserve_more_than_is_there(
    api: httpx.Client, live: LiveServer
) -> None:
    # Given 3 T-shirts left at S1 (10 received, 7 sold)
    stock(api, event("r1", "receipt", quantity=10), event("s1", "sale", quantity=7))
    # When 16 clients try to reserve one each at the same moment
    answers = race(live.url, 3, 16)
    # Then exactly 3 get one
    check_race(api, answers, 3)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def process_hub(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Hub]:
    """A hub whose ingest transaction runs in a child process, on each database."""
    if request.param == "sqlite":
        url = str(tmp_path / "hub.db")
    else:
        url = fresh_pg_url(request.getfixturevalue("pg_server"))
    hub = bootstrap(hub_settings(url, **{"ingest.writer": "process"}))
    try:
        yield hub
    finally:
        hub.close()


@pytest.mark.slow
def test_the_child_process_writer_checks_reservations_too(process_hub: Hub) -> None:
    # Given a hub with its writer in a child process and 2 mugs sellable above safety stock
    assert isinstance(process_hub.writer, ProcessWriter)
    seed_master(process_hub)
    server = LiveServer(create_app(process_hub)).start()
    try:
        with httpx.Client(
            base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=60
        ) as c:
            stock(c, event("r1", "receipt", sku="MUG", quantity=4))
            # When 10 clients race for them
            answers = race(server.url, 2, 10, sku="MUG")
            # Then 2 win, the rest are told none is left, and the position agrees
            won = [r for r in answers if r.status_code == 201]
            assert len(won) == 2, [r.text for r in answers]
            for r in answers:
                if r.status_code != 201:
                    assert problem(r, 409, "insufficient-stock")["available"] == 0
            pos = position(c, "MUG")
            assert (pos["reserved"], pos["available"]) == (2, 0)
            # And fulfil, the idempotent repeat and the conflict go through the child too
            rid = won[0].json()["reservation_id"]
            assert reserve(c, rid, 1, sku="MUG").status_code == 200
            problem(reserve(c, rid, 2, sku="MUG"), 409, "reservation-conflict")
            assert c.post(f"/v1/reservations/{rid}/fulfil").json()["state"] == "fulfilled"
            pos = position(c, "MUG")
            assert (pos["on_hand"], pos["reserved"]) == (3, 1)
    finally:
        server.stop()
