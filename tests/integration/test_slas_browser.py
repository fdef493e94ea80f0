"""The service levels page in a real browser (headless Chromium) over a hub on real HTTP.

Compared, row by row, with `GET /v1/slas`. Skipped without Chromium unless
STOCKBRIDGE_REQUIRE_BROWSER=1; the screenshot goes to docs/img/slas.png with
STOCKBRIDGE_UPDATE_SCREENSHOT=1, to the test's folder otherwise.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import httpx

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.app.ports import Finished, NewDelivery
from stockbridge.domain.model import to_micros
from tests.conftest import START, LiveServer, hub_settings, make_store

from .test_dashboard_browser import CHROMIUM, require_browser

SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "slas.png"
S = 1_000_000
WAIT_MS = 15_000
#: Per workflow: deliveries on time, late, and still on their way.
TRAFFIC = {
    "store_sale_to_channel": (36, 4, 2),
    "reservation_to_channel": (20, 0, 1),
    "return_to_erp": (5, 0, 0),
    "ticket_to_erp": (12, 0, 0),
    "order_to_erp": (8, 0, 1),
}


def test_the_service_levels_page_shows_what_the_api_says(tmp_path: Path, request) -> None:  # type: ignore[no-untyped-def]
    require_browser()
    from playwright.sync_api import expect, sync_playwright

    store = make_store("sqlite", tmp_path, request)
    clock = ManualClock(START)
    hub = bootstrap(hub_settings(**{"delivery.enabled": False}), store=store, clock=clock)
    # Given traffic on every workflow but the canary: store sales to the channels late
    # often enough to be below objective
    n = 0

    def queue(workflow: str, occurred: int) -> str:
        nonlocal n
        n += 1
        with store.transaction() as tx:
            tx.enqueue_deliveries(
                [NewDelivery("shop", "posting", f"{workflow}/{n}", f"k{n}", {}, 2, [],
                             workflow=workflow, occurred_us=occurred)],
                occurred,
            )  # fmt: skip
        return f"{workflow}/{n}"

    t0 = to_micros(START)
    for workflow, (on_time, late, _) in TRAFFIC.items():
        for i in range(on_time + late):
            occurred = t0 + n * S
            key = queue(workflow, occurred)
            at = occurred + (5 if i < on_time else 100) * S
            claimed = store.claim_deliveries("shop", at, 60 * S, 1000)
            store.finish_deliveries(
                [
                    Finished(d, "delivered", 200, None, 1.0, None)
                    if d.key == key
                    else Finished(d, "pending", None, None, 0.0, None, sent=False)
                    for d in claimed
                ],
                at,
            )
    clock.set(START + timedelta(seconds=n + 200))
    now = to_micros(clock.now())
    for workflow, (_, _, waiting) in TRAFFIC.items():
        for _ in range(waiting):
            queue(workflow, now - S)
    hub.slas.evaluate()
    key, _ = hub.keys.create("operations", ["positions:read"])
    live = LiveServer(create_app(hub)).start()
    picture = (
        SCREENSHOT
        if os.environ.get("STOCKBRIDGE_UPDATE_SCREENSHOT") == "1"
        else (tmp_path / "slas.png")
    )
    try:
        report = httpx.get(live.url + "/v1/slas", headers={"Authorization": f"Bearer {key}"}).json()
        with sync_playwright() as p:
            browser = p.chromium.launch(
                executable_path=str(CHROMIUM),
                args=["--headless", "--no-sandbox", "--disable-gpu"],
            )
            try:
                page = browser.new_page(viewport={"width": 1360, "height": 760})
                # When an operator opens the page from the dashboard's link, with a key
                page.goto(live.url + "/dashboard#key=" + key)
                page.click("a[href='dashboard/slas']")
                # Then every workflow shows the API's figures
                expect(page.locator("body")).to_have_attribute(
                    "data-state", "live", timeout=WAIT_MS
                )
                for sla in report["slas"]:
                    row = page.locator(f"tr[data-workflow={sla['workflow']}]")
                    expect(row.locator("[data-field=met]")).to_have_text(str(sla["met"]))
                    expect(row.locator("[data-field=missed]")).to_have_text(str(sla["missed"]))
                    expect(row.locator("[data-field=waiting]")).to_have_text(str(sla["waiting"]))
                sales = page.locator("tr[data-workflow=store_sale_to_channel]")
                expect(sales.locator("[data-field=compliance]")).to_have_text("90.0%")
                expect(sales.locator("[data-field=state]")).to_contain_text("In breach since")
                canary = page.locator("tr[data-workflow=canary] [data-field=state]")
                expect(canary).to_have_text("No deliveries yet")
                expect(page.locator("[data-figure=breached]")).to_have_text("1")
                picture.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(picture), full_page=True)
                assert picture.stat().st_size > 10_000
            finally:
                browser.close()
    finally:
        live.stop()
        hub.close()
