"""SQL for reconciliation runs: their summaries, their differing lines and open drift.

Mixed into SqlStore. A run and the drift it leaves open are saved in one transaction, so
a report's "first seen" never disagrees with the drift table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..app.ports import NewRun, RunRecord
from ..domain.reconciliation import Action, Cause, Difference
from .quantities import qty, qty_or_none, units, units_or_none

_RUN_COLUMNS = (
    "id, system, origin, policy, snapshot_us, created_us, lines_read, lines_rejected, matched,"
    " differing, drift_units, drift_value, oldest_us, summary"
)
_LINE_COLUMNS = (
    "line_no, sku, location, system_sku, system_location, hub_quantity, system_quantity,"
    " difference, unit_cost, value, cause, first_seen_us, action"
)


def _run(row: Sequence[Any]) -> RunRecord:
    return RunRecord(
        id=row[0],
        system=row[1],
        origin=row[2],
        policy=row[3],
        snapshot_us=row[4],
        created_us=row[5],
        lines_read=row[6],
        lines_rejected=row[7],
        matched=row[8],
        differing=row[9],
        drift_units=qty(row[10]),
        drift_value=qty(row[11]),
        oldest_us=row[12],
        summary=orjson.loads(row[13]),
    )


def _line(row: Sequence[Any]) -> Difference:
    return Difference(
        line_no=row[0],
        sku=row[1],
        location=row[2],
        system_sku=row[3],
        system_location=row[4],
        hub=qty_or_none(row[5]),
        system=qty(row[6]),
        difference=qty(row[7]),
        unit_cost=qty_or_none(row[8]),
        value=qty_or_none(row[9]),
        cause=Cause(row[10]),
        first_seen_us=row[11],
        action=Action(row[12]),
    )


class ReconciliationStoreMixin:
    """Expects SqlStore's `read`, `_write` and `sql`."""

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> Any:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    def open_drift(self, system: str) -> dict[tuple[str, str], int]:
        rows = self.read(
            "SELECT system_sku, system_location, first_seen_us FROM reconciliation_drift "
            "WHERE system = ?",
            (system,),
        )
        return {(r[0], r[1]): int(r[2]) for r in rows}

    def in_flight_keys(self, target: str, kind: str) -> set[str]:
        rows = self.read(
            "SELECT DISTINCT key FROM deliveries WHERE target = ? AND kind = ? "
            "AND state IN ('pending', 'in_flight')",
            (target, kind),
        )
        return {r[0] for r in rows}

    def save_reconciliation(
        self,
        run: NewRun,
        differences: Sequence[Difference],
        matched: Sequence[tuple[str, str]],
        now_us: int,
    ) -> int:
        """Record a run and its differing lines; open drift for what differs, close it for
        what matched. Returns the run's id."""
        s = run.summary
        with self._write() as cur:
            cur.execute(
                self.sql(
                    "INSERT INTO reconciliation_runs (system, origin, policy, snapshot_us, "
                    "created_us, lines_read, lines_rejected, matched, differing, drift_units, "
                    "drift_value, oldest_us, summary) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?) "
                    "RETURNING id"
                ),
                (
                    run.system,
                    run.origin,
                    run.policy,
                    run.snapshot_us,
                    now_us,
                    s.lines,
                    len(run.rejected),
                    s.matched,
                    s.differing,
                    units(s.drift_units),
                    units(s.drift_value),
                    s.oldest_us,
                    orjson.dumps(
                        {"by_cause": s.by_cause, "rejected": run.rejected, "actions": run.actions}
                    ).decode(),
                ),
            )
            run_id = int(cur.fetchone()[0])
            cur.executemany(
                self.sql(
                    f"INSERT INTO reconciliation_lines (run_id, {_LINE_COLUMNS}) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                ),
                [
                    (
                        run_id,
                        d.line_no,
                        d.sku,
                        d.location,
                        d.system_sku,
                        d.system_location,
                        units_or_none(d.hub),
                        units(d.system),
                        units(d.difference),
                        units_or_none(d.unit_cost),
                        units_or_none(d.value),
                        d.cause.value,
                        d.first_seen_us,
                        d.action.value,
                    )
                    for d in differences
                ],
            )
            cur.executemany(
                self.sql(
                    "INSERT INTO reconciliation_drift (system, system_sku, system_location, "
                    "first_seen_us, last_run_id) VALUES (?,?,?,?,?) "
                    "ON CONFLICT (system, system_sku, system_location) DO UPDATE SET "
                    "last_run_id = excluded.last_run_id"
                ),
                [
                    (run.system, d.system_sku, d.system_location, d.first_seen_us, run_id)
                    for d in differences
                ],
            )
            cur.executemany(
                self.sql(
                    "DELETE FROM reconciliation_drift WHERE system = ? AND system_sku = ? "
                    "AND system_location = ?"
                ),
                [(run.system, sku, loc) for sku, loc in matched],
            )
        return run_id

    def reconciliation_runs(self, system: str | None, limit: int) -> list[RunRecord]:
        where, params = ("WHERE system = ? ", [system]) if system else ("", [])
        rows = self.read(
            f"SELECT {_RUN_COLUMNS} FROM reconciliation_runs {where}ORDER BY id DESC LIMIT ?",
            [*params, limit],
        )
        return [_run(r) for r in rows]

    def reconciliation_run(self, run_id: int) -> RunRecord | None:
        rows = self.read(f"SELECT {_RUN_COLUMNS} FROM reconciliation_runs WHERE id = ?", (run_id,))
        return _run(rows[0]) if rows else None

    def latest_reconciliations(self) -> list[RunRecord]:
        """The newest run of each system."""
        rows = self.read(
            f"SELECT {_RUN_COLUMNS} FROM reconciliation_runs WHERE id IN "
            "(SELECT MAX(id) FROM reconciliation_runs GROUP BY system) ORDER BY system"
        )
        return [_run(r) for r in rows]

    def reconciliation_lines(self, run_id: int) -> list[Difference]:
        rows = self.read(
            f"SELECT {_LINE_COLUMNS} FROM reconciliation_lines WHERE run_id = ? ORDER BY line_no",
            (run_id,),
        )
        return [_line(r) for r in rows]
