"""Reports of a simulated trading day: the side-by-side table, a JSON file, one HTML page.

Nothing here computes a figure: the simulator hands over a figures dict (scenario, estate,
one block of figures per mode, per-minute availability of the hot SKUs and the raw
propagation samples) and these functions only format and draw it. Plots use matplotlib's
object API (a `Figure` of its own, no pyplot, no global backend) and go into the page as
inline SVG, so the HTML file needs nothing else to be read.
"""

from __future__ import annotations

import html
import io
import itertools
import math
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import orjson
from rich.console import Console
from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

#: The simulator's output, as described in `stockbridge.simulate`: JSON-shaped.
Figures = Mapping[str, Any]

MODES = ("status-quo", "stockbridge")
MODE_NAMES = {"status-quo": "Status quo", "stockbridge": "Stockbridge"}
DASH = "—"
#: A line with more points than this is thinned before it is drawn.
MAX_POINTS = 1_500
#: Latencies are drawn on a log axis: shorter ones (and zeros) are drawn at this floor.
LATENCY_FLOOR_SECONDS = 0.001

_STATS = ("p50", "p99", "max")
_COLOURS = {"truth": "#a8a8a8", "status-quo": "#d95f02", "stockbridge": "#1b7fbd"}
_LINE_LABELS = {
    "truth": "its policy on the physical stock",
    "status-quo": "shown, status quo",
    "stockbridge": "shown, Stockbridge",
}


# --- numbers as people read them ----------------------------------------------------------
def human_duration(seconds: float | None) -> str:
    """A duration as people read it: "42 ms", "0.8 s", "14 min 3 s", "1 h 02 min"; "—" for
    None (no sample)."""
    if seconds is None or math.isnan(seconds):
        return DASH
    if seconds < 0:
        return "-" + human_duration(-seconds)
    if seconds == 0:
        return "0 s"
    milliseconds = round(seconds * 1000)
    if milliseconds < 100:
        return f"{milliseconds} ms" if milliseconds else "<1 ms"
    tenths = round(seconds, 1)
    if tenths < 60:
        return f"{tenths:.1f} s"
    whole = round(seconds)
    if whole < 3600:
        return f"{whole // 60} min {whole % 60} s"
    minutes = round(seconds / 60)
    return f"{minutes // 60} h {minutes % 60:02d} min"


def _count(value: Any) -> str:
    return DASH if value is None else f"{int(value):,}"


def _amount(value: Any) -> str:
    return DASH if value is None else f"{float(value):,.1f}"


def _percent(value: Any) -> str:
    return DASH if value is None else f"{float(value) * 100:,.2f} %"


def _duration(value: Any) -> str:
    return human_duration(None if value is None else float(value))


# --- reading the figures ------------------------------------------------------------------
def _dig(data: Any, *keys: str) -> Any:
    """The value at `keys` in nested mappings, or None where any level is missing."""
    for key in keys:
        if not isinstance(data, Mapping):
            return None
        data = data.get(key)
    return data


def _ordered(figures: Figures, names: Iterable[str]) -> list[str]:
    """The estate's channels first, in its order, then any other names sorted."""
    declared = [str(c) for c in _dig(figures, "estate", "channels") or []]
    others = sorted({str(n) for n in names} - set(declared) - {"total"})
    return declared + others


def _mode_keys(figures: Figures, *path: str) -> list[str]:
    """The channels of a per-channel figure, over both modes, in estate order."""
    names: set[str] = set()
    for mode in MODES:
        value = _dig(figures, "modes", mode, *path)
        if isinstance(value, Mapping):
            names.update(str(k) for k in value)
    return _ordered(figures, names)


def _estate_line(figures: Figures) -> str:
    estate = figures.get("estate") or {}
    parts = [
        f"{_count(estate.get('stores'))} stores",
        f"{_count(estate.get('dcs'))} DCs",
        f"{_count(estate.get('skus'))} SKUs",
    ]
    start = _start(figures)
    day = f"{_amount(estate.get('hours')).removesuffix('.0')} h"
    if start is not None:
        day += f" from {start:%Y-%m-%d %H:%M} {_zone(start)}".rstrip()
    channels = ", ".join(str(c) for c in estate.get("channels") or []) or DASH
    return f"{', '.join(parts)}; {day}; channels: {channels}"


def _zone(moment: datetime) -> str:
    """ "UTC+01:00" for an aware time, "" for a naive one."""
    offset = moment.utcoffset()
    if offset is None:
        return ""
    minutes = round(offset.total_seconds() / 60)
    sign = "-" if minutes < 0 else "+"
    return f"UTC{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


