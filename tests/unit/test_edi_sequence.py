"""Segment order, loops, maximum use and mandatory segments, as a 997 reports them."""

from __future__ import annotations

import pytest

from stockbridge.connectors.edi.ack import acknowledgment
from stockbridge.connectors.edi.validate import check

from .test_edi_x12 import file


def findings(body: list[str], set_id: str = "945", fid: str = "SW") -> list[tuple[str, int, str]]:
    """(segment id, position in the set, AK304) of every segment error."""
    (ic,) = check(file(body, set_id=set_id, fid=fid)).interchanges
    (group,) = ic.groups
    (tset,) = group.sets
    return [(e.segment_id, e.position, e.code) for e in tset.segment_errors]


@pytest.mark.parametrize(
    ("set_id", "fid", "body"),
    [
        ("945", "SW", ["W06*F*O1*20260302*SH1", "N1*WH*DC*91*DC", "N4*CITY", "G62*11*20260302",
                       "W27*M*UPSN", "LX*1", "W12*CC*5*5*0*EA**SK*T", "N9*LT*L1",
                       "LX*2", "W12*CC*1*1*0*EA**SK*U", "W03*6"]),
        ("846", "IB", ["BIA*00*SI*R1*20260302", "DTM*007*20260302", "LIN**SK*T", "PID*F****Tee",
                       "QTY*33*5", "QTY*17*6", "LIN**SK*U", "QTY*33*1", "CTT*2"]),
        ("944", "RE", ["W17*F*20260302*RC1*PO9", "LX*1", "W07*4*EA**VN*T", "W14*4"]),
        ("947", "AW", ["W15*20260302*ADJ7", "W19*AU*-2*EA**VN*T", "W19*AA*3*EA**VN*U"]),
        ("947", "AW", ["W15*20260302*ADJ7", "LX*1", "W19*AU*-2*EA**VN*T"]),
        ("940", "OW", ["W05*N*O1*web", "N1*WH*DC*91*DC", "G62*04*20260302", "LX*1",
                       "W01*5*EA**SK*T", "W76*5"]),
        ("997", "FA", ["AK1*OW*7", "AK2*940*0001", "AK3*W01*5**8", "AK4*2*355*4*E",
                       "AK5*R*5", "AK9*R*1*1*0"]),
    ],
)  # fmt: skip
def test_sets_in_their_order_pass(set_id: str, fid: str, body: list[str]) -> None:
    assert findings(body, set_id, fid) == []


def test_a_segment_after_its_place_is_out_of_sequence() -> None:
    # Given a reference (N9) after the W03 totals that close the set
    late = ["W06*F*O1*20260302*SH1", "LX*1", "W12*CC*5*5*0*EA**SK*T", "W03*5", "N9*LT*L1"]
    # Then it is not in proper sequence, at its position in the set
    assert findings(late) == [("N9", 6, "7")]
    # And a header date after the line detail is out of sequence too
    body = ["W06*F*O1*20260302*SH1", "LX*1", "W12*CC*5*5*0*EA**SK*T", "NTE*WHI*X", "W03*5"]
    assert findings(body) == [("NTE", 5, "7")]


def test_a_detail_segment_outside_its_loop_is_unexpected_and_the_loop_missing() -> None:
    # Given a W12 without the LX that opens its loop
    found = findings(["W06*F*O1*20260302*SH1", "W12*CC*5*5*0*EA**SK*T", "W03*5"])
    # Then the W12 is unexpected and the mandatory LX loop is missing before W03
    assert found == [("W12", 3, "2"), ("LX", 4, "3")]


def test_mandatory_segments_and_loops_missing() -> None:
    # An 846 with no LIN loop, a 944 without its W14 totals, a 943 loop without W04
    assert findings(["BIA*00*SI*R1*20260302", "CTT*0"], "846", "IB") == [("LIN", 3, "3")]
    assert findings(["W17*F*20260302*RC1*PO9", "LX*1", "W07*4*EA**VN*T"], "944", "RE") == [
        ("W14", 5, "3")
    ]
    body = ["W06*F*T1*20260302*S1", "W27*M**HUB", "LX*1", "W03*1"]
    assert findings(body, "943", "AR") == [("W04", 5, "3")]
    # and a set that does not begin with its beginning segment
    assert ("W06", 2, "3") in findings(["LX*1", "W12*CC*1*1*0*EA**SK*T", "W03*1"])


def test_maximum_use_and_loop_repeats() -> None:
    # W06 may be used once; the N1 loop at most 10 times
    twice = ["W06*F*O1*20260302*SH1", "W06*F*O1*20260302*SH1", "LX*1",
             "W12*CC*5*5*0*EA**SK*T", "W03*5"]  # fmt: skip
    assert findings(twice) == [("W06", 3, "5")]
    parties = [f"N1*SF*P{n}*91*P{n}" for n in range(11)]
    body = ["W06*F*O1*20260302*SH1", *parties, "LX*1", "W12*CC*5*5*0*EA**SK*T", "W03*5"]
    assert findings(body) == [("N1", 13, "4")]


def test_the_997_carries_the_sequence_errors() -> None:
    body = ["W06*F*O1*20260302*SH1", "LX*1", "W12*CC*5*5*0*EA**SK*T", "W03*5", "N9*LT*L1"]
    (ic,) = check(file(body)).interchanges
    ack = acknowledgment(ic.groups[0], reject=True)
    assert ["AK3", "N9", "6", "", "7"] in ack
    assert ["AK5", "R", "5"] in ack
    assert "segment not in proper sequence [AK304=7]" in "\n".join(check(file(body)).errors())
