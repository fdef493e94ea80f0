"""Retry policy: how long to wait after a failed delivery, and whether to retry at all.

Pure (DESIGN §6). A technical failure (no answer, a timeout, 408/425/429, a 5xx) is
retried with exponential backoff and jitter until the retry budget is spent, then
dead-lettered; a business rejection (any other 4xx) will fail the same way again, so it
goes to the exception queue at once. A target's Retry-After is honoured, never shortened.
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from enum import StrEnum

#: Statuses that mean "not now" rather than "never": RFC 9110 408, RFC 8470 425, RFC 6585 429.
RETRYABLE_4XX = frozenset({408, 425, 429})
# Delta-seconds is `1*DIGIT` (RFC 9110 §10.2.3); a decimal fraction is tolerated because
# some platforms send one.
_DELTA_SECONDS = re.compile(r"\d+(\.\d+)?")
# 2.0**1024 overflows; any larger exponent is past every cap anyway.
_MAX_EXPONENT = 1023


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    base_seconds: float = 0.5
    max_seconds: float = 300.0
    #: The retry budget: attempts in all, the first one included, before a dead letter.
    max_attempts: int = 10
    #: Each delay is scaled by a factor drawn uniformly from [1 - jitter, 1 + jitter], so
    #: that deliveries failed together do not all come back together.
    jitter: float = 0.2

    def __post_init__(self) -> None:
        if not all(0 <= s < math.inf for s in (self.base_seconds, self.max_seconds)):
            raise ValueError("base_seconds and max_seconds must be finite and >= 0")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be >= 1")
        if not 0 <= self.jitter <= 1:
            raise ValueError("jitter must be between 0 and 1")


def backoff(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based), jittered.

    Always within [d * (1 - jitter), d * (1 + jitter)] where
    d = min(max_seconds, base_seconds * 2 ** (attempt - 1)).
    """
    exponent = min(max(attempt, 1) - 1, _MAX_EXPONENT)
    delay = min(policy.max_seconds, policy.base_seconds * 2.0**exponent)
    low, high = delay * (1 - policy.jitter), delay * (1 + policy.jitter)
    # Clamped because `low + span * r` may round one ulp past either end.
    return min(high, max(low, low + (high - low) * rng.random()))


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    #: A business rejection: retrying cannot fix it.
    REJECTED = "rejected"


@dataclass(frozen=True, slots=True)
class Outcome:
    verdict: Verdict
    reason: str
    #: Seconds from now the target asked us to wait (Retry-After), if it did.
    retry_after: float | None = None


def parse_retry_after(value: str | None, now: float) -> float | None:
    """Retry-After (RFC 9110 §10.2.3) -> seconds from `now`, never negative.

    Takes delta-seconds or an HTTP-date; None when absent or unparseable.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        seconds = float(text)
        return seconds if math.isfinite(seconds) else None
    try:
        at = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if at.tzinfo is None:
        # An HTTP-date is always GMT; "-0000" parses as naive.
        at = at.replace(tzinfo=UTC)
    return max(0.0, at.timestamp() - now)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """Case-insensitive lookup, as HTTP field names are (RFC 9110 §5.1)."""
    wanted = name.lower()
    return next((v for k, v in headers.items() if k.lower() == wanted), None)


def classify(
    status: int | None, error: str | None, headers: Mapping[str, str], now: float
) -> Outcome:
    """What an attempt's response (or lack of one) means for the delivery.

    `status` is None when no response came back; `error` then says why.
    """
    if status is None:
        return Outcome(Verdict.RETRY, error or "no response")
    reason = f"HTTP {status}" if not error else f"HTTP {status}: {error}"
    if 200 <= status <= 299:
        return Outcome(Verdict.DELIVERED, reason)
    if status in RETRYABLE_4XX or 500 <= status <= 599:
        retry_after = parse_retry_after(_header(headers, "Retry-After"), now)
        return Outcome(Verdict.RETRY, reason, retry_after)
    # 3xx (a webhook target is not followed elsewhere), other 4xx, and statuses outside
    # the standard range: the same request would get the same answer.
    return Outcome(Verdict.REJECTED, reason)


def next_delay(
    policy: RetryPolicy, attempts_made: int, outcome: Outcome, rng: random.Random
) -> float | None:
    """Seconds until the next attempt, or None when the retry budget is spent (dead letter).

    Raises ValueError for an outcome that is not a RETRY: it is never rescheduled.
    """
    if outcome.verdict is not Verdict.RETRY:
        raise ValueError(f"a {outcome.verdict} outcome is not retried")
    if attempts_made >= policy.max_attempts:
        return None
    return max(backoff(policy, attempts_made, rng), outcome.retry_after or 0.0)
