"""`stockbridge bench floor`: what SQLite alone can write in the ledger's shape.

No Stockbridge code runs: rows shaped like the ledger's (an events table with its
idempotency key and its (sku, location, occurred_us) index, a raw payload, and a
positions upsert per event) are written straight through sqlite3 into a ledger already
holding `prefill` events, at several rows per transaction, with `synchronous=FULL` (every
commit durable) and `OFF` (no fsync). The figures bound what the full ingest transaction
could reach on this machine's disk whatever the Python above it does.
"""

from __future__ import annotations

import random
import sqlite3
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .bench import LOCATIONS, SKUS, machine, write_block

MEASURED_ROWS = 100_000
RAW = "x" * 250  # about the size of a stored event's canonical JSON

_SCHEMA = (
    "CREATE TABLE events (seq INTEGER PRIMARY KEY, source TEXT NOT NULL, "
    "event_id TEXT NOT NULL, payload_hash TEXT NOT NULL, sku TEXT NOT NULL, "
    "location TEXT NOT NULL, quantity INTEGER NOT NULL, occurred_us INTEGER NOT NULL, "
    "raw TEXT NOT NULL, UNIQUE (source, event_id))",
    "CREATE INDEX events_position ON events (sku, location, occurred_us)",
    "CREATE TABLE positions (sku TEXT NOT NULL, location TEXT NOT NULL, "
    "on_hand INTEGER NOT NULL, updated_us INTEGER NOT NULL, PRIMARY KEY (sku, location)) "
    "WITHOUT ROWID",
)


@dataclass(frozen=True)
class FloorRow:
    synchronous: str
    per_commit: int
    rows_per_second: float


class _Ledger:
    def __init__(self, path: Path, synchronous: str) -> None:
        self.conn = sqlite3.connect(path, isolation_level=None)
        self.conn.execute("PRAGMA journal_mode = WAL")
        self.conn.execute(f"PRAGMA synchronous = {synchronous}")
        self.conn.execute("PRAGMA cache_size = -65536")
        self.conn.execute("PRAGMA wal_autocheckpoint = 4000")
        for statement in _SCHEMA:
            self.conn.execute(statement)
        self.rng = random.Random(1)
        self.n = 0

    def write(self, rows: int) -> None:
        events, positions = [], []
        for _ in range(rows):
            self.n += 1
            sku = f"SKU-{self.rng.randrange(SKUS):05d}"
            location = f"L{self.rng.randrange(LOCATIONS):03d}"
            occurred = 1_770_000_000_000_000 + self.n * 1_000
            events.append(("pos", f"e-{self.n:09d}", "h" * 32, sku, location, 1, occurred, RAW))
            positions.append((sku, location, 1, occurred))
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO events (source, event_id, payload_hash, sku, location, quantity, "
            "occurred_us, raw) VALUES (?,?,?,?,?,?,?,?)",
            events,
        )
        self.conn.executemany(
            "INSERT INTO positions VALUES (?,?,?,?) ON CONFLICT DO UPDATE SET "
            "on_hand = on_hand + excluded.on_hand, updated_us = excluded.updated_us",
            positions,
        )
        self.conn.execute("COMMIT")


def _measure(folder: Path, synchronous: str, per_commit: int, prefill: int) -> FloorRow:
    path = folder / f"floor-{synchronous}-{per_commit}.db"
    ledger = _Ledger(path, synchronous)
    for _ in range(prefill // 20_000):
        ledger.write(20_000)
    started = time.perf_counter()
    for _ in range(MEASURED_ROWS // per_commit):
        ledger.write(per_commit)
    seconds = time.perf_counter() - started
    ledger.conn.close()
    for p in folder.glob(f"{path.name}*"):
        p.unlink()
    return FloorRow(synchronous, per_commit, MEASURED_ROWS / seconds)


def run_floor_bench(
    *, prefill: int, per_commit: list[int], output: Path | None, console: Console
) -> list[FloorRow]:
    folder = Path(tempfile.mkdtemp(prefix="sb-floor-"))
    rows = [_measure(folder, sync, n, prefill) for sync in ("FULL", "OFF") for n in per_commit]
    folder.rmdir()
    table = Table("synchronous", "rows per commit", "rows/s", title="SQLite floor")
    for r in rows:
        table.add_row(r.synchronous, f"{r.per_commit:,}", f"{r.rows_per_second:,.0f}")
    console.print(table)
    if output is not None:
        command = " ".join(["stockbridge", *sys.argv[1:]])
        lines = [
            "## SQLite floor (`stockbridge bench floor`)",
            "",
            f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
            "",
            f"Command: `{command}`",
            "",
            f"Rows in the ledger's shape written by sqlite3 alone (no Stockbridge code) into a "
            f"ledger of {prefill:,} events: event row with its idempotency key, the "
            f"(sku, location, occurred_us) index and a raw payload, plus a positions upsert; "
            f"{SKUS:,} SKUs x {LOCATIONS} locations at random; {MEASURED_ROWS:,} rows measured.",
            "",
            "| synchronous | rows per commit | rows/s |",
            "| --- | ---: | ---: |",
            *(f"| {r.synchronous} | {r.per_commit:,} | {r.rows_per_second:,.0f} |" for r in rows),
        ]
        write_block(output, "floor", lines)
        console.print(f"written to {output}")
    return rows
