"""The X12 envelope: delimiters from the ISA, round trips, and each error with its codes."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from stockbridge.connectors.edi.ack import acknowledgment
from stockbridge.connectors.edi.validate import check
from stockbridge.connectors.edi.x12 import (
    Delimiters,
    GroupOut,
    NotX12,
    Party,
    SetOut,
    structure,
    tokenize,
    write,
)

AT = datetime(2026, 3, 2, 14, 5, tzinfo=UTC)


def isa(control: str = "000000101", e: str = "*", c: str = ">", sender: str = "ACME3PL") -> str:
    parts = [
        "ISA", "00", " " * 10, "00", " " * 10, "ZZ", sender.ljust(15), "ZZ",
        "STOCKBRIDGE".ljust(15), "260302", "1405", "U", "00401", control, "0", "P", c,
    ]  # fmt: skip
    return e.join(parts)


SHIPPED = [
    "W06*F*O1*20260302*SH1",
    "LX*1",
    "W12*CC*5*5*0*EA**SK*TEE-M",
    "W03*5",
]


def file(
    body: list[str] | None = None,
    *,
    set_id: str = "945",
    fid: str = "SW",
    se: str | None = None,
    ge: str = "GE*1*7",
    iea: str = "IEA*1*000000101",
    version: str = "004010",
) -> str:
    body = SHIPPED if body is None else body
    count = se or str(len(body) + 2)
    lines = [
        isa(),
        f"GS*{fid}*ACME3PL*STOCKBRIDGE*20260302*1405*7*X*{version}",
        f"ST*{set_id}*0001",
        *body,
        f"SE*{count}*0001",
        ge,
        iea,
    ]
    return "~\n".join(lines) + "~\n"


def errors(text: str) -> list[str]:
    return check(text).errors()


# --- reading ------------------------------------------------------------------------------
def test_delimiters_come_from_the_isa_not_from_habit() -> None:
    # Given an interchange with ~ between elements and } between segments, a BOM and CRLF
    text = "}\r\n".join(
        [
            isa(e="~"),
            "GS~SW~ACME3PL~STOCKBRIDGE~20260302~1405~7~X~004010",
            "ST~945~0001",
            *[s.replace("*", "~") for s in SHIPPED],
            "SE~6~0001",
            "GE~1~7",
            "IEA~1~000000101",
        ]
    )
    delims, segments = tokenize(b"\xef\xbb\xbf" + text.encode())
    # Then the separators are read from it and every segment comes out whole
    assert delims == Delimiters("~", ">", "}")
    assert [s.id for s in segments][:4] == ["ISA", "GS", "ST", "W06"]
    assert segments[5].elements == ("CC", "5", "5", "0", "EA", "", "SK", "TEE-M")
    assert check(text.encode()).ok


def test_a_missing_terminator_after_the_last_segment_is_tolerated() -> None:
    assert check(file().rstrip("~\n")).ok


def test_an_isa_that_is_not_fixed_width_names_the_element() -> None:
    short = file().replace("ZZ*ACME3PL        *", "ZZ*ACME3PL*", 1)
    with pytest.raises(NotX12) as caught:
        tokenize(short)
    assert caught.value.element == 6
    (message,) = errors(short)
    assert "ISA06 is not 15 characters wide" in message and "[TA1 022]" in message


def test_a_file_that_is_not_x12_is_refused_at_once() -> None:
    (message,) = errors("Tk9OIEVESSBGSUxF")
    assert "does not start with an ISA segment" in message


def test_the_writer_round_trips_with_counts_and_control_numbers() -> None:
    # Given two sets written with unusual delimiters
    delims = Delimiters("|", "^", "!")
    body = [
        ["W06", "F", "O1", "20260302", "SH1"],
        ["LX", "1"],
        ["W12", "CC", "5", "5", "0", "EA", "", "SK", "T"],
    ]
    body += [["W03", "5"]]
    text = write(
        Party("ZZ", "STOCKBRIDGE"),
        Party("ZZ", "ACME3PL"),
        42,
        [GroupOut("SW", 9, [SetOut("945", 1, body), SetOut("945", 2, body)])],
        "004010",
        AT,
        delims,
    )
    # Then the ISA is 106 characters and the file checks clean, with every count right
    assert len(text.splitlines()[0]) == 106
    report = check(text)
    assert report.ok, report.errors()
    (ic,) = structure(*reversed(tokenize(text)))
    assert ic.control == "000000042" and ic.iea is not None and ic.iea.get(1) == "1"
    (group,) = ic.groups
    assert group.ge is not None and group.ge.elements == ("2", "9")
    assert [s.se.elements for s in group.sets if s.se] == [("6", "0001"), ("6", "0002")]
    assert group.sets[0].segments[3].elements == ("CC", "5", "5", "0", "EA", "", "SK", "T")


def test_values_holding_a_delimiter_are_written_safely() -> None:
    body = [["W06", "F", "O*1~2", "20260302"], ["W12", "CC"], ["W03", "1"]]
    text = write(
        Party("ZZ", "A"), Party("ZZ", "B"), 1, [GroupOut("SW", 1, [SetOut("945", 1, body)])],
        "005010", AT,
    )  # fmt: skip
    assert "W06*F*O 1 2*20260302~" in text
    assert text.startswith("ISA*00*") and "*00501*" in text


# --- errors, with the codes a 997 reports -------------------------------------------------
@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "W12**5*5*0*EA**SK*TEE-M",
            "segment 4 (W12), segment 6 of the file: W1201 (element "
            "368) mandatory data element missing [AK403=1] [AK304=8]",
        ),
        ("W12*CC*5*5*0*E**SK*TEE-M", "W1205 (element 355) data element too short: 'E' [AK403=4]"),
        (
            "W12*CC*5*5*0*EACH**SK*TEE-M",
            "W1205 (element 355) data element too long: 'EACH' [AK403=5]",
        ),
        (
            "W12*CC*five*5*0*EA**SK*TEE-M",
            "W1202 (element 380) invalid character in data element: 'five' [AK403=6]",
        ),
        (
            "W12*CC*5*5*0*EA**SK",
            "W1208 (element 234) conditional required data element missing [AK403=2]",
        ),
        ("W12*CC*5*5*0*EA**SK*T" + "*" * 14 + "*X", "W1223 too many data elements: 'X' [AK403=3]"),
    ],
)
def test_element_errors_carry_their_ak4_codes(line: str, expected: str) -> None:
    body = [SHIPPED[0], SHIPPED[1], line, SHIPPED[3]]
    found = errors(file(body))
    assert any(expected in x for x in found), found
    assert all("[AK304=8]" in x for x in found)


def test_dates_and_times_are_checked() -> None:
    body = ["W06*F*O1*20260230*SH1", "G62*11*20260302*8*2561", "W12*CC*5", "W03*5"]
    found = errors(file(body))
    assert any("W0603 (element 373) invalid date: '20260230' [AK403=8]" in x for x in found)
    assert any("G6204 (element 337) invalid time: '2561' [AK403=9]" in x for x in found)


def test_an_exclusion_is_reported() -> None:
    body = ["BIA*00*SI*R1*20260302", "LIN**SK*TEE-M", "QTY*33*5**FIVE"]
    found = errors(file(body, set_id="846", fid="IB"))
    assert any("QTY04 (element 61) exclusion condition violated" in x for x in found), found
    assert any("[AK403=10]" in x for x in found)


def test_segment_errors_carry_their_ak3_codes() -> None:
    body = ["W06*F*O1*20260302*SH1", "ZZZ*1", "W05*N*1", "W03*5"]
    found = errors(file(body))
    assert any("segment 3 (ZZZ), segment 5 of the file: unrecognized segment ID [AK304=1]"
               in x for x in found), found  # fmt: skip
    assert any("segment 4 (W05)" in x and "not in defined transaction set [AK304=6]" in x
               for x in found)  # fmt: skip
    # (the W12 detail sits in the LX loop, which is missing before W03)
    assert any("segment 5 (LX): mandatory segment missing [AK304=3]" in x for x in found), found


def test_set_group_and_interchange_envelope_errors() -> None:
    assert any("[AK502=4]" in x for x in errors(file(se="9")))
    assert any("[AK502=1]" in x for x in errors(file(set_id="850", fid="PO")))
    assert any("[AK905=5]" in x for x in errors(file(ge="GE*2*7")))
    assert any("[AK905=4]" in x for x in errors(file(ge="GE*1*8")))
    assert any("[AK905=2]" in x for x in errors(file(version="003040")))
    assert any("IEA02 '000000102' does not match ISA13 '000000101' [TA1 001]" in x
               for x in errors(file(iea="IEA*1*000000102")))  # fmt: skip
    assert any("[TA1 021]" in x for x in errors(file(iea="IEA*3*000000101")))
    mismatch = file().replace("SE*6*0001", "SE*6*0002")
    assert any("control number in header and trailer do not match [AK502=3]" in x
               for x in errors(mismatch))  # fmt: skip
    no_trailer = file().replace("SE*6*0001~\n", "")
    assert any("[AK502=2]" in x for x in errors(no_trailer))


def test_control_numbers_compare_as_numbers() -> None:
    assert check(file(iea="IEA*1*101")).ok


# --- 997 ----------------------------------------------------------------------------------
def test_the_997_reports_each_error_and_rejects_the_group() -> None:
    body = [SHIPPED[0], SHIPPED[1], "W12*CC*5*5*0*E**SK*TEE-M", SHIPPED[3]]
    (ic,) = check(file(body)).interchanges
    (group,) = ic.groups
    assert acknowledgment(group, reject=True) == [
        ["AK1", "SW", "7"],
        ["AK2", "945", "0001"],
        ["AK3", "W12", "4", "", "8"],
        ["AK4", "5", "355", "4", "E"],
        ["AK5", "R", "5"],
        ["AK9", "R", "1", "1", "0"],
    ]


def test_the_997_accepts_a_clean_group() -> None:
    (ic,) = check(file()).interchanges
    assert acknowledgment(ic.groups[0], reject=False) == [
        ["AK1", "SW", "7"],
        ["AK2", "945", "0001"],
        ["AK5", "A"],
        ["AK9", "A", "1", "1", "1"],
    ]
