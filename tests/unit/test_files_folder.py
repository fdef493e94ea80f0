"""Which drops are complete, sequence numbers and their gaps, and CSV feed files."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from stockbridge.connectors.files import feed
from stockbridge.connectors.files.config import CsvFeedTargetSettings, SourceSettings
from stockbridge.connectors.files.folder import SequenceBook, complete_files, sequence_of

COLUMNS = {"sku": "item", "location": "store", "quantity": "qty", "occurred_at": "at"}


def source(folder: Path, **overrides: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {"folder": str(folder), "event_type": "sale", "columns": COLUMNS, **overrides}
    )


def touch(folder: Path, *names: str) -> None:
    for name in names:
        (folder / name).write_text("x")


def test_with_markers_only_files_whose_marker_stands_beside_them_are_taken(
    tmp_path: Path,
) -> None:
    touch(tmp_path, "a.csv", "a.csv.done", "b.csv", "c.txt", "c.txt.done")
    found = complete_files(tmp_path, source(tmp_path, complete="marker"))
    assert [p.name for p in found] == ["a.csv"]


def test_with_renames_files_under_a_temporary_name_are_left(tmp_path: Path) -> None:
    touch(tmp_path, "a.csv", "b.csv.tmp", "c.csv.filepart", ".d.csv", "e.csv.part")
    assert [p.name for p in complete_files(tmp_path, source(tmp_path))] == ["a.csv"]


def test_drops_are_taken_in_sequence_order(tmp_path: Path) -> None:
    touch(tmp_path, "POS_10_x.csv", "POS_9_x.csv", "POS_11_x.csv")
    settings = source(tmp_path, sequence=r"POS_(\d+)_")
    assert [p.name for p in complete_files(tmp_path, settings)] == [
        "POS_9_x.csv",
        "POS_10_x.csv",
        "POS_11_x.csv",
    ]
    assert sequence_of("POS_0042_sales.csv", r"POS_(\d+)_") == 42
    assert sequence_of("other.csv", r"POS_(\d+)_") is None


def test_the_sequence_book_finds_gaps_late_files_and_reuse(tmp_path: Path) -> None:
    # Given files 1 and 2 taken
    book = SequenceBook()
    assert not book.take(1).skipped and not book.take(2).skipped

    # When 5 comes next, then 3, then 2 again
    gap = book.take(5)
    late = book.take(3)
    reused = book.take(2)

    # Then 3 and 4 were missing, 3 filled its gap, 2 was a number already taken
    assert gap.skipped == [3, 4]
    assert late.late and not late.reused
    assert reused.reused
    book.save(tmp_path)
    again = SequenceBook.load(tmp_path)
    assert (again.last, again.missing) == (5, [4])


def push(channel: str, sku: str, available: str, at: str) -> dict[str, Any]:
    return {"type": "availability", "channel": channel, "sku": sku, "available": available,
            "computed_at": at, "events": [], "correlation_ids": []}  # fmt: skip


def test_a_snapshot_keeps_the_newest_value_per_channel_and_sku() -> None:
    # Given a snapshot of two SKUs
    settings = CsvFeedTargetSettings(folder="/out", skus={"TEE-M": "T1"})
    old = [{"sku": "MUG", "available": "4", "computed_at": "2026-03-02T09:00:01+00:00"},
           {"sku": "T1", "available": "9", "computed_at": "2026-03-02T09:00:05+00:00"}]  # fmt: skip

    # When a newer MUG value and an older TEE-M value are merged in
    new = [
        feed.row_of(push("web", "MUG", "3", "2026-03-02T09:00:02+00:00"), settings),
        feed.row_of(push("web", "TEE-M", "7", "2026-03-02T09:00:04+00:00"), settings),
    ]
    merged = feed.merge(old, new)

    # Then MUG moves, TEE-M (written under the reader's code) keeps the newer value
    assert merged == [
        {"sku": "MUG", "available": "3", "computed_at": "2026-03-02T09:00:02+00:00"},
        {"sku": "T1", "available": "9", "computed_at": "2026-03-02T09:00:05+00:00"},
    ]
    text = feed.render(merged, settings)
    assert text.splitlines()[0] == "sku,available,computed_at"
    assert feed.read(text, settings) == merged


def test_feed_files_are_named_per_channel_or_per_send() -> None:
    now = datetime(2026, 3, 2, 9, 0, 0, 123456, tzinfo=UTC)
    snapshot = CsvFeedTargetSettings(folder="/out")
    delta = CsvFeedTargetSettings(folder="/out", mode="delta")
    sent = [(12, push("web", "MUG", "1", "")), (11, push("app", "MUG", "2", ""))]
    assert set(feed.group_by_file(sent, snapshot, now)) == {
        "availability-web.csv",
        "availability-app.csv",
    }
    assert set(feed.group_by_file(sent, delta, now)) == {
        "availability-web-000000000012.csv",
        "availability-app-000000000011.csv",
    }
    stamped = CsvFeedTargetSettings(folder="/out", mode="delta", file_name="{timestamp}.csv")
    assert feed.file_name(stamped, "web", 1, now) == "20260302T090000123456Z.csv"


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"columns": ["sku"]}, "must include 'available'"),
        ({"file_name": "all.csv"}, "needs {channel}"),
        ({"file_name": "{channel}-{delivery}.csv"}, "one file per channel"),
        ({"mode": "delta", "file_name": "{channel}.csv"}, "needs {delivery} or {timestamp}"),
        ({"file_name": "{store}.csv"}, "unknown placeholder"),
        ({"file_name": "sub/{channel}.csv"}, "not a path"),
    ],
)
def test_feed_settings_are_checked(settings: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CsvFeedTargetSettings.model_validate({"folder": "/out", **settings})


def test_a_snapshot_written_before_the_columns_changed_is_read_by_name() -> None:
    # Given a snapshot written with (sku, available), read with (channel, sku, available)
    before = "sku,available\nMUG,3\n"
    now = CsvFeedTargetSettings(folder="/out", columns=["channel", "sku", "available"])

    # Then each row keeps its values under the right column
    assert feed.read(before, now) == [{"channel": "", "sku": "MUG", "available": "3"}]
