"""`stockbridge prices`: import files and check a price, on a SQLite file."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.cli import app
from stockbridge.config import Settings
from tests.conftest import START, seed_master


def seed(db: str) -> None:
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=ManualClock(START))
    seed_master(hub)
    hub.close()


def test_prices_import_reports_lines_and_keeps_good_rows(runner: CliRunner, db: str) -> None:
    # Given a price file with one bad line
    seed(db)
    Path("prices.csv").write_text(
        "sku,amount,currency,locations,start\n"
        "TEE-M,19.99,EUR,S1,2026-03-02T00:00:00+01:00\n"
        "MUG,4.5,EUR,S1,2026-03-02\n"
    )
    # When it is imported
    result = runner.invoke(app, ["prices", "import", "prices.csv", "--database", db])
    # Then the command fails naming file:line and field, and the good row is stored
    assert result.exit_code == 1
    assert "prices.csv:3: start" in result.stderr
    assert "1 upserted, 0 unchanged, 1 rejected" in result.stdout
    check = runner.invoke(
        app,
        [
            "prices",
            "check",
            "TEE-M",
            "--location",
            "S1",
            "--at",
            "2026-03-03T12:00:00Z",
            "--database",
            db,
        ],
    )
    assert check.exit_code == 0, check.output
    assert "19.99 EUR" in check.stdout


def test_prices_import_takes_both_kinds_from_json(runner: CliRunner, db: str) -> None:
    seed(db)
    Path("erp.json").write_text(
        json.dumps(
            {
                "prices": [
                    {
                        "sku": "MUG",
                        "amount": "5",
                        "currency": "EUR",
                        "start": "2026-03-01T00:00:00Z",
                    }
                ],
                "promotions": [
                    {
                        "id": "P1",
                        "skus": ["MUG"],
                        "percent_off": 20,
                        "start": "2026-03-01T00:00:00Z",
                    }
                ],
            }
        )
    )
    result = runner.invoke(app, ["prices", "import", "erp.json", "--database", db])
    assert result.exit_code == 0, result.output
    assert "erp.json: prices: 1 upserted" in result.stdout
    assert "erp.json: promotions: 1 upserted" in result.stdout
    check = runner.invoke(
        app, ["prices", "check", "MUG", "--at", "2026-03-02T00:00:00Z", "--database", db]
    )
    assert "4.00 EUR" in check.stdout and "P1" in check.stdout
