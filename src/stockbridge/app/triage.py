"""Exception triage: own, annotate, escalate, close in bulk, fix a mapping and replay
everything it resolves, and hold open exceptions to an SLA.

Every action lands in the exception's thread (`exception_notes`) with who did it, so the
thread is the exception's whole story.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from pydantic import ValidationError

from ..config import ExceptionSettings
from ..domain.errors import Reason, StockbridgeError
from ..domain.model import Xref, to_micros
from ..domain.triage import (
    MAPPING_REASONS,
    ExceptionSla,
    Parked,
    ResolutionStats,
    resolution_stats,
    resolved_by,
)
from .exceptions import (
    MAPPING_FIXED,
    OPEN,
    ExceptionNotWorkable,
    ExceptionService,
    ReplayOutcome,
)
from .ingest import Status
from .master import ImportReport, MasterDataService, MasterKind, RowError, XrefRow
from .ports import (
    Clock,
    ConfigChange,
    ExceptionFilter,
    ExceptionNote,
    ExceptionRecord,
    Store,
)

log = logging.getLogger(__name__)

#: Most exceptions one bulk action takes (a filter matching more is refused).
BULK_LIMIT = 10_000
#: Resolution times are reported over this window by default.
STATS_WINDOW_SECONDS = 30 * 86_400
_PAGE = 500


def sla_of(settings: ExceptionSettings) -> ExceptionSla:
    return ExceptionSla(
        settings.sla_hours * 3600,
        {reason: hours * 3600 for reason, hours in settings.sla_hours_by_reason.items()},
    )


def exception_filter(
    now: datetime,
    status: str | None = None,
    reason: str | None = None,
    source: str | None = None,
    assignee: str | None = None,
    min_age_seconds: float | None = None,
    max_age_seconds: float | None = None,
    escalated: bool | None = None,
) -> ExceptionFilter:
    """A filter with age bounds (seconds since first parked) turned into instants."""
    now_us = to_micros(now)
    return ExceptionFilter(
        status,
        reason,
        source,
        assignee,
        None if min_age_seconds is None else now_us - int(min_age_seconds * 1e6),
        None if max_age_seconds is None else now_us - int(max_age_seconds * 1e6),
        escalated,
    )


class TooManyExceptions(StockbridgeError):
    """A bulk action whose filter matches more exceptions than one call may take."""

    def __init__(self, limit: int) -> None:
        super().__init__(
            f"the filter matches more than {limit} exceptions; narrow it (reason, source, age)"
        )
        self.limit = limit


class InvalidMapping(StockbridgeError):
    """Cross references sent to fix exceptions that cannot be stored as given."""

    def __init__(self, report: ImportReport) -> None:
        super().__init__(
            "; ".join(f"row {e.row} {e.field}: {e.message}" for e in report.errors)
            or "no cross reference given"
        )
        self.report = report


@dataclass(frozen=True, slots=True)
class Skipped:
    exception_id: int
    why: str


@dataclass(slots=True)
class BulkOutcome:
    done: list[ExceptionRecord] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)


@dataclass(slots=True)
class MappingFix:
    """Cross references stored, and what replaying the exceptions they resolve gave."""

    xrefs: list[Xref]
    replayed: list[ReplayOutcome] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)

    @property
    def resolved(self) -> list[ReplayOutcome]:
        return [o for o in self.replayed if o.result.status is not Status.EXCEPTION]

    @property
    def still_failing(self) -> list[ReplayOutcome]:
        return [o for o in self.replayed if o.result.status is Status.EXCEPTION]


@dataclass(frozen=True, slots=True)
class TriageSummary:
    open_by_reason: dict[str, int]
    overdue_by_reason: dict[str, int]
    sla_seconds_by_reason: dict[str, float]
    resolution: dict[str, ResolutionStats]
    window_seconds: float


class TriageService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        exceptions: ExceptionService,
        master_data: MasterDataService,
        sla: ExceptionSla,
    ) -> None:
        self.store = store
        self.clock = clock
        self.exceptions = exceptions
        self.master_data = master_data
        self.sla = sla

    def _now_us(self) -> int:
        return to_micros(self.clock.now())

    def _open(self, exception_id: int, action: str) -> ExceptionRecord:
        record = self.exceptions.get(exception_id)
        if record.status != OPEN:
            raise ExceptionNotWorkable(
                record, f"exception {exception_id} is {record.status}: it cannot be {action}"
            )
        return record

    # --- reading ---------------------------------------------------------------------
    def find(
        self,
        where: ExceptionFilter,
        after_id: int = 0,
        limit: int = 100,
        overdue: bool | None = None,
    ) -> list[ExceptionRecord]:
        """A page of exceptions; `overdue` keeps only those past their reason's SLA (or
        only those that are not), decided in the query so that a page is a full page."""
        if overdue is not None:
            cutoffs = self._cutoffs(self._now_us())
            where = replace(where, overdue=overdue, overdue_cutoffs=tuple(sorted(cutoffs.items())))
        return self.store.triage_exceptions(where, after_id=after_id, limit=limit)

    def thread(self, exception_id: int) -> list[ExceptionNote]:
        self.exceptions.get(exception_id)
        return self.store.exception_notes(exception_id)

    def overdue(self, record: ExceptionRecord, now_us: int | None = None) -> bool:
        """Open and older than its reason's SLA."""
        now_us = self._now_us() if now_us is None else now_us
        return record.status == OPEN and self.sla.overdue(record.reason, record.created_us, now_us)

    # --- one exception ---------------------------------------------------------------
    def assign(self, exception_id: int, assignee: str | None, actor: str) -> ExceptionRecord:
        """Give an open exception to someone (None: take it back to the pool)."""
        self._open(exception_id, "assigned")
        now_us = self._now_us()
        self.store.assign_exception(exception_id, assignee, now_us)
        text = f"assigned to {assignee}" if assignee else "unassigned"
        self.store.add_exception_notes([(exception_id, "assigned", actor, text)], now_us)
        return self.exceptions.get(exception_id)

    def note(self, exception_id: int, text: str, actor: str) -> ExceptionNote:
        """Add a note to an exception's thread (open or closed: a post-mortem is fine)."""
        self.exceptions.get(exception_id)
        self.store.add_exception_notes([(exception_id, "note", actor, text)], self._now_us())
        return self.store.exception_notes(exception_id)[-1]

    def escalate(self, exception_id: int, actor: str, text: str | None = None) -> ExceptionRecord:
        """Raise an open exception one level, saying why when there is a why."""
        self._open(exception_id, "escalated")
        now_us = self._now_us()
        level = self.store.escalate_exception(exception_id, now_us)
        said = f"escalated to level {level}" + (f": {text}" if text else "")
        self.store.add_exception_notes([(exception_id, "escalated", actor, said)], now_us)
        return self.exceptions.get(exception_id)

    # --- many at once ----------------------------------------------------------------
    def matching(self, where: ExceptionFilter) -> list[int]:
        """Ids of the open exceptions a filter matches, at most BULK_LIMIT."""
        where = ExceptionFilter(
            OPEN,
            where.reason,
            where.source,
            where.assignee,
            where.created_before_us,
            where.created_after_us,
            where.escalated,
        )
        ids: list[int] = []
        after = 0
        while page := self.store.triage_exceptions(where, after_id=after, limit=_PAGE):
            ids.extend(r.id for r in page)
            after = page[-1].id
            if len(ids) > BULK_LIMIT:
                raise TooManyExceptions(BULK_LIMIT)
        return ids

    def ignore_many(self, ids: Iterable[int], note: str, actor: str) -> BulkOutcome:
        """Ignore each open exception with the same note; the others are reported."""
        outcome = BulkOutcome()
        for exception_id in sorted(set(ids)):
            try:
                outcome.done.append(self.exceptions.ignore(exception_id, note, actor))
            except StockbridgeError as e:
                outcome.skipped.append(Skipped(exception_id, str(e)))
        return outcome

    # --- fix a mapping and replay ------------------------------------------------------
    def fix_mapping(self, rows: Sequence[Any], actor: str) -> MappingFix:
        """Store cross references, then replay every open exception they resolve: those
        parked because that very code of that source did not map. Rows are all valid or
        nothing is stored."""
        problems = ImportReport(MasterKind.XREFS, received=len(rows))
        for i, raw in enumerate(rows):
            try:
                XrefRow.model_validate(raw)
            except ValidationError as e:
                problems.errors.extend(
                    RowError(i, ".".join(str(p) for p in err["loc"]) or "$", err["msg"])
                    for err in e.errors()
                )
        if problems.errors or not rows:
            raise InvalidMapping(problems)
        report = self.master_data.import_list(MasterKind.XREFS, rows, ConfigChange(actor))
        fix = MappingFix(list(report.stored))
        for exception_id in self.resolved_by(fix.xrefs):
            try:
                fix.replayed.append(self.exceptions.replay(exception_id, actor, MAPPING_FIXED))
            except StockbridgeError as e:
                fix.skipped.append(Skipped(exception_id, str(e)))
        return fix

    def resolved_by(self, xrefs: Sequence[Xref]) -> list[int]:
        """Ids of the open exceptions these cross references resolve."""
        candidates: list[Parked] = []
        for source, reason in sorted({(x.source, MAPPING_REASONS[x.kind]) for x in xrefs}):
            candidates.extend(self._open_parked(source, reason))
        return resolved_by(xrefs, candidates)

    def _open_parked(self, source: str, reason: Reason) -> Iterable[Parked]:
        where = ExceptionFilter(OPEN, reason.value, source)
        after = 0
        while page := self.store.triage_exceptions(where, after_id=after, limit=_PAGE):
            after = page[-1].id
            yield from (Parked(r.id, r.reason, r.source, r.field, r.payload) for r in page)

    # --- the SLA -----------------------------------------------------------------------
    def _cutoffs(self, now_us: int, reasons: Iterable[str] | None = None) -> dict[str, int]:
        """Each reason's SLA cutoff (by default, of every reason with open exceptions)."""
        if reasons is None:
            reasons = self.store.open_exceptions_by_reason()
        return {reason: self.sla.cutoff_us(reason, now_us) for reason in reasons}

    def overdue_exceptions(self, now: datetime) -> list[ExceptionRecord]:
        """Open exceptions that went past their SLA since the last look: each is marked
        and gets an `overdue` entry in its thread, once. What an alert reports."""
        now_us = to_micros(now)
        return self.store.mark_overdue(self._cutoffs(now_us), now_us)

    def overdue_counts(self, now: datetime) -> dict[str, int]:
        """Reason -> open exceptions older than that reason's SLA."""
        return self.store.open_exceptions_before(self._cutoffs(to_micros(now)))

    def alerts(self, limit: int = 100) -> list[ExceptionNote]:
        """The newest overdue alerts raised, newest first."""
        return self.store.exception_alerts(limit)

    def summary(self, window_seconds: float = STATS_WINDOW_SECONDS) -> TriageSummary:
        now_us = self._now_us()
        open_by_reason = self.store.open_exceptions_by_reason()
        times = self.store.resolution_times(now_us - int(window_seconds * 1e6), 100_000)
        return TriageSummary(
            open_by_reason,
            self.store.open_exceptions_before(self._cutoffs(now_us, open_by_reason)),
            {reason: self.sla.limit_us(reason) / 1e6 for reason in open_by_reason},
            resolution_stats((reason, took) for reason, _, took in times),
            window_seconds,
        )


class OverdueWatch:
    """Looks for exceptions gone past their SLA every `interval` seconds while the hub
    serves, and logs one warning per exception the first time it is found overdue.

    `on_overdue` is where an alert goes: it receives the exceptions newly overdue.
    """

    def __init__(
        self,
        triage: TriageService,
        interval: float,
        on_overdue: Callable[[list[ExceptionRecord]], None] | None = None,
    ) -> None:
        self.triage = triage
        self.interval = interval
        self.on_overdue = on_overdue
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def check(self) -> list[ExceptionRecord]:
        found = self.triage.overdue_exceptions(self.triage.clock.now())
        for r in found:
            log.warning(
                "exception overdue",
                extra={"exception_id": r.id, "reason": r.reason, "source": r.source},
            )
        if found and self.on_overdue is not None:
            self.on_overdue(found)
        return found

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check()
            except StockbridgeError:
                log.exception("the overdue exception check failed; trying again")

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="overdue-watch", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None
