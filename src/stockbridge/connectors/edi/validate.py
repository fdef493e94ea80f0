"""Checking an interchange as a translator's 997 would report it. Pure code, no I/O.

Every error carries the codes of the acknowledgment that reports it: AK304 (segment) and
AK403 (element) with the segment's position in its transaction set (ST is 1), AK502
(transaction set), AK905 (functional group), and for the interchange envelope itself the
TA1 note codes (a 997 cannot acknowledge an interchange, only its groups).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from .definitions import (
    ELEMENTS,
    FUNCTIONAL_IDS,
    KNOWN_SEGMENTS,
    LOOSE,
    SEGMENTS,
    TRANSACTION_SETS,
    VERSIONS,
    SegmentDef,
)
from .sequence import check_sequence
from .x12 import Group, Interchange, NotX12, Segment, TransactionSet, structure, tokenize

#: AK304 segment syntax error codes.
SEGMENT_CODES = {
    "1": "unrecognized segment ID",
    "2": "unexpected segment",
    "3": "mandatory segment missing",
    "4": "loop occurs over maximum times",
    "5": "segment exceeds maximum use",
    "6": "segment not in defined transaction set",
    "7": "segment not in proper sequence",
    "8": "segment has data element errors",
}
#: AK403 data element syntax error codes.
ELEMENT_CODES = {
    "1": "mandatory data element missing",
    "2": "conditional required data element missing",
    "3": "too many data elements",
    "4": "data element too short",
    "5": "data element too long",
    "6": "invalid character in data element",
    "7": "invalid code value",
    "8": "invalid date",
    "9": "invalid time",
    "10": "exclusion condition violated",
}
#: AK502 transaction set syntax error codes.
SET_CODES = {
    "1": "transaction set not supported",
    "2": "transaction set trailer missing",
    "3": "transaction set control number in header and trailer do not match",
    "4": "number of included segments does not match actual count",
    "5": "one or more segments in error",
    "6": "missing or invalid transaction set identifier",
    "7": "missing or invalid transaction set control number",
}
#: AK905 functional group syntax error codes.
GROUP_CODES = {
    "1": "functional group not supported",
    "2": "functional group version not supported",
    "3": "functional group trailer missing",
    "4": "group control number in the functional group header and trailer do not agree",
    "5": "number of included transaction sets does not match actual count",
    "6": "group control number violates syntax",
}

_SEGMENT_ID = re.compile(r"^[A-Z0-9]{2,3}$")
_INTEGER = re.compile(r"^-?\d+$")
_DECIMAL = re.compile(r"^-?(\d+\.?\d*|\.\d+)$")


@dataclass(frozen=True, slots=True)
class ElementError:
    #: AK401: the element's position in its segment, from 1.
    position: int
    #: AK402: the data element reference number.
    ref: int | None
    #: AK403.
    code: str
    #: AK404: a copy of the bad element.
    value: str

    def describe(self, segment_id: str) -> str:
        ref = f" (element {self.ref})" if self.ref else ""
        copy = f": {self.value!r}" if self.value else ""
        return (
            f"{segment_id}{self.position:02d}{ref} {ELEMENT_CODES[self.code]}{copy} "
            f"[AK403={self.code}]"
        )


@dataclass(frozen=True, slots=True)
class SegmentError:
    segment_id: str
    #: AK302: position in the transaction set, ST being 1.
    position: int
    #: AK304.
    code: str
    elements: tuple[ElementError, ...] = ()
    #: Position of the segment in the file, from 1 (None for a missing segment).
    index: int | None = None

    def describe(self) -> list[str]:
        where = f"segment {self.position} ({self.segment_id})"
        if self.index is not None:
            where += f", segment {self.index} of the file"
        head = f"{where}: {SEGMENT_CODES[self.code]} [AK304={self.code}]"
        if not self.elements:
            return [head]
        return [
            f"{where}: {e.describe(self.segment_id)} [AK304={self.code}]" for e in self.elements
        ]


@dataclass
class SetReport:
    tset: TransactionSet
    segment_errors: list[SegmentError] = field(default_factory=list)
    #: AK502 codes.
    syntax: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.segment_errors and not self.syntax

    def describe(self) -> list[str]:
        name = f"transaction set {self.tset.set_id or '?'} {self.tset.control or '?'}"
        lines = [f"{name}: {SET_CODES[c]} [AK502={c}]" for c in self.syntax if c != "5"]
        for err in self.segment_errors:
            lines += [f"{name}, {x}" for x in err.describe()]
        return lines


@dataclass
class GroupReport:
    group: Group
    sets: list[SetReport] = field(default_factory=list)
    #: AK905 codes.
    syntax: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.syntax and all(s.ok for s in self.sets)

    def describe(self) -> list[str]:
        name = f"group {self.group.functional_id or '?'} {self.group.control or '?'}"
        lines = [
            f"{name} (segment {self.group.gs.index} of the file): {GROUP_CODES[c]} [AK905={c}]"
            for c in self.syntax
        ]
        for s in self.sets:
            lines += [f"{name}, {x}" for x in s.describe()]
        return lines


@dataclass(frozen=True, slots=True)
class EnvelopeError:
    #: TA1105 interchange note code.
    code: str
    message: str
    index: int | None = None
    segment_id: str | None = None
    element: int | None = None

    def describe(self) -> str:
        where = ""
        if self.index is not None:
            where = f"segment {self.index} of the file ({self.segment_id})"
            if self.element is not None:
                where += f" element {self.segment_id}{self.element:02d}"
            where += ": "
        return f"{where}{self.message} [TA1 {self.code}]"


@dataclass
class InterchangeReport:
    interchange: Interchange
    groups: list[GroupReport] = field(default_factory=list)
    problems: list[EnvelopeError] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems and all(g.ok for g in self.groups)

    def describe(self) -> list[str]:
        name = f"interchange {self.interchange.control.strip() or '?'}"
        lines = [f"{name}: {p.describe()}" for p in self.problems]
        for g in self.groups:
            lines += [f"{name}, {x}" for x in g.describe()]
        return lines


@dataclass
class Report:
    interchanges: list[InterchangeReport] = field(default_factory=list)
    #: Set when the file is not X12 at all; nothing else was read.
    fatal: EnvelopeError | None = None

    @property
    def ok(self) -> bool:
        return (
            self.fatal is None and bool(self.interchanges) and all(i.ok for i in self.interchanges)
        )

    def faults(self) -> list[dict[str, Any]]:
        """Each error as data, for an exception: where (`at`: segment and element, as
        W1205), the segment's positions in its set and in the file, and the codes."""
        if self.fatal is not None:
            return [_envelope_fault(None, self.fatal)]
        out = []
        for i in self.interchanges:
            control = i.interchange.control.strip()
            out += [_envelope_fault(control, p) for p in i.problems]
            for g in i.groups:
                where = {"interchange": control, "group": g.group.control.strip()}
                for c in g.syntax:
                    out.append({**where, "at": "GS", "ak905": c, "message": GROUP_CODES[c]})
                for s in g.sets:
                    out += _set_faults({**where, "set": s.tset.control}, s)
        return out

    def errors(self) -> list[str]:
        if self.fatal is not None:
            return [self.fatal.describe()]
        if not self.interchanges:
            return ["no interchange in the file"]
        return [line for i in self.interchanges for line in i.describe()]


