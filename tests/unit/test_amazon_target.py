"""The Amazon target against the simulator in process (httpx's ASGI transport): what each
answer becomes, token refresh, pacing of small batches and feeds."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from stockbridge.app.ports import Delivery
from stockbridge.app.targets import TargetIn
from stockbridge.connectors.amazon.config import LwaCredentials
from stockbridge.connectors.amazon.lwa import LwaTokens, TokenError
from stockbridge.connectors.amazon.sim_state import AmazonState
from stockbridge.connectors.amazon.simulator import create_app
from stockbridge.connectors.amazon.target import AmazonTarget
from stockbridge.connectors.webhook import SendResult


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t


def push(n: int, sku: str, available: str = "5") -> Delivery:
    return Delivery(
        n, "amz", "availability", f"amazon:{sku}", f"availability:amazon:{sku}:{n}",
        {"type": "availability", "channel": "amazon", "sku": sku, "available": available},
        2, "pending", 0, 0, 0, 0, 0, None, None, None, [],
    )  # fmt: skip


def state_with(*skus: str) -> AmazonState:
    state = AmazonState(rng=random.Random(1))
    for sku in skus:
        state.listings[sku] = {"DEFAULT": 0}
    return state


def env_of(state: AmazonState) -> dict[str, str]:
    return {"ID": state.client_id, "SECRET": state.client_secret, "REFRESH": state.refresh_token}


def run(
    state: AmazonState,
    body: Callable[[AmazonTarget], Any],
    clock: Clock | None = None,
    env: dict[str, str] | None = None,
    **platform: Any,
) -> Any:
    config = TargetIn.model_validate(
        {
            "kind": "amazon",
            "url": "http://sp-api",
            "platform": {
                "seller_id": state.seller_id,
                "marketplace_ids": [state.marketplace_id],
                "lwa_client_id_env": "ID",
                "lwa_client_secret_env": "SECRET",
                "lwa_refresh_token_env": "REFRESH",
                "lwa_token_url": "http://sp-api/auth/o2/token",
                **platform,
            },
        }
    )

    async def go() -> Any:
        transport = httpx.ASGITransport(app=create_app(state))
        async with httpx.AsyncClient(transport=transport) as client:
            target = AmazonTarget(
                "amz",
                config,
                client,
                env=env_of(state) if env is None else env,
                monotonic=clock or Clock(),
            )
            return await body(target)

    return asyncio.run(go())


def test_an_accepted_patch_is_delivered_and_sets_the_quantity() -> None:
    state = state_with("MUG")
    result = run(state, lambda t: t.send(push(1, "MUG", "7.5")))
    assert (result.status, result.error) == (200, None)
    assert state.quantity("MUG") == 7


def test_a_sku_amazon_does_not_list_is_a_business_refusal() -> None:
    state = state_with()
    result = run(state, lambda t: t.send(push(1, "GHOST")))
    assert result.status == 422
    assert result.error.startswith("GHOST: NOT_FOUND: SKU 'GHOST' not found")


def test_quota_exceeded_is_a_429_with_a_retry_after_from_the_rate_header() -> None:
    state = state_with("MUG")
    state.faults.throttle_next = 1
    result = run(state, lambda t: t.send(push(1, "MUG")))
    assert result.status == 429
    assert result.headers["Retry-After"] == "0.200"
    assert "QuotaExceeded" in result.error


def test_an_outage_is_a_5xx_to_retry() -> None:
    state = state_with("MUG")
    state.faults.outage = True
    assert run(state, lambda t: t.send(push(1, "MUG"))).status == 503


def test_an_expired_token_gets_one_refresh_and_one_retry() -> None:
    state = state_with("MUG")

    async def twice(t: AmazonTarget) -> tuple[SendResult, SendResult]:
        first = await t.send(push(1, "MUG", "1"))
        state.expire_tokens()
        return first, await t.send(push(2, "MUG", "2"))

    first, second = run(state, twice)
    assert (first.status, second.status) == (200, 200)
    assert (state.grants, state.refused_tokens, state.quantity("MUG")) == (2, 1, 2)


def test_a_token_refused_again_after_the_refresh_is_not_retried_forever() -> None:
    state = state_with("MUG")
    state.token_lifetime = 0  # every token is born expired
    result = run(state, lambda t: t.send(push(1, "MUG")))
    assert result.status == 403
    assert (state.grants, state.refused_tokens) == (2, 2)


def test_missing_credentials_are_retried_with_the_key_named() -> None:
    state = state_with("MUG")
    result = run(state, lambda t: t.send(push(1, "MUG")), env={})
    assert result.status is None
    assert result.error == "platform.lwa_client_id_env: environment variable ID is not set"


def test_refused_lwa_credentials_are_retried_not_rejected() -> None:
    state = state_with("MUG")
    env = {**env_of(state), "REFRESH": "Atzr|revoked"}
    result = run(state, lambda t: t.send(push(1, "MUG")), env=env)
    assert result.status is None
    assert "invalid_grant" in result.error


def test_the_token_is_refreshed_before_it_expires() -> None:
    clock = Clock()
    grants: list[int] = []

    def lwa(request: httpx.Request) -> httpx.Response:
        grants.append(1)
        return httpx.Response(200, json={"access_token": f"t{len(grants)}", "expires_in": 100})

    async def go() -> list[str]:
        tokens = LwaTokens(clock)
        creds = LwaCredentials("id", "secret", "refresh", "http://lwa/auth/o2/token")
        async with httpx.AsyncClient(transport=httpx.MockTransport(lwa)) as client:
            seen = [await tokens.get(client, creds, 5), await tokens.get(client, creds, 5)]
            clock.t += 89.9
            seen.append(await tokens.get(client, creds, 5))
            clock.t += 0.2  # within the last tenth of its life
            seen.append(await tokens.get(client, creds, 5))
            return seen

    assert asyncio.run(go()) == ["t1", "t1", "t1", "t2"]


def test_lwa_refusal_says_so() -> None:
    def lwa(request: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"error": "invalid_client", "error_description": "no"})

    async def go() -> None:
        async with httpx.AsyncClient(transport=httpx.MockTransport(lwa)) as client:
            creds = LwaCredentials("id", "secret", "refresh", "http://lwa/auth/o2/token")
            await LwaTokens().get(client, creds, 5)

    with pytest.raises(TokenError, match="invalid_client") as e:
        asyncio.run(go())
    assert e.value.refused


def test_a_small_batch_is_paced_to_the_bucket_and_resumed_where_it_stopped() -> None:
    skus = [f"S{i}" for i in range(8)]
    state = state_with(*skus)
    clock = Clock()
    batch = [push(i + 1, s, str(i)) for i, s in enumerate(skus)]

    async def attempts(t: AmazonTarget) -> tuple[SendResult, SendResult]:
        first = await t.send_batch(batch)
        wait = first.deferred_seconds * 3
        clock.t += wait
        state.clock.advance(wait)  # Amazon's bucket refills in the same time
        return first, await t.send_batch(batch)

    first, second = run(state, attempts, clock)
    # The first attempt spends the burst of 5 and holds the rest back, unsent, for later
    assert first.status == 200 and first.deferred == frozenset({6, 7, 8})
    assert first.deferred_seconds > 0
    # The second sends only the 3 left: 8 patches in all, every SKU set
    assert (second.status, second.rejected) == (200, {})
    assert state.calls["patchListingsItem"] == 8
    assert [state.quantity(s) for s in skus] == list(range(8))


def test_a_small_batch_refuses_items_one_by_one() -> None:
    state = state_with("A", "B")
    result = run(state, lambda t: t.send_batch([push(1, "A"), push(2, "GHOST"), push(3, "B")]))
    assert result.status == 200
    assert list(result.rejected) == [2] and "NOT_FOUND" in result.rejected[2]
    assert (state.quantity("A"), state.quantity("B")) == (5, 5)


def test_a_feed_report_served_gzipped_maps_errors_to_deliveries() -> None:
    state = state_with("A", "B")
    state.faults.gzip_reports = True
    batch = [push(1, "A", "3"), push(2, "GHOST", "1"), push(3, "B", "4")]
    result = run(state, lambda t: t.send_batch(batch), feed_threshold=3)
    assert result.status == 200
    assert list(result.rejected) == [2]
    assert result.rejected[2].startswith("GHOST: NOT_FOUND")
    assert (state.quantity("A"), state.quantity("B"), len(state.feeds)) == (3, 4, 1)


def test_a_feed_still_processing_is_retried_without_a_second_feed() -> None:
    state = state_with("A", "B")
    state.faults.feed_processing_seconds = 60
    batch = [push(1, "A", "3"), push(2, "B", "4")]

    async def attempts(t: AmazonTarget) -> tuple[SendResult, SendResult]:
        first = await t.send_batch(batch)
        state.clock.advance(61)
        return first, await t.send_batch(batch)

    first, second = run(state, attempts, feed_threshold=2)
    assert first.status == 429 and "Retry-After" not in first.headers
    assert "IN_PROGRESS" in first.error
    assert (second.status, len(state.feeds), state.quantity("B")) == (200, 1, 4)


def test_a_fatal_feed_is_retried_with_a_new_feed() -> None:
    state = state_with("A", "B")
    batch = [push(1, "A"), push(2, "B")]

    async def attempts(t: AmazonTarget) -> tuple[SendResult, SendResult]:
        return await t.send_batch(batch), await t.send_batch(batch)

    # A seller id the account does not have: Amazon cannot process the document
    first, second = run(state, attempts, feed_threshold=2, seller_id="A0WRONG")
    assert first.status == 502 and "ended FATAL" in first.error
    assert second.status == 502
    assert len(state.feeds) == 2
