"""The warehouse documents the hub reads (846, 944, 945, 947, 997) and writes (940, 943).

Pure code: a checked transaction set in, plain values out; hub payloads in, segments out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from .x12 import Segment, TransactionSet

#: Product/Service ID qualifiers read as item codes, after the partner's own.
ITEM_QUALIFIERS = ("SK", "VN", "BP", "IN", "UP", "UK", "EN", "PI")

#: 947 W19-01 reason codes (004010) -> the hub's adjustment reasons.
ADJUSTMENT_REASONS = {
    "01": "damaged",
    "04": "receipt_short",
    "07": "destroyed",
    "51": "found",
    "52": "recoup",
    "53": "shipment_short",
    "55": "book_adjustment",
    "56": "book_adjustment",
    "AA": "cycle_count",
    "AB": "accounting_error",
    "AC": "condition_change",
    "AH": "other",
    "AU": "damaged",
    "AV": "damaged_in_transit",
    "AW": "recall",
    "AX": "shelf_life",
    "BM": "replacement",
    "CO": "consignment",
}


def number(value: str) -> Decimal | None:
    try:
        return Decimal(value) if value else None
    except InvalidOperation:
        return None


def _items(seg: Segment, pairs: Sequence[int], upc: int | None = None) -> dict[str, str]:
    """Qualifier -> item id from a segment's qualifier/id pairs (and its UPC case code)."""
    out: dict[str, str] = {}
    for q in pairs:
        qualifier, value = seg.get(q), seg.get(q + 1)
        if qualifier and value:
            out.setdefault(qualifier, value)
    if upc is not None and seg.get(upc):
        out.setdefault("UPC", seg.get(upc))
    return out


@dataclass(frozen=True, slots=True)
class Line:
    #: LX01 of the line's loop (the hub writes its own line numbers there), if any.
    number: int | None
    items: dict[str, str]
    quantity: Decimal
    extra: dict[str, str] = field(default_factory=dict)


def _loops(tset: TransactionSet, detail: str) -> list[tuple[int | None, Segment]]:
    """Each `detail` segment with the LX number of the loop it sits in."""
    current: int | None = None
    out: list[tuple[int | None, Segment]] = []
    for seg in tset.body:
        if seg.id == "LX":
            current = int(seg.get(1)) if seg.get(1).isdigit() else None
        elif seg.id == detail:
            out.append((current, seg))
    return out


def _dates(tset: TransactionSet) -> dict[str, tuple[str, str]]:
    return {s.get(1): (s.get(2), s.get(4)) for s in tset.body if s.id == "G62" and s.get(1)}


@dataclass(frozen=True, slots=True)
class ShippingAdvice:
    """945: what the warehouse shipped for a depositor order."""

    depositor_order: str
    shipment_id: str
    ship_date: str
    ship_time: str
    po_number: str
    lines: list[Line]
    total_units: Decimal | None


def read_945(tset: TransactionSet) -> ShippingAdvice:
    w06 = next(s for s in tset.body if s.id == "W06")
    lines = []
    for lx, w12 in _loops(tset, "W12"):
        shipped = number(w12.get(3))
        if shipped is None:
            shipped = number(w12.get(2)) or Decimal(0)
        lines.append(Line(lx, _items(w12, (7, 17, 21), upc=6), shipped, {"status": w12.get(1)}))
    w03 = next((s for s in tset.body if s.id == "W03"), None)
    date, time = _dates(tset).get("11", (w06.get(3), ""))
    return ShippingAdvice(
        w06.get(2),
        w06.get(4),
        date or w06.get(3),
        time,
        w06.get(6),
        lines,
        number(w03.get(1)) if w03 is not None else None,
    )


@dataclass(frozen=True, slots=True)
class ReceiptAdvice:
    """944: what the warehouse received against a depositor order (or unannounced)."""

    depositor_order: str
    receipt_number: str
    date: str
    lines: list[Line]
    total_units: Decimal | None


def read_944(tset: TransactionSet) -> ReceiptAdvice:
    w17 = next(s for s in tset.body if s.id == "W17")
    lines = [
        Line(lx, _items(w07, (4, 6, 10), upc=3), number(w07.get(1)) or Decimal(0))
        for lx, w07 in _loops(tset, "W07")
    ]
    w14 = next((s for s in tset.body if s.id == "W14"), None)
    return ReceiptAdvice(
        w17.get(4),
        w17.get(3),
        w17.get(2),
        lines,
        number(w14.get(1)) if w14 is not None else None,
    )


