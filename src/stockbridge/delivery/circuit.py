"""Circuit breaker per target: stop calling a target that keeps failing (DESIGN §6).

Pure: the caller passes the time. After `failure_threshold` consecutive failures the
circuit opens and no call is allowed for `cooldown_seconds`; then exactly one probe goes
out (half-open), and its result closes the circuit or opens it for another cooldown.
The caller must report every allowed call's result, or a probe stays in flight for ever.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(slots=True)
class CircuitBreaker:
    failure_threshold: int = 5
    cooldown_seconds: float = 30.0
    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    #: When the circuit last opened; None while closed.
    opened_at: float | None = None
    probe_in_flight: bool = False

    def __post_init__(self) -> None:
        if self.failure_threshold < 1:
            raise ValueError("failure_threshold must be >= 1")
        if not self.cooldown_seconds >= 0:
            raise ValueError("cooldown_seconds must be >= 0")

    def allow(self, now: float) -> bool:
        """Whether a call may go out now; in half-open, True means this call is the probe."""
        if self.state is CircuitState.CLOSED:
            return True
        if self.state is CircuitState.OPEN:
            if self.retry_in(now) > 0:
                return False
            self.state = CircuitState.HALF_OPEN
        if self.probe_in_flight:
            return False
        self.probe_in_flight = True
        return True

    def record_success(self, now: float) -> None:
        self.state = CircuitState.CLOSED
        self.consecutive_failures = 0
        self.opened_at = None
        self.probe_in_flight = False

    def record_failure(self, now: float) -> None:
        self.consecutive_failures += 1
        if self.state is CircuitState.HALF_OPEN or (
            self.state is CircuitState.CLOSED
            and self.consecutive_failures >= self.failure_threshold
        ):
            self.state = CircuitState.OPEN
            self.opened_at = now
            self.probe_in_flight = False
        # Already open: a late failure of a call sent before it opened does not extend the
        # cooldown; the probe will tell.

    def retry_in(self, now: float) -> float:
        """Seconds until `allow` may say yes; 0 if it would now.

        While the probe is in flight the answer depends on it, so a cooldown is given as
        the time to look again.
        """
        if self.state is CircuitState.CLOSED:
            return 0.0
        if self.state is CircuitState.HALF_OPEN:
            return self.cooldown_seconds if self.probe_in_flight else 0.0
        if self.opened_at is None:  # set by hand without a time: let a probe go
            return 0.0
        return max(0.0, self.opened_at + self.cooldown_seconds - now)

    def snapshot(self) -> dict[str, object]:
        """The breaker as the API shows it."""
        return {
            "state": self.state.value,
            "consecutive_failures": self.consecutive_failures,
            "opened_at": self.opened_at,
        }
