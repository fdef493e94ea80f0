"""Laws of tickets and orders, checked by Hypothesis on the pure domain.

- A ticket balances exactly when its tenders equal lines net + tax, to the cent.
- A settlement's totals are the sums of its tickets' figures.
- Whatever the order of shipments and cancellations, an order never ships more than was
  ordered nor cancels shipped units, and the ledger fold of its events reserves exactly
  what is open and lowers on hand by exactly what shipped.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from stockbridge.domain.intake import ParsedEvent, parse_event
from stockbridge.domain.ledger import LedgerBatch
from stockbridge.domain.mapping import MasterData, map_event
from stockbridge.domain.model import Event, Item, Location
from stockbridge.domain.orders import (
    Cancellation,
    Decision,
    Fulfilment,
    Order,
    OrderLine,
    OrderState,
    Refusal,
    accept,
    cancel,
    fulfil,
)
from stockbridge.domain.tickets import (
    Discount,
    TaxLine,
    Tender,
    Ticket,
    TicketLine,
    check_balance,
    settlement_document,
    ticket_totals,
)

AT = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
money = st.integers(min_value=0, max_value=100_000).map(lambda c: Decimal(c).scaleb(-2))


@st.composite
def ticket_lines(draw: st.DrawFn) -> tuple[TicketLine, ...]:
    n = draw(st.integers(min_value=1, max_value=6))
    lines = []
    for i in range(n):
        qty = draw(st.integers(min_value=-5, max_value=5).filter(bool))
        price = draw(money)
        gross = abs(qty) * price
        off = draw(st.integers(min_value=0, max_value=int(gross * 100))) if gross else 0
        discounts = (Discount(Decimal(off).scaleb(-2)),) if off else ()
        lines.append(TicketLine(i + 1, "SKU", Decimal(qty), price, discounts))
    return tuple(lines)


@st.composite
def balanced_tickets(draw: st.DrawFn, number: str = "T") -> Ticket:
    lines = draw(ticket_lines())
    rate = draw(st.sampled_from([None, Decimal("0.055"), Decimal("0.1"), Decimal("0.2")]))
    included = draw(st.booleans())
    taxes = (TaxLine("VAT", rate=rate),) if rate is not None else ()
    draft = Ticket("pos", "S1", number, AT, "EUR", lines, taxes, (), date(2026, 3, 2), included)
    due = draft.to_pay
    # Split what is due over one to three tenders.
    split = draw(st.integers(min_value=0, max_value=2))
    cash = (due / 3).quantize(Decimal("0.01")) if split else Decimal(0)
    tenders = [Tender("card", due - cash * split)] + [Tender("cash", cash)] * split
    return Ticket(
        "pos", "S1", number, AT, "EUR", lines, taxes, tuple(tenders), date(2026, 3, 2), included
    )


@given(balanced_tickets(), st.integers(min_value=-10_000, max_value=10_000).filter(bool))
def test_a_ticket_balances_exactly_when_tenders_cover_lines_and_tax(
    ticket: Ticket, off_by_cents: int
) -> None:
    assert check_balance(ticket) == []
    off = Decimal(off_by_cents).scaleb(-2)
    wrong = Ticket(
        ticket.source,
        ticket.location,
        ticket.ticket_number,
        ticket.occurred_at,
        ticket.currency,
        ticket.lines,
        ticket.taxes,
        (*ticket.tenders, Tender("voucher", off)),
        ticket.business_date,
        ticket.tax_included,
    )
    problems = check_balance(wrong)
    assert [p.field for p in problems] == ["tenders"]


# 300 examples in every profile: the suite's time budget goes to the ledger laws (1,000).
@settings(max_examples=300)
@given(st.lists(balanced_tickets(), min_size=1, max_size=12))
def test_a_settlement_totals_the_sum_of_its_tickets(tickets: list[Ticket]) -> None:
    totals = [ticket_totals(t) for t in tickets]
    numbered = [
        type(t)(f"T{i}", t.currency, t.sales, t.returns, t.discounts, t.tax, t.tenders)
        for i, t in enumerate(totals)
    ]
    doc = settlement_document("S1", date(2026, 3, 2), 1, numbered)
    (day,) = doc["totals"]
    assert doc["ticket_count"] == day["ticket_count"] == len(tickets)
    assert Decimal(day["sales"]) == sum(t.sales for t in totals)
    assert Decimal(day["returns"]) == sum(t.returns for t in totals)
    assert Decimal(day["tax_total"]) == sum(t.tax_total for t in tickets)
    assert Decimal(day["tenders_total"]) == sum(t.tenders_total for t in tickets)
    for kind in ("card", "cash"):
        expected = sum(
            (sum((x.amount for x in t.tenders if x.type == kind), Decimal(0)) for t in tickets),
            Decimal(0),
        )
        assert Decimal(day["tenders"].get(kind, "0")) == expected
    # The day balances as each of its tickets does
    if not any(t.tax_included for t in tickets):
        assert Decimal(day["net_sales"]) + Decimal(day["tax_total"]) == Decimal(
            day["tenders_total"]
        )


# --- orders -------------------------------------------------------------------------------
MASTER = MasterData.of([Item("A"), Item("B")], [Location("DC"), Location("S1")], [])


class _NoHistory:
    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        return Decimal(0)


def _events(decision: Decision) -> list[Event]:
    out = []
    for raw in decision.events:
        parsed = parse_event(raw)
        assert isinstance(parsed, ParsedEvent), parsed
        mapped = map_event(parsed, MASTER)
        assert isinstance(mapped, Event), mapped
        out.append(mapped)
    return out


commands = st.lists(
    st.tuples(
        st.sampled_from(["ship", "cancel", "cancel_all"]),
        st.integers(min_value=1, max_value=3),
        st.integers(min_value=1, max_value=6),
    ),
    max_size=12,
)


@given(
    st.lists(st.integers(min_value=1, max_value=5), min_size=1, max_size=3),
    commands,
)
def test_an_order_never_ships_more_than_ordered_nor_cancels_shipped_units(
    quantities: list[int], steps: list[tuple[str, int, int]]
) -> None:
    lines = tuple(
        OrderLine(i + 1, "AB"[i % 2], Decimal(q), Decimal("9.99"), ["DC", "S1"][i % 2])
        for i, q in enumerate(quantities)
    )
    decision = accept(Order("web", "O1", AT, "EUR", lines))
    state: OrderState = decision.state
    ledger = LedgerBatch({}, {}, _NoHistory(), 0)
    ledger.apply_all(_events(decision))
    for n, (verb, line, qty) in enumerate(steps):
        before = {x.line: x for x in state.lines}
        wanted = ((line, Decimal(qty)),)
        if verb == "ship":
            outcome = fulfil(state, Fulfilment(f"s{n}", wanted, AT))
        else:
            outcome = cancel(
                state, Cancellation(f"c{n}", None if verb == "cancel_all" else wanted, AT)
            )
        target = before.get(line)
        if isinstance(outcome, Refusal):
            # Refused only when it asked for more than was open (or an unknown line)
            if verb == "cancel_all":
                assert all(x.open == 0 for x in before.values())
            else:
                assert target is None or qty > target.open
            continue
        assert verb == "cancel_all" or (target is not None and qty <= target.open)
        state = outcome.state
        ledger.apply_all(_events(outcome))
        for x in state.lines:
            assert Decimal(0) <= x.shipped and Decimal(0) <= x.cancelled
            assert x.shipped + x.cancelled <= x.ordered
            if verb != "ship":
                assert x.shipped == before[x.line].shipped  # cancelling never touches shipped
            assert x.shipped >= before[x.line].shipped
    # The ledger agrees: reserved is what is open, on hand is down by what shipped
    for sku, loc in {(x.sku, x.location) for x in state.lines}:
        mine = [x for x in state.lines if (x.sku, x.location) == (sku, loc)]
        pos = ledger.positions[(sku, loc)]
        assert pos.reserved == sum(x.open for x in mine)
        assert pos.on_hand == -sum(x.shipped for x in mine)
