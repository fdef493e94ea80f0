"""Shopify webhooks: the signature, the settings, and what each topic means for the hub."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import pytest

from stockbridge.connectors.shopify import signing
from stockbridge.connectors.shopify.inbound import UNASSIGNED, ShopifyInbound

SECRET = "hush"
ENV = {"SHOP_SECRET": SECRET}
VARIANT = "gid://shopify/ProductVariant/39072856"


def inbound(**settings: Any) -> ShopifyInbound:
    raw = {"kind": "shopify", "secret_env": "SHOP_SECRET", **settings}
    return ShopifyInbound.from_settings("shop", raw, ENV)


def headers(topic: str, event_id: str = "ev-1") -> dict[str, str]:
    return {"X-Shopify-Topic": topic, "X-Shopify-Event-Id": event_id, "X-Shopify-Webhook-Id": "wh"}


ORDER = {
    "id": 450789469,
    "name": "#1001",
    "created_at": "2026-03-02T11:00:00-05:00",
    "cancelled_at": None,
    "location_id": None,
    "line_items": [
        {"id": 466157049, "variant_id": 39072856, "sku": "TEE-M", "quantity": 2},
        {"id": 518995019, "variant_id": None, "sku": "GIFT-WRAP", "quantity": 1},
    ],
}


# --- signature ------------------------------------------------------------------------------
def test_the_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    body = b'{"id":1}'
    expected = base64.b64encode(hmac.new(SECRET.encode(), body, hashlib.sha256).digest()).decode()
    assert signing.sign(SECRET, body) == expected
    c = inbound()
    assert c.verify({"X-Shopify-Hmac-Sha256": expected}, body, "http://hub/v1/webhooks/shop")
    # lower-case header names (as HTTP servers hand them over) are the same header
    assert c.verify({"x-shopify-hmac-sha256": expected}, body, "")


@pytest.mark.parametrize(
    "signature",
    [
        None,
        "",
        signing.sign("other", b'{"id":1}'),
        hmac.new(SECRET.encode(), b'{"id":1}', hashlib.sha256).hexdigest(),  # hex, not base64
        signing.sign(SECRET, b'{"id": 1}'),  # the same JSON, other bytes
        "é-not-ascii",
    ],
)
def test_anything_but_the_exact_signature_is_refused(signature: str | None) -> None:
    h = {} if signature is None else {"X-Shopify-Hmac-Sha256": signature}
    assert not inbound().verify(h, b'{"id":1}', "")


def test_events_deliveries_without_the_x_prefix_only_when_accepted() -> None:
    body = b"{}"
    h = {"Shopify-Hmac-Sha256": signing.sign(SECRET, body)}
    assert not inbound().verify(h, body, "")
    assert inbound(accept_events_header=True).verify(h, body, "")


# --- settings --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("raw", "env", "key"),
    [
        ({"kind": "shopify"}, ENV, "secret_env"),
        ({"kind": "shopify", "secret_env": "NOPE"}, ENV, "secret_env"),
        ({"kind": "shopify", "secret_env": "SHOP_SECRET", "colour": "red"}, ENV, "colour"),
        (
            {"kind": "shopify", "secret_env": "SHOP_SECRET", "api_version": "2024-01"},
            ENV,
            "api_version",
        ),
        (
            {"kind": "shopify", "secret_env": "SHOP_SECRET", "default_location_id": "gid://x/1"},
            ENV,
            "default_location_id",
        ),
    ],
)
def test_bad_settings_name_the_key(raw: dict[str, Any], env: dict[str, str], key: str) -> None:
    with pytest.raises(ValueError) as e:
        ShopifyInbound.from_settings("shop", raw, env)
    assert str(e.value).startswith(f"{key}:")


# --- translation ------------------------------------------------------------------------------
def test_an_order_reserves_each_stocked_line_at_its_location() -> None:
    c = inbound(default_location_id=905684977)
    t = c.translate(headers("orders/create"), ORDER)
    assert t.commands == [] and t.observations == []
    assert t.events == [
        {
            "event_id": "shop:450789469:466157049",
            "source": "shop",
            "type": "reserve",
            "sku": VARIANT,
            "location": "gid://shopify/Location/905684977",
            "quantity": 2,
            "occurred_at": "2026-03-02T11:00:00-05:00",
            "reservation_id": "shop:450789469:466157049",
            "reference": "order #1001",
            "correlation_id": "ev-1",
        }
    ]
    # A POS order names its own location; without one and no default it is parked
    pos = c.translate(headers("orders/create"), {**ORDER, "location_id": 487838322})
    assert pos.events[0]["location"] == "gid://shopify/Location/487838322"
    assert inbound().translate(headers("orders/create"), ORDER).events[0]["location"] == UNASSIGNED


def test_lines_can_be_matched_by_their_sku_instead() -> None:
    t = inbound(item_key="sku").translate(headers("orders/create"), ORDER)
    assert [e["sku"] for e in t.events] == ["TEE-M", "GIFT-WRAP"]


def test_a_redelivery_translates_to_the_same_events() -> None:
    c = inbound(default_location_id=1)
    h = headers("orders/create")
    assert c.translate(h, ORDER) == c.translate({**h, "X-Shopify-Webhook-Id": "other"}, ORDER)


def test_a_cancellation_releases_the_order_reservations() -> None:
    cancelled = {**ORDER, "cancelled_at": "2026-03-02T12:00:00-05:00"}
    t = inbound(default_location_id=1).translate(headers("orders/cancelled", "ev-2"), cancelled)
    (e,) = t.events
    assert (e["event_id"], e["type"], e["reservation_id"]) == (
        "shop:450789469:466157049:release",
        "release",
        "shop:450789469:466157049",
    )
    assert e["occurred_at"] == "2026-03-02T12:00:00-05:00"


def test_a_fulfilment_fulfils_from_its_location() -> None:
    fulfilment = {
        "id": 255858046,
        "order_id": 450789469,
        "status": "success",
        "created_at": "2026-03-02T13:00:00-05:00",
        "location_id": 905684977,
        "line_items": [{"id": 466157049, "variant_id": 39072856, "quantity": 2}],
    }
    (e,) = inbound().translate(headers("fulfillments/create"), fulfilment).events
    assert e["type"] == "fulfil" and e["quantity"] == 2
    assert e["event_id"] == "shop:450789469:466157049:fulfil:255858046"
    assert e["reservation_id"] == "shop:450789469:466157049"
    assert e["location"] == "gid://shopify/Location/905684977"
    failed = {**fulfilment, "status": "failure"}
    assert inbound().translate(headers("fulfillments/create"), failed).events == []


def refund(*lines: dict[str, Any], restock: bool = True) -> dict[str, Any]:
    return {
        "id": 509562969,
        "order_id": 450789469,
        "created_at": "2026-03-03T10:00:00-05:00",
        "restock": restock,
        "refund_line_items": list(lines),
    }


def refund_line(restock_type: str | None, quantity: int = 1, **line: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": 104689539,
        "line_item_id": 466157049,
        "location_id": 487838322,
        "quantity": quantity,
        "line_item": {"id": 466157049, "variant_id": 39072856, "quantity": 2, **line},
    }
    if restock_type is not None:
        out["restock_type"] = restock_type
    return out


def test_a_restocked_return_is_a_return_at_the_refund_location() -> None:
    (e,) = inbound().translate(headers("refunds/create"), refund(refund_line("return"))).events
    assert (e["type"], e["quantity"], e["location"]) == (
        "return",
        1,
        "gid://shopify/Location/487838322",
    )
    assert e["event_id"] == "shop:refund:509562969:104689539"
    assert "reservation_id" not in e


def test_refunds_without_restock_or_partial_cancels_move_nothing() -> None:
    c = inbound()
    assert c.translate(headers("refunds/create"), refund(refund_line("no_restock"))).events == []
    partial = refund(refund_line("cancel", quantity=1))
    assert c.translate(headers("refunds/create"), partial).events == []


def test_a_whole_line_cancelled_by_refund_releases_its_reservation() -> None:
    (e,) = inbound().translate(headers("refunds/create"), refund(refund_line("cancel", 2))).events
    assert e["type"] == "release" and e["reservation_id"] == "shop:450789469:466157049"
    # Its own key: the order's cancellation may release the same reservation too
    assert e["event_id"] == "shop:450789469:466157049:release:refund:509562969"


def test_legacy_restock_follows_the_line_state() -> None:
    c = inbound()
    shipped = refund(refund_line(None, fulfillment_status="fulfilled"))
    assert [e["type"] for e in c.translate(headers("refunds/create"), shipped).events] == ["return"]
    unshipped = refund(refund_line("legacy_restock", 2, fulfillment_status=None))
    assert [e["type"] for e in c.translate(headers("refunds/create"), unshipped).events] == [
        "release"
    ]


def test_an_inventory_level_update_is_an_observation_only() -> None:
    level = {
        "inventory_item_id": 808950810,
        "location_id": 905684977,
        "available": 6,
        "updated_at": "2026-03-02T15:51:26-04:00",
    }
    t = inbound().translate(headers("inventory_levels/update", "ev-9"), level)
    assert t.events == [] and t.commands == []
    assert t.observations == [
        {
            "connector": "shop",
            "topic": "inventory_levels/update",
            "inventory_item_id": "gid://shopify/InventoryItem/808950810",
            "location_id": "gid://shopify/Location/905684977",
            "available": 6,
            "updated_at": "2026-03-02T15:51:26-04:00",
            "event_id": "ev-9",
            "webhook_id": "wh",
        }
    ]


def test_other_topics_and_shapes_are_ignored() -> None:
    c = inbound()
    assert c.translate(headers("products/update"), {"id": 1}).events == []
    assert c.translate(headers("orders/create"), ["not", "an", "order"]).events == []


def test_with_settings_mapping_variants_and_locations_come_from_the_explicit_maps() -> None:
    # Given a connector mapping by its own settings instead of the hub's cross references
    c = inbound(
        mapping="settings",
        variants={"39072856": "TEE-M"},
        locations={"gid://shopify/Location/487838322": "S1"},
    )
    # When a POS order arrives
    t = c.translate(headers("orders/create"), {**ORDER, "location_id": 487838322})
    # Then its line is reserved under the SKU and location the maps name
    assert [(e["sku"], e["location"]) for e in t.events] == [("TEE-M", "S1")]
    # And by default (cross references) the Shopify ids travel to the hub's mapping
    assert inbound().translate(headers("orders/create"), ORDER).events[0]["sku"] == VARIANT


def test_explicit_maps_without_settings_mapping_are_refused_by_name() -> None:
    with pytest.raises(ValueError, match=r"mapping: .*variants is explicit"):
        inbound(mapping="xrefs", variants={"1": "TEE-M"})
    with pytest.raises(ValueError, match=r"locations: .*x: not a Shopify Location id"):
        inbound(locations={"x": "S1"})
