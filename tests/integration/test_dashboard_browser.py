"""The operations dashboard in a real browser: headless Chromium over a hub on real HTTP.

The page is compared, figure by figure, with the JSON API it reads. Every wait is on the
page's DOM (Playwright's auto-retrying assertions) or on the dispatcher's progress, never
a sleep. Skipped when /usr/bin/chromium is absent, unless STOCKBRIDGE_REQUIRE_BROWSER=1
(as in CI), where it fails instead. The screenshot goes to the test's folder, or to
docs/img/dashboard.png (the README's) with STOCKBRIDGE_UPDATE_SCREENSHOT=1.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store

from ..conftest import event
from .conftest import SECRET, admin_client, put_target, start_hub, wait_for
from .receiver import Receiver

CHROMIUM = Path("/usr/bin/chromium")
README_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "img" / "dashboard.png"
#: Longest wait for the page to show a figure (it polls every 2 s).
WAIT_MS = 15_000
#: What the page shows where there is no figure (an en dash).
NO_FIGURE = "\u2013"


def require_browser(chromium: Path = CHROMIUM, environ: Mapping[str, str] = os.environ) -> None:
    """Skip without Chromium and Playwright, or fail when the environment requires them."""
    problem = None
    if not chromium.exists():
        problem = f"Chromium is not installed at {chromium}"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is missing (pip install -e '.[dev]')"
    if problem is None:
        return
    if environ.get("STOCKBRIDGE_REQUIRE_BROWSER") == "1":
        pytest.fail(
            f"{problem}; STOCKBRIDGE_REQUIRE_BROWSER=1 requires it: apt-get install chromium"
        )
    pytest.skip(
        f"{problem}: apt-get install chromium to run the dashboard's browser test "
        "(STOCKBRIDGE_REQUIRE_BROWSER=1 turns this skip into a failure)"
    )


def test_without_chromium_the_browser_test_is_skipped_saying_how_to_enable_it(
    tmp_path: Path,
) -> None:
    with pytest.raises(pytest.skip.Exception, match="apt-get install chromium"):
        require_browser(tmp_path / "no-chromium", {})


def test_without_chromium_the_browser_test_fails_where_it_is_required(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="STOCKBRIDGE_REQUIRE_BROWSER=1"):
        require_browser(tmp_path / "no-chromium", {"STOCKBRIDGE_REQUIRE_BROWSER": "1"})


@dataclass
class Estate:
    hub: Hub
    url: str
    admin: httpx.Client
    #: A key with the read scope only: all the dashboard needs.
    key: str
    #: Where the page's picture goes.
    screenshot: Path

    def read(self, path: str) -> Any:
        r = self.admin.get(path, headers={"Authorization": f"Bearer {self.key}"})
        assert r.status_code == 200, r.text
        return r.json()


def ok(response: httpx.Response) -> Any:
    assert response.status_code == 200, response.text
    return response.json()


def seed(admin: httpx.Client, shop: Receiver, legacy: Receiver) -> None:
    """Three locations (S2 never reports), three targets (one paused, one unreachable),
    three channels, stock for three SKUs and two events that cannot be applied."""
    ok(
        admin.put(
            "/v1/locations",
            json={
                "locations": [
                    {"code": "S1", "name": "Paris Rivoli", "freshness_sla_seconds": 3600},
                    {"code": "S2", "name": "Lyon Part-Dieu", "freshness_sla_seconds": 60},
                    {"code": "DC", "kind": "dc", "name": "North DC"},
                ]
            },
        )
    )
    put_target(admin, "shop", shop.url + "/hook")
    put_target(admin, "erp", shop.url + "/erp", postings=True)
    ok(admin.post("/v1/targets/erp/pause"))
    put_target(
        admin,
        "legacy",
        legacy.url + "/hook",
        retry={"base_seconds": 0.02, "max_seconds": 0.2, "max_attempts": 1},
    )
    channels = {
        "web": {"locations": {"S1": 0, "S2": 0, "DC": 0}, "target": "shop"},
        "marketplace": {"locations": {"DC": 5}, "target": "erp"},
        "outlet": {"locations": {"S1": 1}, "target": "legacy"},
    }
    for name, body in channels.items():
        ok(admin.put(f"/v1/channels/{name}", json=body))
    answer = ok(
        admin.post(
            "/v1/events",
            json={
                "events": [
                    event("r-1", "receipt", sku="TEE-M", location="S1", quantity=12),
                    event("s-1", "sale", sku="TEE-M", location="S1", quantity=3),
                    event("c-1", "reserve", sku="TEE-M", location="S1", quantity=2,
                          reservation_id="cc-1"),
                    event("r-2", "receipt", sku="TEE-M", location="DC", quantity=40),
                    event("r-3", "receipt", sku="MUG", location="S1", quantity=6),
                    event("r-4", "receipt", sku="MUG", location="DC", quantity=24),
                    event("r-5", "receipt", sku="CHEESE", location="DC", quantity="3.25"),
                    event("x-1", "receipt", sku="NOPE", location="S1"),
                    {**event("x-2", "sale", location="S1"), "quantity": -1},
                ]
            },
        )
    )  # fmt: skip
    assert answer["totals"] == {"accepted": 7, "duplicate": 0, "exception": 2}, answer


def settled(hub: Hub) -> bool:
    """The shop has everything, the unreachable target gave up, the paused one holds work."""
    targets = {t["name"]: t for t in hub.deliveries.targets()}
    return (
        targets["shop"]["backlog"] == 0
        and targets["legacy"]["backlog"] == 0
        and targets["legacy"]["dead_letters"] > 0
        and targets["erp"]["backlog"] > 0
    )


@pytest.fixture
def estate(tmp_path: Path) -> Iterator[Estate]:
    require_browser()
    store = open_store(str(tmp_path / "hub.db"))
    try:
        with Receiver(secret=SECRET, seed=3) as shop, Receiver() as legacy:
            legacy.down()  # its port refuses connections: every push fails
            hub, server = start_hub(store)
            with admin_client(server) as admin:
                seed(admin, shop, legacy)
                wait_for(hub, lambda: settled(hub), f"deliveries to settle: {shop}")
                key, _ = hub.keys.create("operations", ["positions:read"])
                picture = (
                    README_SCREENSHOT
                    if os.environ.get("STOCKBRIDGE_UPDATE_SCREENSHOT") == "1"
                    else tmp_path / "dashboard.png"
                )
                yield Estate(hub, server.url, admin, key, picture)
    finally:
        store.close()


def shown(value: Any) -> str:
    """A JSON number as the page writes it (JavaScript's String(number))."""
    return NO_FIGURE if value is None else str(value)


def latency_shown(seconds: float | None) -> str:
    """A latency as the page writes it."""
    if seconds is None:
        return NO_FIGURE
    if seconds < 1:
        return f"{math.floor(seconds * 1000 + 0.5)} ms"
    return f"{seconds:.{2 if seconds < 10 else 1}f} s"


def test_the_dashboard_shows_what_the_api_says_and_follows_it_live(estate: Estate) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page(viewport={"width": 1360, "height": 900})
            requested: list[tuple[str, str]] = []
            page.on("request", lambda r: requested.append((r.resource_type, r.url)))
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))

            def see(selector: str, text: str) -> None:
                expect(page.locator(selector)).to_have_text(text, timeout=WAIT_MS)

            # Given the dashboard opened with a read key and two SKUs in the address
            page.goto(f"{estate.url}/#key={estate.key}&skus=TEE-M,MUG")
            expect(page.locator("body")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
            summary = estate.read("/v1/dashboard/summary")

            # Then the key has left the address bar
            assert "key=" not in page.url

            # And store freshness is the API's: S2 never reported and is silent
            assert summary["locations"]["stale"] == 1
            see("[data-figure=locations-stale]", shown(summary["locations"]["stale"]))
            see("[data-figure=locations-total]", shown(summary["locations"]["total"]))
            see("#stores-body tr[data-location=S2] [data-field=state]", "Silent")
            see("#stores-body tr[data-location=S2] [data-field=last_heard]", "never")
            see("#stores-body tr[data-location=S1] [data-field=state]", "Reporting")
            see("#stores-body tr[data-location=DC] [data-field=state]", "No limit set")

            # And stock per location, and available-to-sell per channel, are the API's
            for sku in ("TEE-M", "MUG"):
                positions = estate.read(f"/v1/positions/{sku}")
                card = f"article[data-sku='{sku}']"
                for row in positions["locations"]:
                    for field in ("on_hand", "reserved", "available"):
                        see(
                            f"{card} tbody tr[data-location='{row['location']}'] "
                            f"[data-field={field}]",
                            shown(row[field]),
                        )
                see(f"{card} tfoot [data-field=available]", shown(positions["totals"]["available"]))
                for channel in ("web", "marketplace", "outlet"):
                    ats = estate.read(f"/v1/availability/{channel}/{sku}")["available"]
                    see(f"{card} tr[data-channel={channel}] [data-field=available]", shown(ats))
            tee_s1 = estate.read("/v1/positions/TEE-M/S1")
            assert (tee_s1["on_hand"], tee_s1["reserved"], tee_s1["available"]) == (9, 2, 7)

            # And the backlog, the pause and the dead letters are the API's
            targets = {t["name"]: t for t in summary["deliveries"]["targets"]}
            assert targets["erp"]["paused"] and targets["erp"]["backlog"] > 0
            see("[data-figure=backlog]", shown(summary["deliveries"]["backlog"]))
            see(
                "#targets-body tr[data-target=erp] [data-field=backlog]",
                shown(targets["erp"]["backlog"]),
            )
            see("#targets-body tr[data-target=erp] [data-field=state]", "Paused")
            see("#targets-body tr[data-target=shop] [data-field=backlog]", "0")
            see("#targets-body tr[data-target=shop] [data-field=state]", "Sending")
            dead = targets["legacy"]["dead_letters"]
            see("[data-figure=dead-letters]", shown(summary["deliveries"]["dead_letters"]))
            see("#targets-body tr[data-target=legacy] [data-field=dead_letters]", shown(dead))

            # And the exceptions waiting, by reason, are the API's
            assert summary["exceptions"]["open"] == 2
            see("[data-figure=exceptions-open]", "2")
            for reason in summary["exceptions"]["by_reason"]:
                see(
                    f"#exceptions-body tr[data-reason={reason['reason']}] [data-field=count]",
                    shown(reason["count"]),
                )

            # And the propagation latency of the pushes the shop received is the API's
            shop = next(t for t in summary["propagation"]["targets"] if t["target"] == "shop")
            assert shop["pushes"] > 0
            row = "#latency-body tr[data-target=shop]"
            see(f"{row} [data-field=pushes]", shown(shop["pushes"]))
            see(f"{row} [data-field=p50]", latency_shown(shop["p50_seconds"]))
            see(f"{row} [data-field=p99]", latency_shown(shop["p99_seconds"]))
            see("[data-figure=latency-p50]", latency_shown(summary["propagation"]["p50_seconds"]))

            # When an operator picks another SKU with the picker
            page.fill("#sku-input", "CHEESE")
            page.click("#sku-form button[type=submit]")
            # Then its card shows the weighed stock as the API has it
            cheese = estate.read("/v1/positions/CHEESE/DC")
            see(
                "article[data-sku=CHEESE] tr[data-location=DC] [data-field=on_hand]",
                shown(cheese["on_hand"]),
            )
            assert cheese["on_hand"] == 3.25
            # (the README's picture: a silent store, a paused target, dead letters, exceptions)
            estate.screenshot.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(estate.screenshot), full_page=True)
            assert estate.screenshot.stat().st_size > 10_000

            # When a sale is recorded and a store comes back
            ok(estate.admin.post("/v1/events", json={"events": [
                event("s-2", "sale", sku="TEE-M", location="S1", quantity=4)
            ]}))  # fmt: skip
            ok(estate.admin.post(
                "/v1/heartbeats", json={"heartbeats": [{"source": "pos", "location": "S2"}]}
            ))  # fmt: skip
            # Then the page follows without a reload: on hand, the channel, the freshness
            after = estate.read("/v1/positions/TEE-M/S1")
            assert after["on_hand"] == 5
            see("article[data-sku='TEE-M'] tbody tr[data-location=S1] [data-field=on_hand]", "5")
            see(
                "article[data-sku='TEE-M'] tr[data-channel=web] [data-field=available]",
                shown(estate.read("/v1/availability/web/TEE-M")["available"]),
            )
            see("#stores-body tr[data-location=S2] [data-field=state]", "Reporting")
            see("[data-figure=locations-stale]", "0")
            documents = [url for kind, url in requested if kind == "document"]
            assert len(documents) == 1, documents

            # And the page asked nothing of any other host, and raised no script error
            assert all(url.startswith(estate.url + "/") for _, url in requested), requested
            assert errors == []

        finally:
            browser.close()


