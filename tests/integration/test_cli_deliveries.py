"""`stockbridge deliveries`: inspect, replay and pause, run in-process on a SQLite file.

Deliveries are made the real way (events ingested after a target and a channel exist);
an attempt's outcome is recorded through the store as the dispatcher records it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.ports import Delivery
from stockbridge.cli import app
from stockbridge.domain.model import to_micros
from tests.conftest import START, event, hub_settings, seed_master

LEASE_US = 60_000_000
#: When the attempts in these tests are recorded.
FAILED_AT = START + timedelta(minutes=5)


@pytest.fixture
def hub(db: str) -> Iterator[Hub]:
    """A hub on `db` with a target `shop` taking postings and channel `web` pushing to it."""
    h = bootstrap(hub_settings(db), clock=ManualClock(START))
    seed_master(h)
    h.deliveries.put_target(
        "shop", {"url": "http://127.0.0.1:9/hook", "secret": "s3cret", "postings": True}
    )
    h.channels.put("web", {"locations": {"S1": 0, "S2": 0}, "target": "shop"})
    try:
        yield h
    finally:
        h.close()


def ingest(hub: Hub, *events: dict[str, Any]) -> None:
    result = hub.ingest.ingest(list(events))
    assert result.totals()["accepted"] == len(events), result


def run(runner: CliRunner, db: str, *args: str) -> Any:
    return runner.invoke(app, ["deliveries", *args, "--database", db])


def json_lines(output: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in output.splitlines() if line.strip()]


def attempt(hub: Hub, *, push: str, posting: str | None = None, status: int = 503) -> Delivery:
    """Claim the due deliveries and record one attempt each: the push ends `push`."""
    claimed = hub.store.claim_deliveries("shop", to_micros(FAILED_AT), LEASE_US, 10)
    pushes = [d for d in claimed if d.kind == "availability"]
    assert len(pushes) == 1, claimed
    for d in claimed:
        state = push if d.kind == "availability" else posting or "delivered"
        ok = state == "delivered"
        hub.store.finish_delivery(
            d,
            state=state,
            status=200 if ok else status,
            error=None if ok else f"HTTP {status}: try later",
            duration_ms=12.0,
            next_attempt_us=None,
            now_us=to_micros(FAILED_AT),
        )
    return pushes[0]


def test_list_shows_deliveries_with_filters_and_coalescing(
    runner: CliRunner, db: str, hub: Hub
) -> None:
    # Given two receipts at S1, ingested one after the other
    ingest(hub, event("r-1", "receipt", quantity=5))
    ingest(hub, event("r-2", "receipt", quantity=2))

    # When every delivery is listed as JSON
    listed = run(runner, db, "list", "--json")

    # Then one availability push carries the newest value (the first was coalesced into it)
    # and each receipt has its own posting, keyed by its source document
    assert listed.exit_code == 0, listed.output
    rows = json_lines(listed.stdout)
    assert [(r["kind"], r["key"], r["state"], r["coalesced"]) for r in rows] == [
        ("availability", "web/TEE-M", "pending", 1),
        ("posting", "TEE-M/S1", "pending", 0),
        ("posting", "TEE-M/S1", "pending", 0),
    ]
    assert rows[0]["payload"]["available"] == "7"
    assert [r["idempotency_key"] for r in rows[1:]] == ["pos:r-1", "pos:r-2"]

    # When filtered by kind, by state, and shown as a table
    postings = run(runner, db, "list", "--kind", "posting", "--json")
    dead = run(runner, db, "list", "--state", "dead", "--json")
    table = run(runner, db, "list", "--target", "shop")

    # Then each filter holds, and the table has a row per delivery
    assert [r["kind"] for r in json_lines(postings.stdout)] == ["posting", "posting"]
    assert dead.exit_code == 0 and json_lines(dead.stdout) == []
    assert table.exit_code == 0, table.output
    assert table.stdout.count("shop") == 3


def test_list_refuses_an_unknown_state(runner: CliRunner, db: str, hub: Hub) -> None:
    # When deliveries are asked for in a state that does not exist
    result = run(runner, db, "list", "--state", "lost")

    # Then it is a usage error
    assert result.exit_code == 2


def test_show_prints_a_delivery_with_its_attempt_log(runner: CliRunner, db: str, hub: Hub) -> None:
    # Given a push whose one attempt got a 503 and used up the retry budget
    ingest(hub, event("r-1", "receipt", quantity=5))
    push = attempt(hub, push="dead")

    # When it is shown, as JSON and as tables
    as_json = run(runner, db, "show", str(push.id), "--json")
    shown = run(runner, db, "show", str(push.id))

    # Then the delivery, its payload and the attempt are there
    assert as_json.exit_code == 0, as_json.output
    view = json.loads(as_json.stdout)
    assert (view["state"], view["last_status"], view["attempts"]) == ("dead", 503, 1)
    assert view["payload"]["sku"] == "TEE-M"
    assert [(a["status"], a["verdict"], a["error"]) for a in view["attempt_log"]] == [
        (503, "dead", "HTTP 503: try later")
    ]
    assert shown.exit_code == 0, shown.output
    for text in (f"delivery #{push.id}", "web/TEE-M", "attempts", "503"):
        assert text in shown.stdout


def test_show_of_an_unknown_delivery_fails(runner: CliRunner, db: str, hub: Hub) -> None:
    result = run(runner, db, "show", "999")

    assert result.exit_code == 1
    assert "delivery '999' not found" in result.stderr


def test_pause_and_resume_a_target(runner: CliRunner, db: str, hub: Hub) -> None:
    # Given a target with two deliveries queued
    ingest(hub, event("r-1", "receipt", quantity=5))

    # When it is paused
    paused = run(runner, db, "pause", "shop")

    # Then the store says so, and the targets list shows it with its backlog
    assert paused.exit_code == 0, paused.output
    assert hub.store.targets()["shop"][1] is True
    (target,) = json_lines(run(runner, db, "targets", "--json").stdout)
    assert (target["name"], target["paused"], target["backlog"], target["dead_letters"]) == (
        "shop",
        True,
        2,
        0,
    )
    # No dispatcher runs in the CLI: the circuit is not known there
    assert target["circuit"] == {"state": "unknown"}
    assert target["config"]["secret"] == "***"

    # When it is resumed
    resumed = run(runner, db, "resume", "shop")

    # Then it is no longer paused, and the table says where the circuit can be seen
    assert resumed.exit_code == 0, resumed.output
    assert hub.store.targets()["shop"][1] is False
    table = run(runner, db, "targets")
    assert table.exit_code == 0, table.output
    assert "unknown" in table.stdout
    assert "GET /v1/targets" in " ".join(table.stdout.split())


def test_pause_of_an_unknown_target_fails(runner: CliRunner, db: str, hub: Hub) -> None:
    for command in ("pause", "resume"):
        result = run(runner, db, command, "nope")

        assert result.exit_code == 1
        assert "target 'nope' not found" in result.stderr


def test_replay_dead_requeues_dead_letters_by_target_and_time(
    runner: CliRunner, db: str, hub: Hub
) -> None:
    # Given a push that became a dead letter at FAILED_AT (its posting was delivered)
    ingest(hub, event("r-1", "receipt", quantity=5))
    push = attempt(hub, push="dead")

    # Then it is listed as a dead letter and counted on its target
    dead = run(runner, db, "dead-letters", "--target", "shop", "--json")
    assert [r["id"] for r in json_lines(dead.stdout)] == [push.id]
    assert "dead letters" in run(runner, db, "dead-letters").stdout
    (target,) = json_lines(run(runner, db, "targets", "--json").stdout)
    assert (target["backlog"], target["dead_letters"]) == (0, 1)

    # When dead letters outside its time range are replayed
    later = (FAILED_AT + timedelta(minutes=1)).isoformat()
    earlier = (FAILED_AT - timedelta(minutes=1)).isoformat()
    after = run(runner, db, "replay-dead", "--target", "shop", "--since", later)
    before = run(runner, db, "replay-dead", "--until", earlier)

    # Then nothing is requeued
    assert after.exit_code == 0, after.output
    assert "0 of 0 dead letter(s) requeued" in after.stdout
    assert "0 of 0 dead letter(s) requeued" in before.stdout
    stored = hub.store.delivery(push.id)
    assert stored is not None and stored.state == "dead"

    # When the range holds it (a time without offset is UTC)
    result = run(
        runner,
        db,
        "replay-dead",
        "--target",
        "shop",
        "--since",
        earlier,
        "--until",
        FAILED_AT.replace(tzinfo=None).isoformat(),
    )

    # Then it is pending again with a fresh retry budget, and no dead letter is left
    assert result.exit_code == 0, result.output
    assert "1 of 1 dead letter(s) requeued" in result.stdout
    stored = hub.store.delivery(push.id)
    assert stored is not None and (stored.state, stored.attempts) == ("pending", 0)
    assert json_lines(run(runner, db, "dead-letters", "--json").stdout) == []


def test_replay_dead_does_not_replay_a_push_a_newer_value_replaced(
    runner: CliRunner, db: str, hub: Hub
) -> None:
    # Given a dead push, and a newer value for the same channel and SKU queued since
    ingest(hub, event("r-1", "receipt", quantity=5))
    old = attempt(hub, push="dead")
    ingest(hub, event("r-2", "receipt", quantity=1))
    (new,) = hub.store.deliveries(kind="availability", state="pending")

    # When dead letters are replayed
    result = run(runner, db, "replay-dead")

    # Then the old value is superseded, not sent, and the newer one still waits
    assert result.exit_code == 0, result.output
    assert "0 of 1 dead letter(s) requeued" in result.stdout
    assert "1 superseded" in result.stdout
    stored_old, stored_new = hub.store.delivery(old.id), hub.store.delivery(new.id)
    assert stored_old is not None and stored_old.state == "superseded"
    assert stored_new is not None and stored_new.state == "pending"
    assert stored_new.payload["available"] == "6"


def test_replay_dead_refuses_a_bad_time_or_unknown_target(
    runner: CliRunner, db: str, hub: Hub
) -> None:
    bad_time = run(runner, db, "replay-dead", "--since", "yesterday")
    unknown = run(runner, db, "replay-dead", "--target", "nope")
    unknown_list = run(runner, db, "dead-letters", "--target", "nope")

    assert bad_time.exit_code == 2
    assert unknown.exit_code == 1 and "target 'nope' not found" in unknown.stderr
    assert unknown_list.exit_code == 1


def test_replay_by_id_requeues_dead_or_rejected_deliveries_only(
    runner: CliRunner, db: str, hub: Hub
) -> None:
    # Given a dead push and a posting the target rejected (a business rejection)
    ingest(hub, event("r-1", "receipt", quantity=5))
    push = attempt(hub, push="dead", posting="rejected", status=422)
    (posting,) = hub.store.deliveries(kind="posting")
    assert posting.state == "rejected"
    ingest(hub, event("r-2", "receipt", quantity=1, location="S2"))
    delivered = attempt(hub, push="delivered")

    # When the posting, a delivered push and an unknown id are replayed
    result = run(runner, db, "replay", str(posting.id), str(delivered.id), "999")

    # Then the posting is pending again, the delivered push is left alone, and the
    # unknown id fails the command
    assert result.exit_code == 1
    assert "1 of 3 delivery(ies) requeued" in result.stdout
    assert "only dead or rejected deliveries are replayed" in result.stderr
    assert "delivery '999' not found" in result.stderr
    stored = hub.store.delivery(posting.id)
    assert stored is not None and (stored.state, stored.attempts) == ("pending", 0)
    stored_delivered = hub.store.delivery(delivered.id)
    assert stored_delivered is not None and stored_delivered.state == "delivered"

    # When the dead push is replayed now that a newer value was delivered
    superseded = run(runner, db, "replay", str(push.id))

    # Then it is superseded rather than sent
    assert superseded.exit_code == 0, superseded.output
    assert "superseded" in superseded.stderr
    stored_push = hub.store.delivery(push.id)
    assert stored_push is not None and stored_push.state == "superseded"
