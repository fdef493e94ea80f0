"""Amazon SP-API protocol pieces, pure: patches, feeds, reports, rate headers, order
translation, relay signatures and settings."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError

from stockbridge.app.reservations import Close, Reserve
from stockbridge.app.targets import TargetIn
from stockbridge.connectors.amazon.config import AmazonTargetSettings
from stockbridge.connectors.amazon.feeds import feed_document, message_errors
from stockbridge.connectors.amazon.inbound import AmazonInbound, relay_signature
from stockbridge.connectors.amazon.listings import (
    error_text,
    is_token_refusal,
    listing_path,
    patch_body,
    quantity,
    retry_after,
    submission_refusal,
)
from stockbridge.connectors.amazon.lwa import refresh_at
from stockbridge.connectors.amazon.orders import commands, from_notification
from stockbridge.domain.model import EventType

PLATFORM = {
    "seller_id": "A1SELLER",
    "marketplace_ids": ["A1PA6795UKMFR9"],
    "lwa_client_id_env": "ID",
    "lwa_client_secret_env": "SECRET",
    "lwa_refresh_token_env": "REFRESH",
}


@pytest.mark.parametrize(
    ("available", "units"),
    [("7", 7), ("2.9", 2), ("0", 0), ("-3", 0), ("junk", 0), (None, 0), ("1e3", 1000)],
)
def test_availability_becomes_whole_units_never_negative(available: Any, units: int) -> None:
    assert quantity(available) == units


def test_the_quantity_patch_merges_the_merchant_channel_only() -> None:
    assert patch_body("PRODUCT", "DEFAULT", 4) == {
        "productType": "PRODUCT",
        "patches": [
            {
                "op": "merge",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}],
            }
        ],
    }


def test_the_sku_is_url_encoded_slashes_and_hashes_too() -> None:
    assert listing_path("A1", "TEE/M #2") == "/listings/2021-08-01/items/A1/TEE%2FM%20%232"


def test_retry_after_is_one_token_of_the_documented_rate() -> None:
    assert retry_after({"x-amzn-RateLimit-Limit": "5.0"}) == "0.200"
    assert retry_after({"X-Amzn-RateLimit-Limit": "0.0083"}) == "120.482"
    assert retry_after({}) is None
    assert retry_after({"x-amzn-RateLimit-Limit": "0"}) is None


def test_error_lists_and_invalid_submissions_read_as_code_and_message() -> None:
    body = {"errors": [{"code": "InvalidInput", "message": "bad", "details": ""}]}
    assert error_text(body) == "InvalidInput: bad"
    invalid = {
        "sku": "X",
        "status": "INVALID",
        "issues": [
            {"code": "4000001", "message": "nope", "severity": "ERROR"},
            {"code": "18448", "message": "fyi", "severity": "WARNING"},
        ],
    }
    assert submission_refusal(invalid) == "4000001: nope"
    assert submission_refusal({"sku": "X", "status": "ACCEPTED", "issues": []}) is None


def test_only_a_403_about_the_token_asks_for_a_new_one() -> None:
    expired = {"errors": [{"code": "Unauthorized", "message": "expired"}]}
    assert is_token_refusal(403, expired)
    assert not is_token_refusal(400, expired)
    assert not is_token_refusal(403, {"errors": [{"code": "QuotaExceeded"}]})


def test_a_token_is_replaced_a_minute_before_its_hour_or_a_tenth_of_a_short_life() -> None:
    assert refresh_at(100.0, 3600) == 100.0 + 3540
    assert refresh_at(0.0, 10) == 9.0


def test_the_feed_document_numbers_messages_from_one() -> None:
    doc = feed_document("A1", "PRODUCT", "DEFAULT", [("S-1", 3), ("S-2", 0)])
    assert doc["header"] == {"sellerId": "A1", "version": "2.0", "issueLocale": "en_US"}
    assert [(m["messageId"], m["sku"], m["operationType"]) for m in doc["messages"]] == [
        (1, "S-1", "PATCH"),
        (2, "S-2", "PATCH"),
    ]
    assert doc["messages"][1]["patches"][0]["value"] == [
        {"fulfillment_channel_code": "DEFAULT", "quantity": 0}
    ]


def test_the_processing_report_refuses_messages_with_errors_not_warnings() -> None:
    report = {
        "issues": [
            {"messageId": 2, "sku": "B", "code": "90220", "severity": "ERROR", "message": "a"},
            {"messageId": 2, "sku": "B", "code": "90221", "severity": "ERROR", "message": "b"},
            {"messageId": 3, "sku": "C", "code": "18448", "severity": "WARNING", "message": "w"},
        ]
    }
    assert message_errors(report) == {2: "90220: a; 90221: b"}
    assert message_errors(None) == {}


# --- orders -------------------------------------------------------------------------------
def notification(status: str, *, shipped: int = 0, fulfillment: str = "MFN") -> dict[str, Any]:
    return {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-03-02T10:00:00.000Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A1SELLER",
                "AmazonOrderId": "405-1234567-7654321",
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": None, "ChangeReason": "x"},
                "Summary": {
                    "MarketplaceId": "A1PA6795UKMFR9",
                    "OrderStatus": status,
                    "FulfillmentType": fulfillment,
                    "OrderItems": [
                        {
                            "OrderItemId": "11",
                            "SellerSKU": "AMZ-TEE",
                            "Quantity": 2,
                            "QuantityShipped": shipped,
                        },
                        {"OrderItemId": "12", "SellerSKU": "MUG", "Quantity": 0},
                    ],
                },
            }
        },
        "NotificationMetadata": {"NotificationId": "n-1"},
    }


def reserve_of(status: str, **kw: Any) -> list[Any]:
    return commands(from_notification(notification(status, **kw)), "amz", "DC")


def test_an_unshipped_order_item_is_a_reservation_at_the_connector_location() -> None:
    assert reserve_of("Unshipped") == [
        Reserve(
            "amz:405-1234567-7654321:11",
            "AMZ-TEE",
            Decimal(2),
            location="DC",
            source="amz",
            reference="405-1234567-7654321",
            correlation_id="405-1234567-7654321",
        )
    ]


@pytest.mark.parametrize(
    ("status", "shipped", "closed"),
    [
        ("Shipped", 2, EventType.FULFIL),
        ("PartiallyShipped", 2, EventType.FULFIL),
        ("PartiallyShipped", 1, None),
        ("Canceled", 0, EventType.RELEASE),
        ("Pending", 0, None),
    ],
)
def test_each_status_reserves_first_then_closes_as_the_order_went(
    status: str, shipped: int, closed: EventType | None
) -> None:
    out = reserve_of(status, shipped=shipped)
    assert isinstance(out[0], Reserve)
    assert [(c.reservation_id, c.action) for c in out[1:] if isinstance(c, Close)] == (
        [("amz:405-1234567-7654321:11", closed)] if closed else []
    )


def test_amazon_fulfilled_orders_do_not_touch_our_stock() -> None:
    assert reserve_of("Unshipped", fulfillment="AFN") == []


def relay(env: dict[str, str] | None = None, **raw: Any) -> AmazonInbound:
    settings = {"kind": "amazon", "secret_env": "RELAY", "location": "DC", **raw}
    return AmazonInbound.from_settings("amz", settings, {"RELAY": "k"} if env is None else env)


def test_the_relay_signature_is_checked_on_the_raw_body() -> None:
    inbound = relay()
    body = b'{"NotificationType":"ORDER_CHANGE"}'
    good = {"X-Stockbridge-Relay-Signature": relay_signature("k", body)}
    assert inbound.verify(good, body, "http://hub/v1/webhooks/amz")
    assert not inbound.verify(good, body + b" ", "u")
    assert not inbound.verify({"x-stockbridge-relay-signature": "sha256=00"}, body, "u")
    assert not inbound.verify({}, body, "u")


def test_other_notifications_and_other_sellers_translate_to_nothing() -> None:
    assert relay().translate({}, {"NotificationType": "ANY_OFFER_CHANGED"}).commands == []
    other = relay(seller_id="A2OTHER")
    assert other.translate({}, notification("Unshipped")).commands == []


@pytest.mark.parametrize(
    ("raw", "env", "key"),
    [
        ({}, {}, "secret_env: environment variable RELAY is not set"),
        ({"location": ""}, None, "location:"),
        ({"url": "http://sim"}, None, "marketplace_ids:"),
        ({"url": "http://sim", "marketplace_ids": ["M"]}, None, "lwa_client_id_env:"),
        ({"bogus": 1}, None, "bogus:"),
    ],
)
def test_connector_settings_errors_name_the_key(
    raw: dict[str, Any], env: dict[str, str] | None, key: str
) -> None:
    with pytest.raises(ValueError) as e:
        relay(env, **raw)
    assert str(e.value).startswith(key)


def test_an_amazon_target_gets_the_documented_rate_unless_it_sets_one() -> None:
    target = TargetIn.model_validate({"kind": "amazon", "url": "http://sim", "platform": PLATFORM})
    assert (target.rate_per_second, target.burst) == (5.0, 5.0)
    own = TargetIn.model_validate(
        {"kind": "amazon", "url": "http://sim", "platform": PLATFORM, "burst": 10}
    )
    assert (own.rate_per_second, own.burst) == (5.0, 10.0)
    webhook = TargetIn.model_validate({"url": "http://hook"})
    assert webhook.rate_per_second == 10.0


def test_target_settings_are_checked_when_declared() -> None:
    with pytest.raises(ValidationError, match=r"platform\.marketplace_ids"):
        TargetIn.model_validate(
            {"kind": "amazon", "url": "http://sim", "platform": {**PLATFORM, "marketplace_ids": []}}
        )
    with pytest.raises(ValidationError, match=r"platform\.feed_treshold"):
        TargetIn.model_validate(
            {"kind": "amazon", "url": "http://sim", "platform": {**PLATFORM, "feed_treshold": 9}}
        )
    settings = AmazonTargetSettings.model_validate({**PLATFORM, "skus": {"TEE-M": "AMZ-TEE"}})
    assert (settings.seller_sku("TEE-M"), settings.seller_sku("MUG")) == ("AMZ-TEE", "MUG")
    with pytest.raises(ValueError, match=r"^lwa_client_secret_env: environment variable SECRET"):
        settings.credentials({"ID": "x", "REFRESH": "y"})
