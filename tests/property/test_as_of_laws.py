"""Positions as of an instant, read through the real store: the ledger's own laws cut at
that instant (docs/reconciliation.md)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.app.bootstrap import Hub, bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.app.master import MasterKind
from stockbridge.app.queries import position_as_of
from stockbridge.domain.model import Event, from_micros

from ..conftest import hub_settings
from .reference import expected_positions
from .strategies import BASE_US, LOCATIONS, NOW_US, SKUS, event_sets


def raw(e: Event) -> dict[str, Any]:
    out: dict[str, Any] = {
        "source": e.key.source,
        "event_id": e.key.event_id,
        "type": e.type.value,
        "sku": e.sku,
        "location": e.location,
        "quantity": str(e.quantity),
        "occurred_at": from_micros(e.occurred_us).isoformat(),
    }
    for name in ("reservation_id", "condition", "counterparty_location"):
        if getattr(e, name) is not None:
            out[name] = getattr(e, name)
    if e.expires_us is not None:
        out["expires_at"] = from_micros(e.expires_us).isoformat()
    return out


@contextmanager
def ledger(evs: list[Event]) -> Iterator[tuple[Hub, list[Event]]]:
    """A fresh SQLite hub at NOW with `evs` ingested; yields it and the accepted events."""
    with tempfile.TemporaryDirectory() as folder:
        store = open_store(str(Path(folder) / "asof.db"))
        hub = bootstrap(hub_settings(), store=store, clock=ManualClock(from_micros(NOW_US)))
        try:
            hub.master_data.import_list(MasterKind.ITEMS, [{"sku": s} for s in SKUS])
            hub.master_data.import_list(
                MasterKind.LOCATIONS, [{"code": c, "kind": "store"} for c in LOCATIONS]
            )
            result = hub.ingest.ingest([raw(e) for e in evs]) if evs else None
            accepted = [
                e
                for e, r in zip(evs, result.results if result else [], strict=True)
                if r.status.value == "accepted"
            ]
            hub.ingest.expire_reservations()
            yield hub, accepted
        finally:
            hub.close()


@settings(max_examples=40, deadline=None)
@given(event_sets(max_size=20))
def test_as_of_now_is_the_current_position(evs: list[Event]) -> None:
    # Given any event set ingested, and expired reservations released at NOW
    with ledger(evs) as (hub, _):
        for sku in SKUS:
            for location in LOCATIONS:
                # When the position is asked as of NOW
                then = position_as_of(hub.store, sku, location, NOW_US)
                # Then it is the position the ledger keeps
                now = hub.store.position(sku, location)
                kept = now.quantities() if now is not None else (0, 0, 0, 0)
                assert then.quantities() == kept


@settings(max_examples=40, deadline=None)
@given(event_sets(max_size=20), st.integers(-1, 21))
def test_as_of_takes_exactly_the_events_up_to_its_instant(evs: list[Event], second: int) -> None:
    # Given any event set ingested, events before and after a cut
    cut = BASE_US + second * 1_000_000
    with ledger(evs) as (hub, accepted):
        # When positions are asked as of the cut
        # Then each is the specification applied to the events up to the cut alone: later
        # events (however many, whatever they do) change nothing before them
        expected = expected_positions([e for e in accepted if e.occurred_us <= cut], cut)
        zero = (0, 0, 0, 0)
        for sku in SKUS:
            for location in LOCATIONS:
                got = position_as_of(hub.store, sku, location, cut).quantities()
                assert got == expected.get((sku, location), zero), (sku, location)
