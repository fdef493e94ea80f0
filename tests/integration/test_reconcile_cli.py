"""`stockbridge reconcile`: a snapshot file compared with the ledger from the command line,
with the report on the terminal and as CSV."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap
from stockbridge.cli import app
from stockbridge.config import load_settings
from tests.conftest import event, seed_master

CONFIG = """
[reconciliation.systems.erp]
policy = "raise_exceptions"
measure = "on_hand"
"""


def test_reconcile_a_file_shows_the_differences_and_writes_the_report(
    runner: CliRunner, db: str
) -> None:
    # Given a hub that received 10 tees at S1 at 09:00 and sold 3 at 11:00
    Path("hub.toml").write_text(CONFIG)
    hub = bootstrap(load_settings("hub.toml").with_overrides(**{"database.url": db}))
    seed_master(hub)
    hub.ingest.ingest(
        [
            event("r1", "receipt", quantity=10, at="2026-03-02T09:00:00+00:00"),
            event("s1", "sale", quantity=3, at="2026-03-02T11:00:00+00:00"),
        ]
    )
    hub.close()
    # And the ERP's stock file as of 10:00, one line unreadable
    Path("erp.csv").write_text("sku,location,quantity\nTEE-M,S1,9\nMUG,S1,x\n")

    # When it is reconciled from the command line
    result = runner.invoke(
        app,
        [
            "reconcile",
            "erp",
            "--file",
            "erp.csv",
            "--as-of",
            "2026-03-02T10:00:00+00:00",
            "--output",
            "report.csv",
            "-c",
            "hub.toml",
            "--database",
            db,
        ],
    )

    # Then it exits 1 (something differs), names the bad line, and shows the difference
    assert result.exit_code == 1, result.output
    assert "line 3: quantity: 'x' is not a number" in result.stderr
    assert "1 line(s), 0 equal, 1 differ (1 units" in result.stdout
    assert "drift" in result.stdout and "exception" in result.stdout
    # And the CSV report holds the line against the hub as it was at 10:00
    (row,) = list(csv.DictReader(io.StringIO(Path("report.csv").read_text())))
    assert (row["sku"], row["hub"], row["system_quantity"], row["difference"]) == (
        "TEE-M",
        "10",
        "9",
        "-1",
    )

    # When a system nobody declared is asked for
    result = runner.invoke(
        app, ["reconcile", "shop", "-c", "hub.toml", "--database", db], catch_exceptions=False
    )
    # Then it is refused by name
    assert result.exit_code == 2
    assert "reconciliation system 'shop' not found" in result.stderr
