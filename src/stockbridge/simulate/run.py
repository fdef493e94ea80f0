"""Run one scenario's day through both modes and gather the figures (the report's dict)."""

from __future__ import annotations

import math
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .estate import Day, plan_day
from .hub import HubIntegration
from .scenarios import Scenario
from .status_quo import StatusQuo
from .world import Integration, World, day_start

MODES = ("status-quo", "stockbridge")
#: Hot SKUs plotted in the report (the most popular, and the story's SKU if any).
HOT_SKUS = 3


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile; None when there are no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, math.ceil(q / 100 * len(ordered)) - 1))
    return ordered[rank]


def _spread(values: list[float]) -> dict[str, float | None]:
    return {
        "p50": percentile(values, 50),
        "p99": percentile(values, 99),
        "max": max(values) if values else None,
    }


def hot_skus(day: Day) -> list[str]:
    ranked = sorted(day.estate.skus, key=lambda s: -day.estate.popularity[s])[:HOT_SKUS]
    story = day.story.get("sku")
    if story is not None and story not in ranked:
        ranked = [story, *ranked[:-1]]
    return ranked


def run_mode(
    mode: str,
    day: Day,
    workdir: Path,
    progress: Callable[[float], None] | None = None,
) -> tuple[dict[str, Any], World, float]:
    """One mode's day: its figures, its world (for the series) and wall seconds."""
    started = time.perf_counter()
    integration: Integration
    hub: HubIntegration | None = None
    if mode == "status-quo":
        integration = StatusQuo(day)
    else:
        hub = HubIntegration(day, workdir, day_start(day))
        integration = hub
    world = World(day, integration, hot_skus(day))
    try:
        world.run(progress)
        extra = integration.finish(world)
    finally:
        if hub is not None:
            hub.close()
    wall = time.perf_counter() - started
    return _figures(world, integration, extra), world, wall


def _figures(world: World, integ: Integration, extra: dict[str, Any]) -> dict[str, Any]:
    m = world.meter
    channels = list(world.day.estate.channels)
    orders = sum(m.orders.values())
    oversells = sum(m.oversells.values())
    phantom = {ch: round(m.phantom.get(ch, 0.0), 1) for ch in channels}
    phantom["total"] = round(sum(phantom.values()), 1)
    delays = integ.erp.delays
    figures: dict[str, Any] = {
        "orders": orders,
        "orders_by_channel": {ch: m.orders.get(ch, 0) for ch in channels},
        "declined_at_checkout": m.declined,
        "oversells": oversells,
        "oversells_by_channel": {ch: m.oversells.get(ch, 0) for ch in channels},
        "oversells_by_cause": dict(sorted(m.oversell_causes.items())),
        "cancellation_rate": oversells / orders if orders else 0.0,
        "phantom_unit_minutes": phantom,
        "propagation_seconds": {
            ch: {**_spread(m.latencies.get(ch, [])), "samples": len(m.latencies.get(ch, []))}
            for ch in channels
        },
        "erp_posting_delay_seconds": {**_spread(delays), "postings": len(delays)},
        "api_calls": {**{ch: integ.channels[ch].calls for ch in channels}, "erp": integ.erp.calls},
        "http_429": {
            **{ch: integ.channels[ch].throttled for ch in channels},
            "erp": integ.erp.throttled,
        },
        "duplicate_postings": integ.erp.duplicate_postings,
        "events_emitted": len(world.emitted),
        "events_lost": extra["events_lost"],
        "end_drift_units": extra["end_drift_units"],
        # Stockbridge mode: platform simulators holding another figure than the ledger's.
        "platforms_off_ledger": extra.get("platforms_off_ledger"),
        "demand": dict(sorted(m.demand.items())),
    }
    story = world.day.story.get("order")
    if story is not None:
        order = world.orders.get(story)
        figures["story_order"] = order.outcome if order is not None else "not_placed"
    figures.update({k: v for k, v in extra.items() if k not in figures})
    if delays:
        figures["erp_posting_delay_seconds"]["mean"] = statistics.fmean(delays)
    return figures


def simulate(
    scenario: Scenario,
    seed: int,
    *,
    workdir: Path | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    """Both modes on the same seeded day -> the figures dict the report renders."""
    day = plan_day(scenario, seed)
    modes: dict[str, Any] = {}
    walls: dict[str, float] = {}
    worlds: dict[str, World] = {}
    with tempfile.TemporaryDirectory(prefix="stockbridge-sim-") as tmp:
        for mode in MODES:

            def tick(now: float, mode: str = mode) -> None:
                if progress is not None:
                    progress(mode, now)

            modes[mode], worlds[mode], walls[mode] = run_mode(mode, day, workdir or Path(tmp), tick)
    first = worlds[MODES[0]]
    hot = first.hot_skus
    return {
        "scenario": scenario.name,
        "seed": seed,
        "estate": {
            "stores": len(day.estate.stores),
            "dcs": len(day.estate.dcs),
            "skus": len(day.estate.skus),
            "hours": scenario.hours,
            "channels": list(day.estate.channels),
            "start": first.start.isoformat(),
            "intents": len(day.intents),
        },
        "wall_seconds": {m: round(w, 2) for m, w in walls.items()},
        "modes": modes,
        "series": {
            "hot_skus": hot,
            "minutes": list(range(len(first.meter.truth_series[hot[0]]["web"]))) if hot else [],
            "availability": {
                sku: {
                    "truth": first.meter.truth_series[sku],
                    **{m: worlds[m].meter.shown_series[sku] for m in MODES},
                }
                for sku in hot
            },
            "latencies": {
                m: {ch: worlds[m].meter.latencies.get(ch, []) for ch in day.estate.channels}
                for m in MODES
            },
        },
    }
