"""SQL for observability: event counters, SLA windows and breach episodes.

Mixed into SqlStore. Counters are written by the transactions that do the work (see
migration 0014) and summed over their shards here, at scrape time.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import orjson

from ..app.ports import NewDelivery
from ..domain.slas import Compliance
from .delivery_store import counter_shard, enqueue_deliveries


def count_events(cur: Any, sql: Any, counts: Mapping[tuple[str, str, str], int]) -> None:
    """Add (source, type, status) -> n to the event counters, inside the ingest
    transaction: a handful of upserts per group commit, whatever its size."""
    if counts:
        shard = counter_shard()
        cur.executemany(
            sql(
                "INSERT INTO event_counts (source, type, status, shard, count) "
                "VALUES (?,?,?,?,?) ON CONFLICT (source, type, status, shard) "
                "DO UPDATE SET count = event_counts.count + excluded.count"
            ),
            [(*k, shard, n) for k, n in sorted(counts.items())],
        )


class ObservabilityStoreMixin:
    """Expects SqlStore's `read`, `_write` and `sql`."""

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def _write(self) -> Any:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    def event_counts(self) -> dict[tuple[str, str, str], int]:
        rows = self.read(
            "SELECT source, type, status, SUM(count) FROM event_counts "
            "GROUP BY source, type, status"
        )
        return {(r[0], r[1], r[2]): int(r[3]) for r in rows}

    def sla_compliance(
        self, workflow: str, since_us: int, now_us: int, target_us: int
    ) -> Compliance:
        """Deliveries of `workflow` whose cause occurred at or after `since_us`, judged
        as `domain.slas.judge` does. Superseded pushes are not judged: the push that
        replaced them carries their clock."""
        row = self.read(
            "SELECT "
            "SUM(CASE WHEN delivered_us IS NOT NULL AND delivered_us - occurred_us <= ? "
            "THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN (delivered_us IS NOT NULL AND delivered_us - occurred_us > ?) "
            "OR (delivered_us IS NULL AND ? - occurred_us > ?) THEN 1 ELSE 0 END), "
            "SUM(CASE WHEN delivered_us IS NULL AND ? - occurred_us <= ? THEN 1 ELSE 0 END) "
            "FROM deliveries WHERE workflow = ? AND occurred_us >= ? AND state <> 'superseded'",
            (target_us, target_us, now_us, target_us, now_us, target_us, workflow, since_us),
        )[0]
        return Compliance(int(row[0] or 0), int(row[1] or 0), int(row[2] or 0))

    def sla_breaches(self) -> dict[str, int]:
        """Workflow -> since when (µs) it has been in breach."""
        return {r[0]: int(r[1]) for r in self.read("SELECT workflow, since_us FROM sla_breaches")}

    def queue_alerts(self, alerts: Sequence[NewDelivery], now_us: int) -> None:
        """Queue alert deliveries on their own (an alert not tied to a breach episode)."""
        with self._write() as cur:
            enqueue_deliveries(cur, self.sql, alerts, now_us)

    def open_sla_breach(
        self,
        workflow: str,
        detail: str,
        report: dict[str, Any],
        alerts: Sequence[NewDelivery],
        now_us: int,
    ) -> bool:
        """Start a breach episode: the exception and the alerts, in one transaction.

        False (and nothing written) when the episode is already open: another hub
        process raised it first.
        """
        with self._write() as cur:
            cur.execute(
                self.sql(
                    "INSERT INTO sla_breaches (workflow, since_us) VALUES (?,?) "
                    "ON CONFLICT (workflow) DO NOTHING"
                ),
                (workflow, now_us),
            )
            if cur.rowcount != 1:
                return False
            cur.execute(
                self.sql(
                    "INSERT INTO exceptions (source, event_id, payload_hash, reason, field, "
                    "detail, payload, status, occurrences, created_us, updated_us) "
                    "VALUES ('sla',?,NULL,'sla_breach',NULL,?,?,'open',1,?,?) RETURNING id"
                ),
                (workflow, detail, orjson.dumps(report).decode(), now_us, now_us),
            )
            exception_id = cur.fetchone()[0]
            cur.execute(
                self.sql("UPDATE sla_breaches SET exception_id = ? WHERE workflow = ?"),
                (exception_id, workflow),
            )
            enqueue_deliveries(cur, self.sql, alerts, now_us)
            return True

    def close_sla_breach(
        self, workflow: str, note: str, alerts: Sequence[NewDelivery], now_us: int
    ) -> bool:
        """End a breach episode: its exception resolved and the recovery alerted.

        False when no episode was open (another process closed it first).
        """
        with self._write() as cur:
            cur.execute(
                self.sql("SELECT exception_id FROM sla_breaches WHERE workflow = ?"),
                (workflow,),
            )
            row = cur.fetchone()
            cur.execute(self.sql("DELETE FROM sla_breaches WHERE workflow = ?"), (workflow,))
            if row is None or cur.rowcount != 1:
                return False
            cur.execute(
                self.sql(
                    "UPDATE exceptions SET status = 'resolved', note = ?, updated_us = ? "
                    "WHERE id = ? AND status = 'open'"
                ),
                (note, now_us, row[0]),
            )
            enqueue_deliveries(cur, self.sql, alerts, now_us)
            return True

    def open_exceptions_by_age(
        self, now_us: int, bands_us: Sequence[int]
    ) -> dict[tuple[str, int], int]:
        """(reason, band index) -> open exceptions, band i holding ages up to bands_us[i]
        and the last band the older ones."""
        cases = " ".join(f"WHEN ? - created_us <= ? THEN {i}" for i in range(len(bands_us)))
        params: list[Any] = []
        for bound in bands_us:
            params += [now_us, bound]
        rows = self.read(
            f"SELECT reason, CASE {cases} ELSE {len(bands_us)} END AS band, COUNT(*) "
            "FROM exceptions WHERE status = 'open' GROUP BY reason, band",
            params,
        )
        return {(r[0], int(r[1])): int(r[2]) for r in rows}