def _start(figures: Figures) -> datetime | None:
    raw = _dig(figures, "estate", "start")
    try:
        return datetime.fromisoformat(raw) if isinstance(raw, str) else None
    except ValueError:
        return None


# --- the side-by-side table ---------------------------------------------------------------
class _Row(NamedTuple):
    label: str
    cells: tuple[str, str]
    #: Per mode: a figure that must be 0 and is not.
    alarm: tuple[bool, bool] = (False, False)


def _rows(figures: Figures) -> list[_Row]:
    def per_mode(fmt: Any, *path: str) -> tuple[str, str]:
        quo, hub = (fmt(_dig(figures, "modes", mode, *path)) for mode in MODES)
        return quo, hub

    def must_be_zero(label: str, key: str) -> _Row:
        values = [_dig(figures, "modes", mode, key) for mode in MODES]
        quo, hub = (v is not None and v != 0 for v in values)
        return _Row(label, per_mode(_count, key), (quo, hub))

    rows = [
        _Row("Orders", per_mode(_count, "orders")),
        _Row("Declined at checkout", per_mode(_count, "declined_at_checkout")),
        _Row("Oversells (cancelled)", per_mode(_count, "oversells")),
        _Row("Cancellation rate", per_mode(_percent, "cancellation_rate")),
        _Row(
            "Phantom stock, all channels (unit-minutes)",
            per_mode(_amount, "phantom_unit_minutes", "total"),
        ),
    ]
    rows += [
        _Row(f"Phantom stock, {ch} (unit-minutes)", per_mode(_amount, "phantom_unit_minutes", ch))
        for ch in _mode_keys(figures, "phantom_unit_minutes")
    ]
    rows += [
        _Row(f"Propagation {stat}, {ch}", per_mode(_duration, "propagation_seconds", ch, stat))
        for ch in _mode_keys(figures, "propagation_seconds")
        for stat in _STATS
    ]
    rows += [
        _Row(f"ERP posting delay {stat}", per_mode(_duration, "erp_posting_delay_seconds", stat))
        for stat in _STATS
    ]
    rows += [
        _Row(f"API calls, {name}", per_mode(_count, "api_calls", name))
        for name in _mode_keys(figures, "api_calls")
    ]
    rows += [
        _Row(f"HTTP 429 responses, {name}", per_mode(_count, "http_429", name))
        for name in _mode_keys(figures, "http_429")
    ]
    wall = figures.get("wall_seconds") or {}
    rows += [
        must_be_zero("Duplicate postings", "duplicate_postings"),
        must_be_zero("Events lost", "events_lost"),
        _Row("End-of-day drift (units)", per_mode(_count, "end_drift_units")),
        _Row(
            "Wall-clock time of the run",
            (_duration(wall.get(MODES[0])), _duration(wall.get(MODES[1]))),
        ),
    ]
    return rows


def summary_rows(figures: Figures) -> list[tuple[str, str, str]]:
    """The side-by-side table: (label, status-quo text, Stockbridge text) per figure, with
    units and thousands separators; "—" where a figure is missing or has no sample."""
    return [(row.label, *row.cells) for row in _rows(figures)]


def _title(figures: Figures) -> str:
    return f"Simulated trading day: scenario {figures.get('scenario')}, seed {figures.get('seed')}"


def print_summary(figures: Figures, console: Console) -> None:
    """Print the side-by-side table; duplicate postings and events lost are red when not 0."""
    table = Table(title=Text(_title(figures)), caption=Text(_estate_line(figures)))
    table.add_column("Figure")
    for mode in MODES:
        table.add_column(MODE_NAMES[mode], justify="right")
    for row in _rows(figures):
        cells = (
            Text(cell, style="bold red" if alarm else "")
            for cell, alarm in zip(row.cells, row.alarm, strict=True)
        )
        table.add_row(Text(row.label), *cells)
    console.print(table)


