"""One pass over the watched folders: take each complete drop, apply it, file it away.

Per file: read and check it whole (refused files go to the error folder with their reason,
and become one business exception); note its sequence number (a gap is an exception, the
file is still applied: each file stands on its own and the ledger orders events by when
they happened); submit its events in batches through the ingest path, which deduplicates
them, so a file taken twice (a re-drop, or a crash before it was archived) applies nothing
twice; then move it to the archive, with an error file beside it listing every line that
was not applied (unreadable lines are also kept as exceptions here; lines the ingest path
parks, such as unknown SKUs, are kept by it).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from ...app.ingest import BatchResult, Status
from ...app.ports import NewException
from ...domain.errors import Reason
from ...domain.intake import InvalidEvent, parse_event
from ...domain.mapping import MasterData, Parked, map_event
from ...domain.model import EventKey, to_micros
from .config import SourceSettings
from .folder import (
    SequenceBook,
    Taken,
    complete_files,
    error_csv,
    error_file_for,
    move_aside,
    sequence_of,
    write_atomically,
)
from .parse import Line, LineError, ParsedFile, Refused, parse_drop

if TYPE_CHECKING:
    from ...app.bootstrap import Hub

log = logging.getLogger(__name__)


class Sink(Protocol):
    """Where a pass sends what it read: the hub's ingest path and exception queue."""

    def submit(self, raws: Sequence[Any]) -> BatchResult: ...

    def park(self, exceptions: Sequence[NewException]) -> None: ...

    def resolve(self, keys: Sequence[EventKey]) -> None: ...


class Progress(Protocol):
    """Told how far a file's submission has gone (a progress bar, or nothing)."""

    def begin(self, name: str, total: int) -> None: ...

    def advance(self, done: int) -> None: ...

    def end(self) -> None: ...


class HubSink:
    """A hub as a sink: events through `submit`, exceptions parked in their own transaction."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def submit(self, raws: Sequence[Any]) -> BatchResult:
        return self.hub.submit(raws)

    def park(self, exceptions: Sequence[NewException]) -> None:
        if exceptions:
            with self.hub.store.transaction() as tx:
                tx.park(list(exceptions), to_micros(self.hub.clock.now()))

    def resolve(self, keys: Sequence[EventKey]) -> None:
        if keys:
            with self.hub.store.transaction() as tx:
                tx.resolve_exceptions(list(keys), to_micros(self.hub.clock.now()))


@dataclass
class FileReport:
    """What happened to one drop."""

    source: str
    name: str
    #: "applied" (archived, maybe with line errors) or "refused" (in the error folder).
    status: str
    lines: int = 0
    accepted: int = 0
    duplicates: int = 0
    errors: list[LineError] = field(default_factory=list)
    #: Why a refused file was refused.
    reason: str | None = None
    #: Sequence numbers this file showed to be missing.
    skipped: list[int] = field(default_factory=list)
    moved_to: Path | None = None
    error_file: Path | None = None


def folders(settings: SourceSettings) -> tuple[Path, Path, Path]:
    """(inbox, archive, error folder) of a source."""
    inbox = Path(settings.folder)
    archive = Path(settings.archive) if settings.archive else inbox / "archive"
    errors = Path(settings.error_folder) if settings.error_folder else inbox / "error"
    return inbox, archive, errors


def run_pass(
    sources: Mapping[str, SourceSettings], sink: Sink, progress: Progress | None = None
) -> list[FileReport]:
    """Take every complete drop of every source, in order; one report per file."""
    reports = []
    for name, settings in sources.items():
        inbox, _, _ = folders(settings)
        for path in complete_files(inbox, settings):
            reports.append(take_file(name, settings, path, sink, progress))
    return reports


def take_file(
    name: str, settings: SourceSettings, path: Path, sink: Sink, progress: Progress | None = None
) -> FileReport:
    source = settings.source or name
    _, archive, error_folder = folders(settings)
    parsed = parse_drop(path.read_bytes(), source, settings)
    if isinstance(parsed, Refused):
        return _refuse(source, settings, path, parsed, error_folder, sink)
    report = FileReport(source, path.name, "applied", lines=parsed.data_lines)
    report.errors.extend(parsed.errors)
    number = sequence_of(path.name, settings.sequence)
    book = SequenceBook.load(archive) if number is not None else None
    taken = book.take(number) if book is not None and number is not None else Taken()
    report.skipped = taken.skipped
    _apply(parsed, settings, sink, report, progress)
    sink.park(_line_exceptions(source, path.name, parsed))
    sink.park(_sequence_exceptions(source, path.name, number, taken, report))
    if taken.late and number is not None:
        sink.resolve([EventKey(source, f"sequence:{number}")])
    # The number is recorded before the file leaves the inbox: a crash in between takes
    # the file again (its events are duplicates then), never reports its number missing.
    if book is not None:
        book.save(archive)
    report.moved_to = move_aside(path, archive)
    _drop_marker(path, settings)
    if report.errors:
        report.errors.sort(key=lambda e: e.line)
        report.error_file = error_file_for(report.moved_to)
        write_atomically(report.error_file, error_csv(report.errors))
    log.info(
        "%s: %s: %d line(s), %d applied, %d already applied, %d error(s)",
        source,
        path.name,
        report.lines,
        report.accepted,
        report.duplicates,
        len(report.errors),
    )
    return report


def _apply(
    parsed: ParsedFile,
    settings: SourceSettings,
    sink: Sink,
    report: FileReport,
    progress: Progress | None,
) -> None:
    """Submit the file's events in batches; lines the ingest path parks become errors."""
    columns = settings.columns.mapped()
    size = settings.batch_size
    if progress is not None:
        progress.begin(report.name, len(parsed.lines))
    try:
        for start in range(0, len(parsed.lines), size):
            batch = parsed.lines[start : start + size]
            result = sink.submit([line.event for line in batch])
            for line, outcome in zip(batch, result.results, strict=True):
                if outcome.status is Status.ACCEPTED:
                    report.accepted += 1
                elif outcome.status is Status.DUPLICATE:
                    report.duplicates += 1
                else:
                    report.errors.append(
                        _ingest_error(line, columns, outcome.field, outcome.reason, outcome.detail)
                    )
            if progress is not None:
                progress.advance(len(batch))
    finally:
        if progress is not None:
            progress.end()


