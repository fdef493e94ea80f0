"""The dashboard's read model and its endpoints, on SQLite and PostgreSQL.

The store queries behind it (delivered push latencies, open exceptions by reason) are
checked as a contract on both backends; the summary and the page over real HTTP.
"""

from __future__ import annotations

import fnmatch
import os
import re
import socket
import subprocess
import sys
import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub
from stockbridge.app.clock import ManualClock
from stockbridge.app.ports import Finished, NewDelivery, NewException
from stockbridge.cli import app as cli_app
from stockbridge.domain.errors import Reason
from stockbridge.domain.model import to_micros
from tests.conftest import LiveServer, event, seed_master

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "src" / "stockbridge" / "api" / "dashboard"
PAGE_NAMES = ["exceptions", "trace", "slas", "reconciliation"]
S = 1_000_000  # one second in µs


# --- store contract ------------------------------------------------------------------------
def push(
    store: SqlStore, key: str, at_us: int, target: str = "shop", kind: str = "availability"
) -> None:
    """Queue one delivery at `at_us` (a push coalesces into a pending one with its key)."""
    with store.transaction() as tx:
        tx.enqueue_deliveries(
            [NewDelivery(target, kind, key, f"{key}:{at_us}", {"key": key}, 2, [])], at_us
        )


def deliver(store: SqlStore, target: str, state: str, at_us: int, keys: set[str]) -> None:
    """Claim what is due for `target`, finish the deliveries with `keys` in `state` and hand
    the others back unsent."""
    claimed = store.claim_deliveries(target, at_us, 60 * S, 100)
    assert {d.key for d in claimed} >= keys
    store.finish_deliveries(
        [
            Finished(d, state, 200 if state == "delivered" else 503, None, 1.0, None)
            if d.key in keys
            else Finished(d, "pending", None, None, 0.0, None, sent=False)
            for d in claimed
        ],
        at_us,
    )


def test_push_latencies_are_delivered_minus_first_queued_newest_first(store: SqlStore) -> None:
    # Given two targets and pushes queued at known instants
    store.put_target("shop", {"url": "http://127.0.0.1:9/shop"}, 0)
    store.put_target("erp", {"url": "http://127.0.0.1:9/erp", "postings": True}, 0)
    push(store, "web/A", 1 * S)
    push(store, "web/B", 2 * S)
    push(store, "web/C", 1 * S)
    push(store, "web/C", 2 * S)  # coalesced into the pending one: it keeps its first instant
    push(store, "TEE/S1", 1 * S, kind="posting")
    push(store, "web/D", 1 * S, target="erp")
    # When A and C are delivered at 4 s, B at 6 s, D (other target) at 5 s; the posting too
    deliver(store, "shop", "delivered", 4 * S, {"web/A", "web/C", "TEE/S1"})
    deliver(store, "erp", "delivered", 5 * S, {"web/D"})
    deliver(store, "shop", "delivered", 6 * S, {"web/B"})
    # And a push that failed for good, and one still waiting
    push(store, "web/E", 6 * S)
    deliver(store, "shop", "dead", 7 * S, {"web/E"})
    push(store, "web/F", 7 * S)

    # Then only delivered availability pushes count, newest delivery first, with their wait
    everything = store.delivered_push_latencies(0, 100)
    assert everything[0] == ("shop", 4 * S)  # B: 6 s - 2 s
    assert everything[1] == ("erp", 4 * S)  # D: 5 s - 1 s
    assert sorted(everything[2:]) == [("shop", 3 * S), ("shop", 3 * S)]  # A and C: 4 s - 1 s
    # And the window and the limit cut from the oldest end
    assert store.delivered_push_latencies(5 * S, 100) == [("shop", 4 * S), ("erp", 4 * S)]
    assert store.delivered_push_latencies(0, 1) == [("shop", 4 * S)]
    assert store.delivered_push_latencies(7 * S, 100) == []


def park(store: SqlStore, reason: Reason, event_id: str, at_us: int) -> None:
    with store.transaction() as tx:
        tx.park([NewException(reason, "why", {"id": event_id}, "pos", event_id)], at_us)


def test_open_exceptions_are_counted_by_reason_with_the_oldest(store: SqlStore) -> None:
    # Given exceptions parked at known instants, the oldest unknown SKU since resolved
    park(store, Reason.UNKNOWN_SKU, "a", 1 * S)
    park(store, Reason.UNKNOWN_SKU, "b", 2 * S)
    park(store, Reason.UNKNOWN_LOCATION, "c", 3 * S)
    park(store, Reason.UNKNOWN_SKU, "d", 4 * S)
    (first,) = store.exceptions(event_id="a")
    store.set_exception_status(first.id, "resolved", None, 5 * S)

    # When the open ones are summarised
    summary = store.open_exceptions_summary()

    # Then each reason has its open count and its oldest open creation instant
    assert summary == {"unknown_sku": (2, 2 * S), "unknown_location": (1, 3 * S)}


