"""The Square target against scripted answers (httpx MockTransport): requests, keys,
throttling and Square's errors mapped for the dispatcher."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson

from stockbridge.app.ports import Delivery
from stockbridge.app.targets import TargetIn
from stockbridge.connectors.square.target import SquareTarget

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
PLATFORM = {
    "access_token_env": "SQ_TOKEN",
    "channels": {"pos-s1": "LOC1"},
    "catalog": {"TEE-M": "CATTEE", "MUG": "CATMUG", "HAT": "CATHAT"},
}

Handler = Callable[[httpx.Request], httpx.Response]


def delivery(i: int, sku: str = "TEE-M", available: str = "5") -> Delivery:
    payload = {
        "type": "availability",
        "channel": "pos-s1",
        "sku": sku,
        "available": available,
        "computed_at": NOW.isoformat(),
    }
    return Delivery(
        i,
        "square",
        "availability",
        f"pos-s1/{sku}",
        f"availability:pos-s1:{sku}:{i}",
        payload,
        2,
        "pending",
        0,
        0,
        0,
        0,
        0,
        None,
        None,
        None,
        [],
    )


def run(
    handler: Handler, deliveries: list[Delivery], env: dict[str, str] | None = None, **platform: Any
) -> tuple[Any, list[dict[str, Any]]]:
    """Send `deliveries` as one batch; the result and the request bodies seen."""
    seen: list[dict[str, Any]] = []

    def record(request: httpx.Request) -> httpx.Response:
        seen.append({"headers": request.headers, "body": orjson.loads(request.content)})
        return handler(request)

    async def go() -> Any:
        config = TargetIn(kind="square", url="https://sq.test", platform={**PLATFORM, **platform})
        async with httpx.AsyncClient(transport=httpx.MockTransport(record)) as client:
            target = SquareTarget(
                "square",
                config,
                client,
                env={"SQ_TOKEN": "tok"} if env is None else env,
                now=lambda: NOW,
            )
            return await target.send_batch(deliveries)

    return asyncio.run(go()), seen


def ok(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"counts": []})


def test_a_batch_is_one_call_with_bearer_version_and_a_stable_key() -> None:
    result, seen = run(ok, [delivery(1), delivery(2, "MUG", "3")])
    assert result.status == 200 and result.rejected == {}
    (call,) = seen
    assert call["headers"]["authorization"] == "Bearer tok"
    assert call["headers"]["square-version"] == "2024-11-20"
    body = call["body"]
    assert [c["physical_count"]["catalog_object_id"] for c in body["changes"]] == [
        "CATTEE",
        "CATMUG",
    ]
    # The same deliveries again carry the same key (Square replays its first answer)
    _, again = run(ok, [delivery(1), delivery(2, "MUG", "3")])
    assert again[0]["body"]["idempotency_key"] == body["idempotency_key"]
    assert len(body["idempotency_key"]) <= 128
    # Another value is another request
    _, other = run(ok, [delivery(1, available="4"), delivery(2, "MUG", "3")])
    assert other[0]["body"]["idempotency_key"] != body["idempotency_key"]


def test_more_changes_than_a_call_takes_go_as_several_calls() -> None:
    deliveries = [delivery(i, sku) for i, sku in enumerate(["TEE-M", "MUG", "HAT"], 1)]
    result, seen = run(ok, deliveries, max_changes_per_request=2)
    assert result.status == 200
    assert [len(s["body"]["changes"]) for s in seen] == [2, 1]


def test_rate_limited_is_a_429_for_the_dispatcher_to_back_off() -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "errors": [
                    {
                        "code": "RATE_LIMITED",
                        "detail": "This request was rate limited. Please retry later.",
                        "category": "RATE_LIMIT_ERROR",
                    }
                ]
            },
        )

    result, _ = run(limited, [delivery(1), delivery(2, "MUG")])
    assert result.status == 429 and result.rejected == {}
    assert "RATE_LIMITED" in (result.error or "")


def test_a_change_refused_alone_is_rejected_and_the_rest_sent_again() -> None:
    def refuse_second(request: httpx.Request) -> httpx.Response:
        changes = orjson.loads(request.content)["changes"]
        if len(changes) == 2:
            return httpx.Response(
                400,
                json={
                    "errors": [
                        {
                            "category": "INVALID_REQUEST_ERROR",
                            "code": "INVALID_VALUE",
                            "detail": "unknown object",
                            "field": "changes[1].physical_count.catalog_object_id",
                        }
                    ]
                },
            )
        return ok(request)

    result, seen = run(refuse_second, [delivery(1), delivery(2, "MUG")])
    assert result.status == 200
    assert set(result.rejected) == {2} and "INVALID_VALUE" in result.rejected[2]
    assert [len(s["body"]["changes"]) for s in seen] == [2, 1]
    assert seen[0]["body"]["idempotency_key"] != seen[1]["body"]["idempotency_key"]


def test_per_change_errors_inside_a_200_reject_those_changes_only() -> None:
    def partial(request: httpx.Request) -> httpx.Response:
        error = {
            "category": "INVALID_REQUEST_ERROR",
            "code": "INVALID_VALUE",
            "detail": "x",
            "field": "changes[0].physical_count.quantity",
        }
        return httpx.Response(200, json={"counts": [], "errors": [error]})

    result, seen = run(partial, [delivery(1), delivery(2, "MUG")])
    assert result.status == 200 and set(result.rejected) == {1}
    assert len(seen) == 1


def test_errors_naming_no_change_fail_the_whole_request_with_their_code() -> None:
    def reused(request: httpx.Request) -> httpx.Response:
        error = {
            "category": "INVALID_REQUEST_ERROR",
            "code": "IDEMPOTENCY_KEY_REUSED",
            "detail": "The provided idempotency key has already been used.",
            "field": "idempotency_key",
        }
        return httpx.Response(400, json={"errors": [error]})

    result, _ = run(reused, [delivery(1)])
    assert result.status == 400 and "IDEMPOTENCY_KEY_REUSED" in (result.error or "")
    assert set(result.rejected) == {1}


def test_a_delivery_square_cannot_take_is_refused_without_a_call() -> None:
    result, seen = run(ok, [delivery(1, "CHEESE")])
    assert seen == []
    assert result.status == 422 and "platform.catalog" in (result.error or "")


def test_a_missing_token_holds_deliveries_back_naming_the_setting() -> None:
    result, seen = run(ok, [delivery(1)], env={})
    assert seen == [] and result.status is None
    assert "platform.access_token_env" in (result.error or "")


def test_a_server_error_or_no_answer_is_retried() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    result, _ = run(down, [delivery(1)])
    assert result.status is None and "ConnectError" in (result.error or "")
    result, _ = run(lambda r: httpx.Response(503, text="busy"), [delivery(1)])
    assert result.status == 503 and result.rejected == {}
