"""The exception workbench in a real browser: headless Chromium over a hub on real HTTP.

An operator works exceptions through the page; every outcome is then read back from the
JSON API. Waits are on the page's DOM (Playwright's auto-retrying assertions), never a
sleep. Skipped without /usr/bin/chromium unless STOCKBRIDGE_REQUIRE_BROWSER=1.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store

from ..conftest import event
from .conftest import admin_client, start_hub
from .test_dashboard_browser import CHROMIUM, WAIT_MS, ok, require_browser


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[tuple[Hub, str, httpx.Client]]:
    require_browser()
    store = open_store(str(tmp_path / "hub.db"))
    try:
        hub, server = start_hub(store)
        with admin_client(server) as admin:
            yield hub, server.url, admin
    finally:
        store.close()


def test_an_operator_works_exceptions_through_the_page(
    estate: tuple[Hub, str, httpx.Client],
) -> None:
    from playwright.sync_api import expect, sync_playwright

    hub, url, admin = estate
    # Given two pos sales parked on item code 9001 and a web sale on a retired item
    answer = ok(admin.post("/v1/events", json={"events": [
        event("s-1", "sale", sku="9001"),
        event("s-2", "sale", sku="9001", quantity=2),
        event("w-1", "sale", sku="RETIRED", source="web"),
    ]}))  # fmt: skip
    assert answer["totals"]["exception"] == 3
    ids = {x["event_id"]: x["id"] for x in ok(admin.get("/v1/exceptions"))["exceptions"]}
    # And an operator with an admin key of her own
    key, _ = hub.keys.create("claire", ["admin"])

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 1000})
            requested: list[str] = []
            page.on("request", lambda r: requested.append(r.url))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            # When she opens the workbench
            page.goto(f"{url}/dashboard/exceptions#key={key}")
            expect(page.locator("body")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
            # Then the queue lists the three, the key has left the address bar
            assert "key=" not in page.url
            expect(page.locator("[data-figure=open]")).to_have_text("3")
            expect(page.locator("#queue-body tr[data-id]")).to_have_count(3)
            first = page.locator(f"#queue-body tr[data-id='{ids['s-1']}']")
            expect(first.locator("[data-field=reason]")).to_have_text("Unknown item code")

            # When she filters by source, the web one alone is left
            page.fill("#filters input[name=source]", "web")
            page.click("#filters button[type=submit]")
            expect(page.locator("#queue-body tr[data-id]")).to_have_count(1)
            page.fill("#filters input[name=source]", "")
            page.click("#filters button[type=submit]")
            expect(page.locator("#queue-body tr[data-id]")).to_have_count(3)

            # When she opens the first, takes it and writes what she found
            first.locator("[data-open]").click()
            detail = page.locator("#detail")
            expect(detail.locator("[data-field=id]")).to_have_text(f"#{ids['s-1']}")
            page.fill("#assign-form input[name=assignee]", "claire")
            page.click("#assign-form button[type=submit]")
            expect(detail.locator("[data-field=assignee]")).to_have_text("claire")
            page.fill("#note-form textarea[name=text]", "supplier's new code for mugs")
            page.click("#note-form button[type=submit]")
            expect(page.locator("#thread-body tr[data-kind=note] [data-field=text]")).to_have_text(
                "supplier's new code for mugs"
            )
            # And fixes the mapping the page offers for pos item 9001
            expect(detail.locator("[data-field=fix-code]")).to_have_text("9001")
            page.fill("#fix-form input[name=code]", "MUG")
            page.click("#fix-form button[type=submit]")

            # Then both sales waiting for 9001 were replayed at once, and the page says so
            expect(page.locator("#action-result")).to_have_text(
                "Mapping saved: 2 exception(s) resolved, 0 still failing.", timeout=WAIT_MS
            )
            expect(page.locator("#queue-body tr[data-id]")).to_have_count(1)
            expect(detail.locator("[data-field=status]")).to_have_text("Resolved (mapping fixed)")

            # When she selects the web one and ignores it with a note
            page.check(f"#queue-body [data-select='{ids['w-1']}']")
            expect(page.locator("[data-figure=selected]")).to_have_text("1")
            page.fill("#bulk-note", "item retired from the web shop")
            page.click("#bulk-ignore")
            expect(page.locator("#queue-body tr.none")).to_have_text("Nothing matches.")
            expect(page.locator("[data-figure=open]")).to_have_text("0")

            # And the page raised no script error and asked nothing of any other host
            assert errors == []
            assert all(u.startswith(url + "/") for u in requested), requested
        finally:
            browser.close()

    # Then the API has it all, in claire's name
    worked: dict[str, Any] = ok(admin.get(f"/v1/exceptions/{ids['s-1']}"))
    assert (worked["status"], worked["resolution"], worked["assignee"]) == (
        "resolved",
        "mapping_fixed",
        "claire",
    )
    assert [(n["kind"], n["author"]) for n in worked["notes"]] == [
        ("assigned", "claire"),
        ("note", "claire"),
        ("replayed", "claire"),
    ]
    assert ok(admin.get(f"/v1/exceptions/{ids['s-2']}"))["resolution"] == "mapping_fixed"
    assert ok(admin.get("/v1/positions/MUG/S1"))["on_hand"] == -3
    ignored = ok(admin.get(f"/v1/exceptions/{ids['w-1']}"))
    assert (ignored["status"], ignored["note"]) == ("ignored", "item retired from the web shop")
    assert ignored["notes"][-1]["author"] == "claire"
    (xref,) = ok(admin.get("/v1/history/xref/pos/item/9001"))["history"]
    assert (xref["actor"], xref["after"]["code"]) == ("claire", "MUG")
