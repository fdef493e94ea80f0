"""`stockbridge bench propagate` measures a sale's way to the channel, and lookups meanwhile
(one short uncapped run: the full bench belongs to `make bench`)."""

from __future__ import annotations

import math
import re
from pathlib import Path

from rich.console import Console

from stockbridge.bench_propagate import _one_run, _write


def test_a_short_run_measures_pushes_latency_and_lookups(tmp_path: Path) -> None:
    # When 500 sales a second go in for one second, with 50 lookups a second meanwhile
    row = _one_run("uncapped channel", 500, 1.0, 0.0, Console(quiet=True), tmp_path, reads=50)
    # Then every sale was sent, the channel received pushes, and the figures are real
    assert row.events >= 450
    assert 0 < row.pushes <= row.events
    assert 0 < row.p50_ms <= row.p99_ms < 60_000
    assert not math.isnan(row.ats_p99_ms) and 0 < row.ats_p50_ms <= row.ats_p99_ms
    assert not math.isnan(row.position_p99_ms)
    # And the markdown block names the lookups and carries the row
    output = tmp_path / "benchmarks.md"
    output.write_text("# Benchmarks\n")
    _write(output, [row], 1.0, 50)
    text = output.read_text()
    assert "50 times a second" in text
    assert re.search(r"^\| uncapped channel \| 500 \| [\d,]+ \| [\d,]+ \|", text, re.M)
