"""Correlation ids made at ingest and the W3C traceparent derived from them."""

from __future__ import annotations

import re

import pytest

from stockbridge.domain.correlation import (
    event_correlation_id,
    event_of_correlation_id,
    parse_traceparent,
    primary_correlation_id,
    span_id_for,
    trace_id_for,
    traceparent_for,
)
from stockbridge.domain.intake import ParsedEvent, parse_event
from stockbridge.domain.mapping import MasterData, map_event
from stockbridge.domain.model import Event, Item, Location

W3C = re.compile(r"^00-[0-9a-f]{32}-[0-9a-f]{16}-01$")


def test_an_event_sent_without_a_correlation_id_gets_one_from_its_key() -> None:
    made = event_correlation_id("pos", "e1")
    assert made == "event:pos:e1" == event_correlation_id("pos", "e1")
    assert event_of_correlation_id(made) == ("pos", "e1")


@pytest.mark.parametrize(
    ("source", "event_id"),
    [("a:b", "c"), ("a", "b:c"), ("50%", "x"), ("%3A", "y"), ("pos", "ticket:T1:1")],
)
def test_the_source_and_event_id_are_told_apart_whatever_they_hold(
    source: str, event_id: str
) -> None:
    assert event_of_correlation_id(event_correlation_id(source, event_id)) == (source, event_id)


def test_the_source_and_event_id_cannot_be_confused_by_where_they_split() -> None:
    assert event_correlation_id("a:b", "c") != event_correlation_id("a", "b:c")


@pytest.mark.parametrize("other", ["ticket:pos:T1", "event:", "event:pos", "event::e1", "x"])
def test_other_correlation_ids_name_no_event(other: str) -> None:
    assert event_of_correlation_id(other) is None


def test_a_trace_id_shaped_correlation_id_is_its_own_trace_id() -> None:
    sent = "4bf92f3577b34da6a3ce929d0e0e4736"
    assert trace_id_for(sent) == sent


@pytest.mark.parametrize(
    "correlation_id",
    ["ticket:pos:T1", "ABCDEF0123456789ABCDEF0123456789", "0" * 32, "x"],
)
def test_any_other_correlation_id_is_hashed_to_a_stable_trace_id(correlation_id: str) -> None:
    trace_id = trace_id_for(correlation_id)
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != "0" * 32
    assert trace_id != correlation_id
    assert trace_id_for(correlation_id) == trace_id


def test_a_derived_traceparent_is_valid_w3c_and_the_same_on_every_retry() -> None:
    header = traceparent_for("ticket:pos:T1", "42")
    assert W3C.match(header)
    assert header == traceparent_for("ticket:pos:T1", "42")
    parsed = parse_traceparent(header)
    assert parsed == (trace_id_for("ticket:pos:T1"), span_id_for("ticket:pos:T1", "42"), 1)


def test_deliveries_of_one_correlation_id_share_a_trace_with_their_own_parent_ids() -> None:
    first, second = traceparent_for("c", "1"), traceparent_for("c", "2")
    assert first.split("-")[1] == second.split("-")[1]
    assert first.split("-")[2] != second.split("-")[2]


@pytest.mark.parametrize(
    "header",
    [
        "",
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-zz-yy-01",
    ],
)
def test_a_malformed_traceparent_is_refused(header: str) -> None:
    assert parse_traceparent(header) is None


def test_a_traceparent_is_read_whatever_its_case_and_flags() -> None:
    parsed = parse_traceparent("00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-03")
    assert parsed == ("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", 3)


def test_a_delivery_is_sent_under_its_document_id_else_its_first_event_id() -> None:
    assert primary_correlation_id({"correlation_id": "ticket:pos:T1"}) == "ticket:pos:T1"
    assert primary_correlation_id({"correlation_ids": ["b", "c"]}) == "b"
    assert primary_correlation_id({"correlation_ids": []}) is None
    assert primary_correlation_id(["not", "a", "document"]) is None


def _mapped(raw: dict[str, object]) -> Event:
    parsed = parse_event(raw)
    assert isinstance(parsed, ParsedEvent)
    master = MasterData(items={"TEE": Item("TEE")}, locations={"S1": Location("S1")})
    mapped = map_event(parsed, master)
    assert isinstance(mapped, Event)
    return mapped


def test_an_event_is_traced_by_the_source_id_or_one_from_its_key() -> None:
    raw = {
        "event_id": "e1",
        "source": "pos",
        "type": "sale",
        "sku": "TEE",
        "location": "S1",
        "quantity": 1,
        "occurred_at": "2026-03-02T09:00:00+00:00",
    }
    plain = _mapped(raw)
    assert (plain.correlation_id, plain.correlation) == (None, "event:pos:e1")
    sent = _mapped({**raw, "correlation_id": "basket-7"})
    assert (sent.correlation_id, sent.correlation) == ("basket-7", "basket-7")
