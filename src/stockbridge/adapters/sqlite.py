"""SQLite store: the embedded default. WAL mode, durable commits, one writer."""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ..domain.errors import StoreUnavailable
from .sql_store import SqlStore, migration_files


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        super().__init__()
        self.path = str(path)
        # Not durable: a throwaway database (the simulator's) that no one acknowledges from.
        self.synchronous = "FULL" if durable else "OFF"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)

    def connect(self) -> Any:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as e:
            raise StoreUnavailable(f"cannot open SQLite database {self.path}: {e}") from e
        conn.execute("PRAGMA journal_mode = WAL")
        # FULL: a commit is on disk before the ingest answer leaves (nothing acknowledged
        # is lost on power loss, not only on a process kill).
        conn.execute(f"PRAGMA synchronous = {self.synchronous}")
        conn.execute("PRAGMA busy_timeout = 30000")
        conn.execute("PRAGMA cache_size = -65536")
        conn.execute("PRAGMA temp_store = MEMORY")
        # Checkpoint every 4,000 pages (16 MiB) rather than 1,000: fewer, larger
        # checkpoints cost the writer less, and the WAL still resets and stays small.
        conn.execute("PRAGMA wal_autocheckpoint = 4000")
        return conn

    def pair_list(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, str, str, list[Any]]:
        return (
            "json_each(?) AS k",
            "json_extract(k.value, '$[0]')",
            "json_extract(k.value, '$[1]')",
            [orjson.dumps(pairs).decode()],
        )

    def begin(self, conn: Any) -> Any:
        cur = conn.cursor()
        cur.execute("BEGIN IMMEDIATE")
        return cur

    def commit(self, conn: Any) -> None:
        conn.execute("COMMIT")

    def rollback(self, conn: Any) -> None:
        if conn.in_transaction:
            conn.execute("ROLLBACK")

    def migrate(self) -> None:
        with self._write_lock:
            conn = self._writer()
            conn.execute(
                "CREATE TABLE IF NOT EXISTS schema_migrations "
                "(version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
            done = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
            for version, script in migration_files(self.dialect):
                if version in done:
                    continue
                # executescript commits first, so the migration brings its own transaction.
                conn.executescript(
                    f"BEGIN IMMEDIATE;\n{script}\n"
                    f"INSERT INTO schema_migrations VALUES ({version}, datetime('now'));\nCOMMIT;"
                )
