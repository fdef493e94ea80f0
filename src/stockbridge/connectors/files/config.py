"""Settings of CSV drops (`[files.sources.NAME]`) and of the CSV feed target (`platform`)."""

from __future__ import annotations

import re
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

#: Canonical event fields a CSV column can feed.
EVENT_FIELDS = (
    "event_id",
    "type",
    "sku",
    "location",
    "quantity",
    "uom",
    "occurred_at",
    "reason",
    "condition",
    "counterparty_location",
    "reference",
)
#: Fields every line must carry, from a column or (type) from the source's settings.
REQUIRED_FIELDS = ("sku", "location", "quantity", "occurred_at")
#: Names producers give files still being written: never taken (write-then-rename).
TEMP_SUFFIXES = (".tmp", ".filepart", ".incomplete", ".part", ".partial")


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ColumnMap(_Section):
    """Canonical field -> the CSV column holding it (as named in the header)."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    event_id: str | None = None
    type: str | None = None
    sku: str
    location: str
    quantity: str
    uom: str | None = None
    occurred_at: str
    reason: str | None = None
    condition: str | None = None
    counterparty_location: str | None = Field(None, alias="counterparty")
    reference: str | None = None

    def mapped(self) -> dict[str, str]:
        """Field -> column, for the fields that have a column."""
        return {f: c for f in EVENT_FIELDS if (c := getattr(self, f)) is not None}


class SourceSettings(_Section):
    """One watched folder of CSV drops (docs/connectors/csv-files.md)."""

    folder: str = Field(min_length=1)
    #: Where applied files go; default `<folder>/archive`.
    archive: str | None = None
    #: Where refused files go; default `<folder>/error`.
    error_folder: str | None = None
    #: The source the events are recorded under (and their cross references'); default NAME.
    source: str | None = Field(None, min_length=1, max_length=200)
    #: Which files in the folder are drops (shell pattern).
    pattern: str = "*.csv"
    columns: ColumnMap
    #: The movement of every line, when the file has no type column.
    event_type: str | None = None
    #: The file's own type codes -> canonical types (e.g. {S = "sale"}).
    type_values: dict[str, str] = Field(default_factory=dict)
    #: "iso" (ISO 8601 / RFC 3339), or a strptime format such as "%d/%m/%Y %H:%M".
    occurred_at_format: str = "iso"
    #: Time zone of times written without an offset.
    timezone: str = "UTC"
    delimiter: str = Field(",", min_length=1, max_length=1)
    decimal_separator: Literal[".", ","] = "."
    #: "utf-8-sig" reads UTF-8 with or without a byte order mark.
    encoding: str = "utf-8-sig"
    #: Whether the first record is a header naming the columns.
    header: bool = True
    #: The file's columns in order, for files without a header.
    fieldnames: list[str] = Field(default_factory=list)
    #: Header columns present in the files but not used (any other unmapped one refuses).
    ignore_columns: list[str] = Field(default_factory=list)
    #: "marker": a file is complete once `<file><marker_suffix>` exists beside it;
    #: "rename": the producer writes under a temporary name and renames when done.
    complete: Literal["marker", "rename"] = "rename"
    marker_suffix: str = Field(".done", min_length=1)
    #: First field of the trailer record, whose second field is the count of data lines.
    trailer: str | None = Field(None, min_length=1)
    #: A regular expression with one group: the file's sequence number, in its name.
    sequence: str | None = None
    #: Events per submit to the ingest path.
    batch_size: int = Field(2000, ge=1, le=20_000)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("sequence")
    @classmethod
    def _sequence(cls, value: str | None) -> str | None:
        if value is None:
            return None
        try:
            groups = re.compile(value).groups
        except re.error as e:
            raise ValueError(f"not a regular expression: {e}") from None
        if groups != 1:
            raise ValueError("needs exactly one group (the sequence number)")
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceSettings:
        if (self.columns.type is None) == (self.event_type is None):
            raise ValueError("give either columns.type or event_type (one type for every line)")
        if not self.header and not self.fieldnames:
            raise ValueError("fieldnames: required when files have no header")
        if self.fieldnames:
            missing = [c for c in self.columns.mapped().values() if c not in self.fieldnames]
            if missing:
                raise ValueError(f"columns: {missing[0]!r} is not one of fieldnames")
        return self


class FilesSettings(_Section):
    """The `[files]` section: watched folders of CSV drops."""

    sources: dict[str, SourceSettings] = Field(default_factory=dict)
    #: Seconds between passes of `stockbridge files watch`.
    poll_seconds: float = Field(5.0, gt=0)


FeedColumn = Literal["channel", "sku", "available", "computed_at"]
DEFAULT_FEED_COLUMNS: tuple[FeedColumn, ...] = ("sku", "available", "computed_at")


class CsvFeedTargetSettings(BaseModel):
    """A `csv` target's `platform` settings: where and how availability files are written."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    folder: str = Field(min_length=1)
    #: "snapshot": one file per channel holding every SKU's latest value, rewritten at each
    #: send; "delta": one new file per send holding the values it carries.
    mode: Literal["snapshot", "delta"] = "snapshot"
    #: File name with placeholders {channel}, {delivery} (first delivery id, zero padded)
    #: and {timestamp} (UTC, to the microsecond); default by mode.
    file_name: str | None = Field(None, min_length=1)
    columns: list[FeedColumn] = Field(default_factory=lambda: list(DEFAULT_FEED_COLUMNS))
    delimiter: str = Field(",", min_length=1, max_length=1)
    header: bool = True
    #: Written as `<file><marker_suffix>` after the file, for readers that wait for one.
    marker_suffix: str | None = Field(None, min_length=1)
    #: Enterprise SKU -> the reader's own item code (SKUs not listed are written as they are).
    skus: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> CsvFeedTargetSettings:
        for needed in ("sku", "available"):
            if needed not in self.columns:
                raise ValueError(f"columns: must include {needed!r}")
        if len(set(self.columns)) != len(self.columns):
            raise ValueError("columns: a column is listed twice")
        name = self.name_pattern()
        if "/" in name or "\\" in name:
            raise ValueError("file_name: a file name, not a path")
        try:
            name.format(channel="c", delivery="1", timestamp="t")
        except (KeyError, IndexError, ValueError) as e:
            raise ValueError(f"file_name: unknown placeholder {e}") from None
        if self.mode == "snapshot" and "{channel}" not in name and "channel" not in self.columns:
            raise ValueError("file_name: needs {channel}, or columns must include 'channel'")
        per_send = {"{delivery}", "{timestamp}"} & _placeholders(name)
        if self.mode == "snapshot" and per_send:
            raise ValueError("file_name: a snapshot is one file per channel, not per send")
        if self.mode == "delta" and not per_send:
            raise ValueError("file_name: a delta file needs {delivery} or {timestamp}")
        return self

    def name_pattern(self) -> str:
        if self.file_name is not None:
            return self.file_name
        if self.mode == "snapshot":
            return "availability-{channel}.csv"
        return "availability-{channel}-{delivery}.csv"


def _placeholders(pattern: str) -> set[str]:
    return set(re.findall(r"\{[a-z]+\}", pattern))
