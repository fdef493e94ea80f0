"""The ingest writer in a child process: same answers as in-process, clean stop."""

from __future__ import annotations

from pathlib import Path

import pytest

from stockbridge.app.bootstrap import bootstrap
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
