"""Laws of returns and transfers, checked by Hypothesis on the pure domain and the fold.

- Grading never grades more than is pending; every returned unit is, at every step,
  pending, sellable, non-sellable or written off, and the ledger agrees: on hand rises by
  what was not written off, non-sellable is what is pending or kept aside.
- For a transfer, on hand at the sender + in transit + on hand at the receiver is
  conserved, except for declared over receipts (added) and short receipts written off.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from stockbridge.domain.intake import ParsedEvent, parse_event
from stockbridge.domain.ledger import LedgerBatch
from stockbridge.domain.mapping import MasterData, map_event
from stockbridge.domain.model import Event, Item, Location, Position
from stockbridge.domain.returns import (
    PENDING,
    Disposition,
    GradeLine,
    Grading,
    InspectionRule,
    Refusal,
    Return,
    ReturnLine,
    grade,
    inspect,
    receive,
)
from stockbridge.domain.transfers import (
    Movement,
    Transfer,
    TransferLine,
    close,
    open_transfer,
    ship,
)
from stockbridge.domain.transfers import Refusal as TransferRefusal
from stockbridge.domain.transfers import receive as receive_transfer

AT = datetime(2026, 3, 2, 10, tzinfo=UTC)
MASTER = MasterData.of(
    [Item("MUG", category="kitchen")], [Location("S1"), Location("S2"), Location("DC")], []
)
RULES = (
    InspectionRule("damaged", Disposition.NON_SELLABLE, reason="damaged"),
    InspectionRule("damaged", Disposition.WRITE_OFF, category="kitchen", reason="broken"),
    InspectionRule("opened", Disposition.SELLABLE),
    InspectionRule("*", Disposition.NON_SELLABLE, category="garden", reason="vendor_return"),
)
CONDITIONS = st.sampled_from(["sellable", "damaged", "opened", "scratched", PENDING])


class _NoHistory:
    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        return Decimal(0)


def fold(raws: Sequence[dict[str, Any]], start: dict[str, Decimal] | None = None) -> LedgerBatch:
    positions = {("MUG", loc): Position("MUG", loc, on_hand=q) for loc, q in (start or {}).items()}
    ledger = LedgerBatch(positions, {}, _NoHistory(), 0)
    for raw in raws:
        parsed = parse_event(raw)
        assert isinstance(parsed, ParsedEvent), parsed
        mapped = map_event(parsed, MASTER)
        assert isinstance(mapped, Event), mapped
        ledger.apply(mapped)
    return ledger


# --- inspection rules ---------------------------------------------------------------------
def test_the_most_specific_rule_wins_and_the_default_keeps_other_conditions_aside() -> None:
    assert inspect(RULES, "damaged", "kitchen").outcome is Disposition.WRITE_OFF
    assert inspect(RULES, "damaged", "apparel").reason == "damaged"
    assert inspect(RULES, "opened", "garden").outcome is Disposition.SELLABLE
    assert inspect(RULES, "scratched", "garden").reason == "vendor_return"
    assert inspect(RULES, "scratched", None) == inspect((), "scratched", None)
    assert inspect((), "scratched", None).outcome is Disposition.NON_SELLABLE
    assert inspect((), "sellable", None).outcome is Disposition.SELLABLE


@given(
    lines=st.lists(st.tuples(st.integers(1, 9), CONDITIONS), min_size=1, max_size=4),
    grades=st.lists(st.tuples(st.integers(0, 3), st.integers(1, 6), CONDITIONS), max_size=6),
)
def test_grading_never_exceeds_pending_and_units_are_conserved(
    lines: list[tuple[int, str]], grades: list[tuple[int, int, str]]
) -> None:
    ret = Return(
        "R1",
        "pos",
        "S1",
        AT,
        tuple(ReturnLine(i + 1, "MUG", Decimal(q), c, "kitchen") for i, (q, c) in enumerate(lines)),
    )
    decision = receive(ret, RULES)
    state, events = decision.state, list(decision.events)
    for n, (line, qty, condition) in enumerate(grades):
        number = line % len(lines) + 1
        before = state.line(number)
        assert before is not None
        out = grade(
            state, Grading(f"G{n}", (GradeLine(number, Decimal(qty), condition),), AT), RULES
        )
        if isinstance(out, Refusal):
            # Refused exactly when it grades more than is pending (or grades to pending)
            assert Decimal(qty) > before.pending or condition == PENDING
            continue
        assert Decimal(qty) <= before.pending
        state = out.state
        events += out.events
    returned = sum(Decimal(q) for q, _ in lines)
    for x in state.lines:
        assert x.pending >= 0
        assert x.pending + x.sellable + x.non_sellable + x.written_off == x.quantity
    pos = fold(events).positions[("MUG", "S1")]
    written_off = sum(x.written_off for x in state.lines)
    aside = sum(x.pending + x.non_sellable for x in state.lines)
    assert pos.on_hand == returned - written_off
    assert pos.non_sellable == aside
    assert pos.available() == sum(x.sellable for x in state.lines)


# --- transfers ----------------------------------------------------------------------------
STEPS = st.lists(
    st.one_of(
        st.tuples(st.just("ship"), st.integers(1, 6)),
        st.tuples(st.just("receive"), st.integers(1, 6)),
    ),
    max_size=8,
)


@given(
    ordered=st.integers(1, 10),
    steps=STEPS,
    policy=st.sampled_from(["write_off", "keep_in_transit"]),
    closing=st.booleans(),
)
def test_transfer_units_are_conserved_except_declared_over_and_short(
    ordered: int, steps: list[tuple[str, int]], policy: Any, closing: bool
) -> None:
    transfer = Transfer(
        "T1", "transfers", "DC", "S2", AT, (TransferLine(1, "MUG", Decimal(ordered)),)
    )
    state = open_transfer(transfer)
    events: list[dict[str, Any]] = []
    over = short_written = Decimal(0)
    for n, (kind, qty) in enumerate(steps):
        movement = Movement(f"M{n}", ((1, Decimal(qty)),), AT)
        out = ship(state, movement) if kind == "ship" else receive_transfer(state, movement)
        if isinstance(out, TransferRefusal):
            assert kind == "ship" and qty > state.lines[0].to_ship
            continue
        if out.declared is not None:
            over += sum(Decimal(x["quantity"]) for x in out.declared.lines)
        state, events = out.state, events + out.events
    if closing:
        done = close(state, AT, policy)
        if done.declared is not None and policy == "write_off":
            short_written = sum(Decimal(x["quantity"]) for x in done.declared.lines)
        state, events = done.state, events + done.events
    line = state.lines[0]
    assert line.shipped <= line.quantity
    assert line.in_transit >= 0
    ledger = fold(events, {"DC": Decimal(100)})
    dc = ledger.positions[("MUG", "DC")]
    s2 = ledger.positions.get(("MUG", "S2"), Position("MUG", "S2"))
    assert dc.on_hand + s2.in_transit + s2.on_hand == 100 + over - short_written
    assert s2.in_transit == line.in_transit
    assert dc.on_hand == 100 - line.shipped
