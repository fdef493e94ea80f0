"""The ingest contract (DESIGN §3-§4, §8) through `hub.ingest`, on SQLite and PostgreSQL.

Every test runs once per backend through the `store` fixture, so both obey the same laws.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock
from stockbridge.app.exceptions import CannotReplay
from stockbridge.app.ingest import EventResult, Status
from stockbridge.app.master import MasterKind
from stockbridge.app.ports import ExceptionRecord
from stockbridge.domain.errors import NotFound, StockbridgeError
from tests.conftest import event, seed_master

T0 = "2026-03-02T08:00:00+00:00"
T1 = "2026-03-02T09:00:00+00:00"
T2 = "2026-03-02T10:00:00+00:00"
T3 = "2026-03-02T11:00:00+00:00"
T4 = "2026-03-02T12:00:00+00:00"


@pytest.fixture
def seeded(hub: Hub) -> Hub:
    seed_master(hub)
    return hub


def ingest(hub: Hub, *raws: Any) -> list[EventResult]:
    return hub.ingest.ingest(list(raws)).results


def statuses(results: list[EventResult]) -> list[str]:
    return [r.status.value for r in results]


def quantities(hub: Hub, sku: str = "TEE-M", location: str = "S1") -> tuple[Decimal, ...]:
    """(on_hand, non_sellable, reserved, in_transit, available) of a position."""
    view = hub.positions.position(sku, location)
    assert view is not None
    return (view.on_hand, view.non_sellable, view.reserved, view.in_transit, view.available)


def on_hand(hub: Hub, sku: str = "TEE-M", location: str = "S1") -> Decimal:
    return quantities(hub, sku, location)[0]


def only_exception(hub: Hub, **filters: Any) -> ExceptionRecord:
    found = hub.store.exceptions(**filters)
    assert len(found) == 1, found
    return found[0]


def d(value: str | int) -> Decimal:
    return Decimal(value)


# --- accepted, duplicate, conflicting duplicate (law 1) ------------------------------------
def test_a_new_event_is_accepted_and_recorded_as_sent(seeded: Hub) -> None:
    # Given an empty ledger
    raw = event("r-1", "receipt", quantity=5, reference="PO-9")

    # When a receipt arrives
    results = ingest(seeded, raw)

    # Then it is accepted, stored with what was sent, and on hand moves
    assert [(r.event_id, r.source, r.status) for r in results] == [("r-1", "pos", Status.ACCEPTED)]
    stored = seeded.store.event("pos", "r-1")
    assert stored is not None
    assert (stored.type, stored.sku, stored.location, stored.quantity) == (
        "receipt",
        "TEE-M",
        "S1",
        d(5),
    )
    assert stored.on_hand_delta == d(5)
    assert stored.reference == "PO-9"
    assert stored.raw == raw
    assert on_hand(seeded) == d(5)


def test_the_same_key_and_payload_again_is_a_duplicate_that_changes_nothing(seeded: Hub) -> None:
    # Given an accepted receipt
    raw = event("r-1", "receipt", quantity=5)
    ingest(seeded, raw)

    # When the source sends it again, alone and twice within one batch
    again = ingest(seeded, raw)
    twice = ingest(seeded, raw, dict(raw))

    # Then each repeat is a duplicate and on hand counts it once
    assert statuses(again) == ["duplicate"]
    assert statuses(twice) == ["duplicate", "duplicate"]
    assert on_hand(seeded) == d(5)
    assert seeded.store.exceptions() == []


def test_a_repeat_within_the_first_batch_is_a_duplicate(seeded: Hub) -> None:
    # Given a batch that carries the same new event twice
    raw = event("r-1", "receipt", quantity=5)

    # When it is ingested
    results = ingest(seeded, raw, dict(raw))

    # Then the first is accepted and the second a duplicate: applied once
    assert statuses(results) == ["accepted", "duplicate"]
    assert on_hand(seeded) == d(5)


def test_the_order_of_fields_does_not_make_a_new_payload(seeded: Hub) -> None:
    # Given an accepted receipt
    raw = event("r-1", "receipt", quantity=5, reference="PO-9")
    ingest(seeded, raw)

    # When the same fields come back in another order
    reordered = dict(reversed(list(raw.items())))
    results = ingest(seeded, reordered)

    # Then it is a duplicate, not a conflict
    assert statuses(results) == ["duplicate"]
    assert on_hand(seeded) == d(5)


def test_the_same_key_with_another_payload_is_a_conflicting_duplicate(seeded: Hub) -> None:
    # Given an accepted receipt of 5
    original = event("r-1", "receipt", quantity=5)
    ingest(seeded, original)

    # When the same key arrives with a quantity of 7
    changed = event("r-1", "receipt", quantity=7)
    results = ingest(seeded, changed)

    # Then it is rejected as a conflicting duplicate, kept with its raw payload...
    assert [(r.status, r.reason) for r in results] == [(Status.EXCEPTION, "conflicting_duplicate")]
    kept = only_exception(seeded, reason="conflicting_duplicate")
    assert (kept.source, kept.event_id, kept.status) == ("pos", "r-1", "open")
    assert kept.payload == changed
    # ...and neither the ledger nor the position moved
    stored = seeded.store.event("pos", "r-1")
    assert stored is not None and stored.quantity == d(5)
    assert on_hand(seeded) == d(5)


def test_a_conflict_within_one_batch_keeps_the_first_payload(seeded: Hub) -> None:
    # Given one batch with two payloads for the same key
    first = event("r-1", "receipt", quantity=5)
    second = event("r-1", "receipt", quantity=9)

    # When it is ingested
    results = ingest(seeded, first, second)

    # Then the first is accepted and the second kept as a conflicting duplicate
    assert statuses(results) == ["accepted", "exception"]
    assert results[1].reason == "conflicting_duplicate"
    assert only_exception(seeded).payload == second
    assert on_hand(seeded) == d(5)


def test_a_conflicting_duplicate_sent_again_counts_occurrences(seeded: Hub) -> None:
    # Given a kept conflicting duplicate
    ingest(seeded, event("r-1", "receipt", quantity=5))
    conflicting = event("r-1", "receipt", quantity=7)
    ingest(seeded, conflicting)

    # When the same conflicting payload arrives again
    ingest(seeded, conflicting)

    # Then it is one open exception seen twice
    kept = only_exception(seeded)
    assert (kept.reason, kept.occurrences) == ("conflicting_duplicate", 2)


# --- mapping: cross references, GTIN, units -------------------------------------------------
def test_the_sources_own_codes_map_through_cross_references(seeded: Hub) -> None:
    # Given pos knows TEE-M as item 4711 and S1 as store 0001
    raw = event("p-1", "receipt", sku="4711", location="0001", quantity=3)

    # When pos reports a receipt in its own codes
    results = ingest(seeded, raw)

    # Then it lands on the enterprise SKU and location, and the raw codes are kept
    assert statuses(results) == ["accepted"]
    stored = seeded.store.event("pos", "p-1")
    assert stored is not None
    assert (stored.sku, stored.location) == ("TEE-M", "S1")
    assert stored.raw["sku"] == "4711"
    assert on_hand(seeded, "TEE-M", "S1") == d(3)


def test_cross_references_belong_to_their_source(seeded: Hub) -> None:
    # Given 4711 is pos's code for TEE-M, unknown to the web shop
    raw = event("w-1", "receipt", sku="4711", source="web")

    # When the web shop uses it
    results = ingest(seeded, raw)

    # Then the event is parked as an unknown SKU
    assert (results[0].status, results[0].reason) == (Status.EXCEPTION, "unknown_sku")


def test_a_gtin_is_accepted_as_the_sku(seeded: Hub) -> None:
    # Given TEE-M carries GTIN 00012345678905
    raw = event("g-1", "receipt", sku="00012345678905", quantity=2, source="web")

    # When an event names the GTIN
    results = ingest(seeded, raw)

    # Then it is booked on TEE-M
    assert statuses(results) == ["accepted"]
    stored = seeded.store.event("web", "g-1")
    assert stored is not None and stored.sku == "TEE-M"
    assert on_hand(seeded) == d(2)


CONVERSIONS = [
    # (sku, quantity as sent, uom as sent, quantity in the base unit)
    ("TEE-M", 2, "CASE12", "24"),
    ("TEE-M", 3, "EA", "3"),
    ("MUG", 1, "PACK4", "4"),
    ("CHEESE", 250, "G", "0.25"),
    ("CHEESE", "1.5", "KG", "1.5"),
    ("CHEESE", "0.75", None, "0.75"),
]


def test_quantities_convert_to_the_items_base_unit(seeded: Hub) -> None:
    # Given items with unit conversions (TEE-M CASE12, MUG PACK4, CHEESE by the KG in G)
    raws = [
        event(f"u-{i}", "receipt", sku=sku, quantity=q, **({"uom": uom} if uom else {}))
        for i, (sku, q, uom, _) in enumerate(CONVERSIONS)
    ]

    # When receipts are reported in other units (or none: the base unit)
    results = ingest(seeded, *raws)

    # Then the ledger holds base units
    assert statuses(results) == ["accepted"] * len(CONVERSIONS)
    booked = []
    for i in range(len(CONVERSIONS)):
        stored = seeded.store.event("pos", f"u-{i}")
        assert stored is not None
        booked.append(stored.quantity)
    assert booked == [d(base) for *_, base in CONVERSIONS]
    assert on_hand(seeded, "TEE-M") == d(27)
    assert on_hand(seeded, "MUG") == d(4)
    assert on_hand(seeded, "CHEESE") == d("2.5")


UNMAPPABLE = [
    # (what is changed in an otherwise good receipt, the reason code expected)
    ({"sku": "NO-SUCH-SKU"}, "unknown_sku"),
    ({"location": "S9"}, "unknown_location"),
    ({"location": "0002"}, "unknown_location"),
    ({"uom": "PALLET"}, "unknown_uom"),
    ({"sku": "CHEESE", "uom": "G", "quantity": "0.0001"}, "bad_quantity"),
    ({"quantity": "1.0000001"}, "bad_quantity"),
]


def test_events_that_cannot_be_mapped_are_parked_with_their_raw_payload(seeded: Hub) -> None:
    # Given events the master data cannot place (unknown codes, units, or precision)
    raws = [
        {**event(f"x-{i}", "receipt", quantity=4), **changes}
        for i, (changes, _) in enumerate(UNMAPPABLE)
    ]

    # When they are ingested
    results = ingest(seeded, *raws)

    # Then each is parked with its reason code and its raw payload, and nothing is booked
    expected = [(f"x-{i}", reason) for i, (_, reason) in enumerate(UNMAPPABLE)]
    assert [(r.event_id, r.reason) for r in results] == expected
    kept = seeded.store.exceptions()
    assert [(x.event_id, x.reason, x.status, x.source) for x in kept] == [
        (event_id, reason, "open", "pos") for event_id, reason in expected
    ]
    assert [x.payload for x in kept] == raws
    assert all(x.detail for x in kept)
    assert all(seeded.store.event("pos", event_id) is None for event_id, _ in expected)
    assert seeded.store.outbox_depth() == 0
    assert seeded.store.positions_for_sku("TEE-M") == []


def test_an_unknown_counterparty_location_is_parked(seeded: Hub) -> None:
    # Given a transfer to a location nobody knows
    raw = event("t-1", "transfer_out", quantity=2, counterparty_location="S9")

    # When it is ingested
    results = ingest(seeded, raw)

    # Then it is parked as an unknown location and S1 keeps its stock
    assert (results[0].status, results[0].reason) == (Status.EXCEPTION, "unknown_location")
    assert "S9" in (results[0].detail or "")
    assert on_hand(seeded) == d(0)


def test_a_cross_reference_to_a_missing_item_is_an_unknown_sku(seeded: Hub) -> None:
    # Given a cross reference pointing at a SKU that is not in the item master
    seeded.master_data.import_list(
        MasterKind.XREFS,
        [{"source": "pos", "kind": "item", "external_code": "9999", "code": "GHOST"}],
    )

    # When pos reports item 9999
    results = ingest(seeded, event("x-1", "sale", sku="9999"))

    # Then it is parked as an unknown SKU that names the target
    assert results[0].reason == "unknown_sku"
    assert "GHOST" in (results[0].detail or "")


INVALID = [
    # (what is changed in an otherwise good sale - None removes the field, the field named)
    ({"sku": None}, "sku"),
    ({"event_id": None}, "event_id"),
    ({"type": None}, "type"),
    ({"occurred_at": "2026-03-02T09:00:00"}, "occurred_at"),  # no UTC offset
    ({"occurred_at": "2026-03-02"}, "occurred_at"),  # a date, not an instant
    ({"occurred_at": "yesterday"}, "occurred_at"),
    ({"quantity": -2}, "quantity"),  # a negative sale
    ({"quantity": 0}, "quantity"),
    ({"quantity": "lots"}, "quantity"),
    ({"quantity": True}, "quantity"),
    ({"quantity": "NaN"}, "quantity"),
    ({"colour": "red"}, "colour"),  # not a field of an event
    ({"type": "teleport"}, "type"),
    ({"sku": "   "}, "sku"),
    ({"sku": 4711}, "sku"),
    ({"type": "reserve"}, "reservation_id"),
    ({"type": "status_change"}, "condition"),
    ({"type": "transfer_out"}, "counterparty_location"),
    ({"type": "adjustment", "quantity": 0}, "quantity"),
    ({"type": "count", "quantity": -1}, "quantity"),
    ({"expires_at": "soon"}, "expires_at"),
    ({"reference": "x" * 1001}, "reference"),
]


def _malformed(i: int, changes: dict[str, Any]) -> dict[str, Any]:
    raw = {**event(f"bad-{i}", "sale"), **changes}
    return {k: v for k, v in raw.items() if v is not None}


def test_malformed_events_are_invalid_and_name_the_field(seeded: Hub) -> None:
    # Given one batch of malformed events, each wrong in one field
    raws = [_malformed(i, changes) for i, (changes, _) in enumerate(INVALID)]

    # When it is ingested
    results = ingest(seeded, *raws)

    # Then each is an invalid_event naming its field, kept with its raw payload
    assert [(r.status.value, r.reason, r.field) for r in results] == [
        ("exception", "invalid_event", field) for _, field in INVALID
    ]
    kept = seeded.store.exceptions(limit=1000)
    assert [(x.reason, x.field) for x in kept] == [("invalid_event", f) for _, f in INVALID]
    assert [x.payload for x in kept] == raws
    assert on_hand(seeded) == d(0)


def test_an_event_type_that_is_not_a_string_is_invalid(seeded: Hub) -> None:
    # Given a batch where one event's type is a list, next to a good receipt
    raws = [event("ok", "receipt", quantity=2), _malformed(1, {"type": ["sale"]})]

    # When it is ingested
    results = ingest(seeded, *raws)

    # Then the bad one is an invalid_event naming `type` and the good one is accepted
    assert [(r.status.value, r.field) for r in results] == [
        ("accepted", None),
        ("exception", "type"),
    ]
    assert on_hand(seeded) == d(2)


def test_an_event_that_is_not_an_object_is_invalid(seeded: Hub) -> None:
    # Given a batch element that is a bare string
    # When it is ingested
    results = ingest(seeded, "sold one tee")

    # Then it is invalid at the root and kept as sent
    assert (results[0].reason, results[0].field) == ("invalid_event", "$")
    assert only_exception(seeded).payload == "sold one tee"


def test_a_bad_event_never_affects_its_neighbours(seeded: Hub) -> None:
    # Given one batch mixing good events with malformed, unmappable and conflicting ones
    ingest(seeded, event("r-0", "receipt", quantity=1))
    batch = [
        event("r-1", "receipt", quantity=10),
        {**event("bad", "sale"), "colour": "red"},
        event("r-2", "receipt", sku="NOPE", quantity=100),
        event("r-0", "receipt", quantity=50),
        event("s-1", "sale", quantity=3),
    ]

    # When it is ingested
    results = ingest(seeded, *batch)

    # Then each event gets its own answer, in order, and the good ones are applied
    assert [(r.event_id, r.status.value, r.reason) for r in results] == [
        ("r-1", "accepted", None),
        ("bad", "exception", "invalid_event"),
        ("r-2", "exception", "unknown_sku"),
        ("r-0", "exception", "conflicting_duplicate"),
        ("s-1", "accepted", None),
    ]
    assert on_hand(seeded) == d(1 + 10 - 3)


@pytest.mark.parametrize(
    "huge", ["1e13", "1e30", 1e30, 10**30], ids=["str-1e13", "str-1e30", "float", "int"]
)
def test_an_absurd_quantity_never_fails_its_neighbours(seeded: Hub, huge: Any) -> None:
    # Given a batch where one receipt carries an absurd quantity (beyond what the
    # ledger can store in millionths of a unit)
    batch = [event("ok", "receipt", quantity=2), event("huge", "receipt", quantity=huge)]

    # When it is ingested
    results = ingest(seeded, *batch)

    # Then the absurd one is an exception and its neighbour is still accepted
    assert [(r.event_id, r.status.value) for r in results] == [
        ("ok", "accepted"),
        ("huge", "exception"),
    ]
    assert on_hand(seeded) == d(2)


# --- exceptions: replay and ignore (§8) ------------------------------------------------------
def test_replay_after_adding_the_item_accepts_and_resolves(seeded: Hub) -> None:
    # Given a sale parked because its SKU is not in the master yet
    raw = event("s-1", "receipt", sku="SCARF", quantity=4)
    ingest(seeded, raw)
    parked = only_exception(seeded, status="open")
    assert parked.reason == "unknown_sku"

    # When the item is added and the exception replayed
    seeded.master_data.import_list(MasterKind.ITEMS, [{"sku": "SCARF"}])
    outcome = seeded.exceptions.replay(parked.id)

    # Then the event is accepted, the exception resolved, and the position moved
    assert outcome.result.status is Status.ACCEPTED
    assert outcome.exception.status == "resolved"
    assert seeded.exceptions.get(parked.id).status == "resolved"
    assert on_hand(seeded, "SCARF") == d(4)
    stored = seeded.store.event("pos", "s-1")
    assert stored is not None and stored.raw == raw
    # And a second replay is refused: the exception is no longer open
    with pytest.raises(CannotReplay):
        seeded.exceptions.replay(parked.id)
    assert on_hand(seeded, "SCARF") == d(4)


def test_replay_before_the_fix_keeps_the_exception_open(seeded: Hub) -> None:
    # Given an event parked for an unknown SKU
    ingest(seeded, event("s-1", "receipt", sku="SCARF"))
    parked = only_exception(seeded)

    # When it is replayed without fixing anything
    outcome = seeded.exceptions.replay(parked.id)

    # Then it is parked again for the same reason: still one open exception, seen twice
    assert (outcome.result.status, outcome.result.reason) == (Status.EXCEPTION, "unknown_sku")
    again = only_exception(seeded)
    assert (again.id, again.status, again.occurrences) == (parked.id, "open", 2)


def test_a_malformed_event_cannot_be_replayed(seeded: Hub) -> None:
    # Given an invalid event in the queue
    ingest(seeded, {**event("bad", "sale"), "quantity": -1})
    parked = only_exception(seeded)

    # When someone replays it
    # Then it is refused: only the source can send it corrected
    with pytest.raises(CannotReplay):
        seeded.exceptions.replay(parked.id)
    assert seeded.exceptions.get(parked.id).status == "open"


def test_replay_of_an_unknown_exception_is_not_found(seeded: Hub) -> None:
    # Given an empty queue
    # When an id that does not exist is replayed
    # Then NotFound names it
    with pytest.raises(NotFound):
        seeded.exceptions.replay(424242)


def test_replay_open_replays_every_open_mapping_exception(seeded: Hub) -> None:
    # Given two events parked for pos store 0002, which has no cross reference yet,
    # and one malformed event
    ingest(
        seeded,
        event("a", "receipt", location="0002", quantity=3),
        event("b", "sale", location="0002", quantity=1, at=T2),
        {**event("bad", "sale"), "colour": "red"},
    )

    # When the cross reference is added and every open exception replayed
    seeded.master_data.import_list(
        MasterKind.XREFS,
        [{"source": "pos", "kind": "location", "external_code": "0002", "code": "S2"}],
    )
    outcomes = seeded.exceptions.replay_open()

    # Then both mapping exceptions are accepted and resolved; the malformed one waits
    assert sorted((o.result.event_id, o.result.status.value) for o in outcomes) == [
        ("a", "accepted"),
        ("b", "accepted"),
    ]
    assert on_hand(seeded, "TEE-M", "S2") == d(2)
    still_open = seeded.store.exceptions(status="open")
    assert [(x.event_id, x.reason) for x in still_open] == [("bad", "invalid_event")]


def test_replay_open_filters_by_reason(seeded: Hub) -> None:
    # Given one unknown SKU and one unknown location, both now fixable
    ingest(
        seeded,
        event("a", "receipt", sku="SCARF"),
        event("b", "receipt", location="S9"),
    )
    seeded.master_data.import_list(MasterKind.ITEMS, [{"sku": "SCARF"}])
    seeded.master_data.import_list(MasterKind.LOCATIONS, [{"code": "S9"}])

    # When only unknown SKUs are replayed
    outcomes = seeded.exceptions.replay_open(reason="unknown_sku")

    # Then only that one is resolved
    assert [o.result.event_id for o in outcomes] == ["a"]
    assert [x.event_id for x in seeded.store.exceptions(status="open")] == ["b"]


def test_the_source_resending_a_fixed_event_resolves_its_exception(seeded: Hub) -> None:
    # Given an event parked for an unknown location
    raw = event("a", "receipt", location="S9", quantity=2)
    ingest(seeded, raw)
    parked = only_exception(seeded)

    # When the location is created and the source sends the event again
    seeded.master_data.import_list(MasterKind.LOCATIONS, [{"code": "S9"}])
    results = ingest(seeded, raw)

    # Then it is accepted and the exception closes by itself
    assert statuses(results) == ["accepted"]
    assert seeded.exceptions.get(parked.id).status == "resolved"
    assert on_hand(seeded, "TEE-M", "S9") == d(2)


def test_ignore_closes_an_exception_with_a_note(seeded: Hub, clock: ManualClock) -> None:
    # Given a parked event
    ingest(seeded, event("a", "receipt", sku="OLD-SKU"))
    parked = only_exception(seeded)
    clock.advance(timedelta(minutes=5))

    # When an operator ignores it with a note
    record = seeded.exceptions.ignore(parked.id, "discontinued item, stock written off")

    # Then it is ignored, keeps the note, and can no longer be replayed
    assert (record.status, record.note) == ("ignored", "discontinued item, stock written off")
    assert record.updated_us > parked.updated_us
    assert seeded.store.exceptions(status="open") == []
    with pytest.raises(CannotReplay):
        seeded.exceptions.replay(parked.id)


def test_a_resolved_exception_cannot_be_ignored_afterwards(seeded: Hub) -> None:
    # Given an exception resolved by a successful replay: its event is in the ledger
    ingest(seeded, event("a", "receipt", sku="SCARF"))
    parked = only_exception(seeded)
    seeded.master_data.import_list(MasterKind.ITEMS, [{"sku": "SCARF"}])
    seeded.exceptions.replay(parked.id)

    # When someone tries to ignore it
    # Then it is refused and the record still says the event was applied
    with pytest.raises(StockbridgeError):
        seeded.exceptions.ignore(parked.id, "late cleanup")
    assert seeded.exceptions.get(parked.id).status == "resolved"


# --- counts (law 2) ---------------------------------------------------------------------------
def test_a_count_is_absolute_and_later_deltas_apply(seeded: Hub) -> None:
    # Given 10 received before a count
    ingest(seeded, event("r", "receipt", quantity=10, at=T0))

    # When a count of 7 at T2 and a sale of 2 at T3 arrive
    ingest(seeded, event("c", "count", quantity=7, at=T2), event("s", "sale", quantity=2, at=T3))

    # Then on hand = the count + deltas after it
    assert on_hand(seeded) == d(5)


def test_deltas_before_or_at_the_count_are_superseded(seeded: Hub) -> None:
    # Given a count of 7 at T2
    ingest(seeded, event("c", "count", quantity=7, at=T2))

    # When deltas arrive dated before the count and exactly at its instant
    results = ingest(
        seeded,
        event("before", "sale", quantity=3, at=T1),
        event("same", "receipt", quantity=4, at=T2),
    )

    # Then they are recorded but change nothing
    assert statuses(results) == ["accepted", "accepted"]
    assert seeded.store.event("pos", "before") is not None
    assert seeded.store.event("pos", "same") is not None
    assert on_hand(seeded) == d(7)


def test_a_late_older_delta_after_a_count_changes_nothing(seeded: Hub) -> None:
    # Given a count of 7 at T2 and a sale of 1 at T3
    ingest(seeded, event("c", "count", quantity=7, at=T2), event("s", "sale", quantity=1, at=T3))

    # When a store that was offline sends a sale from T1
    ingest(seeded, event("late", "sale", quantity=5, at=T1))

    # Then the count already contains it: on hand stays 6
    assert on_hand(seeded) == d(6)


def test_a_later_count_becomes_the_anchor_and_sums_stored_deltas_after_it(seeded: Hub) -> None:
    # Given a count of 7 at T1, then a receipt at T2 and a sale at T4
    ingest(
        seeded,
        event("c1", "count", quantity=7, at=T1),
        event("r", "receipt", quantity=5, at=T2),
        event("s", "sale", quantity=1, at=T4),
    )
    assert on_hand(seeded) == d(11)

    # When a count of 20 at T3 arrives late (after the sale at T4 was recorded)
    ingest(seeded, event("c2", "count", quantity=20, at=T3))

    # Then on hand = 20 + the sale after it; the receipt at T2 is inside the count
    assert on_hand(seeded) == d(19)


def test_an_older_count_arriving_late_is_superseded(seeded: Hub) -> None:
    # Given a count of 20 at T3 and a sale at T4
    ingest(
        seeded,
        event("c2", "count", quantity=20, at=T3),
        event("s", "sale", quantity=1, at=T4),
    )

    # When a count of 7 dated T1 arrives afterwards
    results = ingest(seeded, event("c1", "count", quantity=7, at=T1))

    # Then it is recorded and changes nothing
    assert statuses(results) == ["accepted"]
    assert on_hand(seeded) == d(19)


def test_counts_at_the_same_instant_are_ordered_by_key(seeded: Hub) -> None:
    # Given two counts at the same instant, sent in both orders to two locations
    a = {"quantity": 5, "at": T2}
    b = {"quantity": 9, "at": T2}

    # When S1 receives a then b and S2 receives b then a
    ingest(seeded, event("count-a", "count", location="S1", **a))
    ingest(seeded, event("count-b", "count", location="S1", **b))
    ingest(seeded, event("count-b2", "count", location="S2", **b))
    ingest(seeded, event("count-a2", "count", location="S2", **a))

    # Then the larger key (the count of 9) wins everywhere, whatever the arrival order
    assert on_hand(seeded, "TEE-M", "S1") == d(9)  # "count-b" > "count-a"
    assert on_hand(seeded, "TEE-M", "S2") == d(9)  # "count-b2" > "count-a2"


def test_positions_do_not_depend_on_arrival_order_or_batching(seeded: Hub) -> None:
    # Given one set of facts: receipts, sales, counts, a damaged return, a reservation
    def facts(location: str, prefix: str) -> list[dict[str, Any]]:
        return [
            event(f"{prefix}1", "receipt", location=location, quantity=12, at=T0),
            event(f"{prefix}2", "sale", location=location, quantity=2, at=T1),
            event(f"{prefix}3", "count", location=location, quantity=8, at=T2),
            event(f"{prefix}4", "sale", location=location, quantity=1, at=T2),
            event(
                f"{prefix}5", "return", location=location, quantity=1, at=T3, condition="damaged"
            ),
            event(f"{prefix}6", "count", location=location, quantity=6, at=T1),
            event(
                f"{prefix}7",
                "reserve",
                location=location,
                quantity=2,
                at=T3,
                reservation_id=f"{prefix}-res",
            ),
            event(f"{prefix}8", "adjustment", location=location, quantity=-1, at=T4),
        ]

    # When S1 gets them in order in one batch and S2 reversed, one at a time
    ingest(seeded, *facts("S1", "a"))
    for raw in reversed(facts("S2", "b")):
        ingest(seeded, raw)

    # Then both positions are the same: count 8 at T2, +1 return, -1 adjustment
    assert quantities(seeded, "TEE-M", "S1") == quantities(seeded, "TEE-M", "S2")
    assert quantities(seeded, "TEE-M", "S1") == (d(8), d(1), d(2), d(0), d(5))


# --- transfers, returns, status changes -------------------------------------------------------
def test_a_transfer_moves_stock_through_in_transit(seeded: Hub) -> None:
    # Given 10 on hand at the DC
    ingest(seeded, event("r", "receipt", location="DC", quantity=10, at=T0))

    # When the DC ships 4 to S1
    ingest(
        seeded,
        event("out", "transfer_out", location="DC", quantity=4, at=T1, counterparty_location="S1"),
    )

    # Then the DC has 6 and S1 expects 4 in transit
    assert quantities(seeded, "TEE-M", "DC")[0] == d(6)
    assert quantities(seeded, "TEE-M", "S1")[:4] == (d(0), d(0), d(0), d(4))

    # When S1 receives them
    ingest(
        seeded,
        event("in", "transfer_in", location="S1", quantity=4, at=T2, counterparty_location="DC"),
    )

    # Then they are on hand at S1 and nothing is in transit
    assert quantities(seeded, "TEE-M", "S1") == (d(4), d(0), d(0), d(0), d(4))


def test_a_transfer_counterparty_maps_through_cross_references(seeded: Hub) -> None:
    # Given pos knows S1 as 0001
    raw = event("out", "transfer_out", location="DC", quantity=2, counterparty_location="0001")

    # When a transfer names 0001 as the receiver
    ingest(seeded, raw)

    # Then S1 expects the units
    stored = seeded.store.event("pos", "out")
    assert stored is not None and stored.counterparty_location == "S1"
    assert quantities(seeded, "TEE-M", "S1")[3] == d(2)


def test_returns_in_damaged_condition_are_non_sellable(seeded: Hub) -> None:
    # Given 5 on hand
    ingest(seeded, event("r", "receipt", quantity=5))

    # When one unit comes back damaged and one in sellable condition
    ingest(
        seeded,
        event("ret-d", "return", quantity=1, condition="damaged"),
        event("ret-s", "return", quantity=1, condition="sellable"),
    )

    # Then both are on hand, only the sellable one is available
    assert quantities(seeded) == (d(7), d(1), d(0), d(0), d(6))


def test_status_changes_move_units_both_ways(seeded: Hub) -> None:
    # Given 5 on hand
    ingest(seeded, event("r", "receipt", quantity=5, at=T0))

    # When 3 are found damaged
    ingest(seeded, event("sc1", "status_change", quantity=3, condition="damaged", at=T1))

    # Then they are non-sellable, on hand unchanged
    assert quantities(seeded) == (d(5), d(3), d(0), d(0), d(2))

    # When 2 are repaired back to sellable
    ingest(seeded, event("sc2", "status_change", quantity=2, condition="sellable", at=T2))

    # Then they are available again
    assert quantities(seeded) == (d(5), d(1), d(0), d(0), d(4))


def test_a_status_change_to_sellable_never_makes_available_exceed_on_hand(seeded: Hub) -> None:
    # Given 5 on hand, none of them non-sellable
    ingest(seeded, event("r", "receipt", quantity=5, at=T0))

    # When a status change says 3 units became sellable again
    ingest(seeded, event("sc", "status_change", quantity=3, condition="sellable", at=T1))

    # Then available-to-sell is never more than what is physically there
    _, non_sellable, _, _, available = quantities(seeded)
    assert available <= d(5), f"available {available} > on hand 5 (non_sellable {non_sellable})"


# --- reservations (law 3) ---------------------------------------------------------------------
def test_a_reservation_holds_stock_until_released(seeded: Hub) -> None:
    # Given 10 on hand
    ingest(seeded, event("r", "receipt", quantity=10, at=T0))

    # When 3 are reserved
    ingest(seeded, event("res", "reserve", quantity=3, reservation_id="o-1", at=T1))

    # Then reserved rises and available falls; on hand is unchanged
    assert quantities(seeded) == (d(10), d(0), d(3), d(0), d(7))

    # When the reservation is released
    ingest(seeded, event("rel", "release", quantity=3, reservation_id="o-1", at=T2))

    # Then everything is available again
    assert quantities(seeded) == (d(10), d(0), d(0), d(0), d(10))


def test_fulfilling_a_reservation_ships_the_units(seeded: Hub) -> None:
    # Given 3 of 10 reserved
    ingest(
        seeded,
        event("r", "receipt", quantity=10, at=T0),
        event("res", "reserve", quantity=3, reservation_id="o-1", at=T1),
    )

    # When it is fulfilled
    ingest(seeded, event("ful", "fulfil", quantity=3, reservation_id="o-1", at=T2))

    # Then the units leave on hand and are no longer reserved
    assert quantities(seeded) == (d(7), d(0), d(0), d(0), d(7))


def test_a_second_reserve_for_the_same_id_does_not_hold_twice(seeded: Hub) -> None:
    # Given a reservation of 3
    ingest(
        seeded,
        event("r", "receipt", quantity=10, at=T0),
        event("res-a", "reserve", quantity=3, reservation_id="o-1", at=T1),
    )

    # When another reserve event arrives for the same reservation id
    ingest(seeded, event("res-b", "reserve", quantity=3, reservation_id="o-1", at=T2))

    # Then only one of them holds
    assert quantities(seeded)[2] == d(3)


@pytest.mark.parametrize("closing", ["release", "fulfil"])
def test_a_close_before_its_reserve_makes_the_late_reserve_inert(seeded: Hub, closing: str) -> None:
    # Given 10 on hand and a release (or fulfil) that arrived before its reserve
    ingest(seeded, event("r", "receipt", quantity=10, at=T0))
    ingest(seeded, event("close", closing, quantity=2, reservation_id="o-1", at=T2))

    # When the reserve finally arrives
    results = ingest(seeded, event("res", "reserve", quantity=2, reservation_id="o-1", at=T1))

    # Then it is accepted but holds nothing
    assert statuses(results) == ["accepted"]
    shipped = d(2) if closing == "fulfil" else d(0)
    assert quantities(seeded) == (d(10) - shipped, d(0), d(0), d(0), d(10) - shipped)


def test_an_expired_reservation_releases_itself(seeded: Hub, clock: ManualClock) -> None:
    # Given 3 reserved until 30 minutes from now
    expires = (clock.now() + timedelta(minutes=30)).isoformat()
    ingest(
        seeded,
        event("r", "receipt", quantity=10, at=T0),
        event("res", "reserve", quantity=3, reservation_id="o-1", at=T1, expires_at=expires),
    )
    assert seeded.ingest.expire_reservations() == 0
    assert quantities(seeded)[2] == d(3)

    # When the clock passes the expiry and expiry runs
    clock.advance(timedelta(minutes=31))
    released = seeded.ingest.expire_reservations()

    # Then the reservation holds nothing any more, once
    assert released == 1
    assert quantities(seeded) == (d(10), d(0), d(0), d(0), d(10))
    assert seeded.ingest.expire_reservations() == 0
    # And a release arriving later does not take it below zero
    ingest(seeded, event("rel", "release", quantity=3, reservation_id="o-1", at=T2))
    assert quantities(seeded)[2] == d(0)


def test_a_reserve_that_has_already_expired_holds_nothing(seeded: Hub, clock: ManualClock) -> None:
    # Given a reserve whose expiry is already past when it arrives
    expired = (clock.now() - timedelta(minutes=1)).isoformat()
    ingest(seeded, event("r", "receipt", quantity=10, at=T0))

    # When it is ingested
    results = ingest(
        seeded,
        event("res", "reserve", quantity=3, reservation_id="o-1", at=T0, expires_at=expired),
    )

    # Then it is recorded but reserves nothing
    assert statuses(results) == ["accepted"]
    assert quantities(seeded)[2] == d(0)
    assert seeded.ingest.expire_reservations() == 0


# --- available-to-sell -----------------------------------------------------------------------
def test_available_subtracts_non_sellable_reserved_and_safety_stock(seeded: Hub) -> None:
    # Given MUG with a safety stock of 2
    # When 10 are received, 1 returned damaged and 3 reserved
    ingest(
        seeded,
        event("r", "receipt", sku="MUG", quantity=10, at=T0),
        event("ret", "return", sku="MUG", quantity=1, condition="damaged", at=T1),
        event("res", "reserve", sku="MUG", quantity=3, reservation_id="o-1", at=T1),
    )

    # Then available = 11 - 1 - 3 - 2
    view = seeded.positions.position("MUG", "S1")
    assert view is not None
    assert (view.on_hand, view.non_sellable, view.reserved, view.safety_stock) == (
        d(11),
        d(1),
        d(3),
        d(2),
    )
    assert view.available == d(5)


def test_available_never_goes_below_zero(seeded: Hub) -> None:
    # Given MUG (safety stock 2) with 3 on hand
    ingest(seeded, event("r", "receipt", sku="MUG", quantity=3, at=T0))

    # When 2 are reserved (3 - 2 - 2 < 0)
    ingest(seeded, event("res", "reserve", sku="MUG", quantity=2, reservation_id="o", at=T1))

    # Then available is 0
    assert quantities(seeded, "MUG") == (d(3), d(0), d(2), d(0), d(0))


def test_a_known_position_without_events_reads_as_zero(seeded: Hub) -> None:
    # Given known master data and no events
    # When a position is read, and an unknown one
    view = seeded.positions.position("MUG", "DC")

    # Then the known one is all zeros and the unknown one absent
    assert view is not None
    assert (view.on_hand, view.available) == (d(0), d(0))
    assert seeded.positions.position("MUG", "NOWHERE") is None


# --- atomicity and explanation (laws 4-5) ----------------------------------------------------
def test_every_accepted_event_is_stored_with_an_outbox_message(seeded: Hub) -> None:
    # Given an empty outbox
    assert seeded.store.outbox_depth() == 0

    # When a batch with accepted and parked events is ingested
    batch = [
        event("a", "receipt", quantity=2),
        event("b", "receipt", sku="MUG", quantity=1),
        event("c", "receipt", sku="NOPE"),
    ]
    results = ingest(seeded, *batch)

    # Then every accepted event is in the ledger and outbound work was queued with it
    accepted = [r.event_id for r in results if r.status is Status.ACCEPTED]
    assert accepted == ["a", "b"]
    for event_id in accepted:
        assert seeded.store.event("pos", event_id) is not None
    assert seeded.store.event("pos", "c") is None
    assert seeded.store.outbox_depth() > 0


def test_batches_without_accepted_events_queue_nothing(seeded: Hub) -> None:
    # Given one accepted receipt and the outbox depth it left
    raw = event("a", "receipt", quantity=2)
    ingest(seeded, raw)
    depth = seeded.store.outbox_depth()

    # When only duplicates and parked events follow
    ingest(seeded, raw, event("x", "receipt", sku="NOPE"), {"nonsense": True})

    # Then no new outbound work appears
    assert seeded.store.outbox_depth() == depth


def test_history_lists_the_events_with_count_flags(seeded: Hub) -> None:
    # Given deltas around a count
    ingest(
        seeded,
        event("r", "receipt", quantity=10, at=T0),
        event("c", "count", quantity=7, at=T2),
        event("same", "sale", quantity=1, at=T2),
        event("s", "sale", quantity=2, at=T3),
        event("res", "reserve", quantity=1, reservation_id="o", at=T4),
    )

    # When the history of the position is read
    history = seeded.positions.history("TEE-M", "S1", 100)

    # Then it lists every event, newest first, saying which is the anchor and which it superseded
    rows = [(h["event_id"], h["count_anchor"], h["superseded_by_count"]) for h in history]
    assert rows == [
        ("res", False, False),
        ("s", False, False),
        ("same", False, True),
        ("c", True, False),
        ("r", False, True),
    ]
    assert {h["event_id"]: h["on_hand_delta"] for h in history}["s"] == d(-2)
    assert on_hand(seeded) == d(5)


def test_history_respects_its_limit(seeded: Hub) -> None:
    # Given five sales
    ingest(seeded, *[event(f"s{i}", "sale", at=f"2026-03-02T0{i}:00:00+00:00") for i in range(5)])

    # When two are asked for
    history = seeded.positions.history("TEE-M", "S1", 2)

    # Then the two newest come back
    assert [h["event_id"] for h in history] == ["s4", "s3"]


def test_history_explains_on_hand_including_inbound_transfers(seeded: Hub) -> None:
    # Given S1 received 5 and S2 shipped 2 towards S1 (still in transit)
    ingest(
        seeded,
        event("r", "receipt", quantity=5, at=T0),
        event("t", "transfer_out", location="S2", counterparty_location="S1", quantity=2, at=T1),
    )

    # When S1's history is read
    history = seeded.positions.history("TEE-M", "S1", 100)

    # Then the inbound transfer is listed, and the on-hand deltas it shows add up to on hand:
    # the shipment has not touched S1's shelf yet
    assert {h["event_id"] for h in history} == {"r", "t"}
    shown = sum((h["on_hand_delta"] for h in history if not h["superseded_by_count"]), d(0))
    assert shown == on_hand(seeded, "TEE-M", "S1") == d(5)
