"""SQL for the delivery engine: targets, the deliveries outbox, attempts, channel values.

Mixed into SqlStore; the claim follows STYLE trap 1: rows are claimed by state under the
write lock (SQLite) or `FOR UPDATE SKIP LOCKED` (PostgreSQL), never by tailing an id.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import orjson

from ..app.ports import Delivery, Finished, NewDelivery
from ..domain.slas import LATENCY_BUCKETS, latency_bucket

#: An attempt's outcome as counted, from the state it left the delivery in.
ATTEMPT_OUTCOMES = {"pending": "retry", "superseded": "retry"}
#: Most postings inserted by one statement when their ids are needed (13 parameters
#: each; SQLite allows 32,766 in one statement). A power of two: see `_blocks`.
NAMED_CHUNK = 512
#: How often a claim looks for deliveries whose dispatcher died mid-flight (µs).
LEASE_CHECK_US = 1_000_000
#: Counter rows per key: concurrent writers (PostgreSQL) rarely wait on each other's row.
COUNTER_SHARDS = 8


def counter_shard() -> int:
    return os.getpid() % COUNTER_SHARDS


_DELIVERY_COLUMNS = (
    "id, target, kind, key, idempotency_key, payload, priority, state, attempts, coalesced, "
    "next_attempt_us, created_us, updated_us, delivered_us, last_status, last_error, causes, "
    "traceparent, workflow, occurred_us"
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
        row[17],
        row[18],
        row[19],
    )


def _blocks(count: int) -> Iterator[tuple[int, int]]:
    """(start, size) of blocks covering `count` rows, each size a power of two up to
    NAMED_CHUNK: a handful of distinct statements to prepare and cache, not one per size."""
    start = 0
    while start < count:
        size = min(NAMED_CHUNK, 1 << ((count - start).bit_length() - 1))
        yield start, size
        start += size


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
        "next_attempt_us, created_us, updated_us, causes, traceparent, workflow, occurred_us) "
        "VALUES (?,?,?,?,?,?,'pending',?,?,?,?,?,?,?)"
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
            r.traceparent,
            r.workflow,
            r.occurred_us,
        )

    if pushes:
        cur.executemany(
            sql(
                columns + " ON CONFLICT (target, key) WHERE state = 'pending' AND "
                "kind = 'availability' DO UPDATE SET payload = excluded.payload, "
                "priority = excluded.priority, idempotency_key = excluded.idempotency_key, "
                "coalesced = deliveries.coalesced + 1, updated_us = excluded.updated_us, "
                "causes = excluded.causes, traceparent = excluded.traceparent, "
                # The channel has waited since the earliest news it has not been given.
                "workflow = COALESCE(deliveries.workflow, excluded.workflow), "
                "occurred_us = CASE WHEN deliveries.occurred_us IS NULL "
                "OR excluded.occurred_us < deliveries.occurred_us "
                "THEN excluded.occurred_us ELSE deliveries.occurred_us END"
            ),
            [values(r) for r in pushes],
        )
        # The pending push of each (target, key) is unique (the partial index of 0003):
        # the ids of a push coalesced into it join those already there.
        cur.executemany(
            sql(
                "INSERT INTO delivery_correlations (correlation_id, delivery_id) "
                "SELECT CAST(? AS TEXT), id FROM deliveries WHERE target = ? AND key = ? "
                "AND kind = 'availability' AND state = 'pending' ON CONFLICT DO NOTHING"
            ),
            [(c, r.target, r.key) for r in pushes for c in r.correlation_ids],
        )
    if prices:
        cur.executemany(
            sql(
                "UPDATE deliveries SET state = 'superseded', updated_us = ? "
                "WHERE target = ? AND kind = 'price' AND key = ? AND state = 'pending'"
            ),
            [(now_us, r.target, r.key) for r in prices],
        )
    named = [r for r in postings if r.correlation_ids]
    if named:
        links: list[tuple[str, int]] = []
        head, row = columns.split(" VALUES ")
        for start, size in _blocks(len(named)):
            chunk = named[start : start + size]
            keys = [(r.target, r.idempotency_key) for r in chunk]
            if len(set(keys)) < len(keys):
                # Two deliveries with one key (never from the planners): one statement
                # each, for the id to file each one's correlation ids under.
                for r in chunk:
                    cur.execute(sql(columns + " RETURNING id"), values(r))
                    delivery_id = cur.fetchone()[0]
                    links.extend((c, delivery_id) for c in r.correlation_ids)
                continue
            # One statement for the chunk (one round trip on PostgreSQL, not one per
            # posting); the ids come back matched by (target, idempotency key).
            cur.execute(
                sql(
                    f"{head} VALUES {','.join([row] * len(chunk))} "
                    "RETURNING id, target, idempotency_key"
                ),
                [v for r in chunk for v in values(r)],
            )
            ids = {(target, key): delivery_id for delivery_id, target, key in cur.fetchall()}
            links.extend(
                (c, ids[(r.target, r.idempotency_key)]) for r in chunk for c in r.correlation_ids
            )
        cur.executemany(
            sql(
                "INSERT INTO delivery_correlations (correlation_id, delivery_id) VALUES (?,?) "
                "ON CONFLICT DO NOTHING"
            ),
            links,
        )
    unnamed = [r for r in postings if not r.correlation_ids]
    if unnamed:
        cur.executemany(sql(columns), [values(r) for r in unnamed])


class DeliveryStoreMixin:
    """Delivery reads and writes; expects SqlStore's `read`, `write`, `_write`, `sql`."""

    skip_locked = ""
    # set by SqlStore
    _lease_checks: dict[str, int]

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
            rows = self._claim(cur, target, now_us, lease_us, limit)
        # Decoded once the write lock is released: the ingest writer waits on it.
        return [_delivery(r) for r in rows]

    def finish_and_claim(
        self, done: Sequence[Finished], now_us: int, target: str, lease_us: int, limit: int
    ) -> tuple[list[str], list[Delivery]]:
        """Record a round and claim the next in one transaction: on SQLite every write
        transaction waits its turn behind the ingest writer, so a round takes one turn."""
        with self._write() as cur:
            stored = self._finish_all(cur, done, now_us)
            self._count_attempts(cur, done, stored, now_us)
            rows = self._claim(cur, target, now_us, lease_us, limit)
        return stored, [_delivery(r) for r in rows]

    def _claim(self, cur: Any, target: str, now_us: int, lease_us: int, limit: int) -> list[Any]:
        """Due deliveries of a target marked in flight; their rows, not yet decoded."""
        if self._leases_due(target, now_us, lease_us):
            self._recover_leases(cur, target, now_us)
        return self._claim_rows(cur, target, now_us, lease_us, limit)

    def _leases_due(self, target: str, now_us: int, lease_us: int) -> bool:
        """Whether to look for run-out leases in this claim: at most once a second (or a
        lease) per target, since that look costs every round under the write lock."""
        last = self._lease_checks.get(target)
        if last is not None and last <= now_us < last + min(LEASE_CHECK_US, lease_us):
            return False
        self._lease_checks[target] = now_us
        return True

    def _recover_leases(self, cur: Any, target: str, now_us: int) -> None:
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

    def _claim_rows(
        self, cur: Any, target: str, now_us: int, lease_us: int, limit: int
    ) -> list[Any]:
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
        rows: list[Any] = cur.fetchall()
        if rows:
            cur.executemany(
                self.sql(
                    "UPDATE deliveries SET state = 'in_flight', lease_until_us = ?, "
                    "attempts = attempts + 1, updated_us = ? WHERE id = ?"
                ),
                [(now_us + lease_us, now_us, r[0]) for r in rows],
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
        with self._write() as cur:
            stored = self._finish_all(cur, done, now_us)
            self._count_attempts(cur, done, stored, now_us)
        return stored

    def _count_attempts(
        self, cur: Any, done: Sequence[Finished], stored: Sequence[str], now_us: int
    ) -> None:
        """Attempts by outcome, and the propagation latency of what was delivered, added
        to the counters in the round's own transaction (one upsert per distinct row)."""
        outcomes: Counter[tuple[str, str, str]] = Counter()
        latency: dict[tuple[str, str, int], list[int]] = {}
        for f, state in zip(done, stored, strict=True):
            d = f.delivery
            if not f.sent:
                continue
            outcomes[(d.target, d.kind, ATTEMPT_OUTCOMES.get(state, state))] += 1
            if state == "delivered" and d.occurred_us is not None:
                spent = max(0, now_us - d.occurred_us)
                cell = latency.setdefault((d.target, d.kind, latency_bucket(spent)), [0, 0])
                cell[0] += 1
                cell[1] += spent
        shard = counter_shard()
        if outcomes:
            cur.executemany(
                self.sql(
                    "INSERT INTO delivery_outcomes (target, kind, outcome, shard, count) "
                    "VALUES (?,?,?,?,?) ON CONFLICT (target, kind, outcome, shard) "
                    "DO UPDATE SET count = delivery_outcomes.count + excluded.count"
                ),
                [(*k, shard, n) for k, n in sorted(outcomes.items())],
            )
        if latency:
            cur.executemany(
                self.sql(
                    "INSERT INTO delivery_latency (target, kind, bucket, shard, count, sum_us) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT (target, kind, bucket, shard) "
                    "DO UPDATE SET count = delivery_latency.count + excluded.count, "
                    "sum_us = delivery_latency.sum_us + excluded.sum_us"
                ),
                [(*k, shard, n, total) for k, (n, total) in sorted(latency.items())],
            )

    def delivery_counters(
        self,
    ) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], tuple[list[int], int]]]:
        """Attempts by (target, kind, outcome), and per (target, kind) the latency
        histogram's per-bucket counts (the last one +Inf) with its sum in µs."""
        outcomes = {
            (r[0], r[1], r[2]): int(r[3])
            for r in self.read(
                "SELECT target, kind, outcome, SUM(count) FROM delivery_outcomes "
                "GROUP BY target, kind, outcome"
            )
        }
        latency: dict[tuple[str, str], tuple[list[int], int]] = {}
        for target, kind, bucket, count, total in self.read(
            "SELECT target, kind, bucket, SUM(count), SUM(sum_us) FROM delivery_latency "
            "GROUP BY target, kind, bucket"
        ):
            counts, sum_us = latency.get((target, kind), ([0] * (len(LATENCY_BUCKETS) + 1), 0))
            counts[int(bucket)] += int(count)
            latency[(target, kind)] = (counts, sum_us + int(total))
        return outcomes, latency

    def _finish_all(self, cur: Any, done: Sequence[Finished], now_us: int) -> list[str]:
        """Record attempts and new states, a statement per kind of row rather than per row
        (a round of 2,000 pushes holds the write lock the ingest writer waits on)."""
        if not done:
            return []
        cur.executemany(
            self.sql(
                "INSERT INTO delivery_attempts (delivery_id, at_us, status, duration_ms, "
                "error, verdict) VALUES (?,?,?,?,?,?)"
            ),
            [(f.delivery.id, now_us, f.status, f.duration_ms, f.error, f.state) for f in done],
        )
        stored = []
        # Pushes this round puts back to pending: the statements below run after every
        # check, so a later push of the same key sees them here rather than in the table.
        waiting: set[tuple[str, str]] = set()
        for f in done:
            delivery, state = f.delivery, f.state
            if state == "pending" and delivery.kind == "availability":
                key = (delivery.target, delivery.key)
                if key in waiting:
                    stored.append("superseded")
                    continue
                waiting.add(key)
                cur.execute(
                    self.sql(
                        "SELECT 1 FROM deliveries WHERE target = ? AND key = ? AND "
                        "kind = 'availability' AND state = 'pending' AND id <> ?"
                    ),
                    (delivery.target, delivery.key, delivery.id),
                )
                if cur.fetchone():
                    state = "superseded"
                    waiting.discard(key)
            stored.append(state)
        cur.executemany(
            self.sql(
                "UPDATE deliveries SET state = ?, last_status = ?, last_error = ?, "
                "next_attempt_us = COALESCE(?, next_attempt_us), lease_until_us = NULL, "
                "attempts = attempts - ?, "
                "updated_us = ?, delivered_us = CASE WHEN ? = 'delivered' THEN ? "
                "ELSE delivered_us END WHERE id = ?"
            ),
            [
                (
                    state,
                    f.status,
                    f.error,
                    f.next_attempt_us,
                    0 if f.sent else 1,
                    now_us,
                    state,
                    now_us,
                    f.delivery.id,
                )
                for f, state in zip(done, stored, strict=True)
            ],
        )
        for f, state in zip(done, stored, strict=True):
            if state != "rejected":
                continue
            delivery = f.delivery
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
        return stored

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
        return self.attempts_of([delivery_id])[delivery_id]

    # --- traces -----------------------------------------------------------------------------
    def deliveries_by_correlation(self, correlation_id: str, limit: int) -> list[Delivery]:
        """Deliveries queued for events of this correlation id, oldest first."""
        columns = ", ".join(f"d.{c.strip()}" for c in _DELIVERY_COLUMNS.split(","))
        rows = self.read(
            f"SELECT {columns} FROM delivery_correlations c "
            "JOIN deliveries d ON d.id = c.delivery_id WHERE c.correlation_id = ? "
            "ORDER BY d.id LIMIT ?",
            (correlation_id, limit),
        )
        return [_delivery(r) for r in rows]

    def attempts_of(self, delivery_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """Attempts of several deliveries (delivery id -> attempts in order)."""
        out: dict[int, list[dict[str, Any]]] = {i: [] for i in delivery_ids}
        ids = sorted(out)
        for start in range(0, len(ids), 400):
            chunk = ids[start : start + 400]
            rows = self.read(
                "SELECT delivery_id, at_us, status, duration_ms, error, verdict "
                f"FROM delivery_attempts WHERE delivery_id IN ({','.join('?' * len(chunk))}) "
                "ORDER BY delivery_id, id",
                chunk,
            )
            for r in rows:
                out[r[0]].append(
                    {
                        "at_us": r[1],
                        "status": r[2],
                        "duration_ms": r[3],
                        "error": r[4],
                        "verdict": r[5],
                    }
                )
        return out

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
