"""997 functional acknowledgments of inbound groups, built from the checks' findings.

Pure code. A group is acknowledged set by set (AK2, then AK3/AK4 for each segment in
error, then AK5) and as a whole (AK9). The hub applies an interchange whole or not at
all: when `reject` is set (the file is refused for an error anywhere in it), every set is
answered R, those without an error of their own with no AK502 code.
"""

from __future__ import annotations

from .validate import GroupReport, InterchangeReport

#: ISA14 asking the receiver for a TA1.
TA1_REQUESTED = "1"


def wants_ta1(report: InterchangeReport) -> bool:
    """A TA1 answers an interchange whose sender asked for one (ISA14 = 1), and one whose
    envelope is in error whatever it asked: a 997 cannot report the envelope. An
    interchange that carries only TA1s is never answered (acknowledgments are not
    acknowledged)."""
    ic = report.interchange
    if ic.notes and not ic.groups:
        return False
    return ic.isa.get(14) == TA1_REQUESTED or bool(report.problems)


def interchange_ack(report: InterchangeReport) -> list[str]:
    """The TA1 segment answering an interchange: its ISA13, ISA09 and ISA10 echoed, A
    accepted or R rejected, and the note code of the first envelope error (000: none)."""
    isa = report.interchange.isa
    code = "R" if report.problems else "A"
    note = report.problems[0].code if report.problems else "000"
    return ["TA1", isa.get(13), isa.get(9), isa.get(10), code, note]


def acknowledgment(report: GroupReport, reject: bool) -> list[list[str]]:
    """The body of the 997 (AK1 to AK9) answering one group."""
    group = report.group
    body: list[list[str]] = [["AK1", group.functional_id, group.control.strip()]]
    accepted = 0
    for s in report.sets:
        body.append(["AK2", s.tset.set_id, s.tset.control])
        for err in s.segment_errors:
            body.append(["AK3", err.segment_id, str(err.position), "", err.code])
            for e in err.elements:
                body.append(["AK4", str(e.position), str(e.ref or ""), e.code, e.value])
        ok = s.ok and not reject and not report.syntax
        accepted += ok
        body.append(["AK5", "A" if ok else "R", *s.syntax[:5]])
    received = len(report.sets)
    included = report.group.ge.get(1).strip() if report.group.ge is not None else ""
    if accepted == received and received and not report.syntax:
        code = "A"
    elif accepted:
        code = "P"
    else:
        code = "R"
    body.append(
        [
            "AK9",
            code,
            included if included.isdigit() else str(received),
            str(received),
            str(accepted),
            *report.syntax[:5],
        ]
    )
    return body
