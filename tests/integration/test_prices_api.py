"""Prices over real HTTP: import, price check, observed prices, and a promotion delivered to
a real webhook receiver no earlier than its scheduled time."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock
from stockbridge.domain.model import to_micros

from ..conftest import START, seed_master
from .receiver import Receiver


def iso(hours: float) -> str:
    return (START + timedelta(hours=hours)).isoformat()


@pytest.fixture
def seeded(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    return client


def put_prices(client: httpx.Client, *rows: dict[str, Any]) -> httpx.Response:
    return client.put("/v1/prices", json={"prices": list(rows)})


def test_import_keeps_good_rows_and_names_bad_ones(seeded: httpx.Client) -> None:
    # When a batch with good and bad rows is imported
    r = put_prices(
        seeded,
        {"sku": "TEE-M", "amount": "19.99", "currency": "EUR", "start": iso(0)},
        {"sku": "TEE-M", "amount": "-1", "currency": "EUR", "start": iso(0)},
        {"sku": "MUG", "amount": "4.50", "currency": "eur", "start": iso(0)},
        {"sku": "MUG", "amount": "4.50", "currency": "EUR", "start": iso(0), "channels": ["x"]},
    )
    # Then the answer says which were stored and which were not, and why
    assert r.status_code == 207, r.text
    body = r.json()
    assert (body["upserted"], body["rejected"]) == (1, 3)
    assert [(row["row"], row["status"]) for row in body["imported"]] == [(0, "created")]
    assert {(e["row"], e["field"]) for e in body["errors"]} == {
        (1, "amount"),
        (2, "currency"),
        (3, "channels"),
    }
    # And the good row is in force
    check = seeded.get("/v1/prices/TEE-M", params={"location": "S1", "at": iso(1)})
    assert check.status_code == 200 and check.json()["price"] == "19.99"


def test_a_malformed_body_is_a_problem(seeded: httpx.Client) -> None:
    r = seeded.put("/v1/promotions", json={"promos": []})
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    assert "promotions" in r.json()["detail"]


def test_price_check_answers_base_promotion_and_window(seeded: httpx.Client) -> None:
    # Given an estate price, a store price and a promotion on the store
    assert (
        put_prices(
            seeded,
            {"sku": "TEE-M", "amount": "19.99", "currency": "EUR", "start": iso(0)},
            {
                "sku": "TEE-M",
                "amount": "18.00",
                "currency": "EUR",
                "start": iso(0),
                "locations": ["S1"],
            },
        ).status_code
        == 200
    )
    r = seeded.put(
        "/v1/promotions",
        json={
            "promotions": [
                {
                    "id": "WEEKEND",
                    "skus": ["TEE-M"],
                    "percent_off": "10",
                    "locations": ["S1"],
                    "start": iso(2),
                    "end": iso(4),
                }
            ]
        },
    )
    assert r.status_code == 200, r.text
    # When the store's POS checks the price during the promotion
    r = seeded.get("/v1/prices/TEE-M", params={"location": "S1", "at": iso(3)})
    # Then it gets the store price, the promotion and the window
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["price"], body["currency"]) == ("16.20", "EUR")
    assert body["base"]["price"] == "18.00" and body["base"]["scope"] == "location:S1"
    assert body["promotion"]["id"] == "WEEKEND"
    assert (body["effective_from"], body["effective_until"]) == (iso(2), iso(4))
    # And another store sees the estate price
    other = seeded.get("/v1/prices/TEE-M", params={"location": "S2", "at": iso(3)}).json()
    assert other["price"] == "19.99" and other["promotion"] is None


def test_price_check_errors(seeded: httpx.Client) -> None:
    put_prices(seeded, {"sku": "TEE-M", "amount": "1", "currency": "EUR", "start": iso(0)})
    unknown = seeded.get("/v1/prices/NOPE")
    naive = seeded.get("/v1/prices/TEE-M", params={"at": "2026-03-02T10:00:00"})
    garbage = seeded.get("/v1/prices/TEE-M", params={"at": "yesterday"})
    both = seeded.get("/v1/prices/TEE-M", params={"location": "S1", "channel": "web"})
    before = seeded.get("/v1/prices/TEE-M", params={"at": iso(-1)})
    assert unknown.status_code == 404
    assert naive.status_code == 422 and garbage.status_code == 422
    assert naive.headers["content-type"] == "application/problem+json"
    assert both.status_code == 422
    assert before.status_code == 404 and "no price in force" in before.json()["detail"]


def test_a_reported_price_that_differs_becomes_an_exception(seeded: httpx.Client) -> None:
    # Given a price in force at the store
    put_prices(seeded, {"sku": "TEE-M", "amount": "19.99", "currency": "EUR", "start": iso(0)})
    # When the POS reports what it shows: one right, one wrong, one unknown item
    seen = {"source": "pos", "location": "0001", "currency": "EUR", "observed_at": iso(1)}
    r = seeded.post(
        "/v1/prices/observations",
        json={
            "observations": [
                {**seen, "sku": "TEE-M", "price": "19.99"},
                {**seen, "sku": "4711", "price": "24.99"},
                {**seen, "sku": "GHOST", "price": "1"},
                {**seen, "sku": "TEE-M"},
            ]
        },
    )
    # Then each is answered, and the wrong one waits in the exception queue
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["status"] for x in results] == ["match", "mismatch", "unknown_sku", "invalid"]
    assert results[1]["expected"]["price"] == "19.99"
    assert results[1]["observed"] == {"price": "24.99", "currency": "EUR"}
    exceptions = seeded.get("/v1/exceptions", params={"reason": "price_mismatch"}).json()
    (record,) = exceptions["exceptions"]
    assert record["id"] == results[1]["exception_id"]
    assert record["field"] == "price" and record["source"] == "pos"
    assert record["payload"]["expected"]["price"] == "19.99"
    # And it is not replayable: the source must fix its price
    assert seeded.post(f"/v1/exceptions/{record['id']}/replay").status_code == 409


def test_a_read_only_key_cannot_import(seeded: httpx.Client, hub: Hub) -> None:
    key, _ = hub.keys.create("merch", ["positions:read"])
    r = seeded.put("/v1/prices", json={"prices": []}, headers={"Authorization": f"Bearer {key}"})
    assert r.status_code == 403


# --- end to end: a promotion delivered to a channel's webhook, on time -----------------------
@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver(seed=5) as r:
        yield r


def test_a_promotion_reaches_the_channel_ahead_of_its_start_not_before(
    seeded: httpx.Client, hub: Hub, clock: ManualClock, receiver: Receiver
) -> None:
    # Given a storefront channel whose target is a real webhook receiver
    r = seeded.put(
        "/v1/targets/shop",
        json={
            "url": receiver.url + "/prices",
            "rate_per_second": 0,
            "retry": {"base_seconds": 0.05},
        },
    )
    assert r.status_code == 200, r.text
    r = seeded.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"})
    assert r.status_code == 200, r.text
    # When a promotion starting in three hours is imported, then a price starting now
    r = seeded.put(
        "/v1/promotions",
        json={
            "promotions": [
                {
                    "id": "MUG-DAYS",
                    "skus": ["MUG"],
                    "price": "6.00",
                    "currency": "EUR",
                    "channels": ["web"],
                    "start": iso(3),
                    "end": iso(27),
                }
            ]
        },
    )
    assert r.status_code == 200 and r.json()["published"] == 1, r.text
    assert (
        put_prices(
            seeded,
            {
                "sku": "MUG",
                "amount": "8.00",
                "currency": "EUR",
                "start": iso(0),
                "channels": ["web"],
            },
        ).status_code
        == 200
    )
    assert hub.dispatcher is not None
    # Then the price due now is delivered ...
    receiver.wait_applied(1)
    assert hub.dispatcher.wait_until(
        lambda: [d.state for d in hub.store.deliveries(kind="price")] == ["pending", "delivered"],
        30,
    )
    # ... and the promotion, due an hour before its start, is not: it was committed before
    # the price, so the claim that took the price saw it and left it waiting
    assert [x.body["promotion"] for x in receiver.applied] == [None]
    (waiting,) = hub.store.deliveries(kind="price", state="pending")
    assert waiting.next_attempt_us == to_micros(START + timedelta(hours=2))
    # When the clock reaches an hour before the start
    clock.set(START + timedelta(hours=2))
    # Then the promotion is delivered, under its idempotency key
    (_, promotion) = receiver.wait_applied(2)
    assert promotion.key == waiting.idempotency_key
    assert promotion.key.startswith("promotion:MUG-DAYS:MUG:")
    assert promotion.headers["x-stockbridge-kind"] == "price"
    body = promotion.body
    assert (body["kind"], body["sku"], body["price"], body["currency"]) == (
        "price",
        "MUG",
        "6.00",
        "EUR",
    )
    assert body["scope"] == {"kind": "channel", "codes": ["web"]}
    assert (body["start"], body["end"]) == (iso(3), iso(27))
    assert body["promotion"]["id"] == "MUG-DAYS"
    assert receiver.duplicates == 0
