"""`stockbridge bench simulate`: how fast a simulated trading day runs, per mode.

The figure is simulated events per wall-clock second: every source event, order and
reservation of the day, through the real hub on a virtual clock (and through the status
quo's model, for scale). Peak resident memory is the process's.
"""

from __future__ import annotations

import logging
import resource
import time
from datetime import date
from pathlib import Path

from rich.console import Console
from rich.table import Table

from .bench import machine, write_block
from .simulate.run import simulate
from .simulate.scenarios import scenario


def run_simulate_bench(
    *,
    name: str,
    seed: int,
    stores: int | None,
    hours: float | None,
    output: Path | None,
    console: Console,
) -> dict[str, float]:
    chosen = scenario(name).with_overrides(stores=stores, hours=hours)
    logging.getLogger("stockbridge").setLevel(logging.ERROR)
    started = time.perf_counter()
    figures = simulate(chosen, seed)
    total = time.perf_counter() - started
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    intents = figures["estate"]["intents"]
    rates = {m: intents / w for m, w in figures["wall_seconds"].items() if w > 0}
    table = Table(title=f"Simulated day: {chosen.name}, seed {seed}")
    for column in ("mode", "wall s", "day events", "events / wall s"):
        table.add_column(column, justify="right")
    for mode, wall in figures["wall_seconds"].items():
        table.add_row(mode, f"{wall:,.1f}", f"{intents:,}", f"{rates[mode]:,.0f}")
    console.print(table)
    console.print(f"peak RSS {rss_mib:,.0f} MiB, {total:,.1f} s in all")
    if output is not None:
        hub = figures["modes"]["stockbridge"]
        quo = figures["modes"]["status-quo"]
        lines = [
            "## Simulated day (`stockbridge bench simulate`)",
            "",
            f"Machine: {machine()}. Date: {date.today().isoformat()}.",
            f"Command: `stockbridge bench simulate --scenario {chosen.name} --seed {seed}`"
            f" ({len(figures['estate']['channels'])} channels, "
            f"{figures['estate']['stores']} stores, {figures['estate']['skus']} SKUs, "
            f"{chosen.hours:g} hours).",
            "",
            "| mode | wall s | day events | events / wall s |",
            "| --- | ---: | ---: | ---: |",
            *(
                f"| {m} | {w:,.1f} | {intents:,} | {rates[m]:,.0f} |"
                for m, w in figures["wall_seconds"].items()
            ),
            "",
            f"Peak resident memory {rss_mib:,.0f} MiB. The same day's outcome: "
            f"{quo['oversells']:,} oversells in the status quo against {hub['oversells']:,} "
            f"with Stockbridge; {hub['duplicate_postings']} duplicate postings and "
            f"{hub['events_lost']} events lost with Stockbridge.",
        ]
        write_block(output, "simulate", lines)
    return rates