@dataclass(frozen=True, slots=True)
class AdjustmentAdvice:
    """947: signed quantity changes with a reason code, per item."""

    date: str
    adjustment_number: str
    lines: list[Line]


def read_947(tset: TransactionSet) -> AdjustmentAdvice:
    w15 = next(s for s in tset.body if s.id == "W15")
    lines = []
    for lx, w19 in _loops(tset, "W19"):
        code = w19.get(1)
        lines.append(
            Line(
                lx,
                _items(w19, (5, 7, 17), upc=4),
                number(w19.get(2)) or Decimal(0),
                {"reason_code": code, "reason": ADJUSTMENT_REASONS.get(code, f"x12:{code}")},
            )
        )
    return AdjustmentAdvice(w15.get(1), w15.get(2), lines)


@dataclass(frozen=True, slots=True)
class InventoryAdvice:
    """846: quantities per item (QTY01 qualifier -> quantity)."""

    reference: str
    date: str
    time: str
    items: list[tuple[dict[str, str], dict[str, Decimal]]]


def read_846(tset: TransactionSet) -> InventoryAdvice:
    bia = next(s for s in tset.body if s.id == "BIA")
    items: list[tuple[dict[str, str], dict[str, Decimal]]] = []
    for seg in tset.body:
        if seg.id == "LIN":
            items.append((_items(seg, tuple(range(2, 31, 2))), {}))
        elif seg.id == "QTY" and items:
            qty = number(seg.get(2))
            if qty is not None:
                items[-1][1].setdefault(seg.get(1), qty)
    return InventoryAdvice(bia.get(3), bia.get(4), bia.get(5), items)


@dataclass(frozen=True, slots=True)
class Acknowledgment:
    """997: the answer to one of the hub's groups."""

    functional_id: str
    group_control: str
    #: AK901: A accepted, E accepted with errors, P partially, R rejected.
    code: str
    #: (ST01, ST02, AK501) per acknowledged set.
    sets: list[tuple[str, str, str]]
    errors: list[str]


def read_997(tset: TransactionSet) -> Acknowledgment:
    ak1 = next(s for s in tset.body if s.id == "AK1")
    ak9 = next((s for s in tset.body if s.id == "AK9"), None)
    sets: list[tuple[str, str, str]] = []
    errors: list[str] = []
    current: tuple[str, str] | None = None
    for seg in tset.body:
        if seg.id == "AK2":
            current = (seg.get(1), seg.get(2))
        elif seg.id == "AK3":
            errors.append(f"segment {seg.get(2)} ({seg.get(1)}): AK304={seg.get(4)}")
        elif seg.id == "AK4":
            errors.append(f"  element {seg.get(1)}: AK403={seg.get(3)} {seg.get(4)!r}")
        elif seg.id == "AK5" and current is not None:
            sets.append((*current, seg.get(1)))
            codes = [c for c in seg.elements[1:] if c]
            if codes:
                errors.append(f"set {current[0]} {current[1]}: AK502={','.join(codes)}")
    if ak9 is not None:
        codes = [c for c in ak9.elements[4:] if c]
        if codes:
            errors.append(f"group: AK905={','.join(codes)}")
    return Acknowledgment(
        ak1.get(1), ak1.get(2), ak9.get(1) if ak9 is not None else "", sets, errors
    )


