"""The exception workbench over real HTTP, on SQLite and PostgreSQL (DESIGN §8): filters,
owners, threads, escalation, bulk ignore, fix-a-mapping-and-replay, the SLA and
resolution times."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock
from stockbridge.app.ports import ExceptionRecord
from stockbridge.app.triage import OverdueWatch
from stockbridge.domain.triage import ExceptionSla
from tests.conftest import LiveServer, event, seed_master

from .test_api import assert_problem, bearer, client_with, post_events


@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    return client


def open_ids(api: httpx.Client, **params: Any) -> dict[str, int]:
    """event id -> exception id of the exceptions the filter lists."""
    response = api.get("/v1/exceptions", params=params)
    assert response.status_code == 200, response.text
    return {x["event_id"]: x["id"] for x in response.json()["exceptions"]}


def named_key(hub: Hub, name: str) -> str:
    key, _ = hub.keys.create(name, ["admin"])
    return key


def test_a_mapping_fix_replays_every_exception_it_resolves_at_once(
    api: httpx.Client, hub: Hub
) -> None:
    # Given three pos sales parked on unknown item 9001, one of them also at unknown
    # store 0009, and exceptions the fix must not touch: 9001 from another source, 9002
    post_events(
        api,
        event("r-1", "receipt", quantity=10),
        event("a", "sale", sku="9001"),
        event("b", "sale", sku="9001", quantity=2),
        event("c", "sale", sku="9001", location="0009"),
        event("d", "sale", sku="9001", source="web"),
        event("e", "sale", sku="9002"),
    )
    parked = open_ids(api, status="open")
    assert sorted(parked) == ["a", "b", "c", "d", "e"]

    # When the mapping is fixed through the workbench
    response = api.post(
        "/v1/xrefs/fix",
        json={"xrefs": [{"source": "pos", "kind": "item", "external_code": "9001", "code": "MUG"}]},
    )

    # Then the three pos exceptions on 9001 were replayed in one call: two accepted, one
    # still failing on its store
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["xrefs"], body["matched"], body["resolved"], body["still_failing"]) == (1, 3, 2, 1)
    by_id = {r["id"]: r for r in body["replayed"]}
    assert set(by_id) == {parked["a"], parked["b"], parked["c"]}
    assert by_id[parked["c"]]["result"]["reason"] == "unknown_location"
    # And the stock moved, the exceptions say how they were closed, and by whom
    assert api.get("/v1/positions/MUG/S1").json()["on_hand"] == -3
    fixed = api.get(f"/v1/exceptions/{parked['a']}").json()
    assert (fixed["status"], fixed["resolution"]) == ("resolved", "mapping_fixed")
    assert fixed["resolved_at"] is not None
    assert [(n["kind"], n["author"]) for n in fixed["notes"]] == [("replayed", "bootstrap")]
    # And the others wait as they were; the cross reference has its first version
    assert sorted(open_ids(api, status="open")) == ["c", "d", "e"]
    history = api.get("/v1/history/xref/pos/item/9001").json()["history"]
    assert [(h["version"], h["action"], h["after"]["code"]) for h in history] == [
        (1, "create", "MUG")
    ]
    # And an invalid row stores nothing
    bad = api.post(
        "/v1/xrefs/fix",
        json={"xrefs": [{"source": "pos", "kind": "colour", "external_code": "1", "code": "X"}]},
    )
    assert_problem(bad, 422)


def test_an_exception_is_assigned_annotated_and_escalated_by_named_keys(
    api: httpx.Client, hub: Hub, live: LiveServer
) -> None:
    # Given a parked event, and an operator with a key of her own
    post_events(api, event("a", "receipt", sku="NOPE"))
    exception_id = open_ids(api)["a"]
    with client_with(live, bearer(named_key(hub, "claire"))) as claire:
        # When she takes it, writes what she found and escalates it
        assigned = claire.post(f"/v1/exceptions/{exception_id}/assign", json={"assignee": "claire"})
        noted = claire.post(
            f"/v1/exceptions/{exception_id}/notes", json={"text": "supplier sent a new code"}
        )
        escalated = claire.post(
            f"/v1/exceptions/{exception_id}/escalate", json={"note": "needs the item team"}
        )
        blank = claire.post(f"/v1/exceptions/{exception_id}/notes", json={"text": "   "})

    # Then the exception carries its owner and level, and the thread tells the story
    assert assigned.status_code == 200 and assigned.json()["assignee"] == "claire"
    assert noted.status_code == 201 and noted.json()["author"] == "claire"
    assert escalated.json()["escalation"] == 1 and escalated.json()["escalated_at"]
    assert_problem(blank, 422)
    detail = api.get(f"/v1/exceptions/{exception_id}").json()
    assert [(n["kind"], n["author"], n["text"]) for n in detail["notes"]] == [
        ("assigned", "claire", "assigned to claire"),
        ("note", "claire", "supplier sent a new code"),
        ("escalated", "claire", "escalated to level 1: needs the item team"),
    ]
    # And the list filters by owner and escalation
    assert list(open_ids(api, assignee="claire")) == ["a"]
    assert open_ids(api, assignee="bob") == {}
    assert list(open_ids(api, escalated=True)) == ["a"]
    # And a closed exception cannot be assigned any more
    api.post(f"/v1/exceptions/{exception_id}/ignore", json={"note": "test item"})
    again = assert_problem(
        api.post(f"/v1/exceptions/{exception_id}/assign", json={"assignee": "bob"}), 409
    )
    assert again["exception_id"] == exception_id
    assert_problem(api.post("/v1/exceptions/999999/escalate"), 404)


def test_bulk_ignore_by_filter_needs_a_note_and_reports_what_it_skipped(
    api: httpx.Client, hub: Hub, clock: ManualClock
) -> None:
    # Given old exceptions from the web and a fresh one from pos
    post_events(
        api,
        event("w-1", "sale", sku="OLD-1", source="web"),
        event("w-2", "sale", sku="OLD-2", source="web"),
    )
    clock.advance(timedelta(hours=3))
    post_events(api, event("p-1", "sale", sku="NEW"))
    ids = open_ids(api)

    # When every open web exception older than an hour is ignored with a note
    no_note = api.post("/v1/exceptions/ignore", json={"filter": {"source": "web"}})
    both = api.post("/v1/exceptions/ignore", json={"ids": [ids["p-1"]], "filter": {}, "note": "x"})
    response = api.post(
        "/v1/exceptions/ignore",
        json={"filter": {"source": "web", "min_age_seconds": 3600}, "note": "retired items"},
    )

    # Then both are ignored with that note, the pos one is untouched
    assert_problem(no_note, 422)
    assert_problem(both, 422)
    assert response.status_code == 200, response.text
    assert sorted(response.json()["ignored"]) == sorted([ids["w-1"], ids["w-2"]])
    ignored = api.get(f"/v1/exceptions/{ids['w-1']}").json()
    assert (ignored["status"], ignored["note"], ignored["resolution"]) == (
        "ignored",
        "retired items",
        "ignored",
    )
    assert ignored["age_seconds"] == pytest.approx(3 * 3600)
    assert list(open_ids(api, status="open")) == ["p-1"]
    # And ids that are no longer open are skipped, saying why
    again = api.post(
        "/v1/exceptions/ignore", json={"ids": [ids["w-1"], ids["p-1"]], "note": "cleanup"}
    ).json()
    assert again["ignored"] == [ids["p-1"]]
    assert [s["id"] for s in again["skipped"]] == [ids["w-1"]]
    # And the age bounds filter the list
    assert open_ids(api, max_age_seconds=60) == {"p-1": ids["p-1"]}
    assert_problem(
        api.get("/v1/exceptions", params={"min_age_seconds": 10, "max_age_seconds": 5}), 422
    )


def test_exceptions_past_their_sla_are_overdue_alerted_once_and_counted(
    api: httpx.Client, hub: Hub, clock: ManualClock, live: LiveServer
) -> None:
    # Given an unknown location (SLA 24 h by default) and an unknown SKU parked 5 h ago
    post_events(api, event("a", "sale", location="0042"), event("b", "sale", sku="NOPE"))
    hub.triage.sla = ExceptionSla(24 * 3600, {"unknown_sku": 4 * 3600})
    alerted: list[list[ExceptionRecord]] = []
    watch = OverdueWatch(hub.triage, interval=60, on_overdue=alerted.append)
    clock.advance(timedelta(hours=5))

    # When the overdue check runs twice
    first = watch.check()
    second = watch.check()

    # Then only the unknown SKU is overdue, alerted once, with an entry in its thread
    assert [r.event_id for r in first] == ["b"]
    assert second == []
    assert alerted == [first]
    ids = open_ids(api)
    listed = {x["event_id"]: x for x in api.get("/v1/exceptions").json()["exceptions"]}
    assert (listed["b"]["overdue"], listed["a"]["overdue"]) == (True, False)
    assert listed["b"]["overdue_since"] is not None
    assert list(open_ids(api, overdue=True)) == ["b"]
    # And the filter is the query's, not the page's: a page of one is the overdue one
    assert list(open_ids(api, overdue=True, limit=1)) == ["b"]
    assert list(open_ids(api, overdue=False, limit=1)) == ["a"]
    assert open_ids(api, overdue=True, status="resolved") == {}
    alerts = api.get("/v1/exceptions/alerts").json()["alerts"]
    assert [a["exception_id"] for a in alerts] == [ids["b"]]
    thread = api.get(f"/v1/exceptions/{ids['b']}/notes").json()["notes"]
    assert [(n["kind"], n["author"]) for n in thread] == [("overdue", "stockbridge")]
    # And the summary and the metric count it by reason
    summary = api.get("/v1/exceptions/summary").json()
    by_reason = {r["reason"]: r for r in summary["by_reason"]}
    assert (summary["open"], summary["overdue"]) == (2, 1)
    assert by_reason["unknown_sku"]["sla_seconds"] == 4 * 3600
    metrics = httpx.get(live.url + "/metrics").text
    assert 'stockbridge_exceptions_overdue{reason="unknown_sku"} 1.0' in metrics
    assert 'stockbridge_exceptions_overdue{reason="unknown_location"} 0.0' in metrics


def test_resolution_time_is_reported_by_reason(
    api: httpx.Client, hub: Hub, clock: ManualClock
) -> None:
    # Given three unknown SKUs closed after 1 h, 2 h and 10 h, and one still open
    post_events(api, *(event(f"e-{i}", "sale", sku=f"X{i}") for i in range(4)))
    ids = open_ids(api)
    for hours, event_id in ((1, "e-0"), (1, "e-1"), (8, "e-2")):
        clock.advance(timedelta(hours=hours))
        api.post(f"/v1/exceptions/{ids[event_id]}/ignore", json={"note": "closed"})

    # When the summary is read
    summary = api.get("/v1/exceptions/summary").json()

    # Then the median, the 90th percentile and the worst are the nearest-rank figures
    (row,) = summary["resolution"]
    assert (row["reason"], row["resolved"]) == ("unknown_sku", 3)
    assert (row["median_seconds"], row["p90_seconds"], row["max_seconds"]) == (
        2 * 3600,
        10 * 3600,
        10 * 3600,
    )