# --- JSON ---------------------------------------------------------------------------------
def write_json(figures: Figures, path: str | Path) -> None:
    """Write the figures as JSON: indented by 2, keys sorted, parent folders created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    options = orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS | orjson.OPT_APPEND_NEWLINE
    target.write_bytes(orjson.dumps(figures, option=options))


# --- drawing ------------------------------------------------------------------------------
def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _downsample(
    xs: Sequence[float], ys: Sequence[float | None], limit: int = MAX_POINTS
) -> tuple[list[float], list[float]]:
    """At most `limit` points of the line: the first, the last, and each stretch's lowest and
    highest value, so a short dip or spike still shows. None becomes NaN (a gap)."""
    n = min(len(xs), len(ys))
    x = [float(v) for v in xs[:n]]
    y = [_number(v) for v in ys[:n]]
    if n <= limit:
        return x, y
    buckets = (limit - 2) // 2
    keep = {0, n - 1}
    for b in range(buckets):
        lo, hi = b * n // buckets, (b + 1) * n // buckets
        present = [i for i in range(lo, hi) if not math.isnan(y[i])]
        if present:
            keep.add(min(present, key=y.__getitem__))
            keep.add(max(present, key=y.__getitem__))
        elif hi > lo:
            keep.add(lo)
    order = sorted(keep)
    return [x[i] for i in order], [y[i] for i in order]


def _svg(fig: Figure, salt: str) -> str:
    """The figure as an inline <svg> element: text kept as text, ids unique per figure and
    the same from run to run (no random salt, no date)."""
    import matplotlib

    buffer = io.StringIO()
    with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": salt}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _clock_axis(ax: Axes, minutes: Sequence[float], start: datetime | None) -> None:
    """Minutes of the day labelled as clock time HH:MM, ticks on round clock times."""
    from matplotlib.ticker import FixedLocator, FuncFormatter

    base = start or datetime(2000, 1, 1)
    first, last = min(minutes), max(minutes)
    step = next((s for s in (15, 30, 60, 120, 180, 240) if (last - first) / s <= 10), 360)
    offset = (-(base.hour * 60 + base.minute) - first) % step
    ticks = [first + offset + k * step for k in range(int((last - first - offset) // step) + 1)]
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_major_formatter(
        FuncFormatter(lambda m, _pos: f"{base + timedelta(minutes=float(m)):%H:%M}")
    )
    ax.set_xlim(first, last)


def _availability_svg(figures: Figures, sku: str, salt: str) -> tuple[str | None, bool]:
    """One figure for the SKU, a subplot per channel: truth and each mode's shown value.
    Also whether any line was thinned. None when there is nothing to draw."""
    from matplotlib.figure import Figure

    minutes = _dig(figures, "series", "minutes") or []
    series = _dig(figures, "series", "availability", sku)
    names: set[str] = set()
    for key in ("truth", *MODES):
        lines = _dig(series, key)
        if isinstance(lines, Mapping):
            names.update(str(ch) for ch, values in lines.items() if values)
    channels = [ch for ch in _ordered(figures, names) if ch in names]
    if not minutes or not channels:
        return None, False
    thinned = False
    fig = Figure(figsize=(10, 0.9 + 2.1 * len(channels)), layout="constrained")
    axes = fig.subplots(len(channels), 1, sharex=True, squeeze=False)[:, 0]
    for ax, channel in zip(axes, channels, strict=True):
        for key in ("truth", *MODES):
            values = _dig(series, key, channel)
            if not values:
                continue
            xs, ys = _downsample(minutes, values)
            thinned = thinned or len(xs) < min(len(minutes), len(values))
            ax.plot(
                xs,
                ys,
                drawstyle="steps-post",
                color=_COLOURS[key],
                # The truth is a wide pale band under the thin lines of what was shown, so
                # a channel that matches it shows as a line running inside the band.
                linewidth=3.5 if key == "truth" else 1.0,
                zorder=1 if key == "truth" else 2,
                label=_LINE_LABELS[key],
            )
        ax.set_title(channel, loc="left", fontsize="medium", parse_math=False)
        ax.set_ylabel("units")
        ax.grid(alpha=0.3)
    _clock_axis(axes[-1], minutes, _start(figures))
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="outside upper right", ncols=3, fontsize="small")
    return _svg(fig, salt), thinned


#: Tick candidates on the latency axis: roughly one per decade, and finer ones for a
#: short range.
_DECADE_TICKS = (0.001, 0.01, 0.1, 1.0, 10.0, 60.0, 600.0, 3600.0, 36_000.0)
_FINE_TICKS = (
    *(m * 10.0**e for e in (-3, -2, -1, 0) for m in (1, 2, 5)),
    *(20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 900.0, 1800.0),
    *(h * 3600.0 for h in (1, 2, 4, 8, 12, 24)),
)


def _tick_label(seconds: float) -> str:
    """A round duration, short: "10 ms", "0.1 s", "20 s", "15 min", "2 h"."""
    if seconds < 1:
        return human_duration(seconds)
    if seconds < 60:
        return f"{seconds:g} s"
    if seconds < 3600:
        return f"{seconds / 60:g} min"
    return f"{seconds / 3600:g} h"


def _latency_ticks(low: float, high: float) -> list[float]:
    ticks = [t for t in _DECADE_TICKS if low <= t <= high]
    if len(ticks) < 3:
        ticks = [t for t in _FINE_TICKS if low <= t <= high]
    return ticks[:: math.ceil(len(ticks) / 8)] if ticks else [low, high]


def _ecdf(samples: Sequence[float]) -> tuple[list[float], list[float]]:
    """The empirical CDF of the sorted samples, at most MAX_POINTS points, from 0 up to 1."""
    n = len(samples)
    if n <= MAX_POINTS:
        indices: Iterable[int] = range(n)
    else:
        indices = sorted({round(k * (n - 1) / (MAX_POINTS - 2)) for k in range(MAX_POINTS - 1)})
    xs, ys = [samples[0]], [0.0]
    for i in indices:
        xs.append(samples[i])
        ys.append((i + 1) / n)
    return xs, ys


def _latency_svg(samples: Mapping[str, list[float]], salt: str) -> str:
    """Empirical CDF of propagation latency per mode, on a log axis of human durations."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import FixedLocator, FuncFormatter, NullLocator, PercentFormatter

    fig = Figure(figsize=(8, 3.4), layout="constrained")
    ax = fig.add_subplot()
    drawn = [v for mode in MODES for v in samples[mode]]
    for mode in MODES:
        if not samples[mode]:
            continue
        xs, ys = _ecdf(samples[mode])
        label = f"{MODE_NAMES[mode]} ({len(samples[mode]):,} samples)"
        ax.plot(xs, ys, drawstyle="steps-post", color=_COLOURS[mode], label=label)
    low, high = min(drawn) / 1.5, max(drawn) * 1.5
    ticks = _latency_ticks(low, high)
    ax.set_xscale("log")
    ax.set_xlim(low, high)
    ax.xaxis.set_major_locator(FixedLocator(ticks))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda s, _pos: _tick_label(s)))
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("from the change at the source to the channel showing it (log scale)")
    ax.set_ylabel("changes shown")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower right", fontsize="small")
    return _svg(fig, salt)


