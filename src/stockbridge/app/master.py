"""Master data import: items, locations and cross references from JSON or CSV.

Each row is judged alone: valid rows are upserted, invalid ones are reported with their
row (or file line) and field, and nothing valid is held back by a bad neighbour.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..domain.model import (
    MAX_BASE_QUANTITY,
    Item,
    Location,
    LocationKind,
    Xref,
    XrefKind,
    to_micros,
)
from .ports import Clock, ConfigChange, Store


class MasterKind(StrEnum):
    ITEMS = "items"
    LOCATIONS = "locations"
    XREFS = "xrefs"


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


class ItemRow(_Row):
    sku: str = Field(min_length=1, max_length=200)
    gtin: str | None = Field(None, pattern=r"^\d{8,14}$")
    base_uom: str = Field("EA", min_length=1, max_length=20)
    conversions: dict[str, Decimal] = Field(default_factory=dict)
    category: str | None = None
    safety_stock: Decimal = Field(Decimal(0), ge=0, le=MAX_BASE_QUANTITY, allow_inf_nan=False)
    description: str | None = None
    unit_cost: Decimal | None = Field(None, ge=0, le=MAX_BASE_QUANTITY, allow_inf_nan=False)

    @field_validator("conversions")
    @classmethod
    def _positive(cls, value: dict[str, Decimal]) -> dict[str, Decimal]:
        for uom, factor in value.items():
            if not uom:
                raise ValueError("a unit name must not be empty")
            if factor <= 0:
                raise ValueError(f"factor for {uom} must be positive")
        return value

    def to_domain(self) -> Item:
        return Item(
            sku=self.sku,
            base_uom=self.base_uom,
            gtin=self.gtin,
            category=self.category,
            conversions=dict(self.conversions),
            safety_stock=self.safety_stock,
            description=self.description,
            unit_cost=self.unit_cost,
        )


class LocationRow(_Row):
    code: str = Field(min_length=1, max_length=200)
    kind: LocationKind = LocationKind.STORE
    timezone: str = "UTC"
    name: str | None = None
    #: At most a year: longer is no freshness promise at all.
    freshness_sla_seconds: float | None = Field(None, gt=0, le=366 * 86_400)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    def to_domain(self) -> Location:
        return Location(self.code, self.kind, self.timezone, self.name, self.freshness_sla_seconds)


class XrefRow(_Row):
    source: str = Field(min_length=1, max_length=200)
    kind: XrefKind
    external_code: str = Field(min_length=1, max_length=200)
    code: str = Field(min_length=1, max_length=200)

    def to_domain(self) -> Xref:
        return Xref(self.source, self.kind, self.external_code, self.code)


_ROW_MODELS: dict[MasterKind, type[ItemRow] | type[LocationRow] | type[XrefRow]] = {
    MasterKind.ITEMS: ItemRow,
    MasterKind.LOCATIONS: LocationRow,
    MasterKind.XREFS: XrefRow,
}


@dataclass(frozen=True, slots=True)
class RowError:
    row: int
    field: str
    message: str


@dataclass(slots=True)
class ImportReport:
    kind: MasterKind
    received: int = 0
    upserted: int = 0
    errors: list[RowError] = field(default_factory=list)
    #: The rows stored, as domain values.
    stored: list[Any] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "received": self.received,
            "upserted": self.upserted,
            "rejected": len(self.errors),
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in self.errors],
        }


class ImportFileError(ValueError):
    """A master data file that cannot be read at all (not a row problem)."""


def _parse_conversions(text: str) -> dict[str, str]:
    """CSV form `CASE12:12;PACK6:6` -> {"CASE12": "12", "PACK6": "6"}."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        uom, sep, factor = part.partition(":")
        if not sep:
            raise ValueError(f"conversion {part!r} must look like UNIT:FACTOR")
        out[uom.strip()] = factor.strip()
    return out


_EXTRA_CELLS = "(cells beyond the header)"


def csv_rows(text: str) -> list[tuple[int, dict[str, Any]]]:
    """(file line, row) for each data row; empty cells are left out."""
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames:
        raise ImportFileError("the CSV file has no header row")
    rows = []
    for record in reader:
        row: dict[str, Any] = {k.strip(): v for k, v in record.items() if k and v not in (None, "")}
        if record.get(None):  # type: ignore[call-overload]
            # More cells than the header: surface it as a row error, never drop data.
            row[_EXTRA_CELLS] = record[None]  # type: ignore[index]
        rows.append((reader.line_num, row))
    return rows


class MasterDataService:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def import_rows(
        self,
        kind: MasterKind,
        rows: Iterable[tuple[int, Any]],
        change: ConfigChange | None = None,
    ) -> ImportReport:
        """Validate and upsert numbered rows; the numbers appear in the errors. Cross
        references keep their history, written by `change`'s actor."""
        model = _ROW_MODELS[kind]
        report = ImportReport(kind)
        valid: dict[Any, Any] = {}
        for number, raw in rows:
            report.received += 1
            if kind is MasterKind.ITEMS and isinstance(raw, dict):
                conv = raw.get("conversions")
                if isinstance(conv, str):
                    try:
                        raw = {**raw, "conversions": _parse_conversions(conv)}
                    except ValueError as e:
                        report.errors.append(RowError(number, "conversions", str(e)))
                        continue
            try:
                parsed = model.model_validate(raw).to_domain()
            except ValidationError as e:
                for err in e.errors():
                    where = ".".join(str(p) for p in err["loc"]) or "$"
                    report.errors.append(RowError(number, where, err["msg"]))
                continue
            valid[_identity(parsed)] = parsed  # a later row for the same key wins
        now_us = to_micros(self.clock.now())
        rows_out = list(valid.values())
        if kind is MasterKind.ITEMS:
            self.store.upsert_items(rows_out, now_us)
        elif kind is MasterKind.LOCATIONS:
            self.store.upsert_locations(rows_out, now_us)
        else:
            self.store.upsert_xrefs(rows_out, now_us, change)
        report.upserted = len(rows_out)
        report.stored = rows_out
        return report

    def import_list(
        self, kind: MasterKind, rows: Sequence[Any], change: ConfigChange | None = None
    ) -> ImportReport:
        return self.import_rows(kind, enumerate(rows), change)

    def import_file(self, path: str | Path, kind: MasterKind | None = None) -> ImportReport:
        p = Path(path)
        kind = kind or _kind_from_name(p)
        text = p.read_text(encoding="utf-8-sig")
        if p.suffix.lower() == ".csv":
            return self.import_rows(kind, csv_rows(text))
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise ImportFileError(f"{p} is not valid JSON: {e}") from None
        if isinstance(data, dict):
            data = data.get(kind.value)
        if not isinstance(data, list):
            raise ImportFileError(f"{p} must hold a list or an object with a {kind.value!r} list")
        return self.import_list(kind, data)


def _identity(row: Item | Location | Xref) -> Any:
    if isinstance(row, Item):
        return row.sku
    if isinstance(row, Location):
        return row.code
    return (row.source, row.kind, row.external_code)


def _kind_from_name(path: Path) -> MasterKind:
    stem = path.stem.lower()
    for kind in MasterKind:
        if kind.value in stem or kind.value.rstrip("s") in stem:
            return kind
    raise ImportFileError(
        f"cannot tell what {path.name} holds; name it items/locations/xrefs or pass --kind"
    )
