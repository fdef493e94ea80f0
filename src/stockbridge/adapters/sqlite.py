"""SQLite store: the embedded default. WAL mode, durable commits, one writer."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from ..domain.errors import StoreUnavailable
from .sql_store import SqlStore, migration_files

try:  # write turns need flock (POSIX); elsewhere SQLite's busy handler alone decides
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]


class SqliteStore(SqlStore):
    dialect = "sqlite"

    def __init__(self, path: str | Path, *, durable: bool = True) -> None:
        super().__init__()
        self.path = str(path)
        # Not durable: a throwaway database (the simulator's) that no one acknowledges from.
        self.synchronous = "FULL" if durable else "OFF"
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._turn: int | None = None  # the write-turn lock file (see _take_turn)
        self._turn_held = False

    def _take_turn(self) -> None:
        """Wait for this process's turn to write, in the kernel rather than in SQLite.

        When BEGIN IMMEDIATE finds the database locked, SQLite's busy handler sleeps and
        retries, up to 100 ms a sleep; a writer that commits back to back (the ingest
        process under load) takes the lock again before the sleeper wakes, so the
        dispatcher's rounds waited up to seconds. An exclusive `flock` on a file next to
        the database hands the lock to the waiting process the moment it is released, so
        writers take turns. The kernel drops the lock if its holder dies.
        """
        if self.path == ":memory:" or self._turn_held or fcntl is None:
            return
        if self._turn is None:
            self._turn = os.open(
                f"{self.path}-writer", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644
            )
        fcntl.flock(self._turn, fcntl.LOCK_EX)
        self._turn_held = True

    def _end_turn(self) -> None:
        if self._turn_held and self._turn is not None and fcntl is not None:
            self._turn_held = False
            fcntl.flock(self._turn, fcntl.LOCK_UN)

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
        self._take_turn()
        try:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
        except BaseException:
            self._end_turn()
            raise
        return cur

    def commit(self, conn: Any) -> None:
        conn.execute("COMMIT")  # if it fails, the rollback that follows ends the turn
        self._end_turn()

    def rollback(self, conn: Any) -> None:
        try:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
        finally:
            self._end_turn()

    def migrate(self) -> None:
        with self._write_lock:
            conn = self._writer()
            self._take_turn()
            try:
                self._migrate(conn)
            finally:
                self._end_turn()

    def close(self) -> None:
        super().close()
        with self._write_lock:
            if self._turn is not None:
                os.close(self._turn)  # releases the lock with it
                self._turn, self._turn_held = None, False

    def _migrate(self, conn: Any) -> None:
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
