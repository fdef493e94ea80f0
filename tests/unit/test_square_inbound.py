"""The Square inbound connector: settings, signature, and what each notification means."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from stockbridge.app.connectors import BadPayload
from stockbridge.connectors.square.inbound import SquareInbound, SquareUnavailable
from stockbridge.connectors.square.protocol import sign

URL = "https://hub.example.com/v1/webhooks/sq"
RAW = {
    "kind": "square",
    "signature_key_env": "SQ_SIG",
    "notification_url": URL,
    "access_token_env": "SQ_TOKEN",
    "api_url": "https://sq.test",
}
ENV = {"SQ_SIG": "sig-key", "SQ_TOKEN": "tok"}
ORDER = {
    "id": "ORD1",
    "location_id": "LOC1",
    "state": "COMPLETED",
    "created_at": "2026-03-02T10:00:00.000Z",
    "closed_at": "2026-03-02T10:01:00.000Z",
    "line_items": [{"uid": "u1", "catalog_object_id": "CATTEE", "quantity": "2"}],
}


def connector(handler: Any = None) -> tuple[SquareInbound, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if handler is not None:
            response: httpx.Response = handler(request)
            return response
        return httpx.Response(200, json={"order": ORDER})

    inbound = SquareInbound.from_settings("sq", RAW, ENV)
    inbound._client = httpx.Client(transport=httpx.MockTransport(record))
    return inbound, seen


def note(kind: str, obj: dict[str, Any], event_id: str = "e-1") -> dict[str, Any]:
    return {
        "merchant_id": "M1",
        "type": kind,
        "event_id": event_id,
        "created_at": "2026-03-02T10:01:01Z",
        "data": {"type": kind.split(".")[0], "id": "ORD1", "object": obj},
    }


def summary(kind: str, state: str) -> dict[str, Any]:
    key = "order_created" if kind == "order.created" else "order_updated"
    return {key: {"order_id": "ORD1", "location_id": "LOC1", "state": state, "version": 2}}


@pytest.mark.parametrize(
    ("raw", "env", "message"),
    [
        ({**RAW, "colour": "blue"}, ENV, "colour: Extra inputs are not permitted"),
        ({k: v for k, v in RAW.items() if k != "notification_url"}, ENV, "notification_url:"),
        (RAW, {"SQ_TOKEN": "tok"}, "signature_key_env: environment variable SQ_SIG is not set"),
        (RAW, {"SQ_SIG": "k"}, "access_token_env: environment variable SQ_TOKEN is not set"),
    ],
)
def test_settings_errors_name_the_key(
    raw: dict[str, Any], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SquareInbound.from_settings("sq", raw, env)


def test_the_signature_is_checked_over_the_configured_url_not_the_request_url() -> None:
    inbound, _ = connector()
    body = b'{"type":"order.updated"}'
    good = sign("sig-key", URL, body)
    # Behind a proxy the request arrives on another URL: the configured one is what counts
    assert inbound.verify({"X-Square-HmacSha256-Signature": good}, body, "http://10.0.0.5/x")
    assert not inbound.verify({"x-square-hmacsha256-signature": good}, body + b" ", URL)
    signed_elsewhere = sign("sig-key", "http://10.0.0.5/x", body)
    assert not inbound.verify({"x-square-hmacsha256-signature": signed_elsewhere}, body, URL)
    assert not inbound.verify({}, body, URL)


def read(inbound: SquareInbound, notification: dict[str, Any]) -> list[dict[str, Any]]:
    """The events of a notification once its deferred order reads are done."""
    translation = inbound.translate({}, notification)
    return [e for _, what in translation.deferred for e in inbound.complete(what).events]


def test_a_completed_order_is_kept_for_a_read_off_the_request_path() -> None:
    inbound, seen = connector()
    # When a completed order is notified
    translation = inbound.translate(
        {}, note("order.updated", summary("order.updated", "COMPLETED"))
    )
    # Then nothing is read yet: one read is deferred, keyed by the notification
    assert seen == [] and translation.events == []
    assert translation.deferred == [("e-1:ORD1", {"order_id": "ORD1", "event_id": "e-1"})]
    # And completing it reads the order, whose lines become sales
    (_, what) = translation.deferred[0]
    assert [e["event_id"] for e in inbound.complete(what).events] == ["sale:ORD1:u1"]
    (request,) = seen
    assert request.url == "https://sq.test/v2/orders/ORD1"
    assert request.headers["authorization"] == "Bearer tok"


def test_an_open_order_is_not_read() -> None:
    inbound, seen = connector()
    translation = inbound.translate({}, note("order.created", summary("order.created", "OPEN")))
    assert translation.events == [] and translation.deferred == [] and seen == []


def test_payment_and_refund_notifications_read_their_order() -> None:
    inbound, seen = connector()
    payment = {"payment": {"id": "P1", "order_id": "ORD1", "status": "COMPLETED"}}
    assert len(read(inbound, note("payment.updated", payment))) == 1
    refund = {"refund": {"id": "R1", "order_id": "RET1", "status": "PENDING"}}
    read(inbound, note("refund.created", refund))
    assert [r.url.path for r in seen] == ["/v2/orders/ORD1", "/v2/orders/RET1"]
    rejected = {"refund": {"id": "R2", "order_id": "RET2", "status": "REJECTED"}}
    assert read(inbound, note("refund.updated", rejected)) == []
    assert len(seen) == 2


def test_count_updates_are_observations_once_per_notification() -> None:
    inbound, seen = connector()
    counts = {
        "inventory_counts": [
            {
                "catalog_object_id": "CATTEE",
                "location_id": "LOC1",
                "state": "IN_STOCK",
                "quantity": "8",
            }
        ]
    }
    first = inbound.translate({}, note("inventory.count.updated", counts, "c-1"))
    again = inbound.translate({}, note("inventory.count.updated", counts, "c-1"))
    assert len(first.observations) == 1 and first.events == []
    assert again.observations == [] and seen == []


def test_an_order_square_does_not_give_raises_so_the_inbox_reads_it_again() -> None:
    inbound, _ = connector(
        lambda r: httpx.Response(503, json={"errors": [{"code": "SERVICE_UNAVAILABLE"}]})
    )
    with pytest.raises(SquareUnavailable, match="HTTP 503 SERVICE_UNAVAILABLE"):
        read(inbound, note("order.updated", summary("order.updated", "COMPLETED")))


def test_malformed_notifications_are_bad_payloads() -> None:
    inbound, _ = connector()
    with pytest.raises(BadPayload):
        inbound.translate({}, orjson.loads(b"[1, 2]"))
    with pytest.raises(BadPayload):
        inbound.translate({}, note("payment.updated", {"payment": {"status": "COMPLETED"}}))
    # A type the connector does not use is acknowledged and ignored
    assert inbound.translate({}, note("catalog.version.updated", {})).events == []


def test_with_settings_mapping_catalog_objects_and_locations_come_from_the_maps() -> None:
    # Given a connector mapping by its own settings instead of cross references
    raw = {
        **RAW,
        "mapping": "settings",
        "catalog": {"CATTEE": "TEE-M"},
        "locations": {"LOC1": "S1"},
    }
    inbound = SquareInbound.from_settings("sq", raw, ENV)
    inbound._client = httpx.Client(
        transport=httpx.MockTransport(lambda r: httpx.Response(200, json={"order": ORDER}))
    )
    # When a completed order is read
    (event,) = read(inbound, note("order.updated", summary("order.updated", "COMPLETED")))
    # Then its line is a sale of the mapped SKU at the mapped location
    assert (event["sku"], event["location"]) == ("TEE-M", "S1")
    # And explicit maps with cross-reference mapping are refused by name
    with pytest.raises(ValueError, match=r"mapping: .*catalog"):
        SquareInbound.from_settings("sq", {**raw, "mapping": "xrefs"}, ENV)
