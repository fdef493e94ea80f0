"""API v1 over real HTTP (uvicorn on 127.0.0.1), on SQLite and PostgreSQL (DESIGN §8)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.domain.model import to_micros
from tests.conftest import LiveServer, event, seed_master

PROBLEM = "application/problem+json"


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    """The admin client over a hub holding the sample estate."""
    seed_master(hub)
    return client


def client_with(live: LiveServer, headers: dict[str, str]) -> httpx.Client:
    return httpx.Client(base_url=live.url, headers=headers, timeout=30)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def post_events(c: httpx.Client, *raws: Any) -> httpx.Response:
    return c.post("/v1/events", json={"events": list(raws)})


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    """An RFC 9457 problem document with the given status; returns its body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM)
    body: dict[str, Any] = response.json()
    assert body["status"] == status
    assert isinstance(body["type"], str) and body["type"]
    assert isinstance(body["title"], str) and body["title"]
    return body


# --- POST /v1/events -------------------------------------------------------------------------
def test_each_event_gets_its_result_in_order_with_totals(api: httpx.Client) -> None:
    # Given an accepted receipt
    assert post_events(api, event("r-1", "receipt", quantity=5)).status_code == 200

    # When a batch mixes a new event, a duplicate, an unknown SKU and a malformed event
    response = post_events(
        api,
        event("s-1", "sale", quantity=2),
        event("r-1", "receipt", quantity=5),
        event("x-1", "receipt", sku="NOPE"),
        {**event("bad", "sale"), "quantity": -1},
    )

    # Then each result stands at its event's place, with reasons, and the totals add up
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert [(r["event_id"], r["status"], r.get("reason")) for r in body["results"]] == [
        ("s-1", "accepted", None),
        ("r-1", "duplicate", None),
        ("x-1", "exception", "unknown_sku"),
        ("bad", "exception", "invalid_event"),
    ]
    assert body["results"][3]["field"] == "quantity"
    assert all(r["source"] == "pos" for r in body["results"])
    assert body["totals"] == {"accepted": 1, "duplicate": 1, "exception": 2}
    assert api.get("/v1/positions/TEE-M/S1").json()["on_hand"] == 3


def test_more_than_1000_events_is_refused_whole(api: httpx.Client, hub: Hub) -> None:
    # Given a batch of 1001 good events
    raws = [event(f"e-{i}", "receipt") for i in range(1001)]

    # When it is posted
    response = post_events(api, *raws)

    # Then it is refused with 413 as a problem document, and nothing is ingested
    body = assert_problem(response, 413)
    assert "1001" in body["detail"] and "1000" in body["detail"]
    assert hub.store.event("pos", "e-0") is None


def test_exactly_1000_events_are_accepted(api: httpx.Client) -> None:
    # Given a batch of exactly 1000 events
    raws = [event(f"e-{i}", "receipt") for i in range(1000)]

    # When it is posted
    response = post_events(api, *raws)

    # Then all are accepted
    assert response.status_code == 200
    assert response.json()["totals"]["accepted"] == 1000


def test_malformed_json_is_a_400_problem(api: httpx.Client) -> None:
    # Given a body that is not JSON
    # When it is posted
    response = api.post(
        "/v1/events", content=b'{"events": [', headers={"Content-Type": "application/json"}
    )

    # Then the answer is a 400 problem with a detail
    body = assert_problem(response, 400)
    assert body["detail"]


def test_a_body_without_an_events_list_is_a_422_problem(api: httpx.Client) -> None:
    # Given JSON that is not {"events": [...]}
    # When it is posted
    response = api.post("/v1/events", json={"event": event("a", "sale")})

    # Then it is refused as an invalid request
    assert_problem(response, 422)


def test_an_absurd_quantity_is_answered_per_event(api: httpx.Client) -> None:
    # Given a batch where one receipt has a quantity no ledger can hold
    # When it is posted
    response = post_events(
        api, event("ok", "receipt", quantity=2), event("huge", "receipt", quantity=1e30)
    )

    # Then the batch is answered event by event: the good neighbour accepted
    assert response.status_code == 200, response.text
    statuses = [r["status"] for r in response.json()["results"]]
    assert statuses == ["accepted", "exception"]


def test_an_event_type_that_is_not_a_string_is_answered_per_event(api: httpx.Client) -> None:
    # Given a batch where one event's type is a list
    # When it is posted
    response = post_events(
        api, event("ok", "receipt", quantity=2), {**event("bad", "sale"), "type": ["sale"]}
    )

    # Then the bad event is an invalid_event naming `type`, the good one accepted
    assert response.status_code == 200, response.text
    results = response.json()["results"]
    assert [(r["status"], r.get("field")) for r in results] == [
        ("accepted", None),
        ("exception", "type"),
    ]


