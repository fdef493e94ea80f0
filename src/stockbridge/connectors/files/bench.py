"""The drop of a large file, timed: applied once, then dropped again (applying nothing).

Run by `stockbridge files bench`; on a throwaway SQLite hub, never the operator's.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from ...app.bootstrap import Hub, bootstrap, open_store
from ...app.master import MasterKind
from ...config import Settings
from .config import SourceSettings
from .watch import HubSink, Progress, run_pass

SKUS = 200
LOCATIONS = 10


@dataclass(frozen=True)
class BenchResult:
    lines: int
    first_seconds: float
    first_applied: int
    again_seconds: float
    again_applied: int
    again_duplicates: int


def write_drop(path: Path, lines: int) -> None:
    """A receipts export: `lines` lines over SKUS items and LOCATIONS stores."""
    rows = ["item,store,qty,at"]
    rows.extend(
        f"B{i % SKUS:04d},L{i % LOCATIONS:02d},{1 + i % 5},2026-03-02T{8 + i % 10:02d}:{m:02d}:00"
        for i in range(lines)
        for m in (i % 60,)
    )
    path.write_text("\n".join(rows) + "\n")


def seed(hub: Hub) -> None:
    hub.master_data.import_list(MasterKind.ITEMS, [{"sku": f"B{i:04d}"} for i in range(SKUS)])
    hub.master_data.import_list(
        MasterKind.LOCATIONS, [{"code": f"L{i:02d}"} for i in range(LOCATIONS)]
    )


def source_settings(inbox: Path, batch_size: int = 5000) -> SourceSettings:
    return SourceSettings.model_validate(
        {
            "folder": str(inbox),
            "event_type": "receipt",
            "columns": {"sku": "item", "location": "store", "quantity": "qty", "occurred_at": "at"},
            "batch_size": batch_size,
        }
    )


def run_bench(lines: int, workdir: Path, progress: Progress | None = None) -> BenchResult:
    """Apply a drop of `lines` lines on a fresh hub in `workdir`, then drop it again."""
    workdir.mkdir(parents=True, exist_ok=True)
    store = open_store(str(workdir / "bench.db"))
    hub = bootstrap(Settings(), store=store)
    try:
        seed(hub)
        inbox = workdir / "inbox"
        inbox.mkdir(exist_ok=True)
        write_drop(inbox / "receipts.csv", lines)
        sources = {"bench": source_settings(inbox)}
        sink = HubSink(hub)
        started = time.perf_counter()
        (first,) = run_pass(sources, sink, progress)
        first_seconds = time.perf_counter() - started
        assert first.moved_to is not None
        shutil.copy(first.moved_to, inbox / "receipts.csv")
        started = time.perf_counter()
        (again,) = run_pass(sources, sink, progress)
        again_seconds = time.perf_counter() - started
    finally:
        hub.close()
    return BenchResult(
        lines, first_seconds, first.accepted, again_seconds, again.accepted, again.duplicates
    )