def summary(tset: TransactionSet) -> str:
    """The key data of a set, for `stockbridge edi check`."""
    kind = tset.set_id
    try:
        if kind == "945":
            a = read_945(tset)
            return (
                f"945 shipping advice: order {a.depositor_order}, shipment "
                f"{a.shipment_id or '-'}, {len(a.lines)} line(s), "
                f"{sum((x.quantity for x in a.lines), Decimal(0))} unit(s) shipped"
            )
        if kind == "944":
            r = read_944(tset)
            return (
                f"944 receipt advice: order {r.depositor_order}, receipt {r.receipt_number}, "
                f"{len(r.lines)} line(s), {sum((x.quantity for x in r.lines), Decimal(0))} "
                "unit(s) received"
            )
        if kind == "947":
            j = read_947(tset)
            reasons = sorted({x.extra["reason_code"] for x in j.lines})
            return (
                f"947 adjustment advice {j.adjustment_number}: {len(j.lines)} line(s), "
                f"net {sum((x.quantity for x in j.lines), Decimal(0))}, reasons "
                f"{', '.join(reasons)}"
            )
        if kind == "846":
            i = read_846(tset)
            return f"846 inventory advice {i.reference}: {len(i.items)} item(s) as of {i.date}"
        if kind == "997":
            k = read_997(tset)
            return (
                f"997 acknowledgment of group {k.functional_id} {k.group_control}: "
                f"AK9 {k.code}, {len(k.sets)} set(s)"
            )
        if kind == "940":
            w05 = next(s for s in tset.body if s.id == "W05")
            lines = [s for s in tset.body if s.id == "W01"]
            return f"940 shipping order {w05.get(2)}: {len(lines)} line(s)"
        if kind == "943":
            w06 = next(s for s in tset.body if s.id == "W06")
            lines = [s for s in tset.body if s.id == "W04"]
            return f"943 transfer shipment advice {w06.get(2)}: {len(lines)} line(s)"
    except StopIteration:
        return f"{kind}: beginning segment missing"
    return f"{kind}: not read by the hub"


# --- writing ------------------------------------------------------------------------------
#: W05-01 order status codes (element 473) the hub writes: a new order, its cancellation.
ORIGINAL = "N"
CANCEL = "C"


def _qty(value: str) -> str:
    text = format(Decimal(value).normalize(), "f")
    return text if text != "-0" else "0"


def shipping_order(
    depositor_order: str,
    po_number: str,
    warehouse: str,
    depositor: str,
    order_date: str,
    lines: Sequence[tuple[int, str, str]],
    item_qualifier: str,
    status: str = ORIGINAL,
    ship_to: str | None = None,
) -> list[list[str]]:
    """940 body: W05, the warehouse and depositor (and the ship-to location, when the hub
    knows it), the order date, one LX/W01 per line (LX01 is the hub's line number, echoed
    in the 945), W76 totals. `status` C cancels the order sent before under the same
    depositor order number."""
    body: list[list[str]] = [
        ["W05", status, depositor_order, po_number],
        ["N1", "WH", warehouse, "91", warehouse],
        ["N1", "DE", depositor, "91", depositor],
        *([["N1", "ST", ship_to, "91", ship_to]] if ship_to else []),
        ["G62", "04", order_date],
    ]
    total = Decimal(0)
    for line, code, quantity in lines:
        body.append(["LX", str(line)])
        body.append(["W01", _qty(quantity), "EA", "", item_qualifier, code])
        total += Decimal(quantity)
    body.append(["W76", _qty(str(total))])
    return body


def transfer_advice(
    depositor_order: str,
    ship_date: str,
    shipment_id: str,
    warehouse: str,
    origin: str,
    lines: Sequence[tuple[int, str, str]],
    item_qualifier: str,
) -> list[list[str]]:
    """943 body: W06, the warehouse and the origin, W27 carrier, LX/W04 lines, W03 totals."""
    body: list[list[str]] = [
        ["W06", "F", depositor_order, ship_date, shipment_id[:30]],
        ["N1", "WH", warehouse, "91", warehouse],
        ["N1", "SF", origin, "91", origin],
        ["W27", "M", "", "HUB TRANSFER"],
    ]
    total = Decimal(0)
    for line, code, quantity in lines:
        body.append(["LX", str(line)])
        body.append(["W04", _qty(quantity), "EA", "", item_qualifier, code])
        total += Decimal(quantity)
    body.append(["W03", _qty(str(total))])
    return body


def item_code(line: Line, preferred: str) -> list[str]:
    """Candidate item codes of a line, the partner's qualifier first."""
    order = [preferred, *[q for q in ITEM_QUALIFIERS if q != preferred], "UPC"]
    seen = [line.items[q] for q in order if q in line.items]
    seen += [v for q, v in line.items.items() if q not in order]
    return seen


def as_dict(line: Line) -> dict[str, Any]:
    return {
        "line": line.number,
        "items": line.items,
        "quantity": str(line.quantity),
        **line.extra,
    }
