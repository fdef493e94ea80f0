"""Customer returns and their grading: parsed at the edge, decided in the ingest transaction.

The rules are pure (`domain/returns.py`); this module parses what the API receives and
decides each command inside the group commit, next to tickets and orders, so that a
return, its ledger events and its ERP credit posting commit together (DocumentDesk).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import AwareDatetime, Field, model_validator

from ..domain.errors import Reason
from ..domain.returns import (
    PENDING,
    GradeLine,
    Grading,
    InspectionRule,
    Refusal,
    Return,
    ReturnLine,
    ReturnState,
    credit_number,
    grade,
    receive,
    state_from_json,
    state_to_json,
)
from ..domain.returns import Decision as ReturnDecision
from .documents import (
    DocStatus,
    DocumentDesk,
    DocumentResult,
    Malformed,
    _Id,
    _In,
    fingerprint,
    kept,
    not_found,
    unique_lines,
    validate_body,
)

KIND = "return"


@dataclass(frozen=True, slots=True)
class ReturnPolicy:
    """The inspection rules ([returns] rules): condition x category -> outcome."""

    rules: tuple[InspectionRule, ...] = field(default_factory=tuple)


class ReturnLineIn(_In):
    line: int | None = Field(None, ge=1)
    sku: str = _Id
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    condition: str = Field(
        min_length=1, max_length=200, description=f"sellable, damaged..., or {PENDING}"
    )


class ReturnIn(_In):
    return_id: str = _Id
    source: str = _Id
    location: str = _Id
    returned_at: AwareDatetime
    refund_reference: str | None = Field(None, min_length=1, max_length=200)
    original_reference: str | None = Field(
        None, min_length=1, max_length=200, description="The ticket or order sold."
    )
    lines: list[ReturnLineIn] = Field(min_length=1, max_length=1000)

    check_lines = model_validator(mode="after")(unique_lines)

    def document(self) -> Return:
        return Return(
            self.return_id,
            self.source,
            self.location,
            self.returned_at,
            tuple(
                ReturnLine(x.line or i + 1, x.sku, x.quantity, x.condition)
                for i, x in enumerate(self.lines)
            ),
            self.refund_reference,
            self.original_reference,
        )


class GradeLineIn(_In):
    line: int = Field(ge=1)
    quantity: Decimal = Field(gt=0, max_digits=18, decimal_places=6)
    condition: str = Field(min_length=1, max_length=200)


class GradeIn(_In):
    grade_id: str = _Id
    graded_at: AwareDatetime | None = None
    lines: list[GradeLineIn] = Field(min_length=1, max_length=1000)


@dataclass(frozen=True, slots=True)
class ReturnCommand:
    return_id: str
    received: Any
    payload_hash: str
    ret: Return


@dataclass(frozen=True, slots=True)
class GradeCommand:
    return_id: str
    received: Any
    fingerprint: str
    grading: Grading


RETURN_COMMANDS = (ReturnCommand, GradeCommand)


def parse_return(raw: Any) -> ReturnCommand | Malformed:
    parsed = validate_body(ReturnIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    return ReturnCommand(parsed.return_id, raw, fingerprint(raw), parsed.document())


def parse_grade(return_id: str, raw: Any, now: datetime) -> GradeCommand | Malformed:
    parsed = validate_body(GradeIn, raw)
    if isinstance(parsed, Malformed):
        return parsed
    lines = tuple(GradeLine(x.line, x.quantity, x.condition) for x in parsed.lines)
    grading = Grading(parsed.grade_id, lines, parsed.graded_at or now)
    return GradeCommand(return_id, raw, fingerprint(raw), grading)


def parse_kept(kind: str, document_id: str, body: Any, now: datetime) -> Any:
    """A return command kept in an exception's payload, for a replay (None: not ours)."""
    if kind == KIND:
        return parse_return(body)
    if kind == "grade":
        return parse_grade(document_id, body, now)
    return None


