"""Reading one CSV drop: the file checked as a whole, then each line turned into an event.

Pure: bytes and settings in, events and line errors out. A file is refused whole when it
cannot be trusted as a whole (not text in its encoding, a header missing a mapped column or
carrying an unknown one, a trailer whose count disagrees); otherwise each line is judged
alone. Only what the file format itself decides is checked here (the record's shape, the
date format); the event's own rules (quantity sign, known SKU...) are the ingest path's.
"""

from __future__ import annotations

import csv
import hashlib
import io
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from .config import SourceSettings

#: Hex digits of the file's SHA-256 in the events' ids: 96 bits, collisions out of reach.
DIGEST_IN_ID = 24


@dataclass(frozen=True, slots=True)
class LineError:
    """Why one line was not applied: where, the value as written, and why."""

    line: int
    column: str
    value: str
    message: str
    #: The canonical field at fault, when there is one.
    field: str | None = None


@dataclass(frozen=True, slots=True)
class Refused:
    """The file as a whole cannot be taken; nothing in it is applied."""

    message: str
    #: The column (or "header", "trailer", "encoding") the refusal is about.
    column: str


@dataclass(slots=True)
class Line:
    number: int
    event: dict[str, Any]
    row: dict[str, str]


@dataclass(slots=True)
class ParsedFile:
    digest: str
    #: Data lines in the file (header and trailer excluded).
    data_lines: int
    lines: list[Line] = field(default_factory=list)
    errors: list[LineError] = field(default_factory=list)


def digest_of(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def parse_drop(data: bytes, source: str, settings: SourceSettings) -> ParsedFile | Refused:
    """The file's events, one per data line, and the lines that could not be read."""
    digest = digest_of(data)
    try:
        text = data.decode(settings.encoding)
    except UnicodeDecodeError as e:
        return Refused(f"not {settings.encoding} text (byte {e.start}: {e.reason})", "encoding")
    except LookupError:
        return Refused(f"unknown encoding {settings.encoding!r}", "encoding")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=settings.delimiter, strict=True)
    records: list[tuple[int, list[str]]] = []
    try:
        for fields in reader:
            if fields and any(f.strip() for f in fields):
                records.append((reader.line_num, fields))
    except csv.Error as e:
        return Refused(f"line {reader.line_num}: not CSV: {e}", "file")
    if settings.trailer is not None:
        trailer = _trailer(records, settings.trailer, settings.header)
        if isinstance(trailer, Refused):
            return trailer
        records = records[:-1]
    if settings.header:
        if not records:
            return Refused("the file is empty: no header", "header")
        names = [n.strip() for n in records[0][1]]
        refused = check_header(names, settings)
        if refused is not None:
            return refused
        records = records[1:]
    else:
        names = list(settings.fieldnames)
    parsed = ParsedFile(digest, len(records))
    reader_of = _LineReader(source, digest, names, settings)
    for number, fields in records:
        line = reader_of.read(number, fields)
        if isinstance(line, LineError):
            parsed.errors.append(line)
        else:
            parsed.lines.append(line)
    return parsed


def check_header(names: list[str], settings: SourceSettings) -> Refused | None:
    """A header must hold every mapped column, and only mapped or ignored ones."""
    seen: set[str] = set()
    for name in names:
        if name in seen:
            return Refused(f"column {name!r} appears twice in the header", name)
        seen.add(name)
    for field_name, column in settings.columns.mapped().items():
        if column not in seen:
            return Refused(f"missing column {column!r} (mapped to {field_name})", column)
    known = set(settings.columns.mapped().values()) | set(settings.ignore_columns)
    for name in names:
        if name not in known:
            return Refused(f"unknown column {name!r} (map it, or list it in ignore_columns)", name)
    return None


def _trailer(records: list[tuple[int, list[str]]], tag: str, header: bool) -> Refused | None:
    if not records or records[-1][1][0].strip() != tag:
        return Refused(f"no trailer record {tag!r} at the end: the file may be cut short", tag)
    line, fields = records[-1]
    try:
        count = int(fields[1].strip()) if len(fields) > 1 else None
    except ValueError:
        count = None
    if count is None:
        return Refused(f"line {line}: the trailer's second field must be the line count", "trailer")
    actual = max(0, len(records) - 1 - (1 if header else 0))
    if count != actual:
        return Refused(f"the trailer counts {count} data lines, the file has {actual}", "trailer")
    return None


class _LineReader:
    """Turns one data record into a canonical event (the /v1/events shape)."""

    def __init__(
        self, source: str, digest: str, names: list[str], settings: SourceSettings
    ) -> None:
        self.source = source
        self.id_prefix = digest[:DIGEST_IN_ID]
        self.names = names
        self.settings = settings
        self.mapped = settings.columns.mapped()
        self.optional = [
            (f, c)
            for f, c in self.mapped.items()
            if f not in ("event_id", "type", "sku", "location", "quantity", "occurred_at")
        ]
        self.zone = ZoneInfo(settings.timezone)
        # Exports repeat the same timestamps line after line: each is parsed once.
        self.instants: dict[str, str | None] = {}

    def read(self, number: int, fields: list[str]) -> Line | LineError:
        if len(fields) != len(self.names):
            return LineError(
                number, "", "", f"{len(fields)} fields where the header has {len(self.names)}"
            )
        row = dict(zip(self.names, fields, strict=True))
        m, s = self.mapped, self.settings
        event_id = row[m["event_id"]].strip() if "event_id" in m else f"{self.id_prefix}:{number}"
        if s.event_type is not None:
            kind = s.event_type
        else:
            code = row[m["type"]].strip()
            kind = s.type_values.get(code, code)
        quantity = row[m["quantity"]].strip()
        if s.decimal_separator == ",":
            quantity = quantity.replace(",", ".")
        column = m["occurred_at"]
        written = row[column].strip()
        occurred_at = self.instant(written)
        if occurred_at is None:
            expected = (
                "an ISO 8601 date-time"
                if s.occurred_at_format == "iso"
                else f"a date-time as {s.occurred_at_format}"
            )
            return LineError(number, column, written, f"is not {expected}", "occurred_at")
        event: dict[str, Any] = {
            "event_id": event_id,
            "source": self.source,
            "type": kind,
            "sku": row[m["sku"]].strip(),
            "location": row[m["location"]].strip(),
            "quantity": quantity,
            "occurred_at": occurred_at,
        }
        for field_name, col in self.optional:
            value = row[col].strip()
            if value:
                event[field_name] = value
        return Line(number, event, row)

    def instant(self, written: str) -> str | None:
        """The written time as RFC 3339 with its offset (the source's zone when naive)."""
        if written in self.instants:
            return self.instants[written]
        try:
            if self.settings.occurred_at_format == "iso":
                at = datetime.fromisoformat(written)
            else:
                at = datetime.strptime(written, self.settings.occurred_at_format)
        except ValueError:
            at = None
        value = None
        if at is not None:
            value = (at if at.tzinfo else at.replace(tzinfo=self.zone)).isoformat()
        self.instants[written] = value
        return value
