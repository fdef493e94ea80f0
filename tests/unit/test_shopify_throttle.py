"""Cost bucket maths and the webhook retry schedule."""

from __future__ import annotations

import itertools

import pytest

from stockbridge.connectors.shopify.simulator.webhooks import retry_delays
from stockbridge.connectors.shopify.throttle import CostBucket, CostTracker, retry_after


def test_the_bucket_refills_at_its_rate_up_to_its_size() -> None:
    b = CostBucket.full(2000, 100, now=0.0)
    assert b.try_spend(1500, 0.0)
    assert b.level(0.0) == 500
    assert b.level(2.0) == 700
    assert b.level(100.0) == 2000
    assert b.status(2.0) == {
        "maximumAvailable": 2000,
        "currentlyAvailable": 700,
        "restoreRate": 100,
    }


def test_a_query_that_does_not_fit_takes_nothing() -> None:
    b = CostBucket.full(50, 10, now=0.0)
    assert b.try_spend(40, 0.0)
    assert not b.try_spend(13, 0.0)
    assert b.level(0.0) == 10
    assert b.seconds_until(13, 0.0) == pytest.approx(0.3)
    assert b.try_spend(13, 0.3)


def test_retry_after_is_the_missing_points_over_the_restore_rate() -> None:
    status = {"maximumAvailable": 1000, "currentlyAvailable": 52, "restoreRate": 50}
    assert retry_after(752, status) == pytest.approx(14.0)
    assert retry_after(13, status) == 0.0


def test_the_tracker_waits_only_once_it_has_seen_the_bucket() -> None:
    t = CostTracker()
    assert t.wait("Set", 0.0) == 0.0
    cost = {
        "requestedQueryCost": 13,
        "actualQueryCost": 13,
        "throttleStatus": {"maximumAvailable": 30, "currentlyAvailable": 3, "restoreRate": 5},
    }
    t.observe("Set", cost, now=10.0)
    assert t.wait("Set", 10.0) == pytest.approx(2.0)
    assert t.wait("Set", 12.0) == 0.0
    assert t.wait("Read", 10.0) == 0.0  # never seen: no estimate, no wait


def test_webhook_retries_are_eight_attempts_over_four_hours_doubling() -> None:
    delays = retry_delays()
    assert len(delays) == 7  # after each of the first seven attempts
    assert sum(delays) == pytest.approx(4 * 3600)
    assert all(b == pytest.approx(2 * a) for a, b in itertools.pairwise(delays))