def _ingest_error(
    line: Line,
    columns: Mapping[str, str],
    field_name: str | None,
    reason: str | None,
    detail: str | None,
) -> LineError:
    column = columns.get(_field_of(reason, field_name) or "", "")
    return LineError(
        line.number,
        column,
        line.row.get(column, "") if column else "",
        f"{reason}: {detail}" if reason else (detail or "not applied"),
        field_name,
    )


def _field_of(reason: str | None, field_name: str | None) -> str | None:
    """The event field a parked line is about: named by the ingest path, or by its reason."""
    if field_name:
        return field_name
    return {
        Reason.UNKNOWN_SKU.value: "sku",
        Reason.UNKNOWN_LOCATION.value: "location",
        Reason.UNKNOWN_UOM.value: "uom",
        Reason.BAD_QUANTITY.value: "quantity",
    }.get(reason or "")


def _line_exceptions(source: str, name: str, parsed: ParsedFile) -> list[NewException]:
    """Lines the file format itself made unreadable, kept in the exception queue."""
    prefix = parsed.digest[:24]
    return [
        NewException(
            Reason.INVALID_EVENT,
            f"{name}:{e.line}: {e.column or 'line'}: {e.message}",
            {"file": name, "line": e.line, "column": e.column, "value": e.value},
            source,
            f"{prefix}:{e.line}",
            _hash(f"{parsed.digest}:{e.line}"),
            e.field or e.column or None,
        )
        for e in parsed.errors
    ]


def _sequence_exceptions(
    source: str, name: str, number: int | None, taken: Taken, report: FileReport
) -> list[NewException]:
    found = [
        NewException(
            Reason.INVALID_EVENT,
            f"sequence gap: {name} is number {number}, number {n} never arrived "
            "(resolved when it does)",
            {"file": name, "sequence": number, "missing": n},
            source,
            f"sequence:{n}",
            _hash(f"sequence:{n}"),
            "sequence",
        )
        for n in taken.skipped
    ]
    if taken.reused and report.accepted:
        found.append(
            NewException(
                Reason.INVALID_EVENT,
                f"{name} reuses sequence number {number} with new content "
                f"({report.accepted} line(s) applied)",
                {"file": name, "sequence": number},
                source,
                f"sequence-reused:{number}:{name}",
                _hash(f"reused:{number}:{name}"),
                "sequence",
            )
        )
    return found


def _refuse(
    source: str,
    settings: SourceSettings,
    path: Path,
    refused: Refused,
    error_folder: Path,
    sink: Sink,
) -> FileReport:
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    moved = move_aside(path, error_folder)
    _drop_marker(path, settings)
    error_file = error_file_for(moved)
    write_atomically(error_file, error_csv([LineError(0, refused.column, "", refused.message)]))
    sink.park(
        [
            NewException(
                Reason.INVALID_EVENT,
                f"{path.name} refused: {refused.message}",
                {"file": path.name, "sha256": digest, "column": refused.column},
                source,
                f"file:{digest[:24]}",
                digest[:32],
                refused.column,
            )
        ]
    )
    log.warning("%s: %s refused: %s", source, path.name, refused.message)
    return FileReport(
        source,
        path.name,
        "refused",
        reason=refused.message,
        moved_to=moved,
        error_file=error_file,
    )


def _drop_marker(path: Path, settings: SourceSettings) -> None:
    if settings.complete == "marker":
        path.with_name(path.name + settings.marker_suffix).unlink(missing_ok=True)


def _hash(text: str) -> str:
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


@dataclass
class CheckReport:
    """A file checked without applying anything: refused whole, or its line errors."""

    name: str
    lines: int = 0
    valid: int = 0
    refused: str | None = None
    errors: list[LineError] = field(default_factory=list)


def check_file(path: Path, name: str, settings: SourceSettings, master: MasterData) -> CheckReport:
    """Everything a pass would find wrong with a file, by the same rules, applying nothing.

    Lines are judged by the ingest path's own validation and mapping (master data and the
    source's cross references as they are now).
    """
    source = settings.source or name
    parsed = parse_drop(path.read_bytes(), source, settings)
    report = CheckReport(path.name)
    if isinstance(parsed, Refused):
        report.refused = parsed.message
        return report
    report.lines = parsed.data_lines
    report.errors.extend(parsed.errors)
    columns = settings.columns.mapped()
    for line in parsed.lines:
        event = parse_event(line.event)
        if isinstance(event, InvalidEvent):
            report.errors.append(
                _ingest_error(
                    line,
                    columns,
                    event.field,
                    Reason.INVALID_EVENT.value,
                    f"{event.field} {event.message}",
                )
            )
            continue
        mapped = map_event(event, master)
        if isinstance(mapped, Parked):
            report.errors.append(
                _ingest_error(line, columns, None, mapped.reason.value, mapped.detail)
            )
            continue
        report.valid += 1
    report.errors.sort(key=lambda e: e.line)
    return report
