"""The X12 dictionary the hub checks its documents against (versions 004010 and 005010).

Pure data. Elements are known by their dictionary reference number with a type and a
length range; segments list their elements with a requirement (M mandatory, O optional,
X relational: governed by the segment's syntax notes) and carry the syntax notes in the
standard's notation (`P0405`: paired, `R0304`: at least one, `C0605`: if the first then
the others, `E0204`: only one). Transaction sets name the segments they may hold, the
ones they must hold, and their beginning segment.

Segments listed as *loose* are accepted where a set allows them, without element checks:
the hub does not read them, and partners fill them as their guides say.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Data element reference -> (type, minimum length, maximum length). Types: ID (code),
#: AN (string), DT (date), TM (time), R (decimal), N0/N2 (implied-decimal numbers),
#: C (a composite, taken as written).
ELEMENTS: dict[int, tuple[str, int, int]] = {
    2: ("N0", 1, 6),
    19: ("AN", 2, 30),
    22: ("AN", 1, 30),
    23: ("ID", 1, 1),
    26: ("ID", 2, 3),
    28: ("N0", 1, 9),
    31: ("AN", 1, 30),
    40: ("ID", 2, 2),
    59: ("AN", 2, 5),
    61: ("AN", 1, 30),
    66: ("ID", 1, 2),
    67: ("AN", 2, 80),
    75: ("AN", 1, 22),
    80: ("N0", 1, 7),
    81: ("R", 1, 10),
    91: ("ID", 1, 2),
    92: ("ID", 2, 2),
    93: ("AN", 1, 60),
    96: ("N0", 1, 10),
    97: ("N0", 1, 6),
    98: ("ID", 2, 3),
    116: ("ID", 3, 15),
    121: ("ID", 1, 3),
    123: ("N0", 1, 6),
    124: ("AN", 2, 15),
    127: ("AN", 1, 30),
    128: ("ID", 2, 3),
    140: ("AN", 2, 4),
    142: ("AN", 2, 15),
    143: ("ID", 3, 3),
    145: ("AN", 1, 30),
    146: ("ID", 2, 2),
    152: ("ID", 2, 3),
    156: ("ID", 2, 2),
    166: ("AN", 1, 55),
    176: ("ID", 1, 2),
    183: ("R", 1, 8),
    187: ("ID", 1, 2),
    188: ("ID", 1, 1),
    206: ("AN", 1, 4),
    207: ("AN", 1, 10),
    225: ("AN", 2, 15),
    234: ("AN", 1, 48),
    235: ("ID", 2, 2),
    285: ("AN", 1, 22),
    286: ("ID", 2, 2),
    306: ("ID", 1, 2),
    309: ("ID", 1, 2),
    310: ("AN", 1, 30),
    324: ("AN", 1, 22),
    329: ("AN", 4, 9),
    337: ("TM", 4, 8),
    349: ("ID", 1, 1),
    350: ("AN", 1, 20),
    352: ("AN", 1, 80),
    353: ("ID", 2, 2),
    354: ("N0", 1, 6),
    355: ("ID", 2, 2),
    356: ("R", 1, 6),
    357: ("R", 1, 8),
    363: ("ID", 3, 3),
    368: ("ID", 2, 2),
    369: ("AN", 1, 45),
    373: ("DT", 8, 8),
    374: ("ID", 3, 3),
    380: ("R", 1, 15),
    382: ("R", 1, 10),
    383: ("R", 1, 9),
    387: ("AN", 1, 35),
    394: ("AN", 1, 12),
    395: ("R", 1, 8),
    397: ("AN", 1, 10),
    398: ("R", 1, 10),
    399: ("ID", 1, 1),
    400: ("ID", 2, 2),
    407: ("ID", 2, 2),
    416: ("N0", 6, 6),
    432: ("ID", 2, 2),
    433: ("ID", 2, 2),
    434: ("AN", 1, 30),
    438: ("AN", 12, 12),
    451: ("AN", 1, 12),
    455: ("ID", 1, 2),
    472: ("AN", 6, 6),
    473: ("ID", 1, 1),
    474: ("AN", 1, 22),
    479: ("ID", 2, 2),
    480: ("AN", 1, 12),
    514: ("ID", 1, 1),
    531: ("AN", 1, 12),
    554: ("N0", 1, 6),
    559: ("ID", 2, 2),
    560: ("ID", 2, 10),
    610: ("N2", 1, 15),
    623: ("ID", 2, 2),
    625: ("ID", 1, 1),
    640: ("ID", 2, 2),
    673: ("ID", 2, 2),
    706: ("ID", 2, 2),
    715: ("ID", 1, 1),
    716: ("ID", 1, 3),
    717: ("ID", 1, 1),
    718: ("ID", 1, 3),
    719: ("N0", 1, 10),
    720: ("ID", 1, 3),
    721: ("ID", 2, 3),
    723: ("ID", 1, 3),
    724: ("AN", 1, 99),
    725: ("N0", 1, 4),
    750: ("ID", 2, 3),
    751: ("AN", 1, 12),
    752: ("ID", 2, 2),
    755: ("ID", 2, 2),
    819: ("ID", 2, 3),
    822: ("AN", 1, 15),
    844: ("ID", 2, 2),
    874: ("ID", 2, 2),
    891: ("ID", 2, 2),
    892: ("ID", 2, 2),
    893: ("ID", 1, 1),
    1073: ("ID", 1, 1),
    1250: ("ID", 2, 3),
    1251: ("AN", 1, 35),
    447: ("AN", 1, 4),
    # Composites (C001 unit of measure, C030 position in segment, C040 reference
    # identifier): accepted as written, their components are not checked.
    9001: ("C", 0, 0),
    9030: ("C", 0, 0),
    9040: ("C", 0, 0),
}


@dataclass(frozen=True, slots=True)
class ElementUse:
    ref: int
    requirement: str  # M, O or X

    @property
    def mandatory(self) -> bool:
        return self.requirement == "M"


@dataclass(frozen=True, slots=True)
class SegmentDef:
    id: str
    elements: tuple[ElementUse, ...]
    #: Syntax notes: (kind, element positions), e.g. ("P", (4, 5)).
    notes: tuple[tuple[str, tuple[int, ...]], ...]


def _segment(segment_id: str, elements: str, notes: str = "") -> SegmentDef:
    uses = tuple(ElementUse(int(spec[:-1]), spec[-1]) for spec in elements.split())
    parsed = tuple(
        (n[0], tuple(int(n[i : i + 2]) for i in range(1, len(n), 2))) for n in notes.split()
    )
    return SegmentDef(segment_id, uses, parsed)


_SEGMENTS = [
    # envelope headers and trailers inside a group
    _segment("GS", "479M 142M 124M 373M 337M 28M 455M 480M"),
    _segment("GE", "97M 28M"),
    _segment("ST", "143M 329M"),
    _segment("SE", "96M 329M"),
    # common
    _segment("N1", "98M 93X 66X 67X 706O 98O", "P0304 R0203"),
    _segment("N2", "93M 93O"),
    _segment("N3", "166M 166O"),
    _segment("N4", "19O 156O 116O 26O 309X 310O", "C0605"),
    _segment("N9", "128M 127X 369X 373O 337O 623X 9040O", "R0203 C0605"),
    _segment("G62", "432X 373X 176X 337X 623O", "P0102 P0304"),
    _segment("G69", "369M"),
    _segment("NTE", "363O 352M"),
    _segment("LX", "554M"),
    _segment("DTM", "374M 373X 337X 623O 1250X 1251X", "R020305 C0403 P0506"),
    _segment("REF", "128M 127X 352X 9040O", "R0203"),
    _segment("W20", "356M 357X 355X 81X 187X 188X 395O 183X 355X 397O", "P0203 P040506 P0809"),
    _segment("W27", "91M 140X 387X 146O 40O 206O 207O 368O 152O", "R0203"),
    _segment("W03", "382M 81X 355X 183X 355X 80X 355X", "P0203 P0405 P0607"),
    # 846
    _segment("BIA", "353M 755M 127M 373M 337O 306O"),
    _segment(
        "LIN",
        "350O 235M 234M" + " 235X 234X" * 14,
        " ".join(f"P{n:02d}{n + 1:02d}" for n in range(4, 31, 2)),
    ),
    _segment("PID", "349M 750O 559X 751X 352X 752O 822O 1073O 819O", "C0403 R0405"),
    _segment("QTY", "673M 380X 9001O 61X", "R0204 E0204"),
    _segment("CTT", "354M 347O 81X 355X 183X 355X 352O", "P0304 P0506"),
    # 940
    _segment("W05", "473M 285M 324O 472X 474X 640O 306O 92O", "P0405"),
    _segment("W66", "146M 91M 399O 400O 387O 433O 434O 625X 610X 140O", "P0809"),
    _segment(
        "W01",
        "380M 355M 438X 235X 234X 235X 234X 59O 121O 23X 22X 416O 451O 286O 235X 234X 560O",
        "R0304 P0405 P0607 P1011 P1516",
    ),
    _segment("W76", "380M 81X 355X 183X 355X 398O", "P0203 P0405 C0603"),
    # 943 and 945
    _segment("W06", "514M 285M 373M 145O 531O 324O 474X 472X 152O 891O 640O 306O", "P0708"),
    _segment(
        "W04",
        "382M 355M 438X 235X 234X 235X 234X 59O 121O 23X 22X 416O 844O 235X 234X",
        "R0304 P0405 P0607 P1011 P1415",
    ),
    _segment(
        "W12",
        "368M 380O 382O 383O 355O 438X 235X 234X 451O 81X 187X 188X 81X 187X 188X 438O "
        "235X 234X 892O 893O 235X 234X",
        "R0607 P0708 P101112 P131415 P1718 P2122",
    ),
    # 944
    _segment("W17", "514M 373M 394M 285M 145O 176X 337X 474X 472X", "P0607 P0809"),
    _segment("W08", "91M 140X 387O 206X 207X 225O 225O 407O 400O", "R0204 P0405"),
    _segment(
        "W07",
        "380M 355M 438X 235X 234X 235X 234X 451O 893O 235X 234X",
        "R0304 P0405 P0607 P1011",
    ),
    _segment("W14", "380M 380O 380O 380O 380O"),
    # 947
    _segment("W15", "373M 31M 75O"),
    _segment(
        "W19",
        "874M 380M 355M 438X 235X 234X 235X 234X 451O 81X 187X 188X 183X 355X 81X 640O 235X 234X",
        "R0405 P0506 P0708 P1718",
    ),
    # 997
    _segment("AK1", "479M 28M"),
    _segment("AK2", "143M 329M"),
    _segment("AK3", "721M 719M 447O 720O"),
    _segment("AK4", "9030M 725O 723M 724O"),
    _segment("AK5", "717M 718O 718O 718O 718O 718O"),
    _segment("AK9", "715M 97M 123M 2M 716O 716O 716O 716O 716O"),
]
SEGMENTS: dict[str, SegmentDef] = {s.id: s for s in _SEGMENTS}

#: Segments a set may carry that the hub does not read: accepted without element checks.
LOOSE = frozenset(
    {"CUR", "PER", "MEA", "CTP", "UIT", "SCH", "PO4", "SLN", "W28", "W10", "W09", "W13", "AMT"}
)


@dataclass(frozen=True, slots=True)
class Pos:
    """A place in a transaction set's table: a segment, or a loop begun by `id`.

    `max` is the segment's maximum use, or for a loop its maximum repetitions; `loop`
    holds the loop's segments after its first one (empty for a plain segment).
    """

    id: str
    max: int = 1
    required: bool = False
    loop: tuple[Pos, ...] = ()

    @property
    def is_loop(self) -> bool:
        return bool(self.loop)


def seg(segment_id: str, max_use: int = 1, required: bool = False) -> Pos:
    return Pos(segment_id, max_use, required)


def loop(first: str, repeat: int, *rest: Pos, required: bool = False) -> Pos:
    return Pos(first, repeat, required, rest)


def _party(repeat: int = 10) -> Pos:
    """The N1 (name) loop of the warehouse documents."""
    return loop("N1", repeat, seg("N2", 2), seg("N3", 2), seg("N4"), seg("PER", 3))


@dataclass(frozen=True, slots=True)
class SetDef:
    id: str
    functional_id: str
    name: str
    #: The set's table (004010, the same in 005010 for what the hub reads): its segments
    #: and loops in the order they must come, with maximum use and what is mandatory.
    table: tuple[Pos, ...]

    @property
    def beginning(self) -> str:
        return self.table[0].id

    @property
    def allowed(self) -> frozenset[str]:
        """Every segment the set may hold between ST and SE."""
        out: set[str] = set()
        stack = list(self.table)
        while stack:
            pos = stack.pop()
            out.add(pos.id)
            stack += pos.loop
        return frozenset(out)


_MANY = 9_999
_LINE_DETAIL = (seg("G69", 5), seg("N9", 200), seg("W20"))

TRANSACTION_SETS: dict[str, SetDef] = {
    s.id: s
    for s in (
        SetDef(
            "846",
            "IB",
            "Inventory Inquiry/Advice",
            (
                seg("BIA", required=True),
                seg("CUR"),
                seg("REF", 12),
                seg("PER", 3),
                seg("MEA", 10),
                seg("DTM", 10),
                _party(200),
                loop(
                    "LIN",
                    10_000,
                    seg("SLN", 1000),
                    seg("PID", 200),
                    seg("PO4", 10),
                    seg("MEA", 40),
                    seg("CTP", 25),
                    seg("DTM", 10),
                    seg("REF", 12),
                    loop("QTY", _MANY, seg("UIT"), seg("DTM"), seg("SCH", 25)),
                    required=True,
                ),
                seg("CTT"),
            ),
        ),
        SetDef(
            "940",
            "OW",
            "Warehouse Shipping Order",
            (
                seg("W05", required=True),
                _party(),
                seg("N9", 10),
                seg("G62", 10),
                seg("NTE", 10),
                seg("W66"),
                loop("LX", _MANY, loop("W01", 1, *_LINE_DETAIL, required=True)),
                seg("W76"),
            ),
        ),
        SetDef(
            "943",
            "AR",
            "Warehouse Stock Transfer Shipment Advice",
            (
                seg("W06", required=True),
                _party(),
                seg("N9", 10),
                seg("G62", 5),
                seg("NTE", 20),
                seg("W27", required=True),
                seg("W28"),
                seg("W10", 10),
                loop("LX", _MANY, loop("W04", _MANY, *_LINE_DETAIL, required=True), required=True),
                seg("W03", required=True),
            ),
        ),
        SetDef(
            "944",
            "RE",
            "Warehouse Stock Transfer Receipt Advice",
            (
                seg("W17", required=True),
                _party(),
                seg("N9", 10),
                seg("G62", 5),
                seg("NTE", 20),
                seg("W08"),
                loop(
                    "LX",
                    _MANY,
                    loop("W07", _MANY, *_LINE_DETAIL),
                    loop("W13", _MANY, seg("G69", 5), seg("N9", 200)),
                    required=True,
                ),
                seg("W14", required=True),
            ),
        ),
        SetDef(
            "945",
            "SW",
            "Warehouse Shipping Advice",
            (
                seg("W06", required=True),
                _party(),
                seg("N9", 10),
                seg("G62", 5),
                seg("NTE", 20),
                seg("W27"),
                seg("W28"),
                seg("W10", 10),
                loop(
                    "LX",
                    _MANY,
                    seg("N9", 5),
                    loop(
                        "W12",
                        _MANY,
                        seg("G69", 5),
                        seg("N9", 200),
                        seg("G62", 10),
                        seg("MEA", 5),
                        seg("AMT"),
                        seg("W27"),
                        seg("W20"),
                        seg("N1", 5),
                        required=True,
                    ),
                    required=True,
                ),
                seg("W03", required=True),
            ),
        ),
        SetDef(
            "947",
            "AW",
            "Warehouse Inventory Adjustment Advice",
            (
                seg("W15", required=True),
                _party(),
                seg("N9", 10),
                seg("G62", 10),
                seg("NTE", 100),
                # Partners send the W19 detail inside LX loops or without them.
                loop("LX", _MANY, loop("W19", _MANY, seg("G69", 5), seg("N9", 10), required=True)),
                loop("W19", _MANY, seg("G69", 5), seg("N9", 10)),
            ),
        ),
        SetDef(
            "997",
            "FA",
            "Functional Acknowledgment",
            (
                seg("AK1", required=True),
                loop(
                    "AK2", 999_999, loop("AK3", 999_999, seg("AK4", 99)), seg("AK5", required=True)
                ),
                seg("AK9", required=True),
            ),
        ),
    )
}

#: Functional identifier (GS01) -> the transaction set its groups carry.
FUNCTIONAL_IDS = {s.functional_id: s.id for s in TRANSACTION_SETS.values()}

VERSIONS = ("004010", "005010")

#: Every segment id the hub knows, for "unrecognized" (AK304 1) against "not in set" (6).
KNOWN_SEGMENTS = frozenset(SEGMENTS) | LOOSE | {"ISA", "IEA", "TA1"}
