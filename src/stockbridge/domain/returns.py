"""Customer returns with inspection rules: receipt, grading, and what each does to stock.

Pure code. A return is received with a condition per line (or `pending_inspection`).
Inspection rules map condition x item category to an outcome: back to sellable stock,
non-sellable (damaged, vendor return...) or written off. Pending units are non-sellable
until graded; grading may be partial (2 of 5 now, 3 later) and never grades more than is
pending. Each step returns the ledger events it causes and the ERP documents it posts.

Ledger semantics used (domain/ledger.py): a `return` raises on hand and, with a condition
other than `sellable`, non-sellable too; a `status_change` to `sellable` lowers
non-sellable; a negative `adjustment` lowers on hand. A write-off is therefore an
adjustment out plus a status change back, so both on hand and non-sellable drop.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from .errors import Reason
from .errors import Refusal as Refusal  # one type for every workflow, kept importable here
from .model import SELLABLE

ZERO = Decimal(0)
PENDING = "pending_inspection"
#: A rule's condition that matches any condition.
ANY = "*"


class Disposition(StrEnum):
    SELLABLE = "sellable"
    NON_SELLABLE = "non_sellable"
    WRITE_OFF = "write_off"


@dataclass(frozen=True, slots=True)
class InspectionRule:
    """Units in `condition` (of `category`, or any category) go to `outcome`."""

    condition: str
    outcome: Disposition
    category: str | None = None
    #: Why non-sellable units are kept aside: damaged, vendor_return...
    reason: str | None = None

    def specificity(self, condition: str, category: str | None) -> int | None:
        """How closely the rule fits (higher is closer); None when it does not apply."""
        if self.condition not in (condition, ANY):
            return None
        if self.category is not None and self.category != category:
            return None
        return (2 if self.condition == condition else 0) + (1 if self.category else 0)


@dataclass(frozen=True, slots=True)
class Verdict:
    outcome: Disposition
    reason: str | None


def inspect(rules: Sequence[InspectionRule], condition: str, category: str | None) -> Verdict:
    """The outcome for units in `condition`: the most specific rule wins, then the first.

    Without a matching rule (the default rule): `sellable` goes back to sellable stock,
    anything else is kept non-sellable with the condition as its reason.
    """
    best: tuple[int, int] | None = None
    chosen: InspectionRule | None = None
    for i, rule in enumerate(rules):
        score = rule.specificity(condition, category)
        if score is not None and (best is None or (score, -i) > best):
            best, chosen = (score, -i), rule
    if chosen is not None:
        reason = chosen.reason
        if chosen.outcome is not Disposition.SELLABLE and reason is None:
            reason = condition
        return Verdict(
            chosen.outcome, reason if chosen.outcome is not Disposition.SELLABLE else None
        )
    if condition == SELLABLE:
        return Verdict(Disposition.SELLABLE, None)
    return Verdict(Disposition.NON_SELLABLE, condition)


# --- the return document ------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class ReturnLine:
    line: int
    sku: str
    quantity: Decimal
    #: The condition found at the counter, or `pending_inspection`.
    condition: str
    category: str | None = None


@dataclass(frozen=True, slots=True)
class Return:
    return_id: str
    source: str
    location: str
    returned_at: datetime
    lines: tuple[ReturnLine, ...]
    #: The refund's reference (payment or credit note), kept for reconciliation.
    refund_reference: str | None = None
    #: The original sale: a ticket number or an order reference.
    original_reference: str | None = None


@dataclass(frozen=True, slots=True)
class GradeLine:
    line: int
    quantity: Decimal
    condition: str


@dataclass(frozen=True, slots=True)
class Grading:
    grade_id: str
    lines: tuple[GradeLine, ...]
    graded_at: datetime


@dataclass(frozen=True, slots=True)
class LineState:
    line: int
    sku: str
    category: str | None
    quantity: Decimal
    condition: str
    pending: Decimal = ZERO
    sellable: Decimal = ZERO
    non_sellable: Decimal = ZERO
    written_off: Decimal = ZERO
    #: Why units are non-sellable (the reason of the last rule that kept them aside).
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ReturnState:
    ret: Return
    lines: tuple[LineState, ...]
    #: Grade ids already applied -> the fingerprint of their content.
    grades: Mapping[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "pending_inspection" if any(x.pending > 0 for x in self.lines) else "completed"

    def line(self, number: int) -> LineState | None:
        return next((x for x in self.lines if x.line == number), None)


@dataclass(frozen=True, slots=True)
class ErpDocument:
    kind: str  # return (credit), write_off
    document_number: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Decision:
    state: ReturnState
    events: list[dict[str, Any]]
    documents: list[ErpDocument]


def credit_number(source: str, return_id: str) -> str:
    return f"return:{source}:{return_id}"


def write_off_number(source: str, return_id: str, grade_id: str | None = None) -> str:
    base = f"write_off:{source}:{return_id}"
    return base if grade_id is None else f"{base}:{grade_id}"


# --- events -------------------------------------------------------------------------------
def _event(
    ret: Return, line: LineState, step: str, type_: str, qty: Decimal, at: datetime, **extra: Any
) -> dict[str, Any]:
    number = credit_number(ret.source, ret.return_id)
    return {
        "event_id": f"return:{ret.return_id}:{line.line}:{step}",
        "source": ret.source,
        "type": type_,
        "sku": line.sku,
        "location": ret.location,
        "quantity": format(qty, "f"),
        "occurred_at": at.isoformat(),
        "reference": number,
        "correlation_id": number,
        **{k: v for k, v in extra.items() if v is not None},
    }


def _settle(
    ret: Return, line: LineState, step: str, qty: Decimal, verdict: Verdict, at: datetime
) -> tuple[LineState, list[dict[str, Any]]]:
    """Move `qty` non-sellable units of a line to their outcome (from pending or receipt)."""
    if verdict.outcome is Disposition.SELLABLE:
        event = _event(ret, line, step, "status_change", qty, at, condition=SELLABLE)
        return replace(line, sellable=line.sellable + qty), [event]
    if verdict.outcome is Disposition.WRITE_OFF:
        reason = verdict.reason or "write_off"
        events = [
            _event(ret, line, f"{step}:out", "adjustment", -qty, at, reason=reason),
            _event(ret, line, f"{step}:clear", "status_change", qty, at, condition=SELLABLE),
        ]
        return replace(line, written_off=line.written_off + qty, reason=verdict.reason), events
    return replace(line, non_sellable=line.non_sellable + qty, reason=verdict.reason), []


def _line_json(line: LineState, qty: Decimal, outcome: str, reason: str | None) -> dict[str, Any]:
    return {
        "line": line.line,
        "sku": line.sku,
        "quantity": format(qty, "f"),
        "condition": line.condition,
        "outcome": outcome,
        "reason": reason,
    }


def _write_off_document(
    state: ReturnState, number: str, lines: list[dict[str, Any]], at: datetime
) -> ErpDocument:
    ret = state.ret
    return ErpDocument(
        "write_off",
        number,
        {
            "type": "write_off",
            "document_number": number,
            "return_number": credit_number(ret.source, ret.return_id),
            "return_id": ret.return_id,
            "location": ret.location,
            "written_off_at": at.isoformat(),
            "lines": lines,
            "correlation_id": credit_number(ret.source, ret.return_id),
        },
    )


# --- decisions ----------------------------------------------------------------------------
def receive(ret: Return, rules: Sequence[InspectionRule]) -> Decision:
    """A return arrives: units back on hand, aside unless sellable, and a credit posted."""
    lines: list[LineState] = []
    events: list[dict[str, Any]] = []
    credit: list[dict[str, Any]] = []
    written: list[dict[str, Any]] = []
    at = ret.returned_at
    for x in ret.lines:
        line = LineState(x.line, x.sku, x.category, x.quantity, x.condition)
        if x.condition == PENDING:
            events.append(_event(ret, line, "receive", "return", x.quantity, at, condition=PENDING))
            lines.append(replace(line, pending=x.quantity))
            credit.append(_line_json(line, x.quantity, PENDING, None))
            continue
        verdict = inspect(rules, x.condition, x.category)
        condition = SELLABLE if verdict.outcome is Disposition.SELLABLE else x.condition
        events.append(_event(ret, line, "receive", "return", x.quantity, at, condition=condition))
        if verdict.outcome is Disposition.SELLABLE:
            settled = replace(line, sellable=x.quantity)
        else:
            settled, more = _settle(ret, line, "receive", x.quantity, verdict, at)
            events.extend(more)
        lines.append(settled)
        credit.append(_line_json(line, x.quantity, verdict.outcome.value, verdict.reason))
        if verdict.outcome is Disposition.WRITE_OFF:
            written.append(_line_json(line, x.quantity, verdict.outcome.value, verdict.reason))
    state = ReturnState(ret, tuple(lines))
    number = credit_number(ret.source, ret.return_id)
    documents = [
        ErpDocument(
            "return",
            number,
            {
                "type": "return",
                "document_number": number,
                "source": ret.source,
                "return_id": ret.return_id,
                "location": ret.location,
                "returned_at": at.isoformat(),
                "refund_reference": ret.refund_reference,
                "original_reference": ret.original_reference,
                "lines": credit,
                "correlation_id": number,
            },
        )
    ]
    if written:
        documents.append(
            _write_off_document(state, write_off_number(ret.source, ret.return_id), written, at)
        )
    return Decision(state, events, documents)


def grade(
    state: ReturnState, grading: Grading, rules: Sequence[InspectionRule], fingerprint: str = ""
) -> Decision | Refusal:
    """Grade pending units of some lines: never more than a line has pending."""
    if not grading.lines:
        return Refusal(Reason.INVALID_RETURN, "lines", "a grading needs at least one line")
    asked: dict[int, Decimal] = {}
    for i, g in enumerate(grading.lines):
        line = state.line(g.line)
        where = f"lines[{i}]"
        if line is None:
            return Refusal(
                Reason.INVALID_RETURN, f"{where}.line", f"the return has no line {g.line}"
            )
        if g.quantity <= 0:
            return Refusal(Reason.INVALID_RETURN, f"{where}.quantity", "must be positive")
        if g.condition == PENDING:
            return Refusal(Reason.INVALID_RETURN, f"{where}.condition", "grade to a condition")
        asked[g.line] = asked.get(g.line, ZERO) + g.quantity
        if asked[g.line] > line.pending:
            return Refusal(
                Reason.OVER_GRADING,
                f"{where}.quantity",
                f"cannot grade {asked[g.line]} of line {g.line}: {line.pending} pending "
                f"inspection of {line.quantity} returned",
            )
    ret = state.ret
    lines = {x.line: x for x in state.lines}
    events: list[dict[str, Any]] = []
    graded: list[dict[str, Any]] = []
    written: list[dict[str, Any]] = []
    for i, g in enumerate(grading.lines):
        line = lines[g.line]
        verdict = inspect(rules, g.condition, line.category)
        step = f"grade:{grading.grade_id}:{i}"
        settled, more = _settle(ret, line, step, g.quantity, verdict, grading.graded_at)
        lines[g.line] = replace(settled, pending=line.pending - g.quantity)
        events.extend(more)
        shown = replace(line, condition=g.condition)
        graded.append(_line_json(shown, g.quantity, verdict.outcome.value, verdict.reason))
        if verdict.outcome is Disposition.WRITE_OFF:
            written.append(graded[-1])
    new = ReturnState(
        ret,
        tuple(lines[x.line] for x in state.lines),
        {**state.grades, grading.grade_id: fingerprint},
    )
    documents = []
    if written:
        number = write_off_number(ret.source, ret.return_id, grading.grade_id)
        documents.append(_write_off_document(new, number, written, grading.graded_at))
    return Decision(new, events, documents)


# --- storage form -------------------------------------------------------------------------
def state_to_json(state: ReturnState) -> dict[str, Any]:
    r = state.ret
    return {
        "return_id": r.return_id,
        "source": r.source,
        "location": r.location,
        "returned_at": r.returned_at.isoformat(),
        "refund_reference": r.refund_reference,
        "original_reference": r.original_reference,
        "status": state.status,
        "lines": [
            {
                "line": x.line,
                "sku": x.sku,
                "category": x.category,
                "quantity": str(x.quantity),
                "condition": x.condition,
                "pending": str(x.pending),
                "sellable": str(x.sellable),
                "non_sellable": str(x.non_sellable),
                "written_off": str(x.written_off),
                "reason": x.reason,
            }
            for x in state.lines
        ],
        "grades": dict(state.grades),
    }


def state_from_json(data: Mapping[str, Any]) -> ReturnState:
    lines = tuple(
        LineState(
            x["line"],
            x["sku"],
            x["category"],
            Decimal(x["quantity"]),
            x["condition"],
            Decimal(x["pending"]),
            Decimal(x["sellable"]),
            Decimal(x["non_sellable"]),
            Decimal(x["written_off"]),
            x["reason"],
        )
        for x in data["lines"]
    )
    ret = Return(
        data["return_id"],
        data["source"],
        data["location"],
        datetime.fromisoformat(data["returned_at"]),
        tuple(ReturnLine(x.line, x.sku, x.quantity, x.condition, x.category) for x in lines),
        data["refund_reference"],
        data["original_reference"],
    )
    return ReturnState(ret, lines, dict(data["grades"]))
