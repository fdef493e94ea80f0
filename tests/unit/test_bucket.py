"""Token bucket: never faster than the platform allows, and held back by Retry-After."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.delivery.bucket import TokenBucket

T0 = 1_772_442_000.0
rates = st.floats(0.01, 1000)
bursts = st.floats(1, 1000)
starts = st.sampled_from([0.0, 1.5, T0, 4e9])
steps = st.lists(st.tuples(st.floats(0, 5), st.floats(0, 1)), min_size=1, max_size=40)


def test_it_starts_full_then_paces_sends_at_the_rate() -> None:
    # Given 2 sends a second with a burst of 4
    bucket = TokenBucket(rate_per_second=2.0, burst=4.0)
    # When 5 sends are due at once, then 4 go and the fifth waits half a second
    assert [bucket.take(T0) for _ in range(5)] == [0, 0, 0, 0, 0.5]
    # When the caller comes back then, it goes; the next waits again
    assert bucket.take(T0 + 0.5) == 0
    assert bucket.take(T0 + 0.5) == 0.5


def test_a_backlog_drains_at_the_allowed_rate() -> None:
    # Given 10 sends due at once, a burst of 4 and 2 a second, and a caller that waits as told
    bucket, now, sent = TokenBucket(2.0, 4.0), T0, 0
    while sent < 10:
        wait = bucket.take(now)
        now, sent = (now + wait, sent) if wait else (now, sent + 1)
    # Then the last goes out (10 - 4) / 2 seconds after the first
    assert now - T0 == pytest.approx(3.0)


def test_a_refused_take_takes_nothing_and_cost_counts() -> None:
    bucket = TokenBucket(1.0, 10.0, tokens=3.0, updated_at=T0)
    assert bucket.take(T0, cost=5) == 2.0
    assert bucket.tokens == 3.0
    assert bucket.take(T0 + 2, cost=5) == 0 and bucket.tokens == 0


def test_a_clock_stepping_back_refills_nothing_twice() -> None:
    bucket = TokenBucket(1.0, 10.0, tokens=0.0, updated_at=T0)
    assert bucket.take(T0 - 5) == 1.0
    assert bucket.take(T0 + 1) == 0
    assert bucket.take(T0 + 1) > 0


@given(rates, bursts, starts, steps)
def test_never_more_than_burst_plus_rate_times_elapsed_over_any_run_of_calls(
    rate: float, burst: float, start: float, plan: list[tuple[float, float]]
) -> None:
    # Given a bucket and calls at random instants with random costs (up to the burst)
    bucket = TokenBucket(rate, burst)
    now, calls = start, []
    for step, share in plan:
        now += step
        cost = share * burst
        # When each call tries to take its cost
        calls.append((now, cost if bucket.take(now, cost) == 0 else 0.0))
    # Then between any two calls, what passed is within the burst plus the refill since
    for i in range(len(calls)):
        passed = 0.0
        for j in range(i, len(calls)):
            passed += calls[j][1]
            allowed = burst + rate * (calls[j][0] - calls[i][0])
            assert passed <= allowed * (1 + 1e-9) + (j - i + 1) * 1e-9 * burst


@given(rates, bursts, starts, st.floats(0, 1), steps)
def test_coming_back_after_the_returned_wait_succeeds(
    rate: float, burst: float, start: float, share: float, plan: list[tuple[float, float]]
) -> None:
    # Given a bucket in any state after some traffic
    bucket, now = TokenBucket(rate, burst), start
    for step, previous in plan:
        now += step
        bucket.take(now, previous * burst)
    # When a take is refused
    cost = share * burst
    wait = bucket.take(now, cost)
    # Then the wait is positive and, for a caller that waits exactly that, the take goes
    assert wait >= 0
    if wait > 0:
        assert wait <= cost / rate * (1 + 1e-9) + math.ulp(now)
        assert bucket.take(now + wait, cost) == 0


def test_a_shortfall_smaller_than_the_clock_can_tell_still_gets_a_real_wait() -> None:
    # Given a fast bucket short by 1e-5 tokens: 1e-8 s, below the 2.4e-7 s step of a float
    # clock in 2026
    bucket = TokenBucket(1000.0, 1.0, tokens=1.0 - 1e-5, updated_at=T0)
    # When a send is due, then it is told to wait one step of the clock (0 would mean "sent")
    wait = bucket.take(T0)
    assert wait == math.ulp(T0)
    # And coming back then, it goes
    assert bucket.take(T0 + wait) == 0


def test_block_until_holds_sends_back_whatever_the_tokens() -> None:
    # Given a full bucket, and a 429 with Retry-After: 30 at T0
    bucket = TokenBucket(5.0, 10.0)
    bucket.block_until(T0 + 30)
    # When a send is due before then, then it waits until then and takes nothing
    assert bucket.take(T0) == 30
    assert bucket.take(T0 + 29.5) == 0.5
    assert bucket.tokens == 10
    # When an earlier block comes in, then the later one stands
    bucket.block_until(T0 + 10)
    assert bucket.blocked_until == T0 + 30
    # When the block is over, then sends go again
    assert bucket.take(T0 + 30) == 0


@given(
    st.floats(-1, 100),
    starts,
    st.lists(st.tuples(st.booleans(), st.floats(0, 60)), min_size=1, max_size=40),
)
def test_no_send_goes_before_the_latest_block(
    rate: float, start: float, plan: list[tuple[bool, float]]
) -> None:
    # Given calls and blocks interleaved at random, on a limited or unlimited bucket
    bucket, now, latest = TokenBucket(rate, 5.0), start, 0.0
    for is_block, seconds in plan:
        if is_block:
            bucket.block_until(now + seconds)
            latest = max(latest, now + seconds)
        else:
            now += seconds / 10
            wait = bucket.take(now)
            # Then nothing passes while blocked, and the wait reaches at least the block's end
            if now < latest:
                assert wait > 0 and now + wait >= latest


@pytest.mark.parametrize("rate", [0.0, -1.0])
def test_a_rate_of_zero_or_less_is_unlimited_unless_blocked(rate: float) -> None:
    bucket = TokenBucket(rate, 0.0)
    assert all(bucket.take(T0, cost=1e6) == 0 for _ in range(1000))
    bucket.block_until(T0 + 2)
    assert bucket.take(T0) == 2


def test_set_rate_applies_new_limits_and_drops_tokens_above_the_new_burst() -> None:
    # Given a full bucket of 10
    bucket = TokenBucket(10.0, 10.0)
    assert bucket.take(T0) == 0
    # When the platform says 1 a second, burst 2
    bucket.set_rate(1.0, 2.0)
    # Then only 2 go, then one a second
    assert [bucket.take(T0) for _ in range(3)] == [0, 0, 1.0]
    assert bucket.take(T0 + 1) == 0


@pytest.mark.parametrize(
    ("rate", "burst"), [(1.0, 0.0), (float("nan"), 1.0), (float("inf"), 1.0), (1.0, math.inf)]
)
def test_nonsensical_limits_are_refused(rate: float, burst: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate, burst)
    with pytest.raises(ValueError):
        TokenBucket(1.0, 1.0).set_rate(rate, burst)


@pytest.mark.parametrize("cost", [-1.0, float("nan"), 11.0])
def test_a_cost_that_could_never_pass_is_refused(cost: float) -> None:
    with pytest.raises(ValueError):
        TokenBucket(1.0, 10.0).take(T0, cost)
