"""`stockbridge bench propagate`: from a sale at a till to the channel's receipt.

Events are submitted open-loop at a fixed rate into a hub on SQLite (writer process,
dispatcher in the server process) with one channel pushing to a local webhook receiver
in a process of its own. An event counts as propagated when the first push for its SKU
computed at or after the event reaches the receiver.
"""

from __future__ import annotations

import bisect
import math
import multiprocessing
import random
import tempfile
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

from .bench import BENCH_KEY, READ_RATE, Reader, ReadMix, machine, percentile, serve, write_block

SKUS = 1_000
LOCATIONS = 10
#: Availability pushes per request to the channel's target.
BATCH = 100


def _receiver_main(port_out: Any) -> None:
    """A webhook receiver: records (sku, computed_at, received_at) per push."""
    import socket

    import orjson
    import uvicorn

    received: list[tuple[str, float, float]] = []

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        if scope["method"] == "GET":
            payload = orjson.dumps(received)
        else:
            now = time.time()
            push = orjson.loads(body)
            for item in push.get("items", [push]):
                computed = datetime.fromisoformat(item["computed_at"]).timestamp()
                received.append((item["sku"], computed, now))
            payload = b"{}"
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": payload})

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(512)
    port_out.send(sock.getsockname()[1])
    uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")).run(
        sockets=[sock]
    )


@dataclass
class PropagationRow:
    label: str
    rate: int
    events: int
    seconds: float
    pushes: int
    p50_ms: float
    p99_ms: float
    max_backlog: int
    drain_seconds: float
    #: Lookups over HTTP during the load: availability on the channel, and positions.
    ats_p50_ms: float
    ats_p99_ms: float
    position_p99_ms: float


