"""Circuit breaker: opens after consecutive failures, one probe after the cooldown."""

from __future__ import annotations

import pytest
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from stockbridge.delivery.circuit import CircuitBreaker, CircuitState

T0 = 1_772_442_000.0


def opened(at: float = T0) -> CircuitBreaker:
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0)
    for _ in range(3):
        breaker.record_failure(at)
    return breaker


def test_it_opens_at_the_threshold_of_consecutive_failures() -> None:
    # Given a breaker that opens after 3 failures
    breaker = CircuitBreaker(failure_threshold=3, cooldown_seconds=30.0)
    # When two calls fail, one succeeds, then two fail
    for record in ("failure", "failure", "success", "failure", "failure"):
        getattr(breaker, f"record_{record}")(T0)
    # Then it is still closed: the success reset the count
    assert breaker.state is CircuitState.CLOSED and breaker.allow(T0)
    # When a third consecutive call fails, then it opens and refuses calls
    breaker.record_failure(T0 + 1)
    assert breaker.snapshot() == {"state": "open", "consecutive_failures": 3, "opened_at": T0 + 1}
    assert not breaker.allow(T0 + 2)


def test_after_the_cooldown_exactly_one_probe_goes_out() -> None:
    # Given a breaker opened at T0 with a 30 s cooldown
    breaker = opened()
    # When the cooldown has not passed, then nothing goes, and it says how long to wait
    assert not breaker.allow(T0 + 29.5)
    assert breaker.retry_in(T0 + 29.5) == 0.5
    # When it has passed, then one probe goes and a second call is refused
    assert breaker.retry_in(T0 + 30) == 0
    assert breaker.allow(T0 + 30)
    assert breaker.state is CircuitState.HALF_OPEN and breaker.probe_in_flight
    assert not breaker.allow(T0 + 30)
    assert not breaker.allow(T0 + 1000)
    assert breaker.retry_in(T0 + 30) == 30.0


def test_a_successful_probe_closes_the_circuit() -> None:
    breaker = opened()
    assert breaker.allow(T0 + 30)
    breaker.record_success(T0 + 31)
    assert breaker.snapshot() == {"state": "closed", "consecutive_failures": 0, "opened_at": None}
    assert not breaker.probe_in_flight
    assert breaker.allow(T0 + 31) and breaker.allow(T0 + 31)
    assert breaker.retry_in(T0 + 31) == 0


def test_a_failed_probe_opens_it_for_another_cooldown() -> None:
    # Given a probe that goes out after the cooldown
    breaker = opened()
    assert breaker.allow(T0 + 30)
    # When it fails
    breaker.record_failure(T0 + 31)
    # Then the circuit is open again from that instant
    assert breaker.state is CircuitState.OPEN and breaker.opened_at == T0 + 31
    assert not breaker.probe_in_flight
    assert not breaker.allow(T0 + 60)
    assert breaker.allow(T0 + 61)


def test_a_late_failure_while_open_does_not_extend_the_cooldown() -> None:
    # Given a call sent before the circuit opened, that fails afterwards
    breaker = opened()
    breaker.record_failure(T0 + 20)
    # Then the cooldown still counts from the opening
    assert breaker.opened_at == T0 and breaker.consecutive_failures == 4
    assert breaker.allow(T0 + 30)


@pytest.mark.parametrize("kwargs", [{"failure_threshold": 0}, {"cooldown_seconds": -1.0}])
def test_a_nonsensical_breaker_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        CircuitBreaker(**kwargs)  # type: ignore[arg-type]


class BreakerMachine(RuleBasedStateMachine):
    """Random calls, results and clock steps, checked against a reference model.

    The model is written as the rules read (DESIGN §6), independently of the breaker's
    code: count consecutive failures; open at the threshold; after the cooldown, one probe.
    """

    THRESHOLD = 3
    COOLDOWN = 10.0

    def __init__(self) -> None:
        super().__init__()
        self.now = T0
        self.breaker = CircuitBreaker(self.THRESHOLD, self.COOLDOWN)
        self.failures = 0
        self.opened_at: float | None = None  # None: closed
        self.probing = False
        self.outstanding = 0  # calls allowed and not yet answered
        self.half_open_grants = 0  # calls allowed since the circuit last went half-open

    @rule(seconds=st.sampled_from([0.0, 0.5, 3.0, 9.999, 10.0, 25.0]))
    def time_passes(self, seconds: float) -> None:
        self.now += seconds

    @rule()
    def call(self) -> None:
        if self.opened_at is None:
            expected = True
        elif self.probing:
            expected = False
        else:
            expected = self.now >= self.opened_at + self.COOLDOWN
            self.probing = expected
        allowed = self.breaker.allow(self.now)
        assert allowed == expected
        if allowed:
            self.outstanding += 1
            if self.breaker.state is CircuitState.HALF_OPEN:
                self.half_open_grants += 1
        # The law: never two probes at once
        assert self.half_open_grants <= 1

    @precondition(lambda self: self.outstanding > 0)
    @rule()
    def succeeds(self) -> None:
        self.outstanding -= 1
        self.breaker.record_success(self.now)
        self.failures, self.opened_at, self.probing = 0, None, False
        self.half_open_grants = 0

    @precondition(lambda self: self.outstanding > 0)
    @rule()
    def fails(self) -> None:
        self.outstanding -= 1
        self.breaker.record_failure(self.now)
        self.failures += 1
        if self.probing or (self.opened_at is None and self.failures >= self.THRESHOLD):
            self.opened_at, self.probing = self.now, False
            self.half_open_grants = 0

    @invariant()
    def agrees_with_the_model(self) -> None:
        breaker = self.breaker
        assert breaker.consecutive_failures == self.failures
        assert breaker.opened_at == self.opened_at
        assert breaker.probe_in_flight == self.probing
        if self.opened_at is None:
            assert breaker.state is CircuitState.CLOSED
            assert breaker.retry_in(self.now) == 0
        elif self.probing:
            assert breaker.state is CircuitState.HALF_OPEN
        else:
            assert breaker.state is CircuitState.OPEN
            assert breaker.retry_in(self.now) == max(0, self.opened_at + self.COOLDOWN - self.now)

    @invariant()
    def is_consistent(self) -> None:
        breaker = self.breaker
        closed = breaker.state is CircuitState.CLOSED
        assert (breaker.opened_at is None) == closed
        assert breaker.probe_in_flight == (breaker.state is CircuitState.HALF_OPEN)
        assert closed <= (breaker.consecutive_failures < self.THRESHOLD)
        assert breaker.retry_in(self.now) >= 0
        assert breaker.snapshot()["state"] == breaker.state.value


TestBreakerModel = BreakerMachine.TestCase
