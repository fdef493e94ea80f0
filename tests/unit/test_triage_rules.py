"""The pure rules of exception triage: which exceptions a mapping resolves, when one is
overdue, and how resolution times are summarised."""

from __future__ import annotations

from typing import Any

import pytest

from stockbridge.app.triage import sla_of
from stockbridge.config import ConfigError, load_settings_from
from stockbridge.domain.intake import parse_event
from stockbridge.domain.mapping import MasterData, Parked, map_event
from stockbridge.domain.model import Xref, XrefKind
from stockbridge.domain.triage import (
    ExceptionSla,
    failing_code,
    resolution_stats,
    resolved_by,
    resolves,
    value_at,
)
from stockbridge.domain.triage import Parked as ParkedException

ITEM_9001 = Xref("pos", XrefKind.ITEM, "9001", "MUG")
STORE_0009 = Xref("pos", XrefKind.LOCATION, "0009", "S1")


def parked(
    id_: int, reason: str, field: str | None, payload: Any, source: str = "pos"
) -> ParkedException:
    return ParkedException(id_, reason, source, field, payload)


def sale(**fields: Any) -> dict[str, Any]:
    return {"event_id": "e", "source": "pos", "type": "sale", "sku": "9001", "location": "S1",
            "quantity": 1, "occurred_at": "2026-03-02T09:00:00+00:00", **fields}  # fmt: skip


def test_mapping_names_the_field_whose_code_did_not_map() -> None:
    # Given no cross references at all
    md = MasterData()
    # When events with unknown codes are mapped
    unknown_item = map_event(parse_event(sale()), md)  # type: ignore[arg-type]
    # Then the parked result names the field a fix would replay by
    assert isinstance(unknown_item, Parked)
    assert (unknown_item.reason.value, unknown_item.field) == ("unknown_sku", "sku")


def test_a_cross_reference_resolves_the_exceptions_parked_on_its_very_code() -> None:
    # Given exceptions parked on item 9001, on another code, from another source, for
    # another reason, and one with no field recorded
    exceptions = [
        parked(1, "unknown_sku", "sku", sale()),
        parked(2, "unknown_sku", "sku", sale(sku="9002")),
        parked(3, "unknown_sku", "sku", sale(), source="web"),
        parked(4, "unknown_location", "location", sale(location="9001")),
        parked(5, "unknown_sku", None, sale()),
    ]
    # Then only the first is resolved by the item cross reference
    assert resolved_by([ITEM_9001], exceptions) == [1]
    # And a location cross reference resolves a counterparty location as well
    transfer = parked(6, "unknown_location", "counterparty_location",
                      sale(counterparty_location="0009"))  # fmt: skip
    assert resolves(STORE_0009, transfer)
    assert not resolves(ITEM_9001, transfer)


def test_document_exceptions_are_matched_inside_the_kept_document() -> None:
    # Given an order and a ticket parked on their lines' codes
    order = {"order": {"order_id": "o-1", "lines": [{"sku": "A"}, {"sku": "9001"}]}}
    ticket = {"ticket": {"store": "0009", "lines": []}}
    returned = {"document": "return", "id": "r-1", "body": {"lines": [{"sku": "9001"}]}}
    # Then the failing code is read at the exception's field within the document body
    assert failing_code(parked(1, "unknown_sku", "lines[1].sku", order)) == "9001"
    assert failing_code(parked(2, "unknown_location", "store", ticket)) == "0009"
    assert failing_code(parked(3, "unknown_sku", "lines[0].sku", returned)) == "9001"
    assert resolved_by([ITEM_9001, STORE_0009], [
        parked(1, "unknown_sku", "lines[1].sku", order),
        parked(2, "unknown_location", "store", ticket),
        parked(4, "unknown_sku", "lines[0].sku", order),
    ]) == [1, 2]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "expected"),
    [("lines[0].sku", "A"), ("lines[5].sku", None), ("missing.sku", None), ("sku[0]", None)],
)
def test_a_path_that_leads_nowhere_is_none(path: str, expected: Any) -> None:
    assert value_at({"lines": [{"sku": "A"}], "sku": "B"}, path) == expected


def test_an_exception_is_overdue_past_its_reasons_sla_only() -> None:
    # Given a 24 h SLA, 4 h for unknown SKUs
    sla = ExceptionSla(24 * 3600, {"unknown_sku": 4 * 3600})
    hour = 3600 * 1_000_000
    # Then the limit is per reason, and exactly at the limit is not yet overdue
    assert sla.overdue("unknown_sku", 0, 4 * hour + 1)
    assert not sla.overdue("unknown_sku", 0, 4 * hour)
    assert not sla.overdue("unknown_location", 0, 5 * hour)
    assert sla.overdue("unknown_location", 0, 25 * hour)
    assert sla.cutoff_us("unknown_sku", 10 * hour) == 6 * hour


def test_resolution_times_are_summarised_by_reason_nearest_rank() -> None:
    # Given ten unknown SKUs closed in 1..10 minutes and one conflicting duplicate
    minute = 60 * 1_000_000
    samples = [("unknown_sku", m * minute) for m in range(10, 0, -1)]
    samples.append(("conflicting_duplicate", -5))  # a clock stepped back counts as 0
    # When summarised
    stats = resolution_stats(samples)
    # Then each reason has its median, 90th percentile and worst, in seconds
    sku = stats["unknown_sku"]
    assert (sku.count, sku.median_seconds, sku.p90_seconds, sku.max_seconds) == (10, 300, 540, 600)
    assert stats["conflicting_duplicate"].max_seconds == 0
    assert resolution_stats([]) == {}


def test_exception_slas_are_read_from_the_settings_and_checked() -> None:
    # Given settings with a per-reason SLA, and one naming no reason
    settings = load_settings_from({"exceptions": {"sla_hours": 12, "sla_hours_by_reason": {
        "unknown_sku": 0.5}}})  # fmt: skip
    # Then the SLA is in seconds per reason, the default elsewhere
    sla = sla_of(settings.exceptions)
    assert (sla.limit_us("unknown_sku"), sla.limit_us("invalid_event")) == (
        1800 * 1_000_000,
        12 * 3600 * 1_000_000,
    )
    # And an unknown reason code stops the start, naming it
    with pytest.raises(ConfigError, match="unknown_colour"):
        load_settings_from({"exceptions": {"sla_hours_by_reason": {"unknown_colour": 2}}})