class ReturnDesk:
    """Decides returns and gradings inside one ingest transaction."""

    handles = RETURN_COMMANDS

    def __init__(self, policy: ReturnPolicy) -> None:
        self.policy = policy
        self._states: dict[str, tuple[str, ReturnState]] = {}

    def load(self, desk: DocumentDesk, commands: Sequence[Any]) -> None:
        ids = [c.return_id for c in commands]
        stored = desk.tx.load_document_states(KIND, ids)
        self._states = {k: (h, state_from_json(s)) for k, (h, s) in stored.items()}

    def decide(self, desk: DocumentDesk, command: Any) -> DocumentResult:
        if isinstance(command, ReturnCommand):
            return self._receive(desk, command)
        assert isinstance(command, GradeCommand)
        return self._grade(desk, command)

    def _store(
        self, desk: DocumentDesk, payload_hash: str, decision: ReturnDecision, received: Any
    ) -> None:
        ret = decision.state.ret
        self._states[ret.return_id] = (payload_hash, decision.state)
        desk.store_state(
            KIND,
            ret.return_id,
            payload_hash,
            state_to_json(decision.state),
            received,
            decision.events,
            [(d.document_number, d.payload) for d in decision.documents],
        )

    def _receive(self, desk: DocumentDesk, c: ReturnCommand) -> DocumentResult:
        ret = c.ret
        ref: dict[str, str | None] = {"return_id": c.return_id}
        number = credit_number(ret.source, ret.return_id)

        refuse = desk.refuser(
            KIND,
            ref,
            kept(KIND, c.return_id, c.received),
            ret.source,
            f"return:{c.return_id}",
            c.payload_hash,
        )

        prior = self._states.get(c.return_id)
        if prior is not None:
            if prior[0] == c.payload_hash:
                return DocumentResult(KIND, ref, DocStatus.DUPLICATE, document_number=number)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"return {c.return_id} was already received with a different content",
                "return_id",
            )
        location = desk.master.location_for(ret.source, ret.location)
        if location is None:
            return refuse(
                Reason.UNKNOWN_LOCATION,
                f"no location or cross reference for {ret.location!r}",
                "location",
            )
        skus = desk.line_skus(ret.source, [x.sku for x in ret.lines], ret.location, refuse)
        if isinstance(skus, DocumentResult):
            return skus
        lines = [
            replace(line, sku=sku, category=desk.master.items[sku].category)
            for line, sku in zip(ret.lines, skus, strict=True)
        ]
        decision = receive(replace(ret, location=location, lines=tuple(lines)), self.policy.rules)
        bad = desk.check_events(decision.events)
        if bad is not None:
            _, reason, why = bad
            return refuse(reason or Reason.INVALID_RETURN, why, "lines")
        self._store(desk, c.payload_hash, decision, c.received)
        desk.plan.accepted_refs.append((ret.source, f"return:{c.return_id}"))
        return DocumentResult(KIND, ref, DocStatus.ACCEPTED, document_number=number)

    def _grade(self, desk: DocumentDesk, c: GradeCommand) -> DocumentResult:
        gid = c.grading.grade_id
        ref: dict[str, str | None] = {"return_id": c.return_id, "grade_id": gid}
        prior = self._states.get(c.return_id)
        if prior is None:
            return not_found("grade", ref, f"no return {c.return_id!r}", "return_id")
        payload_hash, state = prior
        source = state.ret.source

        refuse = desk.refuser(
            "grade",
            ref,
            kept("grade", c.return_id, c.received),
            source,
            f"return:{c.return_id}:grade:{gid}",
            c.fingerprint,
        )

        if gid in state.grades:
            if state.grades[gid] == c.fingerprint:
                return DocumentResult("grade", ref, DocStatus.DUPLICATE)
            return refuse(
                Reason.CONFLICTING_DUPLICATE,
                f"grade {gid} of return {c.return_id} was already applied with a different content",
                "grade_id",
            )
        outcome = grade(state, c.grading, self.policy.rules, c.fingerprint)
        if isinstance(outcome, Refusal):
            return refuse(outcome.reason, outcome.detail, outcome.field)
        self._store(desk, payload_hash, outcome, None)
        desk.plan.accepted_refs.append((source, f"return:{c.return_id}:grade:{gid}"))
        number = outcome.documents[0].document_number if outcome.documents else None
        return DocumentResult("grade", ref, DocStatus.ACCEPTED, document_number=number)
