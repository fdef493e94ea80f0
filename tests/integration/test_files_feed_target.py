"""The `csv` target: availability feeds written to a folder by the dispatcher (stepped, on
the hub's clock), equal to what the hub says each channel may sell."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, bootstrap, open_store
from stockbridge.app.clock import ManualClock
from stockbridge.delivery.dispatcher import Dispatcher, StepResult

from ..conftest import event, hub_settings, seed_master


@pytest.fixture
def hub(tmp_path: Path, clock: ManualClock) -> Iterator[Hub]:
    h = bootstrap(hub_settings(), store=open_store(str(tmp_path / "hub.db")), clock=clock)
    seed_master(h)
    try:
        yield h
    finally:
        h.close()


def feed_target(hub: Hub, folder: Path, **platform: Any) -> None:
    hub.deliveries.put_target(
        "files",
        {
            "kind": "csv",
            "url": "http://unused.invalid",
            "batch_size": 50,
            "platform": {"folder": str(folder), **platform},
        },
    )


def step_all(hub: Hub) -> int:
    """Step the dispatcher until nothing is due; the number of deliveries claimed."""
    dispatcher = Dispatcher(hub.store, hub.clock)

    async def run() -> int:
        claimed = 0
        async with httpx.AsyncClient() as client:
            for _ in range(20):
                result: StepResult = await dispatcher.step(client)
                claimed += result.claimed
                if not result.claimed:
                    return claimed
        raise AssertionError("the dispatcher kept finding work")

    return asyncio.run(run())


def read_feed(path: Path) -> dict[str, str]:
    with path.open(newline="") as f:
        return {row["sku"]: row["available"] for row in csv.DictReader(f)}


def test_a_snapshot_per_channel_matches_the_hubs_availability(
    hub: Hub, tmp_path: Path, clock: ManualClock
) -> None:
    # Given two channels pushing to a csv feed, MUG written under the reader's own code
    folder = tmp_path / "feeds"
    feed_target(hub, folder, skus={"MUG": "M-100"})
    hub.channels.put("web", {"locations": {"S1": 0, "S2": 0}, "target": "files"})
    hub.channels.put("store", {"locations": {"S1": 1}, "target": "files"})

    # When stock moves in two rounds, the dispatcher stepping after each
    hub.submit([event("r1", "receipt", sku="TEE-M", quantity=10),
                event("r2", "receipt", sku="MUG", location="S2", quantity=6),
                event("r3", "receipt", sku="CHEESE", quantity="2.5")])  # fmt: skip
    assert step_all(hub) > 0
    clock.advance(timedelta(seconds=1))
    hub.submit([event("s1", "sale", sku="TEE-M", quantity=3)])
    assert step_all(hub) > 0

    # Then each channel's file holds every SKU's latest value, equal to the hub's
    web, store = (
        read_feed(folder / "availability-web.csv"),
        read_feed(folder / "availability-store.csv"),
    )
    for channel, written in (("web", web), ("store", store)):
        for sku in ("TEE-M", "MUG", "CHEESE"):
            code = "M-100" if sku == "MUG" else sku
            expected = hub.channels.availability(channel, sku).available
            assert Decimal(written.get(code, "0")) == expected, (channel, sku)
    assert web["TEE-M"] == "7" and web["M-100"] == "4" and store["TEE-M"] == "6"
    # And no temporary file is left behind for a reader to trip on
    assert sorted(p.name for p in folder.iterdir()) == [
        "availability-store.csv",
        "availability-web.csv",
    ]


def test_delta_files_one_per_send_with_markers(hub: Hub, tmp_path: Path) -> None:
    # Given a delta feed with a marker for readers that wait for one
    folder = tmp_path / "deltas"
    feed_target(hub, folder, mode="delta", marker_suffix=".done",
                columns=["channel", "sku", "available"])  # fmt: skip
    hub.channels.put("web", {"locations": {"S1": 0}, "target": "files"})

    # When two rounds of stock move
    hub.submit([event("r1", "receipt", sku="TEE-M", quantity=4)])
    step_all(hub)
    hub.submit([event("r2", "receipt", sku="TEE-M", quantity=1)])
    step_all(hub)

    # Then each send wrote its own file, in order, each with its marker
    files = sorted(p for p in folder.iterdir() if p.suffix == ".csv")
    assert len(files) == 2
    assert all(Path(f"{p}.done").exists() for p in files)
    assert [p.read_text() for p in files] == [
        "channel,sku,available\nweb,TEE-M,4\n",
        "channel,sku,available\nweb,TEE-M,5\n",
    ]


def test_an_unwritable_folder_is_retried_and_postings_are_refused(hub: Hub, tmp_path: Path) -> None:
    # Given a feed whose folder is a file (as when a mount is missing), taking postings too
    blocked = tmp_path / "blocked"
    blocked.write_text("not a folder")
    hub.deliveries.put_target(
        "files",
        {"kind": "csv", "url": "http://unused.invalid", "postings": True,
         "platform": {"folder": str(blocked)}},
    )  # fmt: skip
    hub.channels.put("web", {"locations": {"S1": 0}, "target": "files"})

    # When stock moves and the dispatcher steps once
    hub.submit([event("r1", "receipt", sku="TEE-M", quantity=4)])
    step_all(hub)

    # Then the push waits for a retry, and the posting is a business rejection
    states = {d.kind: (d.state, d.last_error) for d in hub.store.deliveries(target="files")}
    assert states["availability"][0] == "pending"
    assert "Error" in (states["availability"][1] or "")
    assert states["posting"] == (
        "rejected",
        "HTTP 422: a csv feed takes availability only, not posting",
    )
