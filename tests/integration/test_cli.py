"""The `stockbridge` command line, run in-process with typer's CliRunner on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.app.keys import KeyService
from stockbridge.cli import app
from stockbridge.config import Settings
from tests.conftest import START, event, seed_master


def test_keys_create_prints_a_key_that_authenticates(runner: CliRunner, db: str) -> None:
    # Given an empty hub database
    # When a key is created for the POS with one scope
    result = runner.invoke(
        app, ["keys", "create", "pos-paris", "--scope", "events:write", "--database", db]
    )

    # Then the key alone is printed on stdout, and it authenticates with that scope
    assert result.exit_code == 0, result.output
    key = result.stdout.strip()
    assert key.startswith("sbk_") and "\n" not in key
    assert "pos-paris" in result.stderr
    store = open_store(db)
    try:
        principal = KeyService(store, ManualClock(START)).authenticate(key)
        assert principal is not None
        assert (principal.name, principal.scopes) == ("pos-paris", frozenset({"events:write"}))
        assert KeyService(store, ManualClock(START)).authenticate(key + "x") is None
    finally:
        store.close()


def test_keys_create_refuses_an_unknown_scope(runner: CliRunner, db: str) -> None:
    # Given an empty hub database
    # When a key is asked for with a scope that does not exist
    result = runner.invoke(app, ["keys", "create", "x", "--scope", "root", "--database", db])

    # Then it fails without creating anything
    assert result.exit_code == 2
    assert "root" in result.stderr
    store = open_store(db)
    try:
        assert store.api_keys() == []
    finally:
        store.close()


def test_import_master_reports_a_bad_row_by_file_and_line(runner: CliRunner, db: str) -> None:
    # Given an items file whose third line has a negative safety stock
    Path("items.csv").write_text("sku,safety_stock\nTEE,1\nMUG,-2\nCUP,0\n")

    # When it is imported
    result = runner.invoke(app, ["import-master", "items.csv", "--database", db])

    # Then the command fails, naming file:line and the field, and the good rows are stored
    assert result.exit_code == 1
    assert "items.csv:3: safety_stock" in result.stderr
    assert "2 upserted, 1 rejected" in result.stdout
    store = open_store(db)
    try:
        assert set(store.master_data().items) == {"TEE", "CUP"}
    finally:
        store.close()


def test_import_master_of_good_files_succeeds(runner: CliRunner, db: str) -> None:
    # Given items, locations and xrefs files
    Path("items.csv").write_text("sku,conversions\nTEE,CASE12:12\n")
    Path("locations.csv").write_text("code,kind,timezone\nS1,store,Europe/Paris\n")
    Path("xrefs.csv").write_text("source,kind,external_code,code\npos,location,0001,S1\n")

    # When they are imported together
    result = runner.invoke(
        app, ["import-master", "items.csv", "locations.csv", "xrefs.csv", "--database", db]
    )

    # Then the command succeeds and each file is reported
    assert result.exit_code == 0, result.output
    for line in (
        "items.csv: items: 1 upserted",
        "locations.csv: locations: 1 upserted",
        "xrefs.csv: xrefs: 1 upserted",
    ):
        assert line in result.stdout


def test_import_master_of_an_unreadable_file_fails(runner: CliRunner, db: str) -> None:
    # Given a JSON items file that is not JSON
    Path("items.json").write_text("{oops")

    # When it is imported
    result = runner.invoke(app, ["import-master", "items.json", "--database", db])

    # Then the command fails and names the file
    assert result.exit_code == 1
    assert "items.json" in result.stderr


def test_exceptions_list_and_replay_after_fixing_a_cross_reference(
    runner: CliRunner, db: str
) -> None:
    # Given a hub where pos store 0002 has no cross reference, and a receipt parked for it
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=ManualClock(START))
    seed_master(hub)
    hub.ingest.ingest([event("p-1", "receipt", location="0002", quantity=3)])
    hub.close()

    # When the open exceptions are listed as JSON
    listed = runner.invoke(app, ["exceptions", "list", "--json", "--database", db])

    # Then there is one JSON line with the reason and the payload as sent
    assert listed.exit_code == 0, listed.output
    lines = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    assert [(x["event_id"], x["reason"], x["status"]) for x in lines] == [
        ("p-1", "unknown_location", "open")
    ]
    assert lines[0]["payload"]["location"] == "0002"
    exception_id = lines[0]["id"]

    # When the cross reference is imported and the exception replayed
    Path("xrefs.csv").write_text("source,kind,external_code,code\npos,location,0002,S2\n")
    assert runner.invoke(app, ["import-master", "xrefs.csv", "--database", db]).exit_code == 0
    replayed = runner.invoke(app, ["exceptions", "replay", str(exception_id), "--database", db])

    # Then it is resolved and the stock is at S2
    assert replayed.exit_code == 0, replayed.output
    assert "1 of 1 replayed exception(s) resolved" in replayed.stdout
    after = runner.invoke(app, ["exceptions", "list", "--json", "--database", db])
    assert after.stdout.strip() == ""
    resolved = runner.invoke(
        app, ["exceptions", "list", "--json", "--status", "resolved", "--database", db]
    )
    assert [json.loads(line)["id"] for line in resolved.stdout.splitlines()] == [exception_id]
    store = open_store(db)
    try:
        position = store.position("TEE-M", "S2")
        assert position is not None and position.on_hand == 3
    finally:
        store.close()


def test_exceptions_replay_of_all_open_ones(runner: CliRunner, db: str) -> None:
    # Given two receipts parked for an unknown SKU
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=ManualClock(START))
    seed_master(hub)
    hub.ingest.ingest(
        [event("a", "receipt", sku="SCARF"), event("b", "receipt", sku="SCARF", quantity=2)]
    )
    hub.close()
    Path("items.csv").write_text("sku\nSCARF\n")
    runner.invoke(app, ["import-master", "items.csv", "--database", db])

    # When every open exception is replayed
    result = runner.invoke(app, ["exceptions", "replay", "--database", db])

    # Then both are resolved and the stock is booked
    assert result.exit_code == 0, result.output
    assert "2 of 2 replayed exception(s) resolved" in result.stdout
    store = open_store(db)
    try:
        position = store.position("SCARF", "S1")
        assert position is not None and position.on_hand == 3
    finally:
        store.close()


def test_exceptions_ignore_records_the_note(runner: CliRunner, db: str) -> None:
    # Given a parked receipt
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=ManualClock(START))
    seed_master(hub)
    hub.ingest.ingest([event("a", "receipt", sku="GONE")])
    exception_id = hub.store.exceptions()[0].id
    hub.close()

    # When it is ignored with a note, and an unknown id likewise
    result = runner.invoke(
        app, ["exceptions", "ignore", str(exception_id), "--note", "discontinued", "--database", db]
    )
    unknown = runner.invoke(app, ["exceptions", "ignore", "999", "--note", "x", "--database", db])

    # Then the first is ignored with its note, the second fails
    assert result.exit_code == 0, result.output
    assert unknown.exit_code == 1
    listed = runner.invoke(
        app, ["exceptions", "list", "--json", "--status", "ignored", "--database", db]
    )
    record = json.loads(listed.stdout)
    assert (record["id"], record["note"]) == (exception_id, "discontinued")
