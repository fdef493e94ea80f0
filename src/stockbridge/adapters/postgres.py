"""PostgreSQL store: the scale-out backend. Row locks order concurrent writers."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from ..domain.errors import StoreUnavailable
from ..domain.ledger import PositionKey
from .sql_store import SqlStore, migration_files

_MIGRATION_LOCK = 7_311_042  # advisory lock id: one migrating process at a time
_CHANGE_FEED_LOCK = 7_311_043  # advisory lock id: change-feed rows commit in id order
_CONFIG_LOCK = 7_311_044  # advisory lock id: configuration versions are handed out in turn


class PostgresStore(SqlStore):
    dialect = "postgres"
    lock_clause = " FOR UPDATE OF {table}"
    skip_locked = " FOR UPDATE OF d SKIP LOCKED"

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url

    def connect(self) -> Any:
        try:
            # Autocommit with explicit BEGIN/COMMIT: reads never hold a snapshot open.
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.Error as e:
            raise StoreUnavailable(f"cannot connect to PostgreSQL: {e}") from e

    def translate(self, statement: str) -> str:
        return statement.replace("?", "%s")

    def pair_list(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, str, str, list[Any]]:
        return (
            "unnest(?::text[], ?::text[]) AS k(a, b)",
            "k.a",
            "k.b",
            [[a for a, _ in pairs], [b for _, b in pairs]],
        )

    def begin(self, conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute("BEGIN")
        return cur

    def commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Any) -> None:
        if not conn.closed:
            conn.execute("ROLLBACK")

    def serialise_change_feed(self, cursor: Any) -> None:
        # Identity values are handed out at insert but seen at commit; holding this lock
        # from the insert to the commit keeps a reader tailing `id > last` from skipping a
        # row whose transaction committed late.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_CHANGE_FEED_LOCK,))

    def serialise_config(self, cursor: Any) -> None:
        # Two writers of the same channel would both read version N and both write N + 1;
        # configuration writes are rare, so they simply take turns.
        cursor.execute("SELECT pg_advisory_xact_lock(%s)", (_CONFIG_LOCK,))

    def prepare_position_locks(self, cursor: Any, keys: Sequence[PositionKey]) -> None:
        # A missing row cannot be locked; create it first so two writers creating the same
        # position serialise on it instead of both starting from zero.
        if keys:
            cursor.executemany(
                "INSERT INTO positions (sku, location, on_hand, non_sellable, reserved, "
                "in_transit, updated_us) VALUES (%s, %s, 0, 0, 0, 0, 0) "
                "ON CONFLICT (sku, location) DO NOTHING",
                list(keys),
            )

    def discard_unused_locks(self, cursor: Any, keys: set[PositionKey]) -> None:
        # Rows made only to be locked carry updated_us = 0; a saved position never does.
        if keys:
            cursor.execute(
                "DELETE FROM positions p USING unnest(%s::text[], %s::text[]) AS k(a, b) "
                "WHERE p.sku = k.a AND p.location = k.b AND p.updated_us = 0",
                ([a for a, _ in keys], [b for _, b in keys]),
            )

    def migrate(self) -> None:
        with self._write_lock:
            conn = self._writer()
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
                conn.execute(
                    "CREATE TABLE IF NOT EXISTS schema_migrations "
                    "(version INTEGER PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"
                )
                done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
                for version, script in migration_files(self.dialect):
                    if version not in done:
                        conn.execute(script)  # type: ignore[arg-type]
                        conn.execute(
                            "INSERT INTO schema_migrations (version) VALUES (%s)", (version,)
                        )
