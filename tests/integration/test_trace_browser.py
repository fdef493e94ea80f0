"""The trace page in a real browser (headless Chromium), compared with GET /v1/trace.

Skipped without Chromium, like the operations dashboard's browser test.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import open_store

from .conftest import SECRET, admin_client, settled, start_hub, wait_for
from .receiver import Receiver
from .test_dashboard_browser import CHROMIUM, WAIT_MS, require_browser
from .test_tickets_orders_api import ticket
from .test_trace import connect


@pytest.fixture
def traced(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(hub URL, read key, the API's trace of ticket T1) after T1 reached shop and ERP."""
    require_browser()
    store = open_store(str(tmp_path / "hub.db"))
    try:
        with Receiver(secret=SECRET, seed=4) as receiver:
            hub, server = start_hub(store)
            with admin_client(server) as admin:
                connect(admin, receiver.url, receiver.url)
                assert admin.post("/v1/tickets", json=ticket()).json()["status"] == "accepted"
                wait_for(hub, lambda: settled(hub), "deliveries to drain")
                key, _ = hub.keys.create("operations", ["positions:read"])
                r = httpx.get(
                    f"{server.url}/v1/trace",
                    params={"source": "pos", "ticket": "T1"},
                    headers={"Authorization": f"Bearer {key}"},
                )
                assert r.status_code == 200, r.text
                yield server.url, key, r.json()
    finally:
        store.close()


def test_the_trace_page_shows_a_ticket_as_the_api_traces_it(
    traced: tuple[str, str, dict[str, Any]],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    url, key, trace = traced
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            # Given the operations page's link to the trace page, and a read key
            page.goto(url + "/dashboard")
            page.get_by_role("link", name="Trace a sale").click()
            page.fill("#key-input", key)
            page.click("#key-form button")
            # When an operator looks up ticket T1 from the POS
            page.fill("#trace-scope", "pos")
            page.fill("#trace-id", "T1")
            page.click("#trace-form button")
            # Then the page shows the API's trace: its id, events and deliveries
            expect(page.locator("body")).to_have_attribute("data-state", "found", timeout=WAIT_MS)
            expect(page.locator('[data-figure="correlation-id"]')).to_have_text("ticket:pos:T1")
            expect(page.locator('[data-figure="trace-id"]')).to_have_text(trace["trace_id"])
            expect(page.locator("#events-body tr")).to_have_count(len(trace["events"]))
            rows = page.locator("#deliveries-body tr")
            expect(rows).to_have_count(len(trace["deliveries"]))
            for i, d in enumerate(trace["deliveries"]):
                expect(rows.nth(i).locator("td").nth(0)).to_have_text(d["target"])
                expect(rows.nth(i).locator("td").nth(2)).to_have_text("delivered")
            # And an unknown ticket shows the API's own explanation
            page.fill("#trace-id", "T404")
            page.click("#trace-form button")
            expect(page.locator("#trace-error")).to_have_text(
                "no ticket 'T404' from source 'pos'", timeout=WAIT_MS
            )
            expect(page.locator("#result")).to_be_hidden()
        finally:
            browser.close()