# --- authentication and scopes ---------------------------------------------------------------
@pytest.mark.parametrize(
    "headers",
    [
        {},
        bearer("sbk_not_a_real_key"),
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ],
    ids=["no-key", "unknown-key", "basic-auth", "empty-bearer"],
)
def test_without_a_valid_key_the_answer_is_401_with_a_challenge(
    api: httpx.Client, live: LiveServer, hub: Hub, headers: dict[str, str]
) -> None:
    # Given a client without a valid key
    with client_with(live, headers) as anonymous:
        # When it posts events and reads a position
        posted = post_events(anonymous, event("a", "receipt"))
        read = anonymous.get("/v1/positions/TEE-M/S1")

    # Then both are 401 problems that say how to authenticate, and nothing is ingested
    for response in (posted, read):
        assert_problem(response, 401)
        assert response.headers["www-authenticate"].lower().startswith("bearer")
    assert hub.store.event("pos", "a") is None


def test_a_revoked_key_is_refused(api: httpx.Client, live: LiveServer, hub: Hub) -> None:
    # Given a key that worked, then was revoked
    key, record = hub.keys.create("pos-paris", ["events:write"])
    with client_with(live, bearer(key)) as pos:
        assert post_events(pos, event("a", "receipt")).status_code == 200
        hub.store.revoke_api_key(record.id, to_micros(hub.clock.now()))

        # When it is used again
        response = post_events(pos, event("b", "receipt"))

    # Then it is refused as unauthenticated
    assert_problem(response, 401)
    assert hub.store.event("pos", "b") is None


def test_a_read_only_key_cannot_post_events(api: httpx.Client, live: LiveServer, hub: Hub) -> None:
    # Given a key with only positions:read
    key, _ = hub.keys.create("dashboard", ["positions:read"])
    with client_with(live, bearer(key)) as reader:
        # When it posts events
        response = post_events(reader, event("a", "receipt"))
        # Then it is forbidden, naming the scope it lacks, and nothing is ingested
        body = assert_problem(response, 403)
        assert body["required_scope"] == "events:write"
        assert hub.store.event("pos", "a") is None
        # But it may read positions
        assert reader.get("/v1/positions/TEE-M/S1").status_code == 200


def test_an_events_key_cannot_administer(api: httpx.Client, live: LiveServer, hub: Hub) -> None:
    # Given a key with only events:write
    key, _ = hub.keys.create("pos", ["events:write"])
    with client_with(live, bearer(key)) as pos:
        # When it posts events, reads positions, lists exceptions and upserts items
        posted = post_events(pos, event("a", "receipt"))
        read = pos.get("/v1/positions/TEE-M/S1")
        listed = pos.get("/v1/exceptions")
        put = pos.put("/v1/items", json={"items": [{"sku": "X"}]})

    # Then only posting events is allowed
    assert posted.status_code == 200
    assert assert_problem(read, 403)["required_scope"] == "positions:read"
    assert assert_problem(listed, 403)["required_scope"] == "admin"
    assert assert_problem(put, 403)["required_scope"] == "admin"
    assert "X" not in hub.store.master_data().items


# --- positions -------------------------------------------------------------------------------
def test_a_position_shows_its_quantities_and_available(api: httpx.Client) -> None:
    # Given MUG (safety stock 2) with 10 received, 1 returned damaged, 3 reserved
    post_events(
        api,
        event("r", "receipt", sku="MUG", quantity=10),
        event("d", "return", sku="MUG", quantity=1, condition="damaged"),
        event("o", "reserve", sku="MUG", quantity=3, reservation_id="o-1"),
    )

    # When its position is read
    response = api.get("/v1/positions/MUG/S1")

    # Then every quantity is there, as numbers
    assert response.status_code == 200
    assert response.json() == {
        "sku": "MUG",
        "location": "S1",
        "on_hand": 11,
        "non_sellable": 1,
        "reserved": 3,
        "in_transit": 0,
        "safety_stock": 2,
        "available": 5,
    }


def test_fractional_quantities_stay_exact_numbers(api: httpx.Client) -> None:
    # Given 250 g of a cheese kept by the kilo
    post_events(api, event("c", "receipt", sku="CHEESE", quantity=250, uom="G"))

    # When its position is read
    body = api.get("/v1/positions/CHEESE/S1").json()

    # Then on hand is 0.25 (kg), a JSON number
    assert body["on_hand"] == 0.25