def _one_run(
    label: str,
    rate: int,
    seconds: float,
    cap: float,
    console: Console,
    workdir: Path | None,
    reads: int = 0,
) -> PropagationRow:
    from .app.bootstrap import bootstrap
    from .app.master import MasterKind
    from .config import Settings
    from .runtime import tune_gc

    ctx = multiprocessing.get_context("spawn")
    parent, child = ctx.Pipe()
    receiver = ctx.Process(target=_receiver_main, args=(child,), daemon=True)
    receiver.start()
    port = parent.recv()
    url = f"http://127.0.0.1:{port}"

    folder = Path(tempfile.mkdtemp(prefix="sb-prop-", dir=workdir))
    hub = bootstrap(
        Settings().with_overrides(
            **{
                "database.url": str(folder / "hub.db"),
                "delivery.poll_interval_seconds": 0.005,
                "bootstrap_key": BENCH_KEY,
            }
        )
    )
    hub.master_data.import_list(MasterKind.ITEMS, [{"sku": f"P{i:04d}"} for i in range(SKUS)])
    hub.master_data.import_list(
        MasterKind.LOCATIONS, [{"code": f"S{i:02d}"} for i in range(LOCATIONS)]
    )
    hub.deliveries.put_target(
        "web",
        {
            "url": url + "/push",
            "rate_per_second": cap,
            "burst": max(cap, 1.0),
            "concurrency": 32,
            "batch_size": BATCH,
        },
    )
    hub.channels.put(
        "web", {"locations": {f"S{i:02d}": 0 for i in range(LOCATIONS)}, "target": "web"}
    )
    tune_gc()
    hub.start()
    # The hub answers lookups over HTTP meanwhile, as a storefront would ask them.
    server, server_thread, api_url = serve(hub)
    # Opening stock everywhere, delivered before the clock starts.
    opening = [
        {
            "event_id": f"open-{s}-{loc}",
            "source": "pos",
            "type": "receipt",
            "sku": f"P{s:04d}",
            "location": f"S{loc:02d}",
            "quantity": 1000,
            "occurred_at": datetime.now(UTC).isoformat(),
        }
        for s in range(SKUS)
        for loc in range(LOCATIONS)
    ]
    for i in range(0, len(opening), 1000):
        hub.writer.submit(opening[i : i + 1000]).result()
    assert hub.dispatcher is not None
    hub.dispatcher.wait_until(lambda: _backlog(hub) == 0, timeout=600)
    before = len(httpx.get(url + "/stats").json())

    rng = random.Random(rate)
    sent: list[tuple[str, float]] = []
    tick = 0.02
    per_tick = max(1, int(rate * tick))
    max_backlog = 0
    stop_backlog = threading.Event()

    def watch() -> None:
        nonlocal max_backlog
        while not stop_backlog.wait(0.1):
            max_backlog = max(max_backlog, _backlog(hub))

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    reader = None
    if reads:
        reader = Reader(
            api_url,
            ReadMix(
                [f"P{i:04d}" for i in range(SKUS)],
                [f"S{i:02d}" for i in range(LOCATIONS)],
                per_second=reads,
            ),
        )
        reader.start()
    futures = []
    start = time.time()
    n = 0
    while time.time() - start < seconds:
        due = start + (n // per_tick + 1) * tick
        batch = []
        for _ in range(per_tick):
            sku = f"P{rng.randrange(SKUS):04d}"
            at = time.time()
            batch.append(
                {
                    "event_id": f"e{n}",
                    "source": "pos",
                    "type": "sale",
                    "sku": sku,
                    "location": f"S{rng.randrange(LOCATIONS):02d}",
                    "quantity": 1,
                    "occurred_at": datetime.fromtimestamp(at, UTC).isoformat(),
                }
            )
            sent.append((sku, at))
            n += 1
        futures.append(hub.writer.submit(batch))
        pause = due - time.time()
        if pause > 0:
            time.sleep(pause)  # pacing the load generator, not synchronising a test
    for f in futures:
        f.result()
    elapsed = time.time() - start
    if reader is not None:
        reader.finish()
    drain_from = time.time()
    hub.dispatcher.wait_until(lambda: _backlog(hub) == 0, timeout=600)
    drain = time.time() - drain_from
    stop_backlog.set()
    watcher.join()
    pushes = httpx.get(url + "/stats").json()[before:]
    server.should_exit = True
    server_thread.join(timeout=10)
    hub.close()
    receiver.kill()

    by_sku: dict[str, list[tuple[float, float]]] = {}
    for sku, computed, got in pushes:
        by_sku.setdefault(sku, []).append((computed, got))
    for rows in by_sku.values():
        rows.sort()
    latencies = []
    for sku, at in sent:
        rows = by_sku.get(sku, [])
        i = bisect.bisect_left(rows, (at, 0.0))
        if i < len(rows):
            # The first push computed after the event; received possibly after later ones.
            latencies.append((min(g for _, g in rows[i:]) - at) * 1000)
    return PropagationRow(
        label,
        rate,
        len(sent),
        elapsed,
        len(pushes),
        percentile(latencies, 50),
        percentile(latencies, 99),
        max_backlog,
        drain,
        percentile(reader.ats_samples if reader else [], 50),
        percentile(reader.ats_samples if reader else [], 99),
        percentile(reader.samples if reader else [], 99),
    )


def _backlog(hub: Any) -> int:
    return sum(depth for depth, _, _ in hub.store.target_backlog().values())


def run_propagate_bench(
    *,
    rates: list[int],
    seconds: float,
    capped_rate: int,
    output: Path | None,
    workdir: Path | None,
    console: Console,
    reads: int = READ_RATE,
) -> list[PropagationRow]:
    rows = [_one_run("uncapped channel", r, seconds, 0.0, console, workdir, reads) for r in rates]
    rows.append(
        _one_run("channel capped at 10 req/s", capped_rate, seconds, 10.0, console, workdir, reads)
    )
    table = Table(
        "channel",
        "events/s offered",
        "events",
        "pushes",
        "pushes/event",
        "p50 ms",
        "p99 ms",
        "max backlog",
        "drain s",
        "ATS p50 ms",
        "ATS p99 ms",
        "position p99 ms",
        title="propagation",
    )
    for r in rows:
        table.add_row(
            r.label,
            f"{r.rate:,}",
            f"{r.events:,}",
            f"{r.pushes:,}",
            f"{r.pushes / max(r.events, 1):.3f}",
            f"{r.p50_ms:.0f}",
            f"{r.p99_ms:.0f}",
            str(r.max_backlog),
            f"{r.drain_seconds:.1f}",
            _ms(r.ats_p50_ms),
            _ms(r.ats_p99_ms),
            _ms(r.position_p99_ms),
        )
    console.print(table)
    if output is not None:
        _write(output, rows, seconds, reads)
        console.print(f"written to {output}")
    return rows


def _ms(value: float) -> str:
    """A lookup latency, or a dash when no lookups ran."""
    return "—" if math.isnan(value) else f"{value:.2f}"


def _write(output: Path, rows: list[PropagationRow], seconds: float, reads: int) -> None:
    import sys

    lookups = (
        f"Meanwhile a reader in a process of its own asks the hub over HTTP {reads} times a "
        "second, in turn, for a SKU's available-to-sell on the channel "
        "(`GET /v1/availability/web/{sku}`, ATS) and for a position."
        if reads
        else "No lookups run meanwhile."
    )

    lines = [
        "## Propagation (`stockbridge bench propagate`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        f"Command: `{' '.join(['stockbridge', *sys.argv[1:]])}`",
        "",
        f"Sales submitted open-loop for {seconds:.0f} s at the offered rate ({SKUS:,} SKUs x "
        f"{LOCATIONS} stores, all feeding one channel) into a hub on SQLite; the channel "
        f"pushes to a local webhook receiver in its own process, up to {BATCH} SKUs per "
        "request. Latency runs from the "
        "sale's `occurred_at` to the receipt of the first push computed after it. " + lookups,
        "",
        "| channel | events/s offered | events | pushes | pushes/event | p50 ms | p99 ms "
        "| max backlog | drain s | ATS p50 ms | ATS p99 ms | position p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.rate:,} | {r.events:,} | {r.pushes:,} | "
            f"{r.pushes / max(r.events, 1):.3f} | {r.p50_ms:.0f} | {r.p99_ms:.0f} | "
            f"{r.max_backlog} | {r.drain_seconds:.1f} | {_ms(r.ats_p50_ms)} | "
            f"{_ms(r.ats_p99_ms)} | {_ms(r.position_p99_ms)} |"
        )
    write_block(output, "propagate", lines)
