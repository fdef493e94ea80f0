"""Store tickets: what a POS sale or return means for stock and for the books.

Pure code. A ticket is the POS receipt as a whole: sold and returned lines, discounts,
tax lines and tenders. It must balance to the cent (lines net of discounts + tax =
tenders); it moves stock through one ledger event per line; and it reaches the ERP either
as one document per ticket or, summed with the store's other tickets of the business day,
as a daily settlement (DESIGN §2: the ERP owns financial postings).

Money is `Decimal`, rounded half up to the cent where a line or a tax is computed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from zoneinfo import ZoneInfo

CENT = Decimal("0.01")
ZERO_MONEY = Decimal("0.00")


def cents(amount: Decimal) -> Decimal:
    """An amount rounded half up to the cent."""
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def money(amount: Decimal) -> str:
    """Money as a plain string with two decimals: "12.50", never "1.25E+1"."""
    return format(cents(amount), "f")


@dataclass(frozen=True, slots=True)
class Discount:
    amount: Decimal  # positive: what comes off the line
    code: str | None = None


@dataclass(frozen=True, slots=True)
class TicketLine:
    """One line of the ticket. A negative quantity is a returned article."""

    line: int
    sku: str
    quantity: Decimal  # signed: below zero for a return
    unit_price: Decimal
    discounts: tuple[Discount, ...] = ()
    #: For a returned article: "sellable" (back on the shelf) or another condition.
    condition: str | None = None
    uom: str | None = None

    @property
    def is_return(self) -> bool:
        return self.quantity < 0

    @property
    def discount(self) -> Decimal:
        return cents(sum((d.amount for d in self.discounts), ZERO_MONEY))

    @property
    def gross(self) -> Decimal:
        """Units times price, unsigned, to the cent."""
        return cents(abs(self.quantity) * self.unit_price)

    @property
    def net(self) -> Decimal:
        """What the line brings in: gross less discounts, negative for a return."""
        amount = self.gross - self.discount
        return -amount if self.is_return else amount


@dataclass(frozen=True, slots=True)
class TaxLine:
    """A tax on the ticket: its amount, or its rate applied to the lines' net total."""

    code: str
    rate: Decimal | None = None
    amount: Decimal | None = None


@dataclass(frozen=True, slots=True)
class Tender:
    """A means of payment and its amount (negative when money is given back)."""

    type: str
    amount: Decimal


@dataclass(frozen=True, slots=True)
class Ticket:
    source: str
    location: str
    ticket_number: str
    occurred_at: datetime
    currency: str
    lines: tuple[TicketLine, ...]
    taxes: tuple[TaxLine, ...] = ()
    tenders: tuple[Tender, ...] = ()
    #: The store's trading day; when not given, the date of `occurred_at` at the store.
    business_date: date | None = None
    #: Whether unit prices already include the tax (tax lines are then informational).
    tax_included: bool = False

    @property
    def lines_net(self) -> Decimal:
        return sum((line.net for line in self.lines), ZERO_MONEY)

    def tax_amount(self, tax: TaxLine) -> Decimal:
        if tax.amount is not None:
            return cents(tax.amount)
        rate = tax.rate or Decimal(0)
        base = self.lines_net
        if self.tax_included:
            return cents(base - base / (1 + rate))
        return cents(base * rate)

    @property
    def tax_total(self) -> Decimal:
        return sum((self.tax_amount(t) for t in self.taxes), ZERO_MONEY)

    @property
    def tenders_total(self) -> Decimal:
        return sum((cents(t.amount) for t in self.tenders), ZERO_MONEY)

    @property
    def to_pay(self) -> Decimal:
        """What the tenders must cover: lines net, plus tax unless prices include it."""
        return self.lines_net + (ZERO_MONEY if self.tax_included else self.tax_total)

    def on_business_date(self, timezone: str) -> Ticket:
        """This ticket with its business date set (from `occurred_at` at the store)."""
        if self.business_date is not None:
            return self
        local = self.occurred_at.astimezone(ZoneInfo(timezone)).date()
        return Ticket(
            self.source,
            self.location,
            self.ticket_number,
            self.occurred_at,
            self.currency,
            self.lines,
            self.taxes,
            self.tenders,
            local,
            self.tax_included,
        )


@dataclass(frozen=True, slots=True)
class Imbalance:
    """One thing about a ticket that does not add up."""

    field: str
    detail: str