def test_an_unknown_position_is_a_404_problem(api: httpx.Client) -> None:
    # Given the sample estate
    # When positions of unknown SKUs or locations are read
    # Then each is a 404 problem
    for path in ("/v1/positions/NOPE/S1", "/v1/positions/TEE-M/NOWHERE", "/v1/positions/NOPE"):
        assert_problem(api.get(path), 404)


def test_a_known_position_without_events_reads_as_zero(api: httpx.Client) -> None:
    # Given a known SKU and location that never saw an event
    # When the position is read
    body = api.get("/v1/positions/TEE-M/DC").json()

    # Then it is all zeros
    assert (body["on_hand"], body["available"]) == (0, 0)


def test_a_skus_positions_come_with_totals(api: httpx.Client) -> None:
    # Given TEE-M at two stores and in transit to a third
    post_events(
        api,
        event("a", "receipt", location="S1", quantity=5),
        event("b", "receipt", location="S2", quantity=3),
        event("c", "reserve", location="S2", quantity=1, reservation_id="o-1"),
        event("t", "transfer_out", location="S2", quantity=1, counterparty_location="DC"),
    )

    # When all its positions are read
    response = api.get("/v1/positions/TEE-M")

    # Then each location is listed and the totals add them up
    assert response.status_code == 200
    body = response.json()
    by_location = {p["location"]: p for p in body["locations"]}
    assert {loc: p["on_hand"] for loc, p in by_location.items() if p["on_hand"]} == {
        "S1": 5,
        "S2": 2,
    }
    assert by_location["DC"]["in_transit"] == 1
    assert body["totals"] == {
        "on_hand": 7,
        "non_sellable": 0,
        "reserved": 1,
        "in_transit": 1,
        "available": 6,
    }


def test_history_lists_the_events_of_a_position(api: httpx.Client) -> None:
    # Given a receipt before a count and a sale after it
    post_events(
        api,
        event("r", "receipt", quantity=10, at="2026-03-02T08:00:00+00:00"),
        event("c", "count", quantity=7, at="2026-03-02T09:00:00+00:00"),
        event("s", "sale", quantity=2, at="2026-03-02T10:00:00+00:00", correlation_id="tx-9"),
    )

    # When its history is read
    response = api.get("/v1/positions/TEE-M/S1/history", params={"limit": 10})

    # Then the position and its events come back, newest first, with the count flags
    assert response.status_code == 200
    body = response.json()
    assert body["position"]["on_hand"] == 5
    events = body["events"]
    assert [(e["event_id"], e["count_anchor"], e["superseded_by_count"]) for e in events] == [
        ("s", False, False),
        ("c", True, False),
        ("r", False, True),
    ]
    assert events[0]["on_hand_delta"] == -2
    assert events[0]["correlation_id"] == "tx-9"
    assert_problem(api.get("/v1/positions/TEE-M/S1/history", params={"limit": 0}), 422)


# --- GET /v1/events/{source}/{event_id} ------------------------------------------------------
def test_an_accepted_event_is_shown_as_stored_and_as_received(api: httpx.Client) -> None:
    # Given a receipt of 2 cases sent in pos codes
    raw = event("p-1", "receipt", sku="4711", location="0001", quantity=2, uom="CASE12")
    post_events(api, raw)

    # When it is looked up
    response = api.get("/v1/events/pos/p-1")

    # Then it is accepted, mapped to enterprise codes and base units, and keeps what was sent
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["sku"], body["location"], body["quantity"]) == (
        "accepted",
        "TEE-M",
        "S1",
        24,
    )
    assert body["occurred_at"].startswith("2026-03-02T09:00:00")
    assert body["received"] == raw


def test_a_parked_event_is_shown_with_its_exception(api: httpx.Client) -> None:
    # Given an event parked for an unknown location
    raw = event("p-2", "sale", location="0002")
    post_events(api, raw)

    # When it is looked up
    body = api.get("/v1/events/pos/p-2").json()

    # Then it shows the exception and the payload as received
    assert (body["status"], body["reason"], body["exception_status"]) == (
        "exception",
        "unknown_location",
        "open",
    )
    assert isinstance(body["exception_id"], int)
    assert body["received"] == raw


def test_an_unknown_event_is_a_404_problem(api: httpx.Client) -> None:
    # Given no such event
    # When it is looked up
    # Then the answer is a 404 problem
    assert_problem(api.get("/v1/events/pos/never-sent"), 404)


