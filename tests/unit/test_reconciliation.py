"""Reconciliation's pure rules: comparison, causes, policies, the summary; and the
schedule that runs each system on its interval."""

from __future__ import annotations

from decimal import Decimal

from stockbridge.app.reconciliation_schedule import ReconciliationSchedule
from stockbridge.domain.reconciliation import (
    Action,
    Cause,
    Policy,
    Resolved,
    SnapshotLine,
    action_for,
    compare,
    summarise,
)

D = Decimal
NOW = 1_000_000_000


def resolved(
    no: int, code: str, quantity: str, hub: str | None, sku: str | None = None
) -> Resolved:
    line = SnapshotLine(no, code, "W1", D(quantity))
    mapped = sku or (code if hub is not None else None)
    return Resolved(line, mapped, "DC" if mapped else None, None if hub is None else D(hub))


def test_equal_lines_match_and_the_others_get_a_cause_a_value_and_an_age() -> None:
    # Given four lines: equal, drifting, explained by a push in flight, unmapped
    lines = [
        resolved(1, "TEE", "5", "5"),
        resolved(2, "MUG", "7", "4"),
        resolved(3, "CAP", "0", "2"),
        resolved(4, "X-99", "3", None),
    ]
    # When compared, with a cost for MUG, CAP's push in flight and MUG differing since before
    result = compare(
        lines,
        {"MUG": D("2.5"), "CAP": D(1)},
        frozenset({("CAP", None)}),
        {("MUG", "W1"): NOW - 3_600_000_000},
        NOW,
    )
    # Then TEE matched; MUG is drift worth 3 x 2.5 seen an hour ago; CAP is in flight;
    # X-99 has no mapping and no hub value
    assert result.matched == (("TEE", "W1"),)
    mug, cap, unknown = result.differences
    assert (mug.difference, mug.value, mug.cause) == (D(3), D("7.5"), Cause.DRIFT)
    assert mug.first_seen_us == NOW - 3_600_000_000
    assert (cap.difference, cap.cause, cap.first_seen_us) == (D(-2), Cause.IN_FLIGHT, NOW)
    assert (unknown.hub, unknown.difference, unknown.value) == (None, D(3), None)
    assert unknown.cause is Cause.MAPPING_MISSING
    # And the summary adds absolute units and values, and names the oldest
    summary = summarise(4, result)
    assert (summary.matched, summary.differing) == (1, 3)
    assert (summary.drift_units, summary.drift_value) == (D(8), D("9.5"))
    assert summary.oldest_us == NOW - 3_600_000_000
    assert summary.by_cause == {"drift": 1, "in_flight": 1, "mapping_missing": 1}


def test_a_push_in_flight_explains_only_its_own_sku_and_location() -> None:
    # Given a posting in flight for MUG at DC only
    flying = frozenset({("MUG", "S1")})
    # Then MUG at DC still drifts
    (d,) = compare([resolved(1, "MUG", "1", "0")], {}, flying, {}, NOW).differences
    assert d.cause is Cause.DRIFT
    (d,) = compare(
        [resolved(1, "MUG", "1", "0")], {}, frozenset({("MUG", "DC")}), {}, NOW
    ).differences
    assert d.cause is Cause.IN_FLIGHT


def test_each_policy_acts_on_drift_and_leaves_flights_alone() -> None:
    assert action_for(Policy.PUSH_OURS, Cause.DRIFT) is Action.PUSHED
    assert action_for(Policy.RAISE_EXCEPTIONS, Cause.DRIFT) is Action.EXCEPTION
    assert action_for(Policy.ACCEPT_THEIRS, Cause.DRIFT) is Action.COUNTED
    for policy in Policy:
        # A delivery in flight carries the hub's value already
        assert action_for(policy, Cause.IN_FLIGHT) is Action.NONE
        # A missing mapping is for a person, whatever the policy
        assert action_for(policy, Cause.MAPPING_MISSING) is Action.EXCEPTION


def test_the_schedule_runs_each_system_when_due_and_survives_a_failure() -> None:
    # Given two systems every 60 s, one of which always fails, on a clock we move
    now = [0.0]
    ran: list[str] = []

    def run(name: str) -> None:
        ran.append(name)
        if name == "broken":
            raise RuntimeError("down")

    schedule = ReconciliationSchedule({"shop": 60, "broken": 60}, run, lambda: now[0])
    schedule.due = {"shop": 60.0, "broken": 60.0}
    # When the loop ticks before they are due, then after
    assert schedule.tick() == []
    now[0] = 61.0
    # Then both run, the failure is logged and does not stop the other
    assert schedule.tick() == ["broken", "shop"]
    assert ran == ["broken", "shop"]
    # And neither runs again before its next interval
    now[0] = 100.0
    assert schedule.tick() == []
    now[0] = 121.5
    assert schedule.tick() == ["broken", "shop"]