def check_balance(ticket: Ticket) -> list[Imbalance]:
    """Everything that does not balance on the ticket; empty when it balances.

    A line's discounts must not exceed its value; a tax line given both a rate and an
    amount must agree to the cent; and lines net + tax must equal the tenders.
    """
    problems: list[Imbalance] = []
    for i, line in enumerate(ticket.lines):
        if line.discount > line.gross:
            problems.append(
                Imbalance(
                    f"lines[{i}].discounts",
                    f"line {line.line}: discounts {money(line.discount)} exceed "
                    f"the line's value {money(line.gross)}",
                )
            )
    for i, tax in enumerate(ticket.taxes):
        if tax.amount is not None and tax.rate is not None:
            computed = ticket.tax_amount(TaxLine(tax.code, tax.rate, None))
            if cents(tax.amount) != computed:
                problems.append(
                    Imbalance(
                        f"taxes[{i}].amount",
                        f"tax {tax.code}: amount {money(tax.amount)} but rate {tax.rate} "
                        f"gives {money(computed)}",
                    )
                )
    if ticket.to_pay != ticket.tenders_total:
        plus_tax = "" if ticket.tax_included else f" + tax {money(ticket.tax_total)}"
        problems.append(
            Imbalance(
                "tenders",
                f"lines {money(ticket.lines_net)}{plus_tax} = {money(ticket.to_pay)} but tenders "
                f"total {money(ticket.tenders_total)} "
                f"(difference {money(ticket.tenders_total - ticket.to_pay)})",
            )
        )
    return problems


# --- stock --------------------------------------------------------------------------------
def ticket_correlation_id(source: str, ticket_number: str) -> str:
    """The correlation id a ticket's events, postings and pushes carry: its document
    number, so the ERP document and the trace share one name."""
    return ticket_document_number(source, ticket_number)


def line_event_id(ticket_number: str, line: int) -> str:
    """A line's ledger event id: a resent ticket produces the same ids, and dedupes."""
    return f"ticket:{ticket_number}:{line}"


def ticket_events(ticket: Ticket) -> list[dict[str, Any]]:
    """The ledger events of a ticket, as a source would send them: one per line.

    A sold line is a `sale`, a returned one a `return` (with its condition). Each names
    the ticket as its reference and correlation id, so the ERP document and the stock
    movements can be traced to each other.
    """
    out: list[dict[str, Any]] = []
    for line in ticket.lines:
        if line.quantity == 0:
            continue  # a price-only line (a deposit, a fee) moves no stock
        raw: dict[str, Any] = {
            "event_id": line_event_id(ticket.ticket_number, line.line),
            "source": ticket.source,
            "type": "return" if line.is_return else "sale",
            "sku": line.sku,
            "location": ticket.location,
            "quantity": format(abs(line.quantity), "f"),
            "occurred_at": ticket.occurred_at.isoformat(),
            "reference": f"ticket:{ticket.ticket_number}",
            "correlation_id": ticket_correlation_id(ticket.source, ticket.ticket_number),
        }
        if line.uom is not None:
            raw["uom"] = line.uom
        if line.is_return and line.condition is not None:
            raw["condition"] = line.condition
        out.append(raw)
    return out


