"""Whether a reservation can be held, and where (domain/reservations.py), pure."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.availability import ChannelPolicy, StaleRule
from stockbridge.domain.model import Item, Position
from stockbridge.domain.reservations import (
    Hold,
    Short,
    decide_at_location,
    decide_for_channel,
)

D = Decimal
TEE = Item("TEE")
MUG = Item("MUG", safety_stock=D(2))


def pos(location: str, on_hand: int, reserved: int = 0, sku: str = "TEE") -> Position:
    return Position(sku, location, on_hand=D(on_hand), reserved=D(reserved))


# --- at a location -------------------------------------------------------------------------
def test_a_location_holds_what_its_available_covers() -> None:
    # Given S1 with 5 on hand and 2 already reserved
    position = pos("S1", 5, reserved=2)
    # When 3 are asked, then 4
    exact = decide_at_location("S1", position, D(0), D(3))
    over = decide_at_location("S1", position, D(0), D(4))
    # Then 3 are held at S1 and 4 are short, saying 3 are left
    assert exact == Hold("S1", D(3))
    assert isinstance(over, Short)
    assert (over.available, over.requested) == (D(3), D(4))


def test_safety_stock_and_non_sellable_units_cannot_be_reserved() -> None:
    # Given 6 on hand, 1 damaged, and a safety stock of 2
    position = Position("MUG", "S1", on_hand=D(6), non_sellable=D(1))
    # Then 3 can be held and 4 cannot
    assert isinstance(decide_at_location("S1", position, MUG.safety_stock, D(3)), Hold)
    short = decide_at_location("S1", position, MUG.safety_stock, D(4))
    assert isinstance(short, Short) and short.available == D(3)


def test_a_location_without_a_position_has_nothing_to_hold() -> None:
    decision = decide_at_location("S2", None, D(0), D(1))
    assert isinstance(decision, Short) and decision.available == D(0)


@given(
    on_hand=st.integers(-5, 50),
    reserved=st.integers(0, 50),
    safety=st.integers(0, 5),
    quantity=st.integers(1, 60),
)
def test_a_hold_never_takes_available_below_zero(
    on_hand: int, reserved: int, safety: int, quantity: int
) -> None:
    position = pos("S1", on_hand, reserved)
    decision = decide_at_location("S1", position, D(safety), D(quantity))
    if isinstance(decision, Hold):
        after = pos("S1", on_hand, reserved + quantity)
        assert on_hand - reserved - safety - quantity >= 0
        assert after.available(D(safety)) == decision.available - quantity
    else:
        assert decision.available < quantity
        assert decision.available == position.available(D(safety))


# --- for a channel -------------------------------------------------------------------------
def test_a_channel_holds_at_the_location_with_the_most_to_give() -> None:
    # Given a web channel fed by S1 (buffer 1), S2 and DC
    web = ChannelPolicy("web", {"S1": D(1), "S2": D(0), "DC": D(0)})
    positions = [pos("S1", 6), pos("S2", 4), pos("DC", 2)]
    # When 3 are asked
    decision = decide_for_channel(web, "TEE", TEE, positions, frozenset(), D(3))
    # Then S1 holds them: it gives 6 - 1 = 5, more than S2's 4
    assert decision == Hold("S1", D(5))


def test_ties_go_to_the_first_location_code() -> None:
    web = ChannelPolicy("web", {"S2": D(0), "S1": D(0)})
    decision = decide_for_channel(web, "TEE", TEE, [pos("S2", 4), pos("S1", 4)], frozenset(), D(1))
    assert isinstance(decision, Hold) and decision.location == "S1"


def test_a_buffer_keeps_units_back_from_channel_reservations() -> None:
    # Given S1 with 3 on hand and a buffer of 2 for the channel
    web = ChannelPolicy("web", {"S1": D(2)})
    # When 2 are asked
    decision = decide_for_channel(web, "TEE", TEE, [pos("S1", 3)], frozenset(), D(2))
    # Then only 1 is on offer
    assert isinstance(decision, Short)
    assert (decision.available, decision.requested) == (D(1), D(2))


def test_enough_on_the_channel_but_no_single_location_is_short() -> None:
    # Given two stores with 3 each: the channel shows 6
    web = ChannelPolicy("web", {"S1": D(0), "S2": D(0)})
    positions = [pos("S1", 3), pos("S2", 3)]
    # When 4 are asked
    decision = decide_for_channel(web, "TEE", TEE, positions, frozenset(), D(4))
    # Then they cannot be held in one place: 3 is the most one reservation can take
    assert isinstance(decision, Short)
    assert decision.available == D(3)
    assert "no single location" in decision.detail


def test_a_stale_store_is_not_picked_and_the_cap_limits_the_hold() -> None:
    # Given S1 (10 units) has gone silent and S2 has 5, on a channel capped at 2
    zero = ChannelPolicy("web", {"S1": D(0), "S2": D(0)}, stale_rule=StaleRule.ZERO)
    capped = ChannelPolicy("web", {"S1": D(0), "S2": D(0)}, cap=D(2))
    positions = [pos("S1", 10), pos("S2", 5)]
    # Then the hold goes to S2, not to the larger but stale S1
    held = decide_for_channel(zero, "TEE", TEE, positions, frozenset({"S1"}), D(4))
    assert held == Hold("S2", D(5))
    # And the cap is the most the channel may reserve
    capped_decision = decide_for_channel(capped, "TEE", TEE, positions, frozenset(), D(3))
    assert isinstance(capped_decision, Short) and capped_decision.available == D(2)


def test_a_channel_with_no_stock_at_all_is_short_with_nothing_left() -> None:
    web = ChannelPolicy("web", {"S1": D(0)})
    decision = decide_for_channel(web, "TEE", TEE, [], frozenset(), D(1))
    assert isinstance(decision, Short) and decision.available == D(0)
