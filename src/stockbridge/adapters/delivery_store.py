"""SQL for the delivery engine: targets, the deliveries outbox, attempts, channel values.

Mixed into SqlStore; the claim follows STYLE trap 1: rows are claimed by state under the
write lock (SQLite) or `FOR UPDATE SKIP LOCKED` (PostgreSQL), never by tailing an id.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from ..app.ports import Delivery, Finished, NewDelivery

_DELIVERY_COLUMNS = (
    "id, target, kind, key, idempotency_key, payload, priority, state, attempts, coalesced, "
    "next_attempt_us, created_us, updated_us, delivered_us, last_status, last_error, causes"
)


def _delivery(row: Sequence[Any]) -> Delivery:
    return Delivery(
        row[0],
        row[1],
        row[2],
        row[3],
        row[4],
        orjson.loads(row[5]),
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
        row[12],
        row[13],
        row[14],
        row[15],
        orjson.loads(row[16]),
    )


def enqueue_deliveries(cur: Any, sql: Any, rows: Sequence[NewDelivery], now_us: int) -> None:
    """Insert deliveries; a pending availability push for the same key is replaced.

    A price delivery supersedes a pending one for the same target and key (a corrected
    version of the same price entry or promotion line): the newer version carries the
    truth, and the two never race on the wire.
    """
    pushes = [r for r in rows if r.kind == "availability"]
    postings = [r for r in rows if r.kind != "availability"]
    prices = [r for r in rows if r.kind == "price"]
    columns = (
        "INSERT INTO deliveries (target, kind, key, idempotency_key, payload, priority, state, "
        "next_attempt_us, created_us, updated_us, causes) VALUES (?,?,?,?,?,?,'pending',?,?,?,?)"
    )

    def values(r: NewDelivery) -> tuple[Any, ...]:
        return (
            r.target,
            r.kind,
            r.key,
            r.idempotency_key,
            orjson.dumps(r.payload).decode(),
            r.priority,
            now_us if r.not_before_us is None else max(now_us, r.not_before_us),
            now_us,
            now_us,
            orjson.dumps(r.causes).decode(),
        )

    if pushes:
        cur.executemany(
            sql(
                columns + " ON CONFLICT (target, key) WHERE state = 'pending' AND "
                "kind = 'availability' DO UPDATE SET payload = excluded.payload, "
                "priority = excluded.priority, idempotency_key = excluded.idempotency_key, "
                "coalesced = deliveries.coalesced + 1, updated_us = excluded.updated_us, "
                "causes = excluded.causes"
            ),
            [values(r) for r in pushes],
        )
    if prices:
        cur.executemany(
            sql(
                "UPDATE deliveries SET state = 'superseded', updated_us = ? "
                "WHERE target = ? AND kind = 'price' AND key = ? AND state = 'pending'"
            ),
            [(now_us, r.target, r.key) for r in prices],
        )
    if postings:
        cur.executemany(sql(columns), [values(r) for r in postings])


class DeliveryStoreMixin:
    """Delivery reads and writes; expects SqlStore's `read`, `write`, `_write`, `sql`."""

    skip_locked = ""

    # provided by SqlStore
    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        raise NotImplementedError

    def write(self, statement: str, params: Sequence[Any] = ()) -> None:
        raise NotImplementedError

    def write_config(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        raise NotImplementedError

    def _write(self) -> Any:
        raise NotImplementedError

    def sql(self, statement: str) -> str:
        raise NotImplementedError

    # --- targets ------------------------------------------------------------------------
    def targets(self) -> dict[str, tuple[dict[str, Any], bool]]:
        rows = self.read("SELECT name, config, paused FROM targets ORDER BY name")
        return {r[0]: (orjson.loads(r[1]), bool(r[2])) for r in rows}

    def set_target_paused(self, name: str, paused: bool, now_us: int) -> bool:
        with self._write() as cur:
            cur.execute(
                self.sql("UPDATE targets SET paused = ?, updated_us = ? WHERE name = ?"),
                (int(paused), now_us, name),
            )
            return bool(cur.rowcount)

    def target_backlog(self) -> dict[str, tuple[int, int | None, int]]:
        """Target -> (pending or in flight, oldest pending created_us, dead letters).

        One indexed range per target and state, so it stays cheap however many delivered
        rows the table keeps.
        """
        out: dict[str, tuple[int, int | None, int]] = {}
        for (name,) in self.read("SELECT name FROM targets ORDER BY name"):
            waiting = self.read(
                "SELECT COUNT(*), MIN(created_us) FROM deliveries "
                "WHERE target = ? AND state IN ('pending', 'in_flight')",
                (name,),
            )[0]
            dead = self.read(
                "SELECT COUNT(*) FROM deliveries WHERE target = ? AND state = 'dead'", (name,)
            )[0][0]
            out[name] = (int(waiting[0]), waiting[1], int(dead))
        return out

    def target_stats(self) -> dict[str, tuple[int, int | None, int, int]]:
        """Target -> (backlog, oldest pending created_us, dead letters, pushes coalesced)."""
        saved = {
            r[0]: int(r[1] or 0)
            for r in self.read("SELECT target, SUM(coalesced) FROM deliveries GROUP BY target")
        }
        return {name: (*row, saved.get(name, 0)) for name, row in self.target_backlog().items()}

    def delivered_push_latencies(self, since_us: int, limit: int) -> list[tuple[str, int]]:
        """(target, delivered_us - created_us) of the availability pushes delivered at or
        after `since_us`, newest first, at most `limit`.

        `created_us` is when the push was first queued: a push coalesced while it waited
        keeps it, so the figure is how long the channel waited for news, not for the value.
        The state and kind are literals so the partial index of migration 0010 serves it.
        """
        rows = self.read(
            "SELECT target, delivered_us - created_us FROM deliveries "
            "WHERE state = 'delivered' AND kind = 'availability' AND delivered_us >= ? "
            "ORDER BY delivered_us DESC LIMIT ?",
            (since_us, limit),
        )
        return [(r[0], int(r[1])) for r in rows]

    # --- the dispatcher's side -------------------------------------------------------------
    def claim_deliveries(
        self, target: str, now_us: int, lease_us: int, limit: int
    ) -> list[Delivery]:
        """Due deliveries of a target, marked in flight until the lease ends.

        Lowest priority value first (pushes to zero, then lowering ones), then oldest. A
        delivery waits while an earlier one with the same key is in flight (a newer
        availability value must not overtake an older one on the wire) or, for postings,
        still pending (postings go in order per SKU and location).
        """
        with self._write() as cur:
            return self._claim(cur, target, now_us, lease_us, limit)

    def finish_and_claim(
        self, done: Sequence[Finished], now_us: int, target: str, lease_us: int, limit: int
    ) -> tuple[list[str], list[Delivery]]:
        """Record a round and claim the next in one transaction: on SQLite every write
        transaction waits its turn behind the ingest writer, so a round takes one turn."""
        with self._write() as cur:
            stored = [self._finish(cur, f, now_us) for f in done]
            return stored, self._claim(cur, target, now_us, lease_us, limit)

    def _claim(
        self, cur: Any, target: str, now_us: int, lease_us: int, limit: int
    ) -> list[Delivery]:
        # Leases run out when a dispatcher died mid-flight: those deliveries go back to
        # the queue, unless a newer value for the same channel and SKU already waits.
        cur.execute(
            self.sql(
                "UPDATE deliveries SET state = 'superseded', updated_us = ? "
                "WHERE target = ? AND state = 'in_flight' AND lease_until_us <= ? "
                "AND kind = 'availability' AND EXISTS (SELECT 1 FROM deliveries n "
                "WHERE n.target = deliveries.target AND n.kind = 'availability' "
                "AND n.key = deliveries.key AND n.state = 'pending')"
            ),
            (now_us, target, now_us),
        )
        cur.execute(
            self.sql(
                "UPDATE deliveries SET state = 'pending', lease_until_us = NULL "
                "WHERE target = ? AND state = 'in_flight' AND lease_until_us <= ?"
            ),
            (target, now_us),
        )
        cur.execute(
            self.sql(
                f"SELECT {_DELIVERY_COLUMNS} FROM deliveries d WHERE d.target = ? "
                "AND d.state = 'pending' AND d.next_attempt_us <= ?"
                # Paused means paused from the moment the pause is committed.
                " AND NOT EXISTS (SELECT 1 FROM targets t WHERE t.name = d.target"
                "  AND t.paused = 1)"
                " AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.target = d.target"
                "  AND e.kind = d.kind AND e.key = d.key AND e.state = 'in_flight'"
                "  AND e.id < d.id)"
                " AND NOT (d.kind = 'posting' AND EXISTS (SELECT 1 FROM deliveries e"
                "  WHERE e.target = d.target AND e.kind = 'posting' AND e.key = d.key"
                "  AND e.state = 'pending' AND e.id < d.id))"
                f" ORDER BY d.priority, d.id LIMIT ?{self.skip_locked}"
            ),
            (target, now_us, limit),
        )
        rows = [_delivery(r) for r in cur.fetchall()]
        if rows:
            cur.executemany(
                self.sql(
                    "UPDATE deliveries SET state = 'in_flight', lease_until_us = ?, "
                    "attempts = attempts + 1, updated_us = ? WHERE id = ?"
                ),
                [(now_us + lease_us, now_us, r.id) for r in rows],
            )
        return rows

    def finish_delivery(
        self,
        delivery: Delivery,
        *,
        state: str,
        status: int | None,
        error: str | None,
        duration_ms: float,
        next_attempt_us: int | None,
        now_us: int,
    ) -> str:
        """Record an attempt and the delivery's new state; returns the state stored."""
        return self.finish_deliveries(
            [Finished(delivery, state, status, error, duration_ms, next_attempt_us)], now_us
        )[0]

    def finish_deliveries(self, done: Sequence[Finished], now_us: int) -> list[str]:
        """Record attempts and new states in one transaction (one fsync for a round).

        A push going back to pending becomes `superseded` when a newer value for the same
        channel and SKU is already waiting: that one carries the truth now.
        """
        stored = []
        with self._write() as cur:
            for f in done:
                stored.append(self._finish(cur, f, now_us))
        return stored

    def _finish(self, cur: Any, f: Finished, now_us: int) -> str:
        delivery, state = f.delivery, f.state
        cur.execute(
            self.sql(
                "INSERT INTO delivery_attempts (delivery_id, at_us, status, duration_ms, "
                "error, verdict) VALUES (?,?,?,?,?,?)"
            ),
            (delivery.id, now_us, f.status, f.duration_ms, f.error, state),
        )
        if state == "pending" and delivery.kind == "availability":
            cur.execute(
                self.sql(
                    "SELECT 1 FROM deliveries WHERE target = ? AND key = ? AND "
                    "kind = 'availability' AND state = 'pending' AND id <> ?"
                ),
                (delivery.target, delivery.key, delivery.id),
            )
            if cur.fetchone():
                state = "superseded"
        cur.execute(
            self.sql(
                "UPDATE deliveries SET state = ?, last_status = ?, last_error = ?, "
                "next_attempt_us = COALESCE(?, next_attempt_us), lease_until_us = NULL, "
                "attempts = attempts - ?, "
                "updated_us = ?, delivered_us = CASE WHEN ? = 'delivered' THEN ? "
                "ELSE delivered_us END WHERE id = ?"
            ),
            (
                state,
                f.status,
                f.error,
                f.next_attempt_us,
                0 if f.sent else 1,
                now_us,
                state,
                now_us,
                delivery.id,
            ),
        )
        if state == "rejected":
            # A business rejection waits for a person, with the request kept.
            cur.execute(
                self.sql(
                    "INSERT INTO exceptions (source, event_id, payload_hash, reason, field, "
                    "detail, payload, status, occurrences, created_us, updated_us) "
                    "VALUES (?,?,NULL,'target_rejected',NULL,?,?,'open',1,?,?)"
                ),
                (
                    f"target:{delivery.target}",
                    str(delivery.id),
                    f"{delivery.target} rejected delivery {delivery.id}: {f.error}",
                    orjson.dumps(delivery.payload).decode(),
                    now_us,
                    now_us,
                ),
            )
        return state

    # --- operators' side -------------------------------------------------------------------
    def deliveries(
        self,
        *,
        target: str | None = None,
        kind: str | None = None,
        state: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]:
        where: list[str] = ["id > ?"]
        params: list[Any] = [after_id]
        for column, value in (("target", target), ("kind", kind), ("state", state)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.read(
            f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE {' AND '.join(where)} "
            "ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [_delivery(r) for r in rows]

    def delivery(self, delivery_id: int) -> Delivery | None:
        rows = self.read(f"SELECT {_DELIVERY_COLUMNS} FROM deliveries WHERE id = ?", (delivery_id,))
        return _delivery(rows[0]) if rows else None

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]:
        rows = self.read(
            "SELECT at_us, status, duration_ms, error, verdict FROM delivery_attempts "
            "WHERE delivery_id = ? ORDER BY id",
            (delivery_id,),
        )
        return [
            {"at_us": r[0], "status": r[1], "duration_ms": r[2], "error": r[3], "verdict": r[4]}
            for r in rows
        ]

    def requeue(self, ids: Sequence[int], now_us: int) -> int:
        """Dead or rejected deliveries back to pending, with a fresh retry budget.

        A push with a newer value for its channel and SKU queued or delivered since is
        superseded instead: replaying it would put an old number on the channel.
        """
        done = 0
        with self._write() as cur:
            for delivery_id in ids:
                cur.execute(
                    self.sql("SELECT target, kind, key, state FROM deliveries WHERE id = ?"),
                    (delivery_id,),
                )
                row = cur.fetchone()
                if row is None or row[3] not in ("dead", "rejected"):
                    continue
                target, kind, key, _ = row
                newer = False
                if kind == "availability":
                    cur.execute(
                        self.sql(
                            "SELECT 1 FROM deliveries WHERE target = ? AND key = ? AND "
                            "kind = 'availability' AND id > ? AND state IN "
                            "('pending', 'in_flight', 'delivered')"
                        ),
                        (target, key, delivery_id),
                    )
                    newer = cur.fetchone() is not None
                    if not newer:
                        # The older pending one (if any) gives way to the replayed value.
                        cur.execute(
                            self.sql(
                                "UPDATE deliveries SET state = 'superseded', updated_us = ? "
                                "WHERE target = ? AND key = ? AND kind = 'availability' "
                                "AND state = 'pending'"
                            ),
                            (now_us, target, key),
                        )
                cur.execute(
                    self.sql(
                        "UPDATE deliveries SET state = ?, attempts = 0, next_attempt_us = ?, "
                        "updated_us = ? WHERE id = ?"
                    ),
                    ("superseded" if newer else "pending", now_us, now_us, delivery_id),
                )
                done += 0 if newer else 1
        return done

    def dead_letter_ids(
        self, target: str | None, since_us: int | None, until_us: int | None
    ) -> list[int]:
        where: list[str] = ["state = 'dead'"]
        params: list[Any] = []
        if target is not None:
            where.append("target = ?")
            params.append(target)
        if since_us is not None:
            where.append("updated_us >= ?")
            params.append(since_us)
        if until_us is not None:
            where.append("updated_us <= ?")
            params.append(until_us)
        rows = self.read(
            f"SELECT id FROM deliveries WHERE {' AND '.join(where)} ORDER BY id", params
        )
        return [int(r[0]) for r in rows]
