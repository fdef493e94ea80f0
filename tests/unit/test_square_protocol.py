"""Square's protocol maths: signatures, quantities, times, and what deliveries become."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from stockbridge.connectors.square.changes import Planned, Refused, plan
from stockbridge.connectors.square.config import SquareTargetSettings
from stockbridge.connectors.square.orders import count_observations, order_events
from stockbridge.connectors.square.protocol import (
    change_index,
    parse_quantity,
    quantity_text,
    rate_limited,
    rfc3339,
    sign,
    signature_ok,
)

URL = "https://hub.example.com/v1/webhooks/sq"
BODY = b'{"event_id":"e-1"}'
NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SETTINGS = SquareTargetSettings(
    access_token_env="SQ_TOKEN",
    channels={"pos-s1": "LOC1"},
    locations={"S1": "LOC1"},
    catalog={"TEE-M": "CATTEE", "MUG": "CATMUG"},
    skip_sources=["sq"],
)


def test_signature_is_base64_hmac_sha256_of_url_and_body() -> None:
    # Given the documented scheme, worked out once for this key, URL and body
    assert sign("sig-key-123", URL, BODY) == "ZYmHFJEbkrIqQmtz3igES4TvxW5ANj/ReAa0/UiJl04="
    good = sign("sig-key-123", URL, BODY)
    assert signature_ok("sig-key-123", URL, BODY, good)
    # Then another URL, another body or another key does not verify
    assert not signature_ok("sig-key-123", URL + "/", BODY, good)
    assert not signature_ok("sig-key-123", URL, BODY + b" ", good)
    assert not signature_ok("other-key", URL, BODY, good)
    assert not signature_ok("sig-key-123", URL, BODY, "")


def test_rate_limited_body_is_the_documented_one() -> None:
    assert rate_limited() == {
        "errors": [
            {
                "code": "RATE_LIMITED",
                "detail": "This request was rate limited. Please retry later.",
                "category": "RATE_LIMIT_ERROR",
            }
        ]
    }


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (Decimal("10"), "10"),
        (Decimal("2.500000"), "2.5"),
        (Decimal("1.123456"), "1.12345"),  # floored to Square's five places
        (Decimal("0"), "0"),
        (Decimal("1E+2"), "100"),
    ],
)
def test_quantities_are_plain_with_at_most_five_places(value: Decimal, text: str) -> None:
    assert quantity_text(value) == text


def test_parsing_quantities_and_fields() -> None:
    assert parse_quantity("1.5") == Decimal("1.5")
    assert parse_quantity("1.123456") is None
    assert parse_quantity(3) is None
    assert change_index("changes[12].physical_count.quantity") == 12
    assert change_index("idempotency_key") is None
    assert rfc3339(datetime(2026, 3, 2, 9, 0, 0, 125000, tzinfo=UTC)) == "2026-03-02T09:00:00.125Z"


def push(available: str = "7", at: datetime = NOW, **extra: Any) -> dict[str, Any]:
    return {
        "type": "availability",
        "channel": "pos-s1",
        "sku": "TEE-M",
        "available": available,
        "computed_at": at.isoformat(),
        **extra,
    }


def posting(movement: str, quantity: str = "2", at: datetime = NOW, **extra: Any) -> dict[str, Any]:
    return {
        "type": "posting",
        "movement": movement,
        "document_number": f"pos:{movement}-1",
        "source": "pos",
        "sku": "TEE-M",
        "location": "S1",
        "quantity": quantity,
        "occurred_at": at.isoformat(),
        "condition": None,
        **extra,
    }


def test_an_availability_push_is_a_physical_count_in_stock() -> None:
    planned = plan(push(), SETTINGS, NOW)
    assert planned == Planned(
        [
            {
                "type": "PHYSICAL_COUNT",
                "physical_count": {
                    "catalog_object_id": "CATTEE",
                    "state": "IN_STOCK",
                    "location_id": "LOC1",
                    "quantity": "7",
                    "occurred_at": "2026-03-02T12:00:00.000Z",
                },
            }
        ]
    )


def test_a_count_older_than_the_window_is_redated_to_the_oldest_instant_accepted() -> None:
    planned = plan(push(at=NOW - timedelta(hours=30)), SETTINGS, NOW)
    assert isinstance(planned, Planned) and planned.redated
    at = planned.changes[0]["physical_count"]["occurred_at"]
    # 24 h back, plus five minutes of margin for clock differences
    assert at == "2026-03-01T12:05:00.000Z"


def test_unmapped_channels_and_skus_are_refused_with_the_setting_to_fix() -> None:
    refused = plan(push(channel="web"), SETTINGS, NOW)
    assert isinstance(refused, Refused) and "platform.channels" in refused.reason
    refused = plan(push(sku="CHEESE"), SETTINGS, NOW)
    assert isinstance(refused, Refused) and "platform.catalog" in refused.reason
    assert isinstance(plan({"type": "price"}, SETTINGS, NOW), Refused)


@pytest.mark.parametrize(
    ("movement", "quantity", "condition", "states"),
    [
        ("sale", "2", None, ("IN_STOCK", "SOLD")),
        ("receipt", "5", None, ("NONE", "IN_STOCK")),
        ("transfer_out", "1", None, ("IN_STOCK", "NONE")),
        ("adjustment", "3", None, ("NONE", "IN_STOCK")),
        ("adjustment", "-3", None, ("IN_STOCK", "WASTE")),
        ("return", "1", "sellable", ("NONE", "IN_STOCK")),
        ("status_change", "1", "damaged", ("IN_STOCK", "WASTE")),
    ],
)
def test_postings_are_adjustments_between_states(
    movement: str, quantity: str, condition: str | None, states: tuple[str, str]
) -> None:
    planned = plan(posting(movement, quantity, condition=condition), SETTINGS, NOW)
    assert isinstance(planned, Planned)
    (change,) = planned.changes
    adjustment = change["adjustment"]
    assert change["type"] == "ADJUSTMENT"
    assert (adjustment["from_state"], adjustment["to_state"]) == states
    assert adjustment["quantity"] == quantity.lstrip("-")
    assert adjustment["reference_id"] == f"pos:{movement}-1"


def test_postings_square_holds_or_cannot_hold_are_not_sent() -> None:
    # Square's own sales (its source), other locations and damaged returns: nothing to book
    assert plan(posting("sale", source="sq"), SETTINGS, NOW) == Planned()
    assert plan(posting("sale", location="DC"), SETTINGS, NOW) == Planned()
    assert plan(posting("return", condition="damaged"), SETTINGS, NOW) == Planned()
    # A count is absolute
    count = plan(posting("count", "12"), SETTINGS, NOW)
    assert isinstance(count, Planned) and count.changes[0]["physical_count"]["quantity"] == "12"
    # A movement older than the window is refused, not re-dated
    old = plan(posting("sale", at=NOW - timedelta(hours=25)), SETTINGS, NOW)
    assert isinstance(old, Refused) and "older than Square accepts" in old.reason


def order(**extra: Any) -> dict[str, Any]:
    return {
        "id": "ORD1",
        "location_id": "LOC1",
        "state": "COMPLETED",
        "created_at": "2026-03-02T10:00:00.000Z",
        "closed_at": "2026-03-02T10:01:00.000Z",
        "line_items": [
            {"uid": "u1", "catalog_object_id": "CATTEE", "quantity": "2"},
            {"uid": "u2", "name": "gift wrap", "quantity": "1"},  # custom amount: not stock
        ],
        **extra,
    }


def test_a_completed_order_is_one_sale_per_catalog_line() -> None:
    assert order_events("sq", order()) == [
        {
            "event_id": "sale:ORD1:u1",
            "source": "sq",
            "type": "sale",
            "sku": "CATTEE",
            "location": "LOC1",
            "quantity": "2",
            "occurred_at": "2026-03-02T10:01:00.000Z",
            "reference": "square order ORD1",
        }
    ]
    assert order_events("sq", order(state="OPEN")) == []


def test_a_return_order_is_one_sellable_return_per_returned_line() -> None:
    returned = order(
        id="RET1",
        line_items=[],
        returns=[
            {
                "source_order_id": "ORD1",
                "return_line_items": [
                    {"uid": "r1", "catalog_object_id": "CATTEE", "quantity": "1"}
                ],
            }
        ],
    )
    (event,) = order_events("sq", returned)
    assert event["event_id"] == "return:RET1:r1"
    assert (event["type"], event["condition"], event["quantity"]) == ("return", "sellable", "1")


def test_count_updates_are_observations() -> None:
    counts = [
        {
            "catalog_object_id": "CATTEE",
            "location_id": "LOC1",
            "state": "IN_STOCK",
            "quantity": "10",
            "calculated_at": "2026-03-02T10:00:00Z",
        }
    ]
    (obs,) = count_observations("e-9", counts)
    assert obs["event_id"] == "e-9" and obs["quantity"] == "10"