# --- master data -----------------------------------------------------------------------------
def test_items_upsert_stores_good_rows_and_names_the_bad_one(api: httpx.Client, hub: Hub) -> None:
    # Given three items, the second with a negative safety stock
    rows = [
        {"sku": "SCARF", "conversions": {"BOX6": 6}},
        {"sku": "HAT", "safety_stock": -1},
        {"sku": "GLOVE", "gtin": "4006381333931"},
    ]

    # When they are upserted
    response = api.put("/v1/items", json={"items": rows})

    # Then the answer is 207, the good rows are stored and the error names row and field
    assert response.status_code == 207
    report = response.json()
    assert (report["received"], report["upserted"], report["rejected"]) == (3, 2, 1)
    assert [(e["row"], e["field"]) for e in report["errors"]] == [(1, "safety_stock")]
    items = hub.store.master_data().items
    assert {"SCARF", "GLOVE"} <= items.keys()
    assert "HAT" not in items
    # And the new items are usable at once
    post_events(api, event("s", "receipt", sku="SCARF", quantity=1, uom="BOX6"))
    assert api.get("/v1/positions/SCARF/S1").json()["on_hand"] == 6


def test_a_master_data_body_of_the_wrong_shape_is_a_422_problem(api: httpx.Client) -> None:
    # Given bodies that are not {"items": [...]}
    # When they are sent
    # Then each is refused
    assert_problem(api.put("/v1/items", json=[{"sku": "A"}]), 422)
    assert_problem(api.put("/v1/items", json={"locations": []}), 422)


def test_locations_and_xrefs_upserts_make_new_codes_usable(api: httpx.Client) -> None:
    # Given a new store and pos's code for it
    locations = api.put(
        "/v1/locations", json={"locations": [{"code": "S3", "timezone": "Europe/Berlin"}]}
    )
    xrefs = api.put(
        "/v1/xrefs",
        json={
            "xrefs": [{"source": "pos", "kind": "location", "external_code": "0003", "code": "S3"}]
        },
    )
    assert (locations.status_code, xrefs.status_code) == (200, 200)
    assert locations.json()["upserted"] == xrefs.json()["upserted"] == 1

    # When pos reports a receipt at 0003
    response = post_events(api, event("a", "receipt", location="0003", quantity=4))

    # Then it lands at S3
    assert response.json()["results"][0]["status"] == "accepted"
    assert api.get("/v1/positions/TEE-M/S3").json()["on_hand"] == 4


def test_a_location_with_an_unknown_time_zone_is_rejected(api: httpx.Client) -> None:
    # Given a location in a time zone that does not exist
    # When it is upserted
    response = api.put(
        "/v1/locations", json={"locations": [{"code": "S4", "timezone": "Mars/Base"}]}
    )

    # Then the row is rejected, naming the field
    assert response.status_code == 207
    assert [(e["row"], e["field"]) for e in response.json()["errors"]] == [(0, "timezone")]


# --- exceptions ------------------------------------------------------------------------------
def test_exceptions_can_be_filtered(api: httpx.Client) -> None:
    # Given exceptions of several reasons and sources, one of them ignored
    post_events(
        api,
        event("a", "receipt", sku="NOPE"),
        event("b", "receipt", location="S9"),
        event("c", "receipt", sku="NOPE", source="web"),
        {**event("d", "sale"), "quantity": 0},
    )
    listed = api.get("/v1/exceptions").json()["exceptions"]
    id_of = {x["event_id"]: x["id"] for x in listed}
    assert sorted(id_of) == ["a", "b", "c", "d"]
    api.post(f"/v1/exceptions/{id_of['b']}/ignore", json={"note": "test store"})

    # When the list is filtered
    def ids(**params: Any) -> list[str]:
        response = api.get("/v1/exceptions", params=params)
        assert response.status_code == 200
        return sorted(x["event_id"] for x in response.json()["exceptions"])

    # Then each filter narrows it
    assert ids(reason="unknown_sku") == ["a", "c"]
    assert ids(source="web") == ["c"]
    assert ids(status="open") == ["a", "c", "d"]
    assert ids(status="ignored") == ["b"]
    assert ids(status="open", reason="unknown_sku", source="pos") == ["a"]
    # And paging by id returns the rest, in id order
    ordered = sorted(id_of, key=id_of.get)  # type: ignore[arg-type]
    page = api.get("/v1/exceptions", params={"after_id": id_of[ordered[1]], "limit": 1})
    assert [x["event_id"] for x in page.json()["exceptions"]] == [ordered[2]]
    assert_problem(api.get("/v1/exceptions", params={"status": "whatever"}), 422)


