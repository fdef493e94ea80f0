"""Reconciliation over HTTP with uploaded snapshots: compared with the ledger as of the
snapshot's instant, bad rows reported by line and field, causes, policies, the CSV report
and positions as of an instant. Both storage backends."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.master import MasterKind
from stockbridge.domain.access import Binding

from ..conftest import ADMIN_KEY, START, LiveServer, event, hub_settings, seed_master

SYSTEMS = {
    "erp": {"policy": "raise_exceptions", "measure": "on_hand"},
    "wms": {"policy": "accept_theirs", "measure": "on_hand", "xref_source": "wh"},
}


@pytest.fixture
def clock() -> ManualClock:
    # Noon on the day the sample events happen: every snapshot below is in the past.
    return ManualClock(START + timedelta(hours=3))


@pytest.fixture
def recon_hub(store: SqlStore, clock: ManualClock) -> Iterator[Hub]:
    hub = bootstrap(hub_settings(reconciliation={"systems": SYSTEMS}), store=store, clock=clock)
    seed_master(hub)
    hub.master_data.import_list(
        MasterKind.ITEMS, [{"sku": "TEE-M", "unit_cost": "4.5"}, {"sku": "MUG", "unit_cost": 2}]
    )
    hub.master_data.import_list(
        MasterKind.XREFS,
        [{"source": "wh", "kind": "location", "external_code": "WH-1", "code": "DC"}],
    )
    try:
        yield hub
    finally:
        hub.stop()


@pytest.fixture
def api(recon_hub: Hub) -> Iterator[httpx.Client]:
    server = LiveServer(create_app(recon_hub)).start()
    client = httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    )
    try:
        yield client
    finally:
        client.close()
        server.stop()


def post_events(api: httpx.Client, *events: dict[str, Any]) -> None:
    r = api.post("/v1/events", json={"events": list(events)})
    assert r.status_code == 200, r.text
    assert r.json()["totals"]["accepted"] == len(events), r.text


def upload_csv(api: httpx.Client, system: str, as_of: str, text: str) -> httpx.Response:
    return api.post(
        "/v1/reconciliations",
        params={"system": system, "as_of": as_of},
        content=text.encode(),
        headers={"Content-Type": "text/csv"},
    )


def test_a_csv_snapshot_is_compared_as_of_its_instant_and_bad_rows_are_named(
    api: httpx.Client, clock: ManualClock
) -> None:
    # Given 10 received at S1 at 09:00 and 3 sold at 11:00
    post_events(
        api,
        event("r1", "receipt", quantity=10, at="2026-03-02T09:00:00+00:00"),
        event("s1", "sale", quantity=3, at="2026-03-02T11:00:00+00:00"),
    )
    # When the ERP's stock as of 10:00 is uploaded, with two unreadable rows
    text = "sku,location,quantity\nTEE-M,S1,10\nMUG,S1,4\nNOPE,S1,1\nTEE-M,S2,lots\n,S1,2\n"
    r = upload_csv(api, "erp", "2026-03-02T10:00:00+00:00", text)
    assert r.status_code == 201, r.text
    run = r.json()
    # Then TEE-M matches the hub as it was at 10:00 (10), though it holds 7 now
    assert (run["lines"], run["matched"], run["differing"], run["rejected"]) == (3, 1, 2, 2)
    # And the bad rows are named by file line and field; the good ones were compared
    assert run["errors"] == [
        {"line": 5, "field": "quantity", "message": "'lots' is not a number"},
        {"line": 6, "field": "sku", "message": "required: the system's own code"},
    ]
    by_sku = {d["system_sku"]: d for d in run["differences"]}
    mug = by_sku["MUG"]
    assert (mug["hub"], mug["system_quantity"], mug["difference"]) == (0, 4, 4)
    assert (mug["unit_cost"], mug["value"], mug["cause"]) == (2, 8, "drift")
    assert by_sku["NOPE"]["cause"] == "mapping_missing" and by_sku["NOPE"]["hub"] is None
    assert run["by_cause"] == {"drift": 1, "mapping_missing": 1}
    assert (run["drift_units"], run["drift_value"]) == (5, 8)
    # And the ERP's policy put both in the exception queue
    assert run["actions"] == {"exception": 2}
    parked = api.get("/v1/exceptions", params={"reason": "reconciliation_drift"}).json()
    assert sorted(x["event_id"] for x in parked["exceptions"]) == ["MUG@S1", "NOPE@S1"]

    # When the same snapshot is reconciled again an hour later
    clock.advance(timedelta(hours=1))
    again = upload_csv(api, "erp", "2026-03-02T10:00:00+00:00", text).json()
    # Then the differences are as old as their first sighting, and are the same exceptions
    ages = {d["system_sku"]: d["differing_seconds"] for d in again["differences"]}
    assert ages == {"MUG": 3600, "NOPE": 3600}
    assert again["oldest_difference_since"] == run["created_at"]
    parked = api.get("/v1/exceptions", params={"reason": "reconciliation_drift"}).json()
    assert sorted(x["occurrences"] for x in parked["exceptions"]) == [2, 2]
    # And a difference is a report, not an event: replaying it is refused with the why
    first = parked["exceptions"][0]["id"]
    refused = api.post(f"/v1/exceptions/{first}/replay")
    assert refused.status_code == 409 and "reconciliation difference" in refused.json()["detail"]

    # And the report is a CSV with one row per difference
    report = api.get(f"/v1/reconciliations/{again['id']}/report.csv")
    assert report.status_code == 200
    assert report.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(report.text)))
    assert [(r["system_sku"], r["difference"], r["value"], r["cause"]) for r in rows] == [
        ("MUG", "4", "8", "drift"),
        ("NOPE", "1", "", "mapping_missing"),
    ]
    # And the run list shows both runs, newest first
    listed = api.get("/v1/reconciliations", params={"system": "erp"}).json()["runs"]
    assert [x["id"] for x in listed] == [again["id"], run["id"]]
    # And /metrics carries the latest run's drift, labelled by system only
    metrics = api.get("/metrics").text
    assert 'stockbridge_reconciliation_drift_units{system="erp"} 5.0' in metrics
    assert 'stockbridge_reconciliation_drift_value{system="erp"} 8.0' in metrics
    assert 'stockbridge_reconciliation_oldest_difference_age_seconds{system="erp"} 3600.0' in (
        metrics
    )
    assert 'stockbridge_reconciliation_drift_units{system="wms"}' not in metrics
    # And the systems list, which the dashboard page reads, shows the latest run per system
    systems = {x["name"]: x for x in api.get("/v1/reconciliations/systems").json()["systems"]}
    assert systems["erp"]["latest"]["id"] == again["id"] and systems["wms"]["latest"] is None
    page = api.get("/dashboard/reconciliation")
    assert page.status_code == 200 and "reconciliation.js" in page.text
    assert "connect-src 'self'" in page.headers["content-security-policy"]


def test_a_json_snapshot_from_a_trusted_warehouse_becomes_counts(api: httpx.Client) -> None:
    # Given 10 received at DC at 09:00, 2 sold at 11:00
    post_events(
        api,
        event("r1", "receipt", location="DC", quantity=10, at="2026-03-02T09:00:00+00:00"),
        event("s1", "sale", location="DC", quantity=2, at="2026-03-02T11:00:00+00:00"),
    )
    # When the warehouse says it held 6 at 10:00 (its own location code), with bad lines
    body = {
        "system": "wms",
        "as_of": "2026-03-02T10:00:00+00:00",
        "lines": [
            {"sku": "TEE-M", "location": "WH-1", "quantity": 6},
            {"sku": "MUG", "location": "WH-1"},
            {"sku": "MUG", "location": "WH-1", "quantity": 1, "colour": "red"},
            {"sku": "TEE-M", "location": "WH-1", "quantity": 7},
            "TEE-M,WH-1,3",
        ],
    }
    r = api.post("/v1/reconciliations", json=body)
    assert r.status_code == 201, r.text
    run = r.json()
    # Then the good line differs by -4 and became a count; each bad one is named
    assert [(e["line"], e["field"]) for e in run["errors"]] == [
        (2, "quantity"),
        (3, "colour"),
        (4, "sku"),
        (5, "$"),
    ]
    assert run["errors"][2]["message"] == "TEE-M at WH-1 already given on line 1"
    (diff,) = run["differences"]
    assert (diff["location"], diff["difference"], diff["action"]) == ("DC", -4, "counted")
    # And the ledger took the count at 10:00: 6, then the 11:00 sale on top
    position = api.get("/v1/positions/TEE-M/DC").json()
    assert position["on_hand"] == 4
    # And the next run of the same snapshot finds nothing
    again = api.post("/v1/reconciliations", json={**body, "lines": body["lines"][:1]}).json()
    assert (again["matched"], again["differing"]) == (1, 0)


def test_uploads_that_cannot_be_reconciled_are_refused_with_a_reason(
    api: httpx.Client, recon_hub: Hub
) -> None:
    # An undeclared system
    r = upload_csv(api, "shop", "2026-03-02T10:00:00+00:00", "sku,location,quantity\n")
    assert r.status_code == 404
    assert "no reconciliation system 'shop'" in r.json()["detail"]
    # No instant
    r = api.post("/v1/reconciliations", json={"system": "erp", "lines": []})
    assert r.status_code == 422 and r.json()["detail"].startswith("as_of")
    # An instant without an offset
    r = upload_csv(api, "erp", "2026-03-02T10:00:00", "sku,location,quantity\n")
    assert r.status_code == 422 and "UTC offset" in r.json()["detail"]
    # A JSON body that is not a snapshot
    r = api.post(
        "/v1/reconciliations",
        json={"system": "erp", "as_of": "2026-03-02T10:00:00Z", "lines": {"a": 1}},
    )
    assert r.status_code == 422
    assert r.json()["type"].endswith("unreadable-snapshot")
    # A key without the reconcile scope
    key, _ = recon_hub.keys.create("reader", ["positions:read"])
    r = httpx.post(
        f"{api.base_url}/v1/reconciliations",
        json={"system": "erp", "as_of": "2026-03-02T10:00:00Z", "lines": []},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert r.status_code == 403
    # A key bound to the warehouse's source may reconcile the warehouse, not the ERP
    wms_key, _ = recon_hub.keys.create(
        "wms", ["reconcile", "positions:read"], binding=Binding(sources=frozenset({"wms"}))
    )
    as_wms = {"Authorization": f"Bearer {wms_key}"}
    body = {"as_of": "2026-03-02T10:00:00Z", "lines": []}
    r = httpx.post(
        f"{api.base_url}/v1/reconciliations", json={**body, "system": "erp"}, headers=as_wms
    )
    assert r.status_code == 403 and r.json()["type"].endswith("outside-binding")
    r = httpx.post(
        f"{api.base_url}/v1/reconciliations", json={**body, "system": "wms"}, headers=as_wms
    )
    assert r.status_code == 201, r.text


def test_positions_as_of_an_instant(api: httpx.Client) -> None:
    # Given a receipt, a reservation that expires, and a sale
    post_events(
        api,
        event("r1", "receipt", quantity=10, at="2026-03-02T09:00:00+00:00"),
        event(
            "h1",
            "reserve",
            quantity=2,
            at="2026-03-02T10:00:00+00:00",
            reservation_id="R1",
            expires_at="2026-03-02T10:30:00+00:00",
        ),
        event("s1", "sale", quantity=3, at="2026-03-02T11:00:00+00:00"),
    )

    def at(instant: str) -> dict[str, Any]:
        r = api.get("/v1/positions/TEE-M/S1", params={"as_of": instant})
        assert r.status_code == 200, r.text
        return dict(r.json())

    # Then before anything the position is empty; the reservation held until it expired
    assert at("2026-03-02T08:00:00+00:00")["on_hand"] == 0
    held = at("2026-03-02T10:15:00+00:00")
    assert (held["on_hand"], held["reserved"], held["available"]) == (10, 2, 8)
    expired = at("2026-03-02T10:45:00+00:00")
    assert (expired["reserved"], expired["available"]) == (0, 10)
    # And now it is what the hub keeps
    now = at("2026-03-02T12:00:00+00:00")
    current = api.get("/v1/positions/TEE-M/S1").json()
    assert now["on_hand"] == current["on_hand"] == 7
    # And a bad instant or an unknown position is refused
    assert api.get("/v1/positions/TEE-M/S1", params={"as_of": "noon"}).status_code == 422
    assert (
        api.get("/v1/positions/NOPE/S1", params={"as_of": "2026-03-02T12:00:00Z"}).status_code
        == 404
    )