def test_the_dashboard_asks_for_a_key_and_says_when_it_is_refused(estate: Estate) -> None:
    from playwright.sync_api import expect, sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            page = browser.new_page()
            # Given the page opened without a key
            page.goto(f"{estate.url}/dashboard")
            # Then it asks for one and shows no figures
            expect(page.locator("#key-panel")).to_be_visible(timeout=WAIT_MS)
            expect(page.locator("#board")).to_be_hidden()
            # When a wrong key is given
            page.fill("#key-input", "sbk_not_a_key")
            page.click("#key-form button[type=submit]")
            # Then the refusal is said, and the form is back
            expect(page.locator("#key-error")).to_contain_text("refused", timeout=WAIT_MS)
            expect(page.locator("#key-panel")).to_be_visible()
            # When the read key is given
            page.fill("#key-input", estate.key)
            page.click("#key-form button[type=submit]")
            # Then the figures show
            expect(page.locator("body")).to_have_attribute("data-state", "live", timeout=WAIT_MS)
            expect(page.locator("[data-figure=exceptions-open]")).to_have_text("2")
            # And forgetting the key hides them again
            page.click("#forget-key")
            expect(page.locator("#key-panel")).to_be_visible()
            expect(page.locator("#board")).to_be_hidden()
        finally:
            browser.close()
