"""X12 interchanges: reading segments with the delimiters the ISA declares, and writing them.

Pure code. The ISA segment is fixed width (106 characters with its terminator): the
element separator is its 4th character, the component separator is ISA16 and the
segment terminator is the character right after it. Nothing is hard-coded: a partner
may use `~` between elements and `}` between segments. A byte order mark, line breaks
between segments and a missing terminator after the last segment are tolerated.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

#: Width of each ISA element, ISA01 to ISA16.
ISA_WIDTHS = (2, 10, 2, 10, 2, 15, 2, 15, 6, 4, 1, 5, 9, 1, 1, 1)
ISA_LENGTH = 106


class NotX12(ValueError):
    """The text is not an X12 interchange (no ISA, or an ISA that is not 106 characters)."""

    def __init__(self, message: str, element: int | None = None) -> None:
        super().__init__(message)
        self.element = element


@dataclass(frozen=True, slots=True)
class Delimiters:
    element: str = "*"
    component: str = ">"
    segment: str = "~"
    #: ISA11 from version 00403 on; None when ISA11 is the literal "U".
    repetition: str | None = None

    def chars(self) -> set[str]:
        return {c for c in (self.element, self.component, self.segment, self.repetition) if c}


@dataclass(frozen=True, slots=True)
class Segment:
    id: str
    #: elements[0] is element 01.
    elements: tuple[str, ...]
    #: Position of the segment in the file, from 1.
    index: int

    def get(self, position: int) -> str:
        """Element `position` (from 1), or "" when absent."""
        return self.elements[position - 1] if 0 < position <= len(self.elements) else ""


def decode(data: bytes | str) -> str:
    if isinstance(data, str):
        return data.removeprefix("\ufeff")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def delimiters(text: str) -> Delimiters:
    """The delimiters an interchange declares in its ISA; NotX12 when there is none."""
    if not text.startswith("ISA"):
        raise NotX12("not an X12 interchange: the file does not start with an ISA segment")
    if len(text) < ISA_LENGTH - 1:
        raise NotX12(f"the ISA segment is cut short: {len(text)} characters, 106 expected")
    sep = text[3]
    if sep.isalnum() or sep.isspace():
        raise NotX12(f"the ISA element separator {sep!r} is a letter, digit or space")
    position = 3
    for number, width in enumerate(ISA_WIDTHS, start=1):
        if text[position] != sep:
            raise NotX12(
                f"ISA{number - 1:02d} is not {ISA_WIDTHS[number - 2]} characters wide: "
                "the ISA is fixed width (106 characters)",
                element=number - 1,
            )
        value = text[position + 1 : position + 1 + width]
        if sep in value:
            raise NotX12(
                f"ISA{number:02d} is not {width} characters wide: the ISA is fixed width "
                "(106 characters)",
                element=number,
            )
        position += 1 + width
    component = text[104]
    terminator = text[105] if len(text) > 105 else ""
    if not terminator:
        raise NotX12("the file ends inside the ISA segment: no segment terminator")
    if terminator.isalnum() or terminator == sep or terminator == " ":
        raise NotX12(f"the character after ISA16 ({terminator!r}) cannot be a segment terminator")
    isa11 = text[82]
    repetition = None if isa11 == "U" or isa11.isalnum() else isa11
    return Delimiters(sep, component, terminator, repetition)


def segments(text: str, delims: Delimiters) -> list[Segment]:
    """Every segment of the text, empty ones (blank lines) skipped."""
    out: list[Segment] = []
    for raw in text.split(delims.segment):
        body = raw.strip("\r\n")
        if not body.strip():
            continue
        parts = body.split(delims.element)
        out.append(Segment(parts[0].strip(), tuple(parts[1:]), len(out) + 1))
    return out


def tokenize(data: bytes | str) -> tuple[Delimiters, list[Segment]]:
    text = decode(data).lstrip("\r\n\t ")
    delims = delimiters(text)
    return delims, segments(text, delims)


# --- structure ----------------------------------------------------------------------------
@dataclass
class TransactionSet:
    st: Segment
    #: ST, the body and SE (when present), in order.
    segments: list[Segment] = field(default_factory=list)
    se: Segment | None = None

    @property
    def set_id(self) -> str:
        return self.st.get(1)

    @property
    def control(self) -> str:
        return self.st.get(2)

    @property
    def body(self) -> list[Segment]:
        return [s for s in self.segments if s.id not in ("ST", "SE")]


@dataclass
class Group:
    gs: Segment
    sets: list[TransactionSet] = field(default_factory=list)
    ge: Segment | None = None
    #: Segments between GS and GE outside any ST/SE.
    stray: list[Segment] = field(default_factory=list)

    @property
    def functional_id(self) -> str:
        return self.gs.get(1)

    @property
    def control(self) -> str:
        return self.gs.get(6)

    @property
    def version(self) -> str:
        return self.gs.get(8)


@dataclass
class Interchange:
    isa: Segment
    delimiters: Delimiters
    groups: list[Group] = field(default_factory=list)
    iea: Segment | None = None
    stray: list[Segment] = field(default_factory=list)
    #: TA1 interchange acknowledgments, between the ISA and the first GS.
    notes: list[Segment] = field(default_factory=list)

    @property
    def control(self) -> str:
        return self.isa.get(13)

    @property
    def sender(self) -> tuple[str, str]:
        return self.isa.get(5), self.isa.get(6).strip()

    @property
    def receiver(self) -> tuple[str, str]:
        return self.isa.get(7), self.isa.get(8).strip()


def structure(segs: Sequence[Segment], delims: Delimiters) -> list[Interchange]:
    """Nest segments into interchanges, groups and sets; misplaced segments are kept as
    stray for the validator to report."""
    interchanges: list[Interchange] = []
    ic: Interchange | None = None
    group: Group | None = None
    tset: TransactionSet | None = None
    for seg in segs:
        if seg.id == "ISA":
            ic = Interchange(seg, delims)
            interchanges.append(ic)
            group, tset = None, None
        elif ic is None:
            continue
        elif seg.id == "TA1" and not ic.groups:
            ic.notes.append(seg)
        elif seg.id == "IEA":
            ic.iea = seg
            group, tset = None, None
        elif seg.id == "GS":
            group = Group(seg)
            ic.groups.append(group)
            tset = None
        elif seg.id == "GE" and group is not None:
            group.ge = seg
            group, tset = None, None
        elif seg.id == "ST" and group is not None:
            tset = TransactionSet(seg, [seg])
            group.sets.append(tset)
        elif tset is not None:
            tset.segments.append(seg)
            if seg.id == "SE":
                tset.se = seg
                tset = None
        elif group is not None:
            group.stray.append(seg)
        else:
            ic.stray.append(seg)
    return interchanges


# --- writing ------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Party:
    qualifier: str
    id: str


@dataclass(frozen=True, slots=True)
class SetOut:
    set_id: str
    control: int
    #: The segments between ST and SE: [segment id, element 01, element 02, ...].
    body: Sequence[Sequence[str]]


@dataclass(frozen=True, slots=True)
class GroupOut:
    functional_id: str
    control: int
    sets: Sequence[SetOut]


def clean(value: str, delims: Delimiters) -> str:
    """A value safe to write: delimiter characters become spaces."""
    for ch in delims.chars() | {"\r", "\n"}:
        value = value.replace(ch, " ")
    return value


def _line(parts: Sequence[str], delims: Delimiters) -> str:
    values = [clean(p, delims) for p in parts]
    while len(values) > 1 and values[-1] == "":
        values.pop()  # trailing empty elements are not written
    return delims.element.join(values) + delims.segment


def write(
    sender: Party,
    receiver: Party,
    control: int,
    groups: Sequence[GroupOut],
    version: str,
    at: datetime,
    delims: Delimiters = Delimiters(),
    test: bool = False,
    newline: bool = True,
    notes: Sequence[Sequence[str]] = (),
) -> str:
    """One interchange with its groups and sets, counts and control numbers filled in;
    `notes` are interchange acknowledgments (TA1) written before the groups."""
    end = "\n" if newline else ""
    isa12 = "00501" if version.startswith("005") else "00401"
    isa11 = delims.repetition if delims.repetition and isa12 >= "00403" else "U"
    isa = [
        "ISA",
        "00",
        " " * 10,
        "00",
        " " * 10,
        sender.qualifier.ljust(2)[:2],
        sender.id.ljust(15)[:15],
        receiver.qualifier.ljust(2)[:2],
        receiver.id.ljust(15)[:15],
        at.strftime("%y%m%d"),
        at.strftime("%H%M"),
        isa11,
        isa12,
        f"{control:09d}",
        "0",
        "T" if test else "P",
        delims.component,
    ]
    lines = [delims.element.join(isa) + delims.segment]
    lines += [_line(list(note), delims) for note in notes]
    for g in groups:
        lines.append(
            _line(
                [
                    "GS",
                    g.functional_id,
                    sender.id,
                    receiver.id,
                    at.strftime("%Y%m%d"),
                    at.strftime("%H%M"),
                    str(g.control),
                    "X",
                    version,
                ],
                delims,
            )
        )
        for s in g.sets:
            control_number = f"{s.control:04d}"
            body = [_line(["ST", s.set_id, control_number], delims)]
            body += [_line(list(seg), delims) for seg in s.body]
            body.append(_line(["SE", str(len(body) + 1), control_number], delims))
            lines += body
        lines.append(_line(["GE", str(len(g.sets)), str(g.control)], delims))
    lines.append(_line(["IEA", str(len(groups)), f"{control:09d}"], delims))
    return end.join(lines) + end