def _envelope_fault(control: str | None, p: EnvelopeError) -> dict[str, Any]:
    at = f"{p.segment_id or 'IEA'}{p.element:02d}" if p.element is not None else p.segment_id
    return {
        "interchange": control,
        "at": at or "ISA",
        "index": p.index,
        "ta1": p.code,
        "message": p.message,
    }


def _set_faults(where: dict[str, Any], report: SetReport) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {**where, "at": "SE" if c in ("2", "3", "4") else "ST", "ak502": c, "message": SET_CODES[c]}
        for c in report.syntax
        if c != "5"
    ]
    for err in report.segment_errors:
        base = {**where, "segment": err.segment_id, "position": err.position, "index": err.index}
        if not err.elements:
            out.append(
                {
                    **base,
                    "at": err.segment_id,
                    "ak304": err.code,
                    "message": SEGMENT_CODES[err.code],
                }
            )
        for e in err.elements:
            out.append(
                {
                    **base,
                    "at": f"{err.segment_id}{e.position:02d}",
                    "element": e.position,
                    "ref": e.ref,
                    "ak304": err.code,
                    "ak403": e.code,
                    "message": ELEMENT_CODES[e.code],
                }
            )
    return out


# --- elements -----------------------------------------------------------------------------
def _valid_date(value: str) -> bool:
    if not value.isdigit() or len(value) not in (6, 8):
        return False
    if len(value) == 6:
        value = "20" + value
    try:
        date(int(value[:4]), int(value[4:6]), int(value[6:8]))
    except ValueError:
        return False
    return True