def test_no_exceptions_and_no_pushes_summarise_to_nothing(store: SqlStore) -> None:
    assert store.open_exceptions_summary() == {}
    assert store.delivered_push_latencies(0, 10) == []


# --- the read model ------------------------------------------------------------------------
def test_latency_is_summarised_over_the_window_overall_and_per_target(
    hub: Hub, store: SqlStore, clock: ManualClock
) -> None:
    # Given pushes delivered 1, 2 and 3 s after queueing to "shop" and 10 s to "erp"
    now_us = to_micros(clock.now())
    store.put_target("shop", {"url": "http://127.0.0.1:9/shop"}, 0)
    store.put_target("erp", {"url": "http://127.0.0.1:9/erp"}, 0)
    for n, wait in enumerate((1, 2, 3)):
        push(store, f"web/{n}", now_us - 20 * S)
        deliver(store, "shop", "delivered", now_us - 20 * S + wait * S, {f"web/{n}"})
    push(store, "web/x", now_us - 30 * S, target="erp")
    deliver(store, "erp", "delivered", now_us - 20 * S, {"web/x"})
    # And one delivered long before the window
    push(store, "web/old", now_us - 7200 * S)
    deliver(store, "shop", "delivered", now_us - 7100 * S, {"web/old"})

    # When the dashboard summarises propagation
    latency = hub.dashboard.summary()["propagation"]

    # Then the old push is outside the window, and the figures are nearest-rank
    assert latency["window_seconds"] == 900
    assert (latency["pushes"], latency["p50_seconds"], latency["max_seconds"]) == (4, 2.0, 10.0)
    assert latency["p99_seconds"] == 10.0
    assert latency["targets"] == [
        {
            "target": "erp",
            "pushes": 1,
            "p50_seconds": 10.0,
            "p99_seconds": 10.0,
            "max_seconds": 10.0,
        },
        {"target": "shop", "pushes": 3, "p50_seconds": 2.0, "p99_seconds": 3.0, "max_seconds": 3.0},
    ]


# --- over HTTP -----------------------------------------------------------------------------
@pytest.fixture
def api(hub: Hub, client: httpx.Client) -> httpx.Client:
    seed_master(hub)
    return client


