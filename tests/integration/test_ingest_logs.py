"""The writer's log lines about events carry those events' correlation ids, in the same
JSON, redacted form whether the writer is a thread or a child process."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog

from stockbridge import logs
from stockbridge.app.bootstrap import bootstrap

from ..conftest import event, hub_settings, seed_master

SECRET = "whsec-ingest-logs-5e6f7a"
PARKED = "event parked as an exception: "


@pytest.fixture
def json_logs() -> Iterator[None]:
    """The log configuration as it was before the test, back after it."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        root.handlers[:], root.level = handlers, level
        structlog.reset_defaults()
        logs._active = None


def lines(err: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in err.splitlines() if x.startswith("{")]


@pytest.mark.parametrize("writer", ["thread", "process"])
def test_a_parked_event_is_logged_with_its_correlation_id(
    tmp_path: Path, capfd: pytest.CaptureFixture[str], json_logs: None, writer: str
) -> None:
    # Given the hub's JSON logs (configured here: they write to the test's stderr), and
    # a hub whose writer runs as a thread, or in a child process
    logs.configure("info", json=True, secrets=[SECRET])
    hub = bootstrap(hub_settings(str(tmp_path / "hub.db"), **{"ingest.writer": writer}))
    seed_master(hub)
    hub.start()
    try:
        # When a store sends a sale of an unknown SKU with its own correlation id, and
        # another one (a secret's value for a SKU) with none
        batch = [
            event("e1", "sale", sku="GHOST", correlation_id="till-4-sale-0815"),
            event("e2", "sale", sku=SECRET),
            event("e3", "receipt", quantity=5),
        ]
        result = hub.writer.submit(batch).result(timeout=30)
    finally:
        hub.stop()
        hub.close()
    statuses = [r.status.value for r in result.results]
    assert statuses == ["exception", "exception", "accepted"]
    # Then each parked event has a JSON warning line naming its own ids
    parked = {x["event_id"]: x for x in lines(capfd.readouterr().err)
              if x["event"].startswith(PARKED)}  # fmt: skip
    assert sorted(parked) == ["e1", "e2"]
    first, second = parked["e1"], parked["e2"]
    assert (first["correlation_id"], first["source"], first["reason"]) == (
        "till-4-sale-0815",
        "pos",
        "unknown_sku",
    )
    assert first["level"] == "warning" and "GHOST" in first["event"]
    # (an event sent without one carries the id its trace is found by)
    assert second["correlation_id"] == "event:pos:e2"
    # And the secret is masked in the child's lines as in the parent's
    assert SECRET not in json.dumps(second) and logs.MASK in second["event"]
