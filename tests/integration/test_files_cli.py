"""`stockbridge files`: check a drop without applying it, and one pass of `watch`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.cli import app
from stockbridge.config import Settings
from tests.conftest import seed_master

CONFIG = """
[files.sources.pos]
folder = "in"
event_type = "sale"
trailer = "END"

[files.sources.pos.columns]
sku = "item"
location = "store"
quantity = "qty"
occurred_at = "at"
"""
DROP = (
    "item,store,qty,at\n"
    "TEE-M,S1,1,2026-03-02T09:00:00Z\n"
    "NOPE,S1,1,2026-03-02T09:00:00Z\n"
    "TEE-M,S1,-2,2026-03-02T09:00:00Z\n"
    "END,3\n"
)


def seeded(db: str) -> None:
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), store=open_store(db))
    seed_master(hub)
    hub.close()


def test_check_reports_line_errors_and_applies_nothing(runner: CliRunner, db: str) -> None:
    # Given a seeded hub and a drop with an unknown SKU and a negative sale
    seeded(db)
    Path("hub.toml").write_text(CONFIG)
    Path("drop.csv").write_text(DROP)

    # When it is checked
    result = runner.invoke(
        app, ["files", "check", "drop.csv", "--source", "pos", "-c", "hub.toml", "-d", db]
    )

    # Then both bad lines are reported with their column and value, and nothing moved
    assert result.exit_code == 1, result.output
    assert "3 line(s), 1 valid, 2 error(s)" in result.stdout
    assert "NOPE" in result.stdout and "unknown_sku" in result.stdout
    assert "quantity must be positive for a sale" in result.stdout
    assert Path("drop.csv").exists()
    store = open_store(db)
    try:
        assert store.position("TEE-M", "S1") is None
        assert store.exceptions(status="open") == []
    finally:
        store.close()


def test_check_names_an_unknown_source_and_a_refused_file(runner: CliRunner, db: str) -> None:
    Path("hub.toml").write_text(CONFIG)
    Path("drop.csv").write_text(DROP.replace("END,3", "END,4"))
    unknown = runner.invoke(
        app, ["files", "check", "drop.csv", "--source", "web", "-c", "hub.toml", "-d", db]
    )
    assert unknown.exit_code == 2 and "no source 'web'" in unknown.stderr
    refused = runner.invoke(
        app, ["files", "check", "drop.csv", "--source", "pos", "-c", "hub.toml", "-d", db]
    )
    assert refused.exit_code == 1
    assert "the trailer counts 4 data lines, the file has 3" in refused.stderr


def test_watch_once_takes_the_drops_and_reports_each(runner: CliRunner, db: str) -> None:
    # Given a seeded hub and a drop in the watched folder
    seeded(db)
    Path("hub.toml").write_text(CONFIG)
    Path("in").mkdir()
    Path("in/drop.csv").write_text(DROP)

    # When one pass runs
    result = runner.invoke(app, ["files", "watch", "--once", "-c", "hub.toml", "-d", db])

    # Then the drop is applied (one sale of the three lines), archived with its errors
    assert result.exit_code == 1, result.output
    assert "pos: drop.csv: 3 line(s), 1 applied, 0 already applied, 2 error(s)" in (
        result.stdout.replace("\n", "")
    )
    assert Path("in/archive/drop.errors.csv").exists()
    store = open_store(db)
    try:
        position = store.position("TEE-M", "S1")
        assert position is not None and position.on_hand == -1
    finally:
        store.close()