def test_an_exception_is_shown_with_its_payload(api: httpx.Client) -> None:
    # Given a parked event
    raw = event("a", "receipt", sku="NOPE")
    post_events(api, raw)
    listed = api.get("/v1/exceptions").json()["exceptions"][0]

    # When it is read by id
    body = api.get(f"/v1/exceptions/{listed['id']}").json()

    # Then it carries its reason, status and the payload as sent
    assert (body["reason"], body["status"], body["occurrences"]) == ("unknown_sku", "open", 1)
    assert body["payload"] == raw
    assert_problem(api.get("/v1/exceptions/999999"), 404)


def test_replay_after_a_fix_accepts_the_event(api: httpx.Client) -> None:
    # Given a sale parked because pos store 0002 has no cross reference
    post_events(api, event("a", "receipt", location="0002", quantity=3))
    exception_id = api.get("/v1/exceptions").json()["exceptions"][0]["id"]

    # When the cross reference is added and the exception replayed
    api.put(
        "/v1/xrefs",
        json={
            "xrefs": [{"source": "pos", "kind": "location", "external_code": "0002", "code": "S2"}]
        },
    )
    response = api.post(f"/v1/exceptions/{exception_id}/replay")

    # Then the event is accepted, the exception resolved, and the stock is at S2
    assert response.status_code == 200
    body = response.json()
    assert body["result"]["status"] == "accepted"
    assert body["exception"]["status"] == "resolved"
    assert api.get("/v1/positions/TEE-M/S2").json()["on_hand"] == 3
    # And replaying it again is a conflict
    again = assert_problem(api.post(f"/v1/exceptions/{exception_id}/replay"), 409)
    assert again["exception_id"] == exception_id
    assert api.get("/v1/positions/TEE-M/S2").json()["on_hand"] == 3


def test_ignore_closes_an_exception_with_a_note(api: httpx.Client) -> None:
    # Given a parked event
    post_events(api, event("a", "receipt", sku="NOPE"))
    exception_id = api.get("/v1/exceptions").json()["exceptions"][0]["id"]

    # When it is ignored with a note, and without one
    empty = api.post(f"/v1/exceptions/{exception_id}/ignore", json={"note": ""})
    response = api.post(f"/v1/exceptions/{exception_id}/ignore", json={"note": "test data"})

    # Then the empty note is refused and the note given is kept
    assert_problem(empty, 422)
    assert response.status_code == 200
    assert (response.json()["status"], response.json()["note"]) == ("ignored", "test data")
    assert_problem(api.post("/v1/exceptions/999999/ignore", json={"note": "x"}), 404)
    assert_problem(api.post("/v1/exceptions/999999/replay"), 404)


# --- operations and the API description ------------------------------------------------------
def test_healthz_needs_no_key(api: httpx.Client, live: LiveServer) -> None:
    # Given a running server, before and after an accepted event
    with client_with(live, {}) as anonymous:
        before = anonymous.get("/healthz")
        post_events(api, event("a", "receipt"))
        # When the health check is called without a key
        after = anonymous.get("/healthz")

    # Then it answers ok with vital figures that follow the hub
    assert (before.status_code, after.status_code) == (200, 200)
    assert before.json()["status"] == after.json()["status"] == "ok"
    assert before.json()["outbox_depth"] == 0
    assert after.json()["outbox_depth"] > 0


def test_openapi_describes_the_paths_and_the_event_schema(live: LiveServer) -> None:
    # Given a running server
    with client_with(live, {}) as anonymous:
        # When the OpenAPI document is fetched
        response = anonymous.get("/openapi.json")

    # Then it lists the v1 paths and the request schemas
    assert response.status_code == 200
    doc = response.json()
    for path in (
        "/v1/events",
        "/v1/events/{source}/{event_id}",
        "/v1/positions/{sku}",
        "/v1/positions/{sku}/{location}",
        "/v1/positions/{sku}/{location}/history",
        "/v1/items",
        "/v1/locations",
        "/v1/xrefs",
        "/v1/exceptions",
        "/v1/exceptions/{exception_id}/replay",
        "/v1/exceptions/{exception_id}/ignore",
        "/healthz",
    ):
        assert path in doc["paths"], path
    schemas = doc["components"]["schemas"]
    assert {"IngestRequest", "EventIn", "ItemsIn"} <= schemas.keys()
    assert schemas["IngestRequest"]["properties"]["events"]["items"]["$ref"] == (
        "#/components/schemas/EventIn"
    )
    assert {"event_id", "source", "type", "sku", "location", "quantity", "occurred_at"} <= set(
        schemas["EventIn"]["required"]
    )
    post = doc["paths"]["/v1/events"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"] == (
        "#/components/schemas/IngestRequest"
    )
