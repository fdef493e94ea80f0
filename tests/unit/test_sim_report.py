"""Reports of a simulated day: the table's rows and their formatting, JSON, the HTML page."""

from __future__ import annotations

import io
import random
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console

from stockbridge.simulate.report import _downsample as downsample
from stockbridge.simulate.report import (
    human_duration,
    print_summary,
    summary_rows,
    write_html,
    write_json,
)

CHANNELS = ["web", "mkt-a"]
HOT = ["SKU-0007", "SKU-0003", "SKU-0012"]
MINUTES = 14 * 60


def mode_figures(rng: random.Random, *, batch: bool) -> dict[str, Any]:
    orders = {"web": rng.randint(9_000, 11_000), "mkt-a": rng.randint(2_000, 3_000)}
    oversells = {"web": rng.randint(50, 150), "mkt-a": rng.randint(20, 80)} if batch else {}
    total_oversells = sum(oversells.values())
    return {
        "orders": sum(orders.values()),
        "orders_by_channel": orders,
        "declined_at_checkout": 0 if batch else rng.randint(10, 40),
        "oversells": total_oversells,
        "oversells_by_channel": oversells,
        "cancellation_rate": total_oversells / sum(orders.values()),
        "phantom_unit_minutes": {"web": 1200.25, "mkt-a": 3400.0, "total": 4600.25},
        "propagation_seconds": {
            ch: {"p50": rng.uniform(0.1, 2), "p99": rng.uniform(2, 9), "max": 9.5, "samples": 10}
            for ch in CHANNELS
        },
        "erp_posting_delay_seconds": {"p50": 1.0, "p99": 2.0, "max": 3.0, "postings": 500},
        "api_calls": {"web": rng.randint(1_000, 5_000), "mkt-a": 2_000, "erp": 30_000},
        "http_429": {"web": 0, "mkt-a": rng.randint(0, 20), "erp": 0},
        "duplicate_postings": 0,
        "events_emitted": 0 if batch else 40_000,
        "events_lost": 0,
        "end_drift_units": rng.randint(100, 900) if batch else 0,
    }


def walk(rng: random.Random, start: int) -> list[int]:
    values, level = [], start
    for _ in range(MINUTES):
        level = max(0, level + rng.choice((-1, 0, 0, 0, 1)))
        values.append(level)
    return values


@pytest.fixture
def figures() -> dict[str, Any]:
    """A seeded, made-up day: the shape the simulator produces, with known formatting cases
    in the status-quo propagation figures for web."""
    rng = random.Random(20261128)
    quo, hub = mode_figures(rng, batch=True), mode_figures(rng, batch=False)
    quo["orders"] = 12_345
    quo["cancellation_rate"] = 0.012345
    quo["propagation_seconds"]["web"] = {"p50": 0.8, "p99": 843.0, "max": 3720.0, "samples": 3}
    hub["propagation_seconds"]["mkt-a"] = {"p50": None, "p99": None, "max": None, "samples": 0}
    availability = {}
    for sku in HOT:
        truth = {ch: walk(rng, 40) for ch in CHANNELS}
        availability[sku] = {
            "truth": truth,
            "status-quo": {ch: [v + rng.choice((0, 0, 2)) for v in truth[ch]] for ch in CHANNELS},
            "stockbridge": {ch: list(truth[ch]) for ch in CHANNELS},
        }
    return {
        "scenario": "weekend-promo",
        "seed": 1,
        "estate": {
            "stores": 300,
            "dcs": 2,
            "skus": 60,
            "hours": 14,
            "channels": CHANNELS,
            "start": "2026-11-28T08:00:00+00:00",
        },
        "wall_seconds": {"status-quo": 1.2, "stockbridge": 95.0},
        "modes": {"status-quo": quo, "stockbridge": hub},
        "series": {
            "hot_skus": HOT,
            "minutes": list(range(MINUTES)),
            "availability": availability,
            "latencies": {
                "status-quo": {
                    ch: [rng.uniform(60, 1800) for _ in range(3_000)] for ch in CHANNELS
                },
                "stockbridge": {
                    ch: [rng.lognormvariate(-1, 1) for _ in range(3_000)] for ch in CHANNELS
                },
            },
        },
    }


