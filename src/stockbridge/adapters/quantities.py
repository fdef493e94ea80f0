"""Quantities in storage form: integers in millionths of the base unit (exact sums)."""

from __future__ import annotations

from decimal import Decimal

from ..domain.model import QUANTITY_PLACES, QUANTITY_SCALE

_SCALE = Decimal(QUANTITY_SCALE)


def units(q: Decimal) -> int:
    """Decimal quantity -> integer millionths, the storage form."""
    return int(q * _SCALE)


def qty(stored: int | Decimal | None) -> Decimal:
    return Decimal(int(stored or 0)).scaleb(-QUANTITY_PLACES)


def units_or_none(q: Decimal | None) -> int | None:
    return None if q is None else units(q)


def qty_or_none(stored: int | None) -> Decimal | None:
    return None if stored is None else qty(stored)