# --- the books ----------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class TicketTotals:
    """A ticket's figures as a settlement sums them."""

    ticket_number: str
    currency: str
    sales: Decimal  # net of discounts, sold lines
    returns: Decimal  # net of discounts, returned lines, as a positive amount
    discounts: Decimal
    tax: Mapping[str, Decimal]  # by tax code
    tenders: Mapping[str, Decimal]  # by tender type

    def to_json(self) -> dict[str, Any]:
        return {
            "ticket_number": self.ticket_number,
            "currency": self.currency,
            "sales": money(self.sales),
            "returns": money(self.returns),
            "discounts": money(self.discounts),
            "tax": {k: money(v) for k, v in sorted(self.tax.items())},
            "tenders": {k: money(v) for k, v in sorted(self.tenders.items())},
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TicketTotals:
        return cls(
            data["ticket_number"],
            data["currency"],
            Decimal(data["sales"]),
            Decimal(data["returns"]),
            Decimal(data["discounts"]),
            {k: Decimal(v) for k, v in data["tax"].items()},
            {k: Decimal(v) for k, v in data["tenders"].items()},
        )


def _add(into: dict[str, Decimal], key: str, amount: Decimal) -> None:
    into[key] = into.get(key, ZERO_MONEY) + amount


def ticket_totals(ticket: Ticket) -> TicketTotals:
    tax: dict[str, Decimal] = {}
    for t in ticket.taxes:
        _add(tax, t.code, ticket.tax_amount(t))
    tenders: dict[str, Decimal] = {}
    for tender in ticket.tenders:
        _add(tenders, tender.type, cents(tender.amount))
    return TicketTotals(
        ticket.ticket_number,
        ticket.currency,
        sum((x.net for x in ticket.lines if not x.is_return), ZERO_MONEY),
        -sum((x.net for x in ticket.lines if x.is_return), ZERO_MONEY),
        sum((x.discount for x in ticket.lines), ZERO_MONEY),
        tax,
        tenders,
    )


def ticket_document_number(source: str, ticket_number: str) -> str:
    """The ERP's external document number for a ticket: its idempotency reference."""
    return f"ticket:{source}:{ticket_number}"


def ticket_document(ticket: Ticket) -> dict[str, Any]:
    """The ERP sales document of one ticket (per-ticket posting mode)."""
    assert ticket.business_date is not None
    totals = ticket_totals(ticket)
    return {
        "type": "ticket",
        "document_number": ticket_document_number(ticket.source, ticket.ticket_number),
        "source": ticket.source,
        "ticket_number": ticket.ticket_number,
        "store": ticket.location,
        "business_date": ticket.business_date.isoformat(),
        "occurred_at": ticket.occurred_at.isoformat(),
        "currency": ticket.currency,
        "tax_included": ticket.tax_included,
        "lines": [
            {
                "line": x.line,
                "sku": x.sku,
                "quantity": format(x.quantity, "f"),
                "unit_price": money(x.unit_price),
                "discount": money(x.discount),
                "net": money(x.net),
                "return": x.is_return,
                **({"condition": x.condition} if x.is_return and x.condition else {}),
            }
            for x in ticket.lines
        ],
        "tax": [{"code": t.code, "amount": money(ticket.tax_amount(t))} for t in ticket.taxes],
        "tenders": [{"type": t.type, "amount": money(t.amount)} for t in ticket.tenders],
        "totals": {
            "sales": money(totals.sales),
            "returns": money(totals.returns),
            "lines_net": money(ticket.lines_net),
            "tax": money(ticket.tax_total),
            "tenders": money(ticket.tenders_total),
        },
        "correlation_id": ticket_correlation_id(ticket.source, ticket.ticket_number),
    }


# --- daily settlement ---------------------------------------------------------------------
def settlement_number(store: str, business_date: date, seq: int) -> str:
    """The settlement's document number; a late ticket's supplement gets `:2`, `:3`..."""
    base = f"settlement:{store}:{business_date.isoformat()}"
    return base if seq == 1 else f"{base}:{seq}"


def settlement_document(
    store: str, business_date: date, seq: int, tickets: Iterable[TicketTotals]
) -> dict[str, Any]:
    """The per-store, per-day summary: sales, returns, tax by code and tenders by type.

    Figures are summed per currency (a store trades in one, but nothing is mixed if not).
    """
    per: dict[str, dict[str, Any]] = {}
    numbers: list[str] = []
    for t in tickets:
        numbers.append(t.ticket_number)
        cur = per.setdefault(
            t.currency,
            {
                "sales": ZERO_MONEY,
                "returns": ZERO_MONEY,
                "discounts": ZERO_MONEY,
                "tax": {},
                "tenders": {},
                "ticket_count": 0,
            },
        )
        cur["sales"] += t.sales
        cur["returns"] += t.returns
        cur["discounts"] += t.discounts
        cur["ticket_count"] += 1
        for code, amount in t.tax.items():
            _add(cur["tax"], code, amount)
        for kind, amount in t.tenders.items():
            _add(cur["tenders"], kind, amount)
    totals = [
        {
            "currency": currency,
            "ticket_count": v["ticket_count"],
            "sales": money(v["sales"]),
            "returns": money(v["returns"]),
            "net_sales": money(v["sales"] - v["returns"]),
            "discounts": money(v["discounts"]),
            "tax": {k: money(a) for k, a in sorted(v["tax"].items())},
            "tax_total": money(sum(v["tax"].values(), ZERO_MONEY)),
            "tenders": {k: money(a) for k, a in sorted(v["tenders"].items())},
            "tenders_total": money(sum(v["tenders"].values(), ZERO_MONEY)),
        }
        for currency, v in sorted(per.items())
    ]
    number = settlement_number(store, business_date, seq)
    return {
        "type": "settlement",
        "document_number": number,
        "store": store,
        "business_date": business_date.isoformat(),
        "sequence": seq,
        "ticket_count": len(numbers),
        "tickets": sorted(numbers),
        "totals": totals,
        "correlation_id": number,
    }


def parse_clock_time(text: str) -> time:
    """ "HH:MM" -> a time of day; raises ValueError naming the problem."""
    hours, sep, minutes = text.partition(":")
    if not sep or not (hours.isdigit() and minutes.isdigit()) or len(minutes) != 2:
        raise ValueError(f"{text!r} is not a time of day as HH:MM")
    return time(int(hours), int(minutes))


def day_closed(business_date: date, settle_after: time, timezone: str, now: datetime) -> bool:
    """Whether the store's business day is over: `settle_after` on that day, store time."""
    closes = datetime.combine(business_date, settle_after, tzinfo=ZoneInfo(timezone))
    return now >= closes