def _valid_time(value: str) -> bool:
    if not value.isdigit() or len(value) < 4:
        return False
    hh, mm = int(value[:2]), int(value[2:4])
    ss = int(value[4:6]) if len(value) >= 6 else 0
    return hh < 24 and mm < 60 and ss < 60


def check_value(ref: int, value: str) -> str | None:
    """The AK403 code of a present value against its dictionary entry, or None."""
    kind, low, high = ELEMENTS[ref]
    if kind == "C":
        return None
    if kind in ("N0", "N2", "R"):
        pattern = _DECIMAL if kind == "R" else _INTEGER
        if not pattern.match(value):
            return "6"
        size = sum(c.isdigit() for c in value)
    elif kind == "DT":
        if len(value) < low:
            return "4"
        if len(value) > high:
            return "5"
        return None if _valid_date(value) else "8"
    elif kind == "TM":
        if len(value) < low:
            return "4"
        if len(value) > high:
            return "5"
        return None if _valid_time(value) else "9"
    else:
        if any(ord(c) < 32 for c in value):
            return "6"
        size = len(value)
    if size < low:
        return "4"
    if size > high:
        return "5"
    return None


def _ref(ref: int) -> int | None:
    """AK402: composites (numbered from 9000 here) have no element reference."""
    return ref if ref < 9000 else None


def check_elements(seg: Segment, definition: SegmentDef) -> list[ElementError]:
    errors: dict[int, ElementError] = {}
    uses = definition.elements
    for i, use in enumerate(uses, start=1):
        value = seg.get(i)
        if value == "":
            if use.mandatory:
                errors[i] = ElementError(i, _ref(use.ref), "1", "")
            continue
        code = check_value(use.ref, value)
        if code is not None:
            errors[i] = ElementError(i, _ref(use.ref), code, value[:99])
    extra = next((p for p in range(len(uses) + 1, len(seg.elements) + 1) if seg.get(p) != ""), None)
    if extra is not None:
        errors[extra] = ElementError(extra, None, "3", seg.get(extra)[:99])
    for kind, positions in definition.notes:
        present = [p for p in positions if seg.get(p) != ""]
        missing = [p for p in positions if seg.get(p) == ""]
        bad: Sequence[int]
        if kind == "P" and present and missing:
            bad = missing
        elif kind == "R" and not present:
            bad = positions[:1]
        elif kind == "C" and seg.get(positions[0]) != "":
            bad = missing
        elif kind == "L" and seg.get(positions[0]) != "" and len(present) < 2:
            bad = positions[1:2]
        else:
            bad = ()
        for p in bad:
            errors.setdefault(p, ElementError(p, _ref(uses[p - 1].ref), "2", ""))
        if kind == "E" and len(present) > 1:
            for p in present[1:]:
                errors.setdefault(p, ElementError(p, _ref(uses[p - 1].ref), "10", seg.get(p)[:99]))
    return [errors[p] for p in sorted(errors)]


# --- sets, groups, interchanges -----------------------------------------------------------
def _same_number(a: str, b: str) -> bool:
    a, b = a.strip(), b.strip()
    if a.isdigit() and b.isdigit():
        return int(a) == int(b)
    return a == b


def check_set(tset: TransactionSet, functional_id: str) -> SetReport:
    report = SetReport(tset)
    definition = TRANSACTION_SETS.get(tset.set_id)
    control = tset.control
    if not 4 <= len(control) <= 9:
        report.syntax.append("7")
    if tset.se is None:
        report.syntax.append("2")
    else:
        if not _same_number(tset.se.get(2), control):
            report.syntax.append("3")
        if tset.se.get(1).strip() != str(len(tset.segments)):
            report.syntax.append("4")
    if definition is None:
        report.syntax.insert(0, "1")
        return report
    if FUNCTIONAL_IDS.get(functional_id) not in (None, tset.set_id):
        report.syntax.insert(0, "6")
    positions = {id(s): n for n, s in enumerate(tset.segments, start=1)}
    end = len(tset.segments) if tset.se is not None else len(tset.segments) + 1
    foreign: set[int] = set()
    allowed = definition.allowed
    for seg in tset.segments:
        n = positions[id(seg)]
        if seg.id in ("ST", "SE"):
            seg_def = SEGMENTS[seg.id]
        elif not _SEGMENT_ID.match(seg.id) or seg.id not in KNOWN_SEGMENTS:
            report.segment_errors.append(SegmentError(seg.id[:3] or "?", n, "1", (), seg.index))
            foreign.add(id(seg))
            continue
        elif seg.id not in allowed:
            report.segment_errors.append(SegmentError(seg.id, n, "6", (), seg.index))
            foreign.add(id(seg))
            continue
        elif seg.id in LOOSE:
            continue
        else:
            seg_def = SEGMENTS[seg.id]
        bad = check_elements(seg, seg_def)
        if bad and seg.id not in ("ST", "SE"):
            report.segment_errors.append(SegmentError(seg.id, n, "8", tuple(bad), seg.index))
    for f in check_sequence(
        definition, tset.body, lambda x: positions[id(x)], end, lambda x: id(x) in foreign
    ):
        report.segment_errors.append(SegmentError(f.segment_id, f.position, f.code, (), f.index))
    report.segment_errors.sort(key=lambda e: e.position)
    if report.segment_errors:
        report.syntax.append("5")
    return report


