"""`stockbridge bench ingest`: throughput of the full ingest transaction and read latency.

Clients in threads submit batches through the group-commit writer (validation, mapping,
dedupe, ledger, positions, outbox, durable commit), then HTTP clients in processes of
their own post them to the server. Meanwhile a reader process calls GET /v1/positions and
GET /v1/availability over real HTTP. Figures go to the console and to
docs/benchmarks.md, with the machine and the command.
"""

from __future__ import annotations

import multiprocessing
import os
import platform
import random
import re
import resource
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.progress import Progress
from rich.table import Table

from .app.ingest import Status

SKUS = 10_000
LOCATIONS = 50
CLIENTS = 8


def clients_for(batch: int) -> int:
    """Concurrent senders per batch size, as an estate has: many tills, a few bulk feeds."""
    return 64 if batch == 1 else CLIENTS


BENCH_KEY = "sbk_bench"


@dataclass
class Row:
    label: str
    batch: int
    events: int
    seconds: float
    commits: int
    submit_p50_ms: float
    submit_p99_ms: float
    read_p50_ms: float
    read_p99_ms: float
    ats_p50_ms: float
    ats_p99_ms: float
    reads: int

    @property
    def rate(self) -> float:
        return self.events / self.seconds


def percentile(samples: list[float], q: float) -> float:
    if not samples:
        return float("nan")
    if len(samples) == 1:
        return samples[0]
    return statistics.quantiles(samples, n=100, method="inclusive")[int(q) - 1]


class _EventFactory:
    """A retail mix: mostly sales, then receipts, returns, adjustments, transfers, counts."""

    def __init__(self, seed: int) -> None:
        self.r = random.Random(seed)
        self.n = 0
        self.at = datetime(2026, 11, 1, 8, tzinfo=UTC).timestamp()

    def make(self, prefix: str) -> dict[str, Any]:
        r = self.r
        self.n += 1
        roll = r.random()
        kind = (
            "sale"
            if roll < 0.70
            else "receipt"
            if roll < 0.80
            else "return"
            if roll < 0.85
            else "adjustment"
            if roll < 0.90
            else "transfer_out"
            if roll < 0.95
            else "count"
        )
        ev: dict[str, Any] = {
            "event_id": f"{prefix}-{self.n}",
            "source": "pos",
            "type": kind,
            "sku": f"SKU-{r.randrange(SKUS):05d}",
            "location": f"L{r.randrange(LOCATIONS):03d}",
            "quantity": r.randint(1, 4) if kind != "count" else r.randint(0, 40),
            "occurred_at": datetime.fromtimestamp(self.at + self.n * 0.01, UTC).isoformat(),
        }
        if kind == "transfer_out":
            ev["counterparty_location"] = f"L{r.randrange(LOCATIONS):03d}"
        return ev


def _seed(hub: Any) -> None:
    from .app.master import MasterKind

    hub.master_data.import_list(
        MasterKind.ITEMS,
        [{"sku": f"SKU-{i:05d}", "conversions": {"CASE12": 12}} for i in range(SKUS)],
    )
    hub.master_data.import_list(
        MasterKind.LOCATIONS, [{"code": f"L{i:03d}"} for i in range(LOCATIONS)]
    )
    # A storefront channel over every location; no target, so ingest queues no pushes.
    hub.channels.put("web", {"locations": {f"L{i:03d}": 1 for i in range(LOCATIONS)}})


#: Reads per second during the ingest runs (half positions, half channel availability):
#: a storefront's and a till's stock checks.
READ_RATE = 200


@dataclass(frozen=True)
class ReadMix:
    """What the reader asks for: positions of these SKUs and locations, and the
    availability of these SKUs on this channel."""

    skus: list[str]
    locations: list[str]
    channel: str = "web"
    per_second: int = READ_RATE


