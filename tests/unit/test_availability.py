"""Channel available-to-sell from positions (DESIGN §7), pure."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.availability import (
    ChannelPolicy,
    StaleRule,
    channel_availability,
    stale_locations,
)
from stockbridge.domain.model import Item, Position

D = Decimal
TEE = Item("TEE", category="apparel", safety_stock=D(1))
CHEESE = Item("CHEESE", base_uom="KG")


def pos(location: str, on_hand: str, reserved: str = "0", sku: str = "TEE") -> Position:
    return Position(sku, location, on_hand=D(on_hand), reserved=D(reserved))


def test_each_location_gives_what_it_has_above_its_buffer() -> None:
    # Given a web channel fed by two stores with buffers 2 and 0
    web = ChannelPolicy("web", {"S1": D(2), "S2": D(0)})
    # When S1 has 5 on hand (4 available after the item's safety stock of 1), S2 has 1 (0)
    result = channel_availability(web, "TEE", TEE, [pos("S1", "5"), pos("S2", "1")])
    # Then S1 gives 4 - 2 and S2 nothing; never below zero
    assert [c.contributes for c in result.contributions] == [D(2), D(0)]
    assert result.available == D(2)


def test_reservations_and_unfed_locations_do_not_count() -> None:
    web = ChannelPolicy("web", {"S1": D(0)})
    result = channel_availability(
        web, "TEE", TEE, [pos("S1", "10", reserved="3"), pos("DC", "100")]
    )
    assert result.available == D(10 - 3 - 1)


def test_a_stale_location_gives_nothing_or_less_by_the_rule() -> None:
    positions = [pos("S1", "11"), pos("S2", "11")]
    zero = ChannelPolicy("web", {"S1": D(0), "S2": D(0)})
    minus = ChannelPolicy(
        "web", {"S1": D(0), "S2": D(0)}, stale_rule=StaleRule.BUFFER, stale_extra_buffer=D(4)
    )
    stale = frozenset({"S2"})
    assert channel_availability(zero, "TEE", TEE, positions, stale).available == D(10)
    assert channel_availability(minus, "TEE", TEE, positions, stale).available == D(10 + 6)


def test_safety_stock_by_sku_wins_over_category_then_share_and_cap() -> None:
    base = {"S1": D(0)}
    by_sku = ChannelPolicy(
        "m", base, safety_stock_by_sku={"TEE": D(5)}, safety_stock_by_category={"apparel": D(2)}
    )
    by_category = ChannelPolicy("m", base, safety_stock_by_category={"apparel": D(2)})
    shared = ChannelPolicy("m", base, share=D("0.5"), cap=D(3))
    positions = [pos("S1", "21")]  # 20 available
    assert channel_availability(by_sku, "TEE", TEE, positions).available == D(15)
    assert channel_availability(by_category, "TEE", TEE, positions).available == D(18)
    # 20 * 0.5 = 10, capped at 3
    assert channel_availability(shared, "TEE", TEE, positions).available == D(3)


def test_pieces_are_offered_whole_and_weighed_goods_keep_decimals() -> None:
    half = ChannelPolicy("m", {"S1": D(0)}, share=D("0.5"))
    assert channel_availability(half, "TEE", TEE, [pos("S1", "8")]).available == D(3)
    weighed = [pos("S1", "7.5", sku="CHEESE")]
    assert channel_availability(half, "CHEESE", CHEESE, weighed).available == D("3.75")


@given(
    st.lists(
        st.tuples(st.sampled_from(["S1", "S2", "S3"]), st.integers(-5, 50), st.integers(0, 10)),
        max_size=6,
    ),
    st.dictionaries(st.sampled_from(["S1", "S2", "S3"]), st.integers(0, 5), min_size=1),
    st.frozensets(st.sampled_from(["S1", "S2", "S3"])),
)
def test_channel_never_offers_more_than_the_feeding_locations_have(
    rows: list[tuple[str, int, int]], buffers: dict[str, int], stale: frozenset[str]
) -> None:
    positions = {loc: pos(loc, str(on_hand), str(reserved)) for loc, on_hand, reserved in rows}
    policy = ChannelPolicy("web", {k: D(v) for k, v in buffers.items()})
    result = channel_availability(policy, "TEE", TEE, positions.values(), stale)
    fed = sum(
        (positions[loc].available(TEE.safety_stock) for loc in buffers if loc in positions), D(0)
    )
    assert D(0) <= result.available <= fed
    for c in result.contributions:
        assert c.contributes == 0 or c.location not in stale


def test_a_location_is_stale_past_its_sla_or_when_never_heard_from() -> None:
    now = 1_000_000_000
    seen = {"S1": now - 30_000_000, "S2": now - 300_000_000}
    slas: dict[str, float | None] = {"S1": 60, "S2": 60, "S3": 60, "DC": None}
    assert stale_locations(seen, slas, now) == frozenset({"S2", "S3"})