def check_group(group: Group, problems: list[EnvelopeError]) -> GroupReport:
    report = GroupReport(group)
    gs = group.gs
    for err in check_elements(gs, SEGMENTS["GS"]):
        if err.position not in (1, 6, 8):
            problems.append(
                EnvelopeError(
                    "024",
                    f"invalid GS: {err.describe('GS')}",
                    gs.index,
                    "GS",
                    err.position,
                )
            )
    if group.functional_id not in FUNCTIONAL_IDS:
        report.syntax.append("1")
    if group.version not in VERSIONS:
        report.syntax.append("2")
    if not group.control.isdigit() or len(group.control) > 9:
        report.syntax.append("6")
    if group.ge is None:
        report.syntax.append("3")
    else:
        if not _same_number(group.ge.get(2), group.control):
            report.syntax.append("4")
        if group.ge.get(1).strip() != str(len(group.sets)):
            report.syntax.append("5")
    for seg in group.stray:
        problems.append(
            EnvelopeError("024", "segment outside any transaction set (ST/SE)", seg.index, seg.id)
        )
    report.sets = [check_set(s, group.functional_id) for s in group.sets]
    return report


_ISA_CODES = {9: ("014", "invalid interchange date"), 10: ("015", "invalid interchange time")}


def check_interchange(ic: Interchange) -> InterchangeReport:
    report = InterchangeReport(ic)
    isa = ic.isa
    problems = report.problems
    if not _valid_date(isa.get(9)):
        problems.append(EnvelopeError("014", "invalid interchange date", isa.index, "ISA", 9))
    if not _valid_time(isa.get(10)):
        problems.append(EnvelopeError("015", "invalid interchange time", isa.index, "ISA", 10))
    if not isa.get(12).isdigit():
        problems.append(EnvelopeError("017", "invalid interchange version", isa.index, "ISA", 12))
    if not isa.get(13).isdigit():
        problems.append(
            EnvelopeError("018", "invalid interchange control number", isa.index, "ISA", 13)
        )
    if isa.get(14) not in ("0", "1"):
        problems.append(
            EnvelopeError("019", "invalid acknowledgment requested", isa.index, "ISA", 14)
        )
    if isa.get(15) not in ("P", "T"):
        problems.append(EnvelopeError("020", "invalid test indicator", isa.index, "ISA", 15))
    for seg in ic.stray:
        problems.append(
            EnvelopeError("024", "segment outside any functional group (GS/GE)", seg.index, seg.id)
        )
    report.groups = [check_group(g, problems) for g in ic.groups]
    if ic.iea is None:
        problems.append(EnvelopeError("023", "interchange trailer (IEA) missing"))
    else:
        if not _same_number(ic.iea.get(2), isa.get(13)):
            problems.append(
                EnvelopeError(
                    "001",
                    f"IEA02 {ic.iea.get(2)!r} does not match ISA13 {isa.get(13)!r}",
                    ic.iea.index,
                    "IEA",
                    2,
                )
            )
        if ic.iea.get(1).strip() != str(len(ic.groups)):
            problems.append(
                EnvelopeError(
                    "021",
                    f"IEA01 says {ic.iea.get(1)!r} groups, the interchange holds {len(ic.groups)}",
                    ic.iea.index,
                    "IEA",
                    1,
                )
            )
    return report


def check(data: bytes | str) -> Report:
    """Read and check every interchange of a file."""
    try:
        delims, segs = tokenize(data)
    except NotX12 as e:
        return Report(fatal=EnvelopeError("022", str(e), 1, "ISA", e.element))
    return Report([check_interchange(ic) for ic in structure(segs, delims)])
