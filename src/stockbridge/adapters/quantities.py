"""Quantities in storage form: integers in millionths of the base unit (exact sums)."""

from __future__ import annotations

from decimal import Decimal

from ..domain.model import QUANTITY_PLACES, QUANTITY_SCALE

_SCALE = Decimal(QUANTITY_SCALE)


#: Conversions remembered, up to this many each: a ledger's quantities repeat (ones,
#: case packs, the same on hand read back), and Decimal arithmetic is the costly part of
#: turning every event and position into rows. Decimals are immutable, so sharing is safe.
_CACHE_LIMIT = 65_536
_UNITS: dict[Decimal, int] = {}
_QTY: dict[int, Decimal] = {}


def units(q: Decimal) -> int:
    """Decimal quantity -> integer millionths, the storage form."""
    n = _UNITS.get(q)
    if n is None:
        n = int(q * _SCALE)
        if len(_UNITS) >= _CACHE_LIMIT:
            _UNITS.clear()
        _UNITS[q] = n
    return n


def qty(stored: int | Decimal | None) -> Decimal:
    """Integer millionths (or PostgreSQL's numeric) -> Decimal quantity."""
    n = int(stored or 0)
    q = _QTY.get(n)
    if q is None:
        q = Decimal(n).scaleb(-QUANTITY_PLACES)
        if len(_QTY) >= _CACHE_LIMIT:
            _QTY.clear()
        _QTY[n] = q
    return q


def units_or_none(q: Decimal | None) -> int | None:
    return None if q is None else units(q)


def qty_or_none(stored: int | None) -> Decimal | None:
    return None if stored is None else qty(stored)
