"""CSV availability feeds: the rows of a send, grouped by file, merged into a snapshot.

Pure: payloads and settings in, file names and CSV text out.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from .config import CsvFeedTargetSettings

Row = dict[str, str]


def row_of(payload: Mapping[str, Any], settings: CsvFeedTargetSettings) -> Row:
    sku = str(payload["sku"])
    full = {
        "channel": str(payload["channel"]),
        "sku": settings.skus.get(sku, sku),
        "available": str(payload["available"]),
        "computed_at": str(payload.get("computed_at") or ""),
    }
    return {c: full[c] for c in settings.columns}


def file_name(
    settings: CsvFeedTargetSettings, channel: str, first_delivery: int, now: datetime
) -> str:
    return settings.name_pattern().format(
        channel=channel,
        delivery=f"{first_delivery:012d}",
        timestamp=now.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ"),
    )


def group_by_file(
    sent: Iterable[tuple[int, Mapping[str, Any]]],
    settings: CsvFeedTargetSettings,
    now: datetime,
) -> dict[str, list[Row]]:
    """(delivery id, availability payload) pairs -> file name -> its rows, in send order."""
    firsts: dict[str, int] = {}
    by_channel: dict[str, list[Row]] = {}
    for delivery_id, payload in sent:
        channel = str(payload["channel"])
        firsts[channel] = min(firsts.get(channel, delivery_id), delivery_id)
        by_channel.setdefault(channel, []).append(row_of(payload, settings))
    files: dict[str, list[Row]] = {}
    for channel, rows in by_channel.items():
        files.setdefault(file_name(settings, channel, firsts[channel], now), []).extend(rows)
    return files


def merge(existing: list[Row], new: list[Row]) -> list[Row]:
    """The snapshot with the new values in: one row per (channel, sku), newest kept."""
    rows = {_key(r): r for r in existing}
    for row in new:
        old = rows.get(_key(row))
        if old is None or not _older(row, old):
            rows[_key(row)] = row
    return [rows[k] for k in sorted(rows)]


def _key(row: Row) -> tuple[str, str]:
    return (row.get("channel", ""), row["sku"])


def _older(row: Row, than: Row) -> bool:
    """True when `row` was computed before `than` (only known with a computed_at column)."""
    a, b = row.get("computed_at"), than.get("computed_at")
    if not a or not b:
        return False
    try:
        return datetime.fromisoformat(a) < datetime.fromisoformat(b)
    except ValueError:
        return False


def render(rows: list[Row], settings: CsvFeedTargetSettings) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=settings.delimiter, lineterminator="\n")
    if settings.header:
        writer.writerow(settings.columns)
    writer.writerows([[r[c] for c in settings.columns] for r in rows])
    return out.getvalue()


def read(text: str, settings: CsvFeedTargetSettings) -> list[Row]:
    """A feed file back into rows (for a snapshot's merge).

    With a header, columns are found by name, so a file written before the columns were
    changed is still merged right (a column it lacks is left empty).
    """
    records = list(csv.reader(io.StringIO(text, newline=""), delimiter=settings.delimiter))
    names: list[str] = list(settings.columns)
    if settings.header and records:
        names, records = records[0], records[1:]
    rows: list[Row] = []
    for record in records:
        found = dict(zip(names, record, strict=False))
        if found.get("sku"):
            rows.append({str(c): found.get(c, "") for c in settings.columns})
    return rows
