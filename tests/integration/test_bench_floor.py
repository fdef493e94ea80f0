"""`stockbridge bench floor` measures and records the SQLite bound it names."""

from __future__ import annotations

import re
from pathlib import Path

from typer.testing import CliRunner

from stockbridge.cli import app


def test_the_floor_bench_writes_its_figures_and_command(tmp_path: Path) -> None:
    # Given a benchmarks file with other content
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n\nkept\n")
    # When the floor is measured for one commit size
    result = CliRunner().invoke(
        app,
        ["bench", "floor", "--prefill", "0", "--per-commit", "5000", "--output", str(output)],
    )
    # Then its block holds one durable and one non-durable figure, and the rest is kept
    assert result.exit_code == 0, result.output
    text = output.read_text()
    assert "kept" in text and "<!-- bench:floor -->" in text
    rates = {
        sync: int(rate.replace(",", ""))
        for sync, rate in re.findall(r"^\| (FULL|OFF) \| 5,000 \| ([\d,]+) \|$", text, re.M)
    }
    assert set(rates) == {"FULL", "OFF"}
    assert all(rate > 0 for rate in rates.values())
    assert "Command: `stockbridge" in text
