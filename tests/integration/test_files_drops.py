"""CSV drops taken from a watched folder into a real hub (SQLite): what is applied, what is
refused, what is kept as an exception, and that a file dropped twice applies nothing twice."""

from __future__ import annotations

import io
import shutil
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from stockbridge.app.bootstrap import Hub, bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.connectors.files.bench import run_bench
from stockbridge.connectors.files.cli import BarProgress
from stockbridge.connectors.files.config import SourceSettings
from stockbridge.connectors.files.watch import FileReport, HubSink, run_pass

from ..conftest import hub_settings, seed_master

HEADER = "item,store,qty,at\n"
COLUMNS = {"sku": "item", "location": "store", "quantity": "qty", "occurred_at": "at"}


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock) -> Iterator[Hub]:
    h = bootstrap(hub_settings(), store=open_store(str(tmp_path / "hub.db")), clock=clock)
    seed_master(h)
    try:
        yield h
    finally:
        h.close()


@pytest.fixture
def inbox(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    return folder


def source(inbox: Path, **overrides: Any) -> dict[str, SourceSettings]:
    return {
        "pos": SourceSettings.model_validate(
            {"folder": str(inbox), "event_type": "receipt", "columns": COLUMNS, **overrides}
        )
    }


def take(hub: Hub, sources: dict[str, SourceSettings]) -> list[FileReport]:
    return run_pass(sources, HubSink(hub))


def on_hand(hub: Hub, sku: str, location: str) -> Decimal:
    position = hub.store.position(sku, location)
    return position.on_hand if position is not None else Decimal(0)


def open_exceptions(hub: Hub) -> list[tuple[str, str | None, str]]:
    return sorted(
        (e.reason, e.field, e.detail) for e in hub.store.exceptions(status="open", source="pos")
    )


def test_valid_lines_apply_and_bad_ones_are_listed_and_kept_as_exceptions(
    hub: Hub, inbox: Path
) -> None:
    # Given a drop with a good line (POS codes mapped by cross reference), a bad quantity,
    # an unknown SKU, a bad date and another good line
    (inbox / "day.csv").write_text(
        HEADER + "4711,0001,5,2026-03-02T09:00:00Z\n"
        "MUG,S1,abc,2026-03-02T09:00:00Z\n"
        "NOPE,S1,1,2026-03-02T09:00:00Z\n"
        "MUG,S1,1,02/03/2026\n"
        "MUG,S2,3,2026-03-02T09:00:00Z\n"
    )

    # When the folder is passed over
    (report,) = take(hub, source(inbox))

    # Then the two good lines are applied
    assert (report.status, report.lines, report.accepted) == ("applied", 5, 2)
    assert on_hand(hub, "TEE-M", "S1") == 5 and on_hand(hub, "MUG", "S2") == 3
    assert on_hand(hub, "MUG", "S1") == 0
    # And the file is archived with an error file beside it naming line, column and value
    assert report.moved_to == inbox / "archive" / "day.csv" and not (inbox / "day.csv").exists()
    assert report.error_file == inbox / "archive" / "day.errors.csv"
    lines = report.error_file.read_text().splitlines()
    assert lines[0] == "line,column,value,message"
    assert lines[1].startswith("3,qty,abc,invalid_event: quantity is not a number")
    assert lines[2].startswith("4,item,NOPE,unknown_sku: no item or cross reference")
    assert lines[3].startswith("5,at,02/03/2026,is not an ISO 8601 date-time")
    assert len(lines) == 4
    # And each is an open exception: two parked by the ingest path, the date by the drop
    reasons = open_exceptions(hub)
    assert [(r, f) for r, f, _ in reasons] == [
        ("invalid_event", "occurred_at"),
        ("invalid_event", "quantity"),
        ("unknown_sku", "sku"),
    ]
    assert reasons[0][2].startswith("day.csv:5: at: is not an ISO 8601")


def test_a_file_dropped_again_applies_nothing_twice(hub: Hub, inbox: Path) -> None:
    # Given a drop taken once
    body = HEADER + "MUG,S1,2,2026-03-02T09:00:00Z\nMUG,S1,2,2026-03-02T09:00:00Z\nBAD,S1,1,x\n"
    (inbox / "r.csv").write_text(body)
    (first,) = take(hub, source(inbox))

    # When the same file is dropped again under the same name
    (inbox / "r.csv").write_text(body)
    (again,) = take(hub, source(inbox))

    # Then the two identical lines were two events the first time (line numbers differ),
    # and nothing the second time; the bad line is still one open exception
    assert (first.accepted, first.duplicates) == (2, 0)
    assert (again.accepted, again.duplicates) == (0, 2)
    assert on_hand(hub, "MUG", "S1") == 4
    assert again.moved_to == inbox / "archive" / "r.1.csv"
    (exception,) = hub.store.exceptions(status="open", source="pos")
    assert exception.occurrences == 2


def test_a_header_with_a_missing_column_refuses_the_whole_file(hub: Hub, inbox: Path) -> None:
    # Given a drop whose header lacks the mapped quantity column
    (inbox / "bad.csv").write_text("item,store,at\nMUG,S1,2026-03-02T09:00:00Z\n")

    # When the folder is passed over
    (report,) = take(hub, source(inbox))

    # Then nothing is applied, the file is in the error folder with the reason beside it,
    # and one exception names the column
    assert report.status == "refused" and "missing column 'qty'" in (report.reason or "")
    assert on_hand(hub, "MUG", "S1") == 0
    assert report.moved_to == inbox / "error" / "bad.csv"
    assert "missing column 'qty'" in (inbox / "error" / "bad.errors.csv").read_text()
    ((reason, field, detail),) = open_exceptions(hub)
    assert (reason, field) == ("invalid_event", "qty")
    assert detail.startswith("bad.csv refused: missing column 'qty'")


def test_a_trailer_count_mismatch_refuses_the_file(hub: Hub, inbox: Path) -> None:
    (inbox / "t.csv").write_text(HEADER + "MUG,S1,1,2026-03-02T09:00:00Z\nEOF,2\n")
    (report,) = take(hub, source(inbox, trailer="EOF"))
    assert report.status == "refused"
    assert report.reason == "the trailer counts 2 data lines, the file has 1"
    assert on_hand(hub, "MUG", "S1") == 0
    ((_, field, _),) = open_exceptions(hub)
    assert field == "trailer"


def test_a_sequence_gap_is_an_exception_until_the_missing_file_arrives(
    hub: Hub, inbox: Path
) -> None:
    sources = source(inbox, sequence=r"POS_(\d+)\.csv")
    # Given files 1 and 3 dropped, 2 missing
    (inbox / "POS_1.csv").write_text(HEADER + "MUG,S1,1,2026-03-02T09:00:00Z\n")
    (inbox / "POS_3.csv").write_text(HEADER + "MUG,S1,3,2026-03-02T11:00:00Z\n")

    # When the folder is passed over
    reports = take(hub, sources)

    # Then both are applied, and number 2 is an open exception
    assert [(r.name, r.status, r.skipped) for r in reports] == [
        ("POS_1.csv", "applied", []),
        ("POS_3.csv", "applied", [2]),
    ]
    assert on_hand(hub, "MUG", "S1") == 4
    ((reason, field, detail),) = open_exceptions(hub)
    assert (reason, field) == ("invalid_event", "sequence")
    assert "number 2 never arrived" in detail

    # When file 2 arrives late
    (inbox / "POS_2.csv").write_text(HEADER + "MUG,S1,2,2026-03-02T10:00:00Z\n")
    (late,) = take(hub, sources)

    # Then it is applied and the gap's exception is resolved
    assert late.status == "applied" and on_hand(hub, "MUG", "S1") == 6
    assert open_exceptions(hub) == []


def test_a_reused_sequence_number_with_new_content_is_an_exception(hub: Hub, inbox: Path) -> None:
    sources = source(inbox, sequence=r"POS_(\d+)\.csv")
    (inbox / "POS_1.csv").write_text(HEADER + "MUG,S1,1,2026-03-02T09:00:00Z\n")
    take(hub, sources)
    # A re-drop of the same file is not a reuse; other content under the same number is
    (inbox / "POS_1.csv").write_text(HEADER + "MUG,S1,1,2026-03-02T09:00:00Z\n")
    take(hub, sources)
    assert open_exceptions(hub) == []
    (inbox / "POS_1.csv").write_text(HEADER + "MUG,S1,5,2026-03-02T09:30:00Z\n")
    take(hub, sources)
    ((_, field, detail),) = open_exceptions(hub)
    assert field == "sequence" and "reuses sequence number 1" in detail


def test_only_complete_files_are_taken(hub: Hub, inbox: Path) -> None:
    # Given, under the marker convention, one file with its marker and one without
    sources = source(inbox, complete="marker", marker_suffix=".ok")
    (inbox / "a.csv").write_text(HEADER + "MUG,S1,1,2026-03-02T09:00:00Z\n")
    (inbox / "a.csv.ok").write_text("")
    (inbox / "b.csv").write_text(HEADER + "MUG,S1,10,2026-03-02T09:00:00Z\n")

    # When the folder is passed over
    reports = take(hub, sources)

    # Then only the marked file is applied, its marker gone; the other waits for its own
    assert [r.name for r in reports] == ["a.csv"]
    assert not (inbox / "a.csv.ok").exists() and (inbox / "b.csv").exists()
    assert on_hand(hub, "MUG", "S1") == 1
    (inbox / "b.csv.ok").write_text("")
    assert [r.name for r in take(hub, sources)] == ["b.csv"]
    assert on_hand(hub, "MUG", "S1") == 11

    # And under write-then-rename, a file still under its temporary name is left alone
    renames = source(inbox)
    (inbox / "c.csv.tmp").write_text(HEADER + "MUG,S1,100,2026-03-02T09:00:00Z\n")
    assert take(hub, renames) == []
    (inbox / "c.csv.tmp").rename(inbox / "c.csv")
    assert [r.accepted for r in take(hub, renames)] == [1]
    assert on_hand(hub, "MUG", "S1") == 111


def test_a_large_drop_goes_in_batches_with_a_progress_bar_and_again_applies_nothing(
    tmp_path: Path,
) -> None:
    # Given a drop of 100,000 lines (about 12 s in all on 2 cores)
    out = io.StringIO()
    progress = BarProgress(Console(file=out, width=100))

    # When the file is dropped, then dropped again
    result = run_bench(100_000, tmp_path / "bench", progress)

    # Then every line was applied once, and the second drop applied none
    assert (result.first_applied, result.again_applied) == (100_000, 0)
    assert result.again_duplicates == 100_000
    assert out.getvalue().count("100000/100000") == 2
    shutil.rmtree(tmp_path / "bench")
