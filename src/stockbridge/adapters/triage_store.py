"""SQL for exception triage (owners, escalation, notes, SLA marks, resolution times) and
for configuration history (every version of a cross reference, channel or target).

Mixed into SqlStore. A configuration write and its history row share one transaction, so
no change is ever stored without its author, nor recorded without having happened.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from typing import Any

import orjson

from ..app.ports import (
    ConfigChange,
    ExceptionFilter,
    ExceptionNote,
    ExceptionRecord,
    HistoryEntry,
)
from ..domain.model import Xref

EXCEPTION_COLUMNS = (
    "id, reason, detail, field, payload, source, event_id, status, occurrences, note,"
    " created_us, updated_us, assignee, escalation, escalated_us, resolved_us, resolution,"
    " overdue_us"
)
_HISTORY_COLUMNS = "kind, key, version, action, actor, at_us, before, after, rollback_of"
_CHUNK = 400
_NOTE_INSERT = (
    "INSERT INTO exception_notes (exception_id, kind, author, at_us, text) VALUES (?,?,?,?,?)"
)
#: Who wrote configuration when nobody is named (an import from code, a test).
SYSTEM_ACTOR = "system"

#: (key, row to upsert, configuration after the write) per entity written.
Versioned = Sequence[tuple[str, Sequence[Any], dict[str, Any]]]


def exception_record(row: Sequence[Any]) -> ExceptionRecord:
    return ExceptionRecord(
        id=row[0],
        reason=row[1],
        detail=row[2],
        field=row[3],
        payload=orjson.loads(row[4]),
        source=row[5],
        event_id=row[6],
        status=row[7],
        occurrences=row[8],
        note=row[9],
        created_us=row[10],
        updated_us=row[11],
        assignee=row[12],
        escalation=row[13],
        escalated_us=row[14],
        resolved_us=row[15],
        resolution=row[16],
        overdue_us=row[17],
    )


def _history(row: Sequence[Any]) -> HistoryEntry:
    kind, key, version, action, actor, at_us, before, after, rollback_of = row
    return HistoryEntry(
        kind,
        key,
        version,
        action,
        actor,
        at_us,
        orjson.loads(before) if before is not None else None,
        orjson.loads(after) if after is not None else None,
        rollback_of,
    )


def xref_key(x: Xref) -> str:
    """The history key of a cross reference: source/kind/external code."""
    return f"{x.source}/{x.kind.value}/{x.external_code}"


def xref_config(x: Xref) -> dict[str, Any]:
    return {
        "source": x.source,
        "kind": x.kind.value,
        "external_code": x.external_code,
        "code": x.code,
    }


def _chunks(seq: Sequence[Any]) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), _CHUNK):
        yield seq[i : i + _CHUNK]


def _marks(n: int) -> str:
    return ",".join("?" * n)


class TriageStoreMixin:
    """Triage and history reads and writes; expects SqlStore's `read`, `_write`, `sql`."""

    # provided by SqlStore
    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> AbstractContextManager[Any]:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    def serialise_config(self, cursor: Any) -> None:
        """Make configuration writers take turns, so versions are handed out in order
        (one writer at a time already: nothing to do)."""

    # --- exceptions ------------------------------------------------------------------
    def triage_exceptions(
        self, where: ExceptionFilter, *, after_id: int = 0, limit: int = 100
    ) -> list[ExceptionRecord]:
        clauses: list[str] = ["id > ?"]
        params: list[Any] = [after_id]
        for column, value in (
            ("status", where.status),
            ("reason", where.reason),
            ("source", where.source),
            ("assignee", where.assignee),
        ):
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if where.created_before_us is not None:
            clauses.append("created_us <= ?")
            params.append(where.created_before_us)
        if where.created_after_us is not None:
            clauses.append("created_us >= ?")
            params.append(where.created_after_us)
        if where.escalated is not None:
            clauses.append("escalation > 0" if where.escalated else "escalation = 0")
        if where.overdue is not None:
            # Overdue: open and created before its reason's cutoff (no cutoffs: none is).
            late = " OR ".join(["(reason = ? AND created_us < ?)"] * len(where.overdue_cutoffs))
            overdue = f"(status = 'open' AND ({late}))" if late else "1 = 0"
            clauses.append(overdue if where.overdue else f"NOT {overdue}")
            params.extend(v for pair in where.overdue_cutoffs for v in pair)
        rows = self.read(
            f"SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE {' AND '.join(clauses)} "
            "ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [exception_record(r) for r in rows]

    def set_exception_status(
        self,
        exception_id: int,
        status: str,
        note: str | None,
        now_us: int,
        resolution: str | None = None,
    ) -> None:
        closed = status != "open"
        with self._write() as cur:
            cur.execute(
                self.sql(
                    "UPDATE exceptions SET status = ?, note = COALESCE(?, note), updated_us = ?, "
                    "resolved_us = ?, resolution = ? WHERE id = ?"
                ),
                (
                    status,
                    note,
                    now_us,
                    now_us if closed else None,
                    (resolution or status) if closed else None,
                    exception_id,
                ),
            )

    def assign_exception(self, exception_id: int, assignee: str | None, now_us: int) -> None:
        with self._write() as cur:
            cur.execute(
                self.sql("UPDATE exceptions SET assignee = ?, updated_us = ? WHERE id = ?"),
                (assignee, now_us, exception_id),
            )

    def escalate_exception(self, exception_id: int, now_us: int) -> int:
        with self._write() as cur:
            cur.execute(
                self.sql(
                    "UPDATE exceptions SET escalation = escalation + 1, escalated_us = ?, "
                    "updated_us = ? WHERE id = ?"
                ),
                (now_us, now_us, exception_id),
            )
            cur.execute(self.sql("SELECT escalation FROM exceptions WHERE id = ?"), (exception_id,))
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def add_exception_notes(self, notes: Sequence[tuple[int, str, str, str]], now_us: int) -> None:
        if not notes:
            return
        with self._write() as cur:
            cur.executemany(
                self.sql(_NOTE_INSERT),
                [(i, kind, author, now_us, text) for i, kind, author, text in notes],
            )

    def _notes(self, where_and_order: str, params: Sequence[Any]) -> list[ExceptionNote]:
        rows = self.read(
            "SELECT id, exception_id, kind, author, at_us, text FROM exception_notes "
            + where_and_order,
            params,
        )
        return [ExceptionNote(*r) for r in rows]

    def exception_notes(self, exception_id: int) -> list[ExceptionNote]:
        return self._notes("WHERE exception_id = ? ORDER BY id", (exception_id,))

    def exception_alerts(self, limit: int) -> list[ExceptionNote]:
        return self._notes("WHERE kind = 'overdue' ORDER BY id DESC LIMIT ?", (limit,))

    def mark_overdue(self, cutoffs: Mapping[str, int], now_us: int) -> list[ExceptionRecord]:
        marked: list[ExceptionRecord] = []
        with self._write() as cur:
            for reason, cutoff in sorted(cutoffs.items()):
                cur.execute(
                    self.sql(
                        f"SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE status = 'open' "
                        "AND reason = ? AND created_us < ? AND overdue_us IS NULL ORDER BY id"
                    ),
                    (reason, cutoff),
                )
                marked.extend(exception_record(r) for r in cur.fetchall())
            if marked:
                ids = [(now_us, r.id) for r in marked]
                cur.executemany(self.sql("UPDATE exceptions SET overdue_us = ? WHERE id = ?"), ids)
                cur.executemany(
                    self.sql(_NOTE_INSERT),
                    [
                        (
                            r.id,
                            "overdue",
                            "stockbridge",
                            now_us,
                            f"open past its SLA for {r.reason}",
                        )
                        for r in marked
                    ],
                )
        return marked

    def open_exceptions_before(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        out: dict[str, int] = {}
        for reason, cutoff in sorted(cutoffs.items()):
            rows = self.read(
                "SELECT COUNT(*) FROM exceptions WHERE status = 'open' AND reason = ? "
                "AND created_us < ?",
                (reason, cutoff),
            )
            out[reason] = int(rows[0][0])
        return out

    def resolution_times(self, since_us: int, limit: int) -> list[tuple[str, str, int]]:
        rows = self.read(
            "SELECT reason, resolution, resolved_us - created_us FROM exceptions "
            "WHERE resolved_us IS NOT NULL AND resolved_us >= ? ORDER BY resolved_us DESC "
            "LIMIT ?",
            (since_us, limit),
        )
        return [(r[0], r[1] or "", int(r[2])) for r in rows]

    # --- configuration history -------------------------------------------------------
    def config_history(
        self, kind: str, key: str | None = None, *, limit: int = 100, before_version: int = 0
    ) -> list[HistoryEntry]:
        if key is None:
            rows = self.read(
                f"SELECT {_HISTORY_COLUMNS} FROM config_history WHERE kind = ? "
                "ORDER BY at_us DESC, key, version DESC LIMIT ?",
                (kind, limit),
            )
        else:
            rows = self.read(
                f"SELECT {_HISTORY_COLUMNS} FROM config_history WHERE kind = ? AND key = ? "
                "AND (? = 0 OR version < ?) ORDER BY version DESC LIMIT ?",
                (kind, key, before_version, before_version, limit),
            )
        return [_history(r) for r in rows]

    def config_version(self, kind: str, key: str, version: int) -> HistoryEntry | None:
        rows = self.read(
            f"SELECT {_HISTORY_COLUMNS} FROM config_history "
            "WHERE kind = ? AND key = ? AND version = ?",
            (kind, key, version),
        )
        return _history(rows[0]) if rows else None

    def write_versioned(
        self,
        kind: str,
        upsert: str,
        writes: Versioned,
        current: Callable[[Any, Sequence[str]], dict[str, dict[str, Any]]],
        change: ConfigChange | None,
        now_us: int,
    ) -> None:
        """Upsert configuration rows and, in the same transaction, one history version per
        entity whose configuration changed (a rollback is recorded even when it changes
        nothing: someone asked for it). Bumps the version that makes caches reload."""
        if not writes:
            return
        change = change or ConfigChange(SYSTEM_ACTOR)
        with self._write() as cur:
            self.serialise_config(cur)
            latest = {key: after for key, _, after in writes}  # a later row for a key wins
            before = current(cur, list(latest))
            changed = [
                key
                for key, after in latest.items()
                if change.rollback_of is not None or before.get(key) != after
            ]
            versions = self._latest_versions(cur, kind, changed)
            cur.executemany(self.sql(upsert), [row for _, row, _ in writes])
            cur.executemany(
                self.sql(
                    f"INSERT INTO config_history ({_HISTORY_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?)"
                ),
                [
                    (
                        kind,
                        key,
                        versions.get(key, 0) + 1,
                        _action(before.get(key), change),
                        change.actor,
                        now_us,
                        _json(before.get(key)),
                        _json(latest[key]),
                        change.rollback_of,
                    )
                    for key in changed
                ],
            )
            cur.execute(
                self.sql("UPDATE meta SET value = value + 1 WHERE name = ?"), ("master_version",)
            )

    def _latest_versions(self, cur: Any, kind: str, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(keys):
            cur.execute(
                self.sql(
                    "SELECT key, MAX(version) FROM config_history WHERE kind = ? "
                    f"AND key IN ({_marks(len(chunk))}) GROUP BY key"
                ),
                [kind, *chunk],
            )
            found.update((k, int(v)) for k, v in cur.fetchall())
        return found

    # --- the versioned writes ------------------------------------------------------------
    def _named_configs(self, table: str) -> Callable[[Any, Sequence[str]], dict[str, Any]]:
        def current(cur: Any, names: Sequence[str]) -> dict[str, Any]:
            out: dict[str, Any] = {}
            for chunk in _chunks(names):
                marks = _marks(len(chunk))
                cur.execute(
                    self.sql(f"SELECT name, config FROM {table} WHERE name IN ({marks})"),
                    list(chunk),
                )
                out.update((name, orjson.loads(config)) for name, config in cur.fetchall())
            return out

        return current

    def put_channel(
        self, name: str, config: dict[str, Any], now_us: int, change: ConfigChange | None = None
    ) -> None:
        self.write_versioned(
            "channel",
            "INSERT INTO channels (name, config, updated_us) VALUES (?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config, "
            "updated_us = excluded.updated_us",
            [(name, (name, orjson.dumps(config).decode(), now_us), config)],
            self._named_configs("channels"),
            change,
            now_us,
        )

    def put_target(
        self, name: str, config: dict[str, Any], now_us: int, change: ConfigChange | None = None
    ) -> None:
        self.write_versioned(
            "target",
            "INSERT INTO targets (name, config, updated_us) VALUES (?,?,?) "
            "ON CONFLICT (name) DO UPDATE SET config = excluded.config, "
            "updated_us = excluded.updated_us",
            [(name, (name, orjson.dumps(config).decode(), now_us), config)],
            self._named_configs("targets"),
            change,
            now_us,
        )

    def upsert_xrefs(
        self, xrefs: Sequence[Xref], now_us: int, change: ConfigChange | None = None
    ) -> None:
        def current(cur: Any, keys: Sequence[str]) -> dict[str, dict[str, Any]]:
            wanted = set(keys)
            groups: dict[tuple[str, str], list[str]] = {}
            for x in xrefs:
                groups.setdefault((x.source, x.kind.value), []).append(x.external_code)
            out: dict[str, dict[str, Any]] = {}
            for (source, kind), codes in sorted(groups.items()):
                for chunk in _chunks(sorted(set(codes))):
                    cur.execute(
                        self.sql(
                            "SELECT source, kind, external_code, code FROM xrefs "
                            f"WHERE source = ? AND kind = ? AND external_code IN "
                            f"({_marks(len(chunk))})"
                        ),
                        [source, kind, *chunk],
                    )
                    for s, k, e, c in cur.fetchall():
                        key = f"{s}/{k}/{e}"
                        if key in wanted:
                            out[key] = {"source": s, "kind": k, "external_code": e, "code": c}
            return out

        self.write_versioned(
            "xref",
            "INSERT INTO xrefs (source, kind, external_code, code, updated_us) "
            "VALUES (?,?,?,?,?) ON CONFLICT (source, kind, external_code) DO UPDATE SET "
            "code = excluded.code, updated_us = excluded.updated_us",
            [
                (
                    xref_key(x),
                    (x.source, x.kind.value, x.external_code, x.code, now_us),
                    xref_config(x),
                )
                for x in xrefs
            ],
            current,
            change,
            now_us,
        )


def _action(before: dict[str, Any] | None, change: ConfigChange) -> str:
    if change.rollback_of is not None:
        return "rollback"
    return "create" if before is None else "update"


def _json(value: dict[str, Any] | None) -> str | None:
    return orjson.dumps(value).decode() if value is not None else None
