"""The ingest writer in a child process: same answers as in-process, clean stop."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from stockbridge.app.bootstrap import bootstrap
from stockbridge.app.ingest import BatchRejected, BatchResult
from stockbridge.app.writer_process import ProcessWriter
from stockbridge.domain.errors import StoreUnavailable

from ..conftest import event, hub_settings, seed_master


def test_the_child_writer_commits_and_answers_each_request(tmp_path: Path) -> None:
    # Given a hub whose ingest transaction runs in a child process
    settings = hub_settings(str(tmp_path / "hub.db"), **{"ingest.writer": "process"})
    hub = bootstrap(settings)
    seed_master(hub)
    assert isinstance(hub.writer, ProcessWriter)
    hub.start()
    try:
        # When two requests are submitted, one of them with a duplicate and a bad event
        first = hub.writer.submit([event("1", "receipt", quantity=10), event("2", "sale")])
        second = hub.writer.submit(
            [event("2", "sale"), event("3", "sale", sku="NOPE"), event("4", "sale", quantity=2)]
        )
        a, b = first.result(timeout=30), second.result(timeout=30)
    finally:
        hub.stop()

    # Then each request gets its own results, in order
    assert [r.status.value for r in a.results] == ["accepted", "accepted"]
    assert [(r.status.value, r.reason) for r in b.results] == [
        ("duplicate", None),
        ("exception", "unknown_sku"),
        ("accepted", None),
    ]
    # And the parent reads what the child committed
    pos = hub.store.position("TEE-M", "S1")
    assert pos is not None and pos.on_hand == 10 - 1 - 2
    assert hub.writer.commits >= 1
    hub.close()


def test_a_stopped_child_writer_refuses_rather_than_losing(tmp_path: Path) -> None:
    # Given a process writer that was started and stopped
    writer = ProcessWriter(str(tmp_path / "w.db"))
    writer.start()
    writer.stop()
    # When a batch is submitted
    future = writer.submit([event("1", "receipt")])
    # Then the caller is told, instead of waiting for an answer that never comes
    with pytest.raises(StoreUnavailable):
        future.result(timeout=10)


def test_the_child_writer_decodes_bodies_and_rejects_what_is_not_a_batch(tmp_path: Path) -> None:
    # Given a running child writer
    hub = bootstrap(hub_settings(str(tmp_path / "hub.db"), **{"ingest.writer": "process"}))
    seed_master(hub)
    hub.start()
    try:
        # When it is sent a good body, a malformed one and an oversized one
        good = hub.writer.submit_body(orjson.dumps({"events": [event("1", "receipt")]}), 10)
        broken = hub.writer.submit_body(b'{"events": [', 10)
        too_many = hub.writer.submit_body(orjson.dumps({"events": [{}] * 11}), 10)
        answers = [f.result(timeout=30) for f in (good, broken, too_many)]
    finally:
        hub.close()
    # Then the good one is ingested and the others are refused whole, with the right status
    assert isinstance(answers[0], BatchResult)
    assert answers[0].results[0].status.value == "accepted"
    assert isinstance(answers[1], BatchRejected) and answers[1].status == 400
    assert isinstance(answers[2], BatchRejected) and answers[2].status == 413


def test_the_child_writer_applies_tickets_and_orders_with_their_events(tmp_path: Path) -> None:
    from stockbridge.app.documents import OrderCommand, TicketCommand, parse_order, parse_ticket

    from .test_tickets_orders_api import order, ticket

    # Given a hub whose ingest transaction runs in a child process, settling tickets daily
    settings = hub_settings(
        str(tmp_path / "hub.db"),
        **{"ingest.writer": "process", "tickets.mode": "daily_settlement"},
    )
    hub = bootstrap(settings)
    seed_master(hub)
    assert isinstance(hub.writer, ProcessWriter)
    sale = parse_ticket(ticket())
    placed = parse_order(order())
    assert isinstance(sale, TicketCommand) and isinstance(placed, OrderCommand)
    hub.start()
    try:
        # When a ticket, its resend, an order and an event batch are submitted together
        futures = [hub.writer.submit_document(c) for c in (sale, sale, placed)]
        batch = hub.writer.submit([event("r1", "receipt", location="DC", quantity=10)])
        answers = [f.result(timeout=30) for f in futures]
        batch.result(timeout=30)
    finally:
        hub.stop()
    # Then each gets its own answer, and the child used the configured ticket mode
    assert [a.status.value for a in answers] == ["accepted", "duplicate", "accepted"]
    record = hub.store.ticket("pos", "T1")
    assert record is not None and record.posting == "settlement"
    # And the parent reads the ledger the documents moved
    tee = hub.store.position("TEE-M", "S1")
    dc = hub.store.position("TEE-M", "DC")
    assert tee is not None and tee.on_hand == -2
    assert dc is not None and (dc.on_hand, dc.reserved) == (10, 5)
    hub.close()


def test_the_child_writer_applies_returns_and_transfers_with_its_configured_rules(
    tmp_path: Path,
) -> None:
    from datetime import UTC, datetime

    from stockbridge.app.returns import ReturnCommand, parse_return
    from stockbridge.app.transfers import (
        MovementCommand,
        TransferCommand,
        parse_movement,
        parse_transfer,
    )

    from .test_returns_transfers_api import a_return, a_transfer

    # Given a child writer whose rules write damaged items off
    rules = [{"condition": "damaged", "outcome": "write_off"}]
    settings = hub_settings(
        str(tmp_path / "hub.db"), **{"ingest.writer": "process", "returns.rules": rules}
    )
    hub = bootstrap(settings)
    seed_master(hub)
    now = datetime(2026, 3, 2, 10, tzinfo=UTC)
    damaged = parse_return(a_return(lines=[{"sku": "MUG", "quantity": 2, "condition": "damaged"}]))
    created = parse_transfer(a_transfer(), now)
    shipped = parse_movement(
        "TR1", "shipment", {"shipment_id": "SH1", "lines": [{"line": 1, "quantity": 4}]}, now
    )
    assert isinstance(damaged, ReturnCommand) and isinstance(created, TransferCommand)
    assert isinstance(shipped, MovementCommand)
    hub.start()
    try:
        # When a return, a transfer and its shipment are submitted together
        futures = [hub.writer.submit_document(c) for c in (damaged, created, shipped)]
        answers = [f.result(timeout=30) for f in futures]
    finally:
        hub.stop()
    # Then each is accepted in order, the child applied the configured rule
    assert [a.status.value for a in answers] == ["accepted", "accepted", "accepted"]
    mug = hub.store.position("MUG", "S1")
    assert mug is not None and (mug.on_hand, mug.non_sellable) == (0, 0)
    record = hub.store.document_state("return", "R1")
    assert record is not None and record.state["lines"][0]["written_off"] == "2"
    # And the shipment shows in transit at the receiving store
    s2 = hub.store.position("TEE-M", "S2")
    assert s2 is not None and s2.in_transit == 4
    hub.close()
