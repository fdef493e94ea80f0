"""Retry policy: backoff, classification of responses, Retry-After, the retry budget."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockbridge.delivery.policy import (
    Outcome,
    RetryPolicy,
    Verdict,
    backoff,
    classify,
    next_delay,
    parse_retry_after,
)

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC).timestamp()
RETRYABLE_4XX = {408, 425, 429}

policies = st.builds(
    RetryPolicy,
    base_seconds=st.floats(0, 1e4),
    max_seconds=st.floats(0, 1e7),
    max_attempts=st.integers(1, 100),
    jitter=st.floats(0, 1),
)
attempts = st.integers(1, 5000)


def unjittered(policy: RetryPolicy, attempt: int) -> float:
    return backoff(
        RetryPolicy(policy.base_seconds, policy.max_seconds, policy.max_attempts, jitter=0.0),
        attempt,
        random.Random(0),
    )


def test_backoff_doubles_from_the_base_up_to_the_cap() -> None:
    # Given the default policy without jitter
    policy = RetryPolicy(jitter=0.0)
    # When attempts 1 to 12 fail
    delays = [backoff(policy, n, random.Random(0)) for n in range(1, 13)]
    # Then each delay doubles the last, from 0.5 s, until the 300 s cap
    assert delays == [0.5, 1, 2, 4, 8, 16, 32, 64, 128, 256, 300, 300]


@given(policies, attempts)
def test_unjittered_backoff_never_shrinks_and_never_passes_the_cap(
    policy: RetryPolicy, attempt: int
) -> None:
    # Given any policy, when one more attempt fails, then the base delay does not shrink
    assert unjittered(policy, attempt) <= unjittered(policy, attempt + 1)
    assert unjittered(policy, attempt) <= policy.max_seconds


@given(policies, attempts, st.randoms())
def test_jittered_backoff_stays_within_its_bounds(
    policy: RetryPolicy, attempt: int, rng: random.Random
) -> None:
    # Given the un-jittered delay for this attempt
    delay = unjittered(policy, attempt)
    # When jitter is drawn
    jittered = backoff(policy, attempt, rng)
    # Then it is within jitter of that delay, never negative, never past the jittered cap
    assert delay * (1 - policy.jitter) <= jittered <= delay * (1 + policy.jitter)
    assert 0 <= jittered <= policy.max_seconds * (1 + policy.jitter)


def test_jitter_spreads_deliveries_that_failed_together() -> None:
    # Given 200 deliveries failing their third attempt at the same instant
    rng = random.Random(7)
    delays = [backoff(RetryPolicy(), 3, rng) for _ in range(200)]
    # Then they come back at different times across the whole ±20% band around 2 s
    assert len(set(delays)) == 200
    assert min(delays) < 1.7 and max(delays) > 2.3
    assert all(1.6 <= d <= 2.4 for d in delays)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"base_seconds": -1},
        {"max_seconds": float("inf")},
        {"max_attempts": 0},
        {"jitter": 1.5},
        {"jitter": float("nan")},
    ],
)
def test_a_nonsensical_policy_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


# --- Retry-After --------------------------------------------------------------------------
@given(st.integers(0, 10**9), st.sampled_from(["{}", " {} ", "{}\t"]))
def test_retry_after_in_seconds_is_taken_as_is(seconds: int, form: str) -> None:
    assert parse_retry_after(form.format(seconds), NOW) == seconds


@given(st.integers(-(10**6), 10**8))
def test_retry_after_as_an_http_date_is_the_time_left_until_it(offset: int) -> None:
    # Given a target that names an instant, `offset` seconds from now, as an IMF-fixdate
    at = datetime.fromtimestamp(NOW, UTC) + timedelta(seconds=offset)
    header = format_datetime(at, usegmt=True)
    # When it is parsed, then it is the time left until that instant, or 0 if it has passed
    assert parse_retry_after(header, NOW) == max(0, offset)


@pytest.mark.parametrize(
    "header",
    [
        "Mon, 02 Mar 2026 09:01:30 GMT",  # IMF-fixdate
        "Monday, 02-Mar-26 09:01:30 GMT",  # obsolete RFC 850
        "Mon Mar  2 09:01:30 2026",  # obsolete asctime, GMT by definition
    ],
)
def test_every_http_date_form_is_understood(header: str) -> None:
    assert parse_retry_after(header, NOW) == 90


@pytest.mark.parametrize(
    "header", [None, "", "soon", "-5", "1e3", "Mon, 02 Mar 2026 25:00:00 GMT", "9" * 400]
)
def test_an_absent_or_unreadable_retry_after_is_none(header: str | None) -> None:
    assert parse_retry_after(header, NOW) is None


# --- classify -----------------------------------------------------------------------------
@pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
def test_2xx_is_delivered(status: int) -> None:
    assert classify(status, None, {"Retry-After": "5"}, NOW).verdict is Verdict.DELIVERED


def test_no_response_is_retried_with_the_error_as_reason() -> None:
    # Given a connection that was refused, no status came back
    outcome = classify(None, "connection refused", {}, NOW)
    # Then it is a technical failure, retried
    assert outcome == Outcome(Verdict.RETRY, "connection refused")
    assert classify(None, None, {}, NOW).verdict is Verdict.RETRY


@pytest.mark.parametrize("status", [408, 425, 429, 500, 502, 503, 504, 599])
@pytest.mark.parametrize("name", ["Retry-After", "retry-after", "RETRY-AFTER"])
def test_technical_failures_are_retried_after_what_the_target_asks(status: int, name: str) -> None:
    # Given a target that answers `status` and asks for 30 seconds, in any header case
    outcome = classify(status, None, {"Content-Type": "text/plain", name: "30"}, NOW)
    # Then it is retried, no sooner than it asked
    assert outcome == Outcome(Verdict.RETRY, f"HTTP {status}", 30.0)


def test_a_retryable_status_without_retry_after_has_none() -> None:
    assert classify(503, None, {}, NOW).retry_after is None


def test_a_business_rejection_is_not_retried_and_says_why() -> None:
    # Given an ERP that does not know the item
    outcome = classify(422, None, {}, NOW)
    # Then retrying cannot help: it goes to the exception queue
    assert outcome == Outcome(Verdict.REJECTED, "HTTP 422")
    assert classify(404, "unknown item", {}, NOW).reason == "HTTP 404: unknown item"


@given(
    st.integers(300, 499).filter(lambda s: s not in RETRYABLE_4XX),
    st.dictionaries(st.sampled_from(["Retry-After", "retry-after", "X-Other"]), st.text()),
)
def test_classify_never_retries_a_3xx_or_4xx_other_than_408_425_429(
    status: int, headers: dict[str, str]
) -> None:
    assert classify(status, None, headers, NOW).verdict is Verdict.REJECTED


@given(st.integers(100, 599), st.one_of(st.none(), st.text()))
def test_classify_retries_exactly_no_answer_408_425_429_and_5xx(
    status: int, error: str | None
) -> None:
    verdict = classify(status, error, {}, NOW).verdict
    expected = status in RETRYABLE_4XX or status >= 500
    assert (verdict is Verdict.RETRY) == expected
    assert (verdict is Verdict.DELIVERED) == (200 <= status <= 299)


# --- next_delay ---------------------------------------------------------------------------
retries = st.builds(
    Outcome,
    st.just(Verdict.RETRY),
    st.just("HTTP 503"),
    st.one_of(st.none(), st.floats(0, 1e6)),
)


@given(policies, st.integers(1, 200), retries, st.randoms())
def test_next_delay_is_none_exactly_when_the_budget_is_spent(
    policy: RetryPolicy, attempts_made: int, outcome: Outcome, rng: random.Random
) -> None:
    delay = next_delay(policy, attempts_made, outcome, rng)
    assert (delay is None) == (attempts_made >= policy.max_attempts)


@given(policies, st.integers(1, 200), retries, st.randoms())
def test_next_delay_honours_both_backoff_and_retry_after(
    policy: RetryPolicy, attempts_made: int, outcome: Outcome, rng: random.Random
) -> None:
    delay = next_delay(policy, attempts_made, outcome, rng)
    if delay is not None:
        assert delay >= unjittered(policy, attempts_made) * (1 - policy.jitter)
        assert delay >= (outcome.retry_after or 0)


def test_a_budget_of_three_allows_two_retries() -> None:
    # Given a budget of 3 attempts and a target that keeps failing
    policy, outcome, rng = (
        RetryPolicy(max_attempts=3),
        classify(503, None, {}, NOW),
        random.Random(1),
    )
    # When attempts 1, 2 and 3 fail
    delays = [next_delay(policy, n, outcome, rng) for n in (1, 2, 3)]
    # Then 1 and 2 are retried, 3 goes to the dead letters
    assert delays[0] is not None and delays[1] is not None and delays[2] is None


@pytest.mark.parametrize("verdict", [Verdict.DELIVERED, Verdict.REJECTED])
def test_next_delay_refuses_to_reschedule_what_is_not_a_retry(verdict: Verdict) -> None:
    with pytest.raises(ValueError):
        next_delay(RetryPolicy(), 1, Outcome(verdict, "HTTP 422"), random.Random(0))
