"""Reconciliation against Square over real HTTP: counts read with batch-retrieve; a
write-off booked at the register that never reached the hub is found, the hub's value is
pushed back, and the next run finds nothing."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from ..conftest import event
from .test_square_live import Square, post, start_square

RECONCILIATION = {
    "systems": {
        "square": {
            "kind": "square",
            "target": "square",
            "policy": "push_ours",
            "measure": "channel",
            "channel": "pos-s1",
        }
    }
}


@pytest.fixture
def square(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Square]:
    yield from start_square(tmp_path, monkeypatch, reconciliation=RECONCILIATION)


def test_a_count_changed_behind_the_hub_is_pushed_back(square: Square) -> None:
    # Given 10 tees and 6 mugs at S1, counted in Square
    post(
        square.client,
        event("r1", "receipt", quantity=10),
        event("r2", "receipt", "MUG", quantity=6),
    )
    square.converge()
    # When one tee is written off at the register and the hub never hears of it
    square.state.adjust("CATTEE", "LOC1", "IN_STOCK", "WASTE", Decimal(1))
    assert square.counts()["TEE-M"] == 9

    # When the hub reconciles with Square's counts
    r = square.client.post("/v1/reconciliations/square/pull")
    assert r.status_code == 201, r.text
    run = r.json()
    # Then the tee differs by -1 as drift and the hub's 10 is pushed; the mugs agree
    (diff,) = run["differences"]
    assert (diff["sku"], diff["system_sku"], diff["system_location"]) == ("TEE-M", "CATTEE", "LOC1")
    assert (diff["hub"], diff["system_quantity"], diff["cause"], diff["action"]) == (
        10,
        9,
        "drift",
        "pushed",
    )
    assert run["matched"] == 1
    square.converge()
    assert square.counts()["TEE-M"] == 10
    # And the next run finds nothing
    again = square.client.post("/v1/reconciliations/square/pull").json()
    assert (again["matched"], again["differing"]) == (2, 0)