def reader(live: LiveServer, hub: Hub, *scopes: str) -> httpx.Client:
    key, _ = hub.keys.create("dashboard", list(scopes))
    return httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=30)


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def test_the_summary_tells_freshness_backlog_and_exceptions(
    api: httpx.Client, hub: Hub, live: LiveServer, clock: ManualClock
) -> None:
    # Given S1 and S2 must report every 5 minutes, the DC has no limit
    ok(
        api.put(
            "/v1/locations",
            json={
                "locations": [
                    {"code": "S1", "name": "Paris", "freshness_sla_seconds": 300},
                    {"code": "S2", "freshness_sla_seconds": 300},
                    {"code": "DC", "kind": "dc"},
                ]
            },
        )
    )
    # And a paused target fed by a channel, stock moving at S1, and two bad events
    ok(api.put("/v1/targets/shop", json={"url": "http://127.0.0.1:9/hook"}))
    ok(api.post("/v1/targets/shop/pause"))
    ok(api.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"}))
    ok(
        api.post(
            "/v1/events",
            json={
                "events": [
                    event("r-1", "receipt", quantity=5),
                    event("r-2", "receipt", sku="MUG", quantity=3),
                    event("x-1", "receipt", sku="NOPE"),
                    {**event("x-2", "sale"), "quantity": -1},
                ]
            },
        )
    )
    # When a minute passes and a read-only key asks for the summary
    clock.advance(timedelta(seconds=60))
    with reader(live, hub, "positions:read") as c:
        summary = ok(c.get("/v1/dashboard/summary"))

    # Then S1 reports (heard a minute ago), S2 never reported, the DC is not watched
    locations = summary["locations"]
    assert (locations["total"], locations["reporting"], locations["stale"]) == (3, 1, 1)
    assert locations["unmonitored"] == 1
    by_code = {r["location"]: r for r in locations["locations"]}
    assert by_code["S1"]["state"] == "reporting" and by_code["S1"]["name"] == "Paris"
    assert by_code["S1"]["silent_seconds"] == 60.0 and by_code["S1"]["last_source"] == "pos"
    assert by_code["S2"]["state"] == "stale" and by_code["S2"]["last_seen_at"] is None
    assert by_code["DC"]["state"] == "unmonitored" and by_code["DC"]["kind"] == "dc"
    # And the paused target holds one push per SKU, queued a minute ago
    deliveries = summary["deliveries"]
    assert deliveries["backlog"] == 2 and deliveries["dead_letters"] == 0
    (shop,) = deliveries["targets"]
    assert shop["name"] == "shop" and shop["paused"] is True and shop["backlog"] == 2
    assert shop["oldest_age_seconds"] == 60.0 and shop["circuit"] in ("closed", "unknown")
    # And both exceptions wait, by reason, a minute old; nothing delivered yet
    assert summary["exceptions"]["open"] == 2
    assert summary["exceptions"]["by_reason"] == [
        {"reason": "invalid_event", "count": 1, "oldest_age_seconds": 60.0},
        {"reason": "unknown_sku", "count": 1, "oldest_age_seconds": 60.0},
    ]
    assert summary["propagation"]["pushes"] == 0
    assert summary["propagation"]["p50_seconds"] is None
    # And the figures agree with the endpoints they summarise
    targets = ok(api.get("/v1/targets"))["targets"]
    assert [(t["name"], t["backlog"], t["paused"]) for t in targets] == [("shop", 2, True)]
    assert len(ok(api.get("/v1/exceptions", params={"status": "open"}))["exceptions"]) == 2


def test_the_dashboard_json_needs_a_read_key(api: httpx.Client, hub: Hub, live: LiveServer) -> None:
    # Given no key, a key that may only send events, and a read key
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        no_key = anonymous.get("/v1/dashboard/summary")
    with reader(live, hub, "events:write") as writer:
        wrong_scope = writer.get("/v1/dashboard/summary")
        wrong_scope_skus = writer.get("/v1/dashboard/skus")
    with reader(live, hub, "positions:read") as c:
        allowed = c.get("/v1/dashboard/summary")

    # Then they are answered 401, 403 naming the scope, and 200
    assert no_key.status_code == 401
    assert no_key.headers["content-type"].startswith("application/problem+json")
    assert wrong_scope.status_code == 403 and wrong_scope_skus.status_code == 403
    assert wrong_scope.json()["required_scope"] == "positions:read"
    assert allowed.status_code == 200


def test_the_sku_picker_finds_by_code_gtin_or_description(
    api: httpx.Client, hub: Hub, live: LiveServer
) -> None:
    # Given TEE-M described (an upsert replaces the item whole, so its GTIN is sent again)
    tee = {"sku": "TEE-M", "gtin": "00012345678905", "description": "Organic Tee"}
    ok(api.put("/v1/items", json={"items": [tee]}))
    # Then a read key finds SKUs by any part of their code, GTIN or description
    with reader(live, hub, "positions:read") as c:

        def skus(**params: Any) -> list[str]:
            return [s["sku"] for s in ok(c.get("/v1/dashboard/skus", params=params))["skus"]]

        assert skus() == ["CHEESE", "MUG", "TEE-M"]
        assert skus(limit=2) == ["CHEESE", "MUG"]
        assert skus(q="mu") == ["MUG"]
        assert skus(q="organic tee") == ["TEE-M"]
        assert skus(q="00012345678905") == ["TEE-M"]
        assert skus(q="nothing like it") == []
        found = ok(c.get("/v1/dashboard/skus", params={"q": "tee"}))["skus"]
        assert found == [{"sku": "TEE-M", "description": "Organic Tee"}]
        assert c.get("/v1/dashboard/skus", params={"limit": 0}).status_code == 422


def test_the_page_is_public_and_may_talk_to_its_own_hub_only(live: LiveServer) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        home, page = anonymous.get("/"), anonymous.get("/dashboard")
        script = anonymous.get("/dashboard/dashboard.js")
        style = anonymous.get("/dashboard/dashboard.css")
        missing = anonymous.get("/dashboard/other.js")
        head = anonymous.head("/")

    # The page and its files need no key
    assert home.status_code == page.status_code == 200
    assert home.headers["content-type"].startswith("text/html")
    assert home.text == page.text and '<main id="board"' in home.text
    assert script.status_code == 200 and "javascript" in script.headers["content-type"]
    assert "v1/dashboard/summary" in script.text
    assert style.status_code == 200 and style.headers["content-type"].startswith("text/css")
    assert missing.status_code == 404
    assert head.status_code == 200
    # And the browser is told to load and call nothing but this origin
    csp = home.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "script-src 'self'" in csp and "unsafe" not in csp
    assert home.headers["referrer-policy"] == "no-referrer"
    # And it references no other host
    for text in (home.text, script.text, style.text):
        assert "http://" not in text and "https://" not in text


PAGES = ["/", "/dashboard", *(f"/dashboard/{name}" for name in PAGE_NAMES)]


def test_every_page_loads_the_shared_script_first_from_where_it_is_served(
    live: LiveServer,
) -> None:
    with httpx.Client(base_url=live.url, timeout=30) as anonymous:
        for path in PAGES:
            # Given a page as the browser gets it (the overview is served at / and /dashboard)
            page = anonymous.get(path)
            assert page.status_code == 200, path
            scripts = re.findall(r'<script src="([^"]+)" defer></script>', page.text)
            # Then the shared script comes before the page's own
            assert len(scripts) == 2 and scripts[0].endswith("common.js"), (path, scripts)
            for src in scripts + re.findall(r'<link rel="stylesheet" href="([^"]+)">', page.text):
                # And each file resolves, against the page's own address, to a served file
                url = urljoin(f"{live.url}{path}", src)
                got = anonymous.get(url)
                assert got.status_code == 200, (path, src, url)
                assert (
                    got.headers["content-security-policy"]
                    == page.headers["content-security-policy"]
                )
            assert urljoin(f"{live.url}{path}", scripts[0]) == f"{live.url}/dashboard/common.js"


def test_every_exception_reason_has_a_plain_label() -> None:
    # Given the labels the shared script gives the pages
    common = (DASHBOARD / "common.js").read_text()
    block = re.search(r"const reasons = Object\.freeze\(\{(.*?)\}\);", common, re.S)
    assert block is not None
    labels = dict(re.findall(r'^\s*(\w+): "([^"]+)",$', block.group(1), re.M))
    # Then every reason the hub parks an exception for has one, and no label is left over
    assert set(labels) == {reason.value for reason in Reason}
    # And a label is words for a person, not the code again
    assert all(label != code and " " in label for code, label in labels.items())


def test_every_dashboard_file_is_shipped_as_package_data() -> None:
    # A file in the folder that no package-data pattern names would be missing from wheels.
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = config["tool"]["setuptools"]["package-data"]["stockbridge"]
    folder = ROOT / "src" / "stockbridge" / "api" / "dashboard"
    files = sorted(p.relative_to(ROOT / "src" / "stockbridge").as_posix() for p in folder.iterdir())
    assert {"api/dashboard/index.html", "api/dashboard/dashboard.js"} <= set(files)
    unshipped = [f for f in files if not any(fnmatch.fnmatch(f, p) for p in patterns)]
    assert unshipped == []


# --- the demo ------------------------------------------------------------------------------
def test_the_demo_serves_on_8000_by_default() -> None:
    result = CliRunner().invoke(cli_app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "default: 8000" in result.output.replace("\n", " ").replace("  ", " ")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_the_demo_prints_the_dashboard_address_with_its_key_first(tmp_path: Path) -> None:
    # Given the demo started on a free port with a known key
    port = free_port()
    env = {**os.environ, "STOCKBRIDGE_BOOTSTRAP_KEY": "sbk_demo_test", "COLUMNS": "200"}
    env.pop("STOCKBRIDGE_DATABASE", None)
    command = [
        sys.executable,
        "-c",
        "from stockbridge.cli import main; main()",
        "demo",
        "--port",
        str(port),
        "--database",
        str(tmp_path / "demo.db"),
        "--platforms-port",
        str(free_port()),
    ]
    proc = subprocess.Popen(
        command,
        env=env,
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # the banner is printed before the server starts
            lines.append(line.rstrip())
            if line.startswith("Ctrl-C"):
                break
        # Then the first line after the title is the dashboard, with the key in the fragment
        body = [line for line in lines if line.strip() and "Stockbridge demo" not in line]
        url = f"http://127.0.0.1:{port}/#key=sbk_demo_test"
        assert body[0].split() == ["Dashboard", url], lines
        # And that address serves the page, and the key reads the dashboard's figures
        transport = httpx.HTTPTransport(retries=8)  # connect retries while uvicorn binds
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", transport=transport) as c:
            assert "<main" in c.get("/").text
            r = c.get("/v1/dashboard/summary", headers={"Authorization": "Bearer sbk_demo_test"})
            assert r.status_code == 200 and r.json()["locations"]["total"] > 0
    finally:
        proc.terminate()
        proc.wait(timeout=30)
