"""997 functional acknowledgments of inbound groups, built from the checks' findings.

Pure code. A group is acknowledged set by set (AK2, then AK3/AK4 for each segment in
error, then AK5) and as a whole (AK9). The hub applies an interchange whole or not at
all: when `reject` is set (the file is refused for an error anywhere in it), every set is
answered R, those without an error of their own with no AK502 code.
"""

from __future__ import annotations

from .validate import GroupReport


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