def _read_loop(url: str, stop: Any, out: Any, mix: ReadMix) -> None:
    """A reader process: GET /v1/positions/{sku}/{location} and
    GET /v1/availability/{channel}/{sku} in turn, `mix.per_second` times a second, until
    `stop` is set; sends
    back both latency lists (ms).

    In a process of its own, so its client work does not share the server's GIL and the
    latencies are the server's, as a storefront across the network would see them.
    """
    r = random.Random(99)
    positions: list[float] = []
    ats: list[float] = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {BENCH_KEY}"}) as client:
        client.get("/healthz").raise_for_status()  # connected: the measured window may start
        out.send("ready")
        interval = 1 / mix.per_second
        next_at = time.perf_counter()
        while not stop.wait(max(0.0, next_at - time.perf_counter())):
            next_at += interval
            sku = r.choice(mix.skus)
            loc = r.choice(mix.locations)
            is_ats = len(positions) > len(ats)
            path = (
                f"/v1/availability/{mix.channel}/{sku}" if is_ats else f"/v1/positions/{sku}/{loc}"
            )
            t0 = time.perf_counter()
            resp = client.get(path)
            (ats if is_ats else positions).append((time.perf_counter() - t0) * 1000)
            resp.raise_for_status()
    out.send((positions, ats))


class Reader:
    """Runs `_read_loop` in a child process for the length of one measured run."""

    def __init__(self, url: str, mix: ReadMix | None = None) -> None:
        ctx = multiprocessing.get_context("spawn")
        self._stop = ctx.Event()
        self._parent, child = ctx.Pipe()
        mix = mix or ReadMix(
            [f"SKU-{i:05d}" for i in range(SKUS)], [f"L{i:03d}" for i in range(LOCATIONS)]
        )
        self._process = ctx.Process(
            target=_read_loop, args=(url, self._stop, child, mix), daemon=True
        )
        self.samples: list[float] = []
        self.ats_samples: list[float] = []

    def start(self) -> None:
        """Start the reader and wait until it is connected and about to ask."""
        self._process.start()
        ready = self._parent.recv()
        assert ready == "ready", ready

    def finish(self) -> None:
        self._stop.set()
        self.samples, self.ats_samples = self._parent.recv()
        self._process.join()


def serve(hub: Any) -> tuple[Any, threading.Thread, str]:
    import socket

    import uvicorn

    from .api.app import create_app

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(128)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(hub, manage_hub=False), log_config=None, access_log=False, lifespan="off"
        )
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    return server, thread, f"http://127.0.0.1:{port}"