# --- the HTML page ------------------------------------------------------------------------
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 70rem;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; }
th, td { padding: 0.25rem 0.8rem; border-bottom: 1px solid #ddd; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.alarm { color: #b00020; font-weight: bold; }
figure { margin: 1rem 0; }
figure svg { max-width: 100%; height: auto; }
.explain { background: #f5f5f2; border-left: 4px solid #bbb; padding: 0.5rem 1rem; }
.explain dt { font-weight: bold; }
.note { color: #555; font-style: italic; }
"""

_TABLE_EXPLAINED = (
    (
        "Declined at checkout",
        "A checkout the channel refused because the live reservation found no stock left: "
        "the shopper is told at once, instead of having an order cancelled later.",
    ),
    (
        "Oversell",
        "An order the channel accepted that found no physical unit at fulfilment and was "
        "cancelled. The cancellation rate is oversells divided by orders.",
    ),
    (
        "Phantom stock",
        "Unit-minutes where a channel showed more than its own policy would show on the "
        "physical stock of the locations that feed it (shelf units less its buffers, times "
        "its share): showing 3 units too many for 10 minutes counts 30.",
    ),
    (
        "Propagation latency",
        "The time from a sale, receipt or return at the source to the channel showing the "
        "changed value. p50 is the typical change, p99 the slowest in a hundred, max the "
        "slowest of the day.",
    ),
    (
        "ERP posting delay",
        "The time from a stock movement to its posting in the ERP.",
    ),
    (
        "API calls and HTTP 429",
        "Requests made to each channel's and the ERP's API, and how many of them were "
        "refused for going over the rate limit.",
    ),
    (
        "Duplicate postings and events lost",
        "A movement posted twice, or never. Both must be 0; they are shown in red when not.",
    ),
    (
        "End-of-day drift",
        "At close, the sum over every SKU and location of the difference between the stock "
        "the systems believe is on hand and the stock physically there.",
    ),
    (
        "Wall-clock time",
        "How long the simulation of each mode took to run on this machine; not part of the "
        "simulated day.",
    ),
)

_AVAILABILITY_EXPLAINED = (
    "Each chart follows one of the day's busiest SKUs, one panel per sales channel. The "
    "wide grey band is what the channel's own policy would show on the physical stock of "
    "the locations that feed it (shelf units less its buffers, times its share); "
    "the thin coloured lines are what the channel showed shoppers, in the status quo and "
    "with Stockbridge. Where a coloured line sits above the band the channel is offering "
    "phantom stock, and orders taken then may be oversells; where it sits below, the "
    "channel is hiding stock it could have sold."
)

_LATENCY_EXPLAINED = (
    "Each curve shows, for one channel, the share of stock changes (up the side) that the "
    "channel was showing within a given time (along the bottom, on a log scale: each step "
    "to the right is several times longer). The further left a curve rises, the sooner "
    "shoppers saw the true stock; a curve that rises in steps follows a batch schedule."
)


def _table_html(rows: Sequence[_Row]) -> str:
    e = html.escape
    head = "".join(f"<th scope='col'>{e(MODE_NAMES[m])}</th>" for m in MODES)
    body = []
    for row in rows:
        cells = "".join(
            f"<td class='{'num alarm' if alarm else 'num'}'>{e(cell)}</td>"
            for cell, alarm in zip(row.cells, row.alarm, strict=True)
        )
        body.append(f"<tr><th scope='row'>{e(row.label)}</th>{cells}</tr>")
    return (
        f"<table><thead><tr><th scope='col'>Figure</th>{head}</tr></thead>"
        f"<tbody>{''.join(body)}</tbody></table>"
    )


def _explain(text: str) -> str:
    return f"<div class='explain'><p>{html.escape(text)}</p></div>"


def _latency_samples(figures: Figures, channel: str) -> dict[str, list[float]]:
    """The channel's samples per mode, sorted, with None dropped and raised to the floor."""
    return {
        mode: sorted(
            max(float(v), LATENCY_FLOOR_SECONDS)
            for v in _dig(figures, "series", "latencies", mode, channel) or []
            if v is not None
        )
        for mode in MODES
    }


def _latency_channels(figures: Figures) -> list[str]:
    names: set[str] = set()
    for mode in MODES:
        per_channel = _dig(figures, "series", "latencies", mode)
        if isinstance(per_channel, Mapping):
            names.update(str(k) for k in per_channel)
    return _ordered(figures, names)


def _html(figures: Figures) -> str:
    e = html.escape
    title = _title(figures)
    salts = (f"stockbridge-sim-{n}" for n in itertools.count())
    out = [
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>",
        f"<title>{e(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{e(title)}</h1>",
        f"<p>{e(_estate_line(figures))}</p>",
        "<section><h2>Side by side</h2>",
        _table_html(_rows(figures)),
        "<div class='explain'><dl>",
        *(f"<dt>{e(term)}</dt><dd>{e(text)}</dd>" for term, text in _TABLE_EXPLAINED),
        "</dl></div></section>",
        "<section><h2>Availability of the hot SKUs</h2>",
        _explain(_AVAILABILITY_EXPLAINED),
    ]
    start = _start(figures)
    if start is not None and _zone(start):
        out.append(f"<p class='note'>Clock times are at {_zone(start)}.</p>")
    hot = [str(sku) for sku in _dig(figures, "series", "hot_skus") or []]
    if not hot:
        out.append("<p>No hot SKUs were recorded, so there are no availability charts.</p>")
    any_thinned = False
    for sku in hot:
        out.append(f"<h3>{e(sku)}</h3>")
        svg, thinned = _availability_svg(figures, sku, next(salts))
        any_thinned = any_thinned or thinned
        if svg is None:
            out.append(f"<p>No availability series were recorded for {e(sku)}.</p>")
        else:
            out.append(f"<figure>{svg}</figure>")
    if any_thinned:
        out.append(
            f"<p class='note'>Series longer than {MAX_POINTS:,} points are thinned for "
            "drawing, keeping each stretch's lowest and highest value.</p>"
        )
    out += [
        "</section><section><h2>Propagation latency</h2>",
        _explain(_LATENCY_EXPLAINED),
        f"<p class='note'>Latencies under {human_duration(LATENCY_FLOOR_SECONDS)} are drawn "
        f"at {human_duration(LATENCY_FLOOR_SECONDS)}.</p>",
    ]
    for channel in _latency_channels(figures):
        samples = _latency_samples(figures, channel)
        out.append(f"<h3>{e(channel)}</h3>")
        missing = [MODE_NAMES[m].lower() for m in MODES if not samples[m]]
        if len(missing) == len(MODES):
            out.append(
                f"<p>No propagation samples were recorded for {e(channel)} in either mode, "
                "so there is no chart.</p>"
            )
            continue
        out.append(f"<figure>{_latency_svg(samples, next(salts))}</figure>")
        for mode in missing:
            out.append(
                f"<p>No propagation samples were recorded for {e(channel)} in the "
                f"{e(mode)} mode.</p>"
            )
    out.append("</section></body></html>\n")
    return "\n".join(out)


def write_html(figures: Figures, path: str | Path) -> None:
    """Write one self-contained HTML page: the table, availability of each hot SKU over the
    day, and the propagation latency per channel; parent folders created."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(_html(figures), encoding="utf-8")