def rows_by_label(figures: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {label: (quo, hub) for label, quo, hub in summary_rows(figures)}


# --- the table ----------------------------------------------------------------------------
def test_the_rows_come_in_the_documented_order(figures: dict[str, Any]) -> None:
    labels = [label for label, _, _ in summary_rows(figures)]
    assert labels == [
        "Orders",
        "Declined at checkout",
        "Oversells (cancelled)",
        "Cancellation rate",
        "Phantom stock, all channels (unit-minutes)",
        "Phantom stock, web (unit-minutes)",
        "Phantom stock, mkt-a (unit-minutes)",
        "Propagation p50, web",
        "Propagation p99, web",
        "Propagation max, web",
        "Propagation p50, mkt-a",
        "Propagation p99, mkt-a",
        "Propagation max, mkt-a",
        "ERP posting delay p50",
        "ERP posting delay p99",
        "ERP posting delay max",
        "API calls, web",
        "API calls, mkt-a",
        "API calls, erp",
        "HTTP 429 responses, web",
        "HTTP 429 responses, mkt-a",
        "HTTP 429 responses, erp",
        "Duplicate postings",
        "Events lost",
        "End-of-day drift (units)",
        "Wall-clock time of the run",
    ]


def test_cells_carry_separators_units_and_dashes_for_nulls(figures: dict[str, Any]) -> None:
    rows = rows_by_label(figures)
    assert rows["Orders"][0] == "12,345"
    assert rows["Cancellation rate"][0] == "1.23 %"
    assert rows["Phantom stock, all channels (unit-minutes)"] == ("4,600.2", "4,600.2")
    assert rows["Phantom stock, mkt-a (unit-minutes)"][1] == "3,400.0"
    assert rows["Propagation p50, web"][0] == "0.8 s"
    assert rows["Propagation p99, web"][0] == "14 min 3 s"
    assert rows["Propagation max, web"][0] == "1 h 02 min"
    assert rows["Propagation p99, mkt-a"][1] == "—"
    assert rows["API calls, erp"] == ("30,000", "30,000")
    assert rows["Wall-clock time of the run"] == ("1.2 s", "1 min 35 s")


def test_a_figure_missing_from_a_mode_is_a_dash(figures: dict[str, Any]) -> None:
    # Given a Stockbridge run that reported no ERP figures
    del figures["modes"]["stockbridge"]["erp_posting_delay_seconds"]
    del figures["modes"]["stockbridge"]["http_429"]["erp"]
    rows = rows_by_label(figures)
    # Then its cells are dashes, and the status quo's are untouched
    assert rows["ERP posting delay max"] == ("3.0 s", "—")
    assert rows["HTTP 429 responses, erp"] == ("0", "—")


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (None, "—"),
        (0, "0 s"),
        (0.0004, "<1 ms"),
        (0.042, "42 ms"),
        (0.8, "0.8 s"),
        (14.25, "14.2 s"),
        (59.96, "1 min 0 s"),
        (843, "14 min 3 s"),
        (3599.6, "1 h 00 min"),
        (3720, "1 h 02 min"),
        (26 * 3600 + 5 * 60, "26 h 05 min"),
    ],
)
def test_durations_read_as_people_say_them(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def render(figures: dict[str, Any]) -> str:
    out = io.StringIO()
    print_summary(
        figures, Console(file=out, width=120, force_terminal=True, color_system="standard")
    )
    return out.getvalue()


RED = re.compile(r"\x1b\[[0-9;]*31m")


def test_the_printed_table_names_the_run_and_is_red_only_for_a_broken_must_be_zero(
    figures: dict[str, Any],
) -> None:
    # Given a run where every must-be-zero figure is 0, then nothing is red
    clean = render(figures)
    assert "weekend-promo" in clean and "seed 1" in clean
    assert "14 min 3 s" in clean and "12,345" in clean
    assert not RED.search(clean)
    # When Stockbridge lost 7 events, then that cell is red
    figures["modes"]["stockbridge"]["events_lost"] = 7
    broken = render(figures)
    assert re.search(r"\x1b\[[0-9;]*31m\s*7\x1b", broken)


# --- JSON ---------------------------------------------------------------------------------
def test_json_round_trips_with_sorted_keys(figures: dict[str, Any], tmp_path: Path) -> None:
    path = tmp_path / "out" / "figures.json"
    write_json(figures, path)
    text = path.read_text()
    assert orjson.loads(text) == figures
    assert text.startswith('{\n  "estate": {\n    "channels": [')


# --- HTML ---------------------------------------------------------------------------------
def test_the_page_has_a_chart_per_hot_sku_and_per_channel_and_nothing_external(
    figures: dict[str, Any], tmp_path: Path
) -> None:
    path = tmp_path / "report.html"
    write_html(figures, path)
    page = path.read_text()
    # One availability chart per hot SKU, one latency chart per channel
    assert page.count("<svg") == len(HOT) + len(CHANNELS)
    assert "weekend-promo" in page and all(sku in page for sku in HOT)
    # The table is there, with its formatted cells
    assert "<td class='num'>14 min 3 s</td>" in page
    # Clock times on the x axis start at the estate's opening time
    assert ">08:00<" in page and ">22:00<" not in page
    # No script, and no asset to fetch
    assert not re.search(r"<script|<link|<img|\ssrc=|url\((?!#)", page, re.IGNORECASE)
    # The same figures give the same page
    again = tmp_path / "again.html"
    write_html(figures, again)
    assert again.read_text() == page


def test_text_from_the_figures_is_escaped(figures: dict[str, Any], tmp_path: Path) -> None:
    # Given a SKU and a scenario whose names are markup
    evil = "<script>alert(1)</script>"
    figures["series"]["availability"][evil] = figures["series"]["availability"].pop(HOT[0])
    figures["series"]["hot_skus"] = [evil, *HOT[1:]]
    figures["scenario"] = "promo & <b>sale</b>"
    path = tmp_path / "report.html"
    write_html(figures, path)
    page = path.read_text()
    # Then they appear as text, never as markup
    assert "<script" not in page.lower() and "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "promo &amp; &lt;b&gt;sale&lt;/b&gt;" in page
    assert page.count("<svg") == len(HOT) + len(CHANNELS)


def test_a_channel_without_latency_samples_is_said_not_drawn(
    figures: dict[str, Any], tmp_path: Path
) -> None:
    # Given no propagation samples at all for mkt-a, and none for web with Stockbridge
    for mode in ("status-quo", "stockbridge"):
        figures["series"]["latencies"][mode]["mkt-a"] = []
    figures["series"]["latencies"]["stockbridge"]["web"] = []
    path = tmp_path / "report.html"
    write_html(figures, path)
    page = path.read_text()
    # Then web still has its chart (status quo only), mkt-a has a sentence instead
    assert page.count("<svg") == len(HOT) + 1
    assert "No propagation samples were recorded for mkt-a in either mode" in page
    assert "No propagation samples were recorded for web in the stockbridge mode" in page


def test_a_long_day_is_thinned_but_keeps_its_spikes() -> None:
    # Given a flat series of 50,000 points with one one-point dip and one one-point spike
    ys: list[float | None] = [10.0] * 50_000
    ys[12_345], ys[40_001] = 0.0, 99.0
    ys[30_000] = None
    xs, kept = downsample(range(50_000), ys)
    # Then at most 1,500 points are drawn, both extremes among them, at their own minutes
    assert len(xs) <= 1_500 and len(xs) == len(kept)
    assert (12_345.0, 0.0) in zip(xs, kept, strict=True)
    assert (40_001.0, 99.0) in zip(xs, kept, strict=True)
    assert xs[0] == 0 and xs[-1] == 49_999 and xs == sorted(xs)


def test_a_short_series_is_drawn_as_is() -> None:
    xs, ys = downsample([0, 1, 2], [3, None, 5])
    assert xs == [0.0, 1.0, 2.0] and ys[0] == 3.0 and ys[2] == 5.0 and ys[1] != ys[1]


def test_a_long_day_is_drawn_thinned_and_the_page_says_so(
    figures: dict[str, Any], tmp_path: Path
) -> None:
    # Given a day sampled every second for one SKU (50,400 points per line)
    seconds = 14 * 3600
    figures["series"]["minutes"] = [s / 60 for s in range(seconds)]
    sku = figures["series"]["availability"][HOT[0]]
    for key in ("truth", "status-quo", "stockbridge"):
        for ch in CHANNELS:
            sku[key][ch] = [v for v in sku[key][ch] for _ in range(60)]
    figures["series"]["hot_skus"] = [HOT[0]]
    path = tmp_path / "report.html"
    write_html(figures, path)
    page = path.read_text()
    # Then it is drawn, and the page says the lines were thinned
    assert page.count("<svg") == 1 + len(CHANNELS)
    assert "thinned for drawing" in page