def _drive(
    hub: Any,
    url: str,
    label: str,
    batch: int,
    events: int,
    clients: int,
    work: Callable[[int, Callable[[float], None]], None],
) -> Row:
    """Run `work(client, record_latency_ms)` in `clients` threads while the reader reads."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    reader = Reader(url)
    commits0 = hub.writer.commits
    reader.start()
    threads = [threading.Thread(target=work, args=(c, latencies[c].append)) for c in range(clients)]
    t0 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - t0
    reader.finish()
    submit = [x for lat in latencies for x in lat]
    return _row(label, batch, events, seconds, hub.writer.commits - commits0, submit, reader)


def _row(
    label: str,
    batch: int,
    events: int,
    seconds: float,
    commits: int,
    submit: list[float],
    reader: Reader,
) -> Row:
    return Row(
        label,
        batch,
        events,
        seconds,
        commits,
        percentile(submit, 50),
        percentile(submit, 99),
        percentile(reader.samples, 50),
        percentile(reader.samples, 99),
        percentile(reader.ats_samples, 50),
        percentile(reader.ats_samples, 99),
        len(reader.samples) + len(reader.ats_samples),
    )


def _run_batch_size(hub: Any, url: str, batch: int, total: int, progress: Progress) -> Row:
    clients = clients_for(batch)
    factories = [_EventFactory(seed=batch * 100 + c) for c in range(clients)]
    per_client = max(1, total // clients // batch)
    batches = [
        [[factories[c].make(f"b{batch}c{c}") for _ in range(batch)] for _ in range(per_client)]
        for c in range(clients)
    ]
    events = clients * per_client * batch
    task = progress.add_task(f"batch {batch:>5}", total=events)

    def client(c: int, record: Callable[[float], None]) -> None:
        for b in batches[c]:
            t0 = time.perf_counter()
            result = hub.writer.submit(b).result()
            record((time.perf_counter() - t0) * 1000)
            progress.advance(task, len(b))
            if result.count(Status.ACCEPTED) != len(b):
                raise RuntimeError(f"bench events not accepted: {result.totals()}")

    label = f"writer {hub.settings.ingest.writer}, {clients} clients"
    return _drive(hub, url, label, batch, events, clients, client)


#: Processes the HTTP clients run in (threads split between them), apart from the server.
HTTP_PROCESSES = 2


def _post_loop(url: str, batch: int, per_client: int, seeds: list[int], go: Any, out: Any) -> None:
    """A client process: one thread per seed posts `per_client` bodies of `batch` events."""
    import orjson

    bodies: list[list[bytes]] = []
    for seed in seeds:
        factory = _EventFactory(seed)
        bodies.append(
            [
                orjson.dumps({"events": [factory.make(f"h{batch}c{seed}") for _ in range(batch)]})
                for _ in range(per_client)
            ]
        )
    latencies: list[list[float]] = [[] for _ in seeds]

    def client(c: int) -> None:
        with httpx.Client(
            base_url=url,
            timeout=60,
            headers={"Authorization": f"Bearer {BENCH_KEY}", "Content-Type": "application/json"},
        ) as http:
            for body in bodies[c]:
                t0 = time.perf_counter()
                http.post("/v1/events", content=body).raise_for_status()
                latencies[c].append((time.perf_counter() - t0) * 1000)

    out.send("ready")
    go.wait()
    threads = [threading.Thread(target=client, args=(c,)) for c in range(len(seeds))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.send([x for lat in latencies for x in lat])


def _run_http(hub: Any, url: str, batch: int, total: int, progress: Progress) -> Row:
    """The same through POST /v1/events over HTTP, the clients in processes of their own
    (as tills and feeds are): the server process only serves."""
    ctx = multiprocessing.get_context("spawn")
    per_client = max(1, total // CLIENTS // batch)
    events = CLIENTS * per_client * batch
    task = progress.add_task(f"http {batch:>5}", total=events)
    go = ctx.Event()
    seeds = [list(range(7_000 + p, 7_000 + CLIENTS, HTTP_PROCESSES)) for p in range(HTTP_PROCESSES)]
    pipes, processes = [], []
    for group in seeds:
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_post_loop, args=(url, batch, per_client, group, go, child), daemon=True
        )
        proc.start()
        pipes.append(parent)
        processes.append(proc)
    for parent in pipes:
        assert parent.recv() == "ready"
    reader = Reader(url)
    reader.start()
    commits0 = hub.writer.commits
    t0 = time.perf_counter()
    go.set()
    submit = [x for parent in pipes for x in parent.recv()]
    seconds = time.perf_counter() - t0
    for proc in processes:
        proc.join()
    reader.finish()
    progress.advance(task, events)
    label = f"HTTP POST /v1/events, {CLIENTS} clients in {HTTP_PROCESSES} processes"
    return _row(label, batch, events, seconds, hub.writer.commits - commits0, submit, reader)


def write_block(output: Path, name: str, lines: list[str]) -> None:
    """Replace (or append) the `<!-- bench:NAME -->` block of a markdown file."""
    block = "\n".join([f"<!-- bench:{name} -->", *lines, f"<!-- /bench:{name} -->"])
    text = output.read_text() if output.exists() else "# Benchmarks\n\n"
    pattern = re.compile(rf"<!-- bench:{name} -->.*?<!-- /bench:{name} -->", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(text)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    import sqlite3

    return (
        f"{os.cpu_count()} CPU ({cpu}), Python {platform.python_version()}, "
        f"SQLite {sqlite3.sqlite_version}, {platform.system()} {platform.release()}"
    )


def run_ingest_bench(
    *,
    events: int,
    batch_sizes: list[int],
    output: Path | None,
    workdir: Path | None,
    console: Console,
    http: bool = True,
) -> list[Row]:
    from .app.bootstrap import bootstrap
    from .config import Settings
    from .runtime import tune_gc

    folder = Path(tempfile.mkdtemp(prefix="sb-bench-", dir=workdir))
    settings = Settings().with_overrides(
        **{"database.url": str(folder / "bench.db"), "bootstrap_key": BENCH_KEY}
    )
    hub = bootstrap(settings)
    _seed(hub)
    tune_gc()
    hub.start()
    server, thread, url = serve(hub)
    rows: list[Row] = []
    try:
        with Progress(console=console, transient=True) as progress:
            for b in batch_sizes:
                # Batch size 1 is bounded by per-request overhead: measure fewer events.
                rows.append(
                    _run_batch_size(hub, url, b, events if b > 1 else events // 10, progress)
                )
            if http:
                rows.append(_run_http(hub, url, max(batch_sizes), events // 2, progress))
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        hub.close()
    rss_mib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    db_mib = sum(p.stat().st_size for p in folder.glob("bench.db*")) / 2**20

    table = Table(
        "path",
        "batch",
        "events",
        "events/s",
        "commits",
        "submit p50 ms",
        "submit p99 ms",
        "position p50 ms",
        "position p99 ms",
        "ATS p50 ms",
        "ATS p99 ms",
        title="ingest",
    )
    for r in rows:
        table.add_row(
            r.label,
            str(r.batch),
            f"{r.events:,}",
            f"{r.rate:,.0f}",
            str(r.commits),
            f"{r.submit_p50_ms:.1f}",
            f"{r.submit_p99_ms:.1f}",
            f"{r.read_p50_ms:.2f}",
            f"{r.read_p99_ms:.2f}",
            f"{r.ats_p50_ms:.2f}",
            f"{r.ats_p99_ms:.2f}",
        )
    console.print(table)
    console.print(f"peak RSS {rss_mib:.0f} MiB, database {db_mib:.0f} MiB, {machine()}")
    if output is not None:
        _write_markdown(output, rows, rss_mib, db_mib)
        console.print(f"written to {output}")
    for p in folder.glob("bench.db*"):
        p.unlink()
    folder.rmdir()
    return rows


def _write_markdown(output: Path, rows: list[Row], rss_mib: float, db_mib: float) -> None:
    command = " ".join(["stockbridge", *sys.argv[1:]])
    lines = [
        "## Ingest (`stockbridge bench ingest`)",
        "",
        f"Measured {datetime.now(UTC):%Y-%m-%d %H:%M} UTC on {machine()}.",
        "",
        f"Command: `{command}`",
        "",
        f"SQLite in WAL mode with `synchronous=FULL` (every commit is fsynced before the answer). "
        f"{SKUS:,} SKUs x {LOCATIONS} locations; event mix 70% sale, 10% receipt, 5% return, "
        "5% adjustment, 5% transfer, 5% count. Client threads (64 for batch 1, 8 otherwise) "
        "submit batches; the group-commit writer applies whatever "
        "is waiting in one transaction. Meanwhile "
        f"a reader in a process of its own calls the server over HTTP {READ_RATE} times a "
        "second, in turn `GET /v1/positions/{sku}/{location}` (position) and "
        f"`GET /v1/availability/web/{{sku}}` (ATS: a channel over all {LOCATIONS} locations).",
        "",
        "| path | batch | events | events/s | commits | submit p50 ms | submit p99 ms "
        "| position p50 ms | position p99 ms | ATS p50 ms | ATS p99 ms |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for r in rows:
        lines.append(
            f"| {r.label} | {r.batch} | {r.events:,} | {r.rate:,.0f} | {r.commits:,} | "
            f"{r.submit_p50_ms:.1f} | {r.submit_p99_ms:.1f} | {r.read_p50_ms:.2f} | "
            f"{r.read_p99_ms:.2f} | {r.ats_p50_ms:.2f} | {r.ats_p99_ms:.2f} |"
        )
    lines += ["", f"Peak resident memory {rss_mib:.0f} MiB; database {db_mib:.0f} MiB."]
    write_block(output, "ingest", lines)
