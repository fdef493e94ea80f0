"""Fixtures shared by the integration modules: the CLI runner and its database, the
server processes a test starts, and the hub over HTTP that the delivery tests drive."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap

from ..conftest import ADMIN_KEY, LiveServer, hub_settings, seed_master

#: The webhook secret the delivery tests' receivers check.
SECRET = "s3cret"
#: Retries quick enough for a test to see several within a second.
FAST = {"base_seconds": 0.02, "max_seconds": 0.2, "max_attempts": 60}


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database path; the working folder is tmp_path so file names in output stay short."""
    monkeypatch.chdir(tmp_path)
    # The CLI reads the environment: keep a developer's settings out of the test.
    monkeypatch.delenv("STOCKBRIDGE_DATABASE", raising=False)
    monkeypatch.delenv("STOCKBRIDGE_BOOTSTRAP_KEY", raising=False)
    return str(tmp_path / "hub.db")


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Every server process a test starts is killed at its end, pass or fail."""
    started: list[Any] = []
    try:
        yield started
    finally:
        for s in started:
            s.stop()


def start_hub(store: SqlStore, clock: Any = None, **overrides: Any) -> tuple[Hub, LiveServer]:
    """A seeded hub whose dispatcher polls often, with its API served over HTTP."""
    hub = bootstrap(
        hub_settings(
            **{"delivery.poll_interval_seconds": 0.01, "delivery.lease_seconds": 5, **overrides}
        ),
        store=store,
        clock=clock,
    )
    seed_master(hub)
    return hub, LiveServer(create_app(hub)).start()


@contextmanager
def admin_client(server: LiveServer) -> Iterator[httpx.Client]:
    """An admin client of `server`; the server stops with the client."""
    client = httpx.Client(
        base_url=server.url, timeout=30, headers={"Authorization": f"Bearer {ADMIN_KEY}"}
    )
    try:
        yield client
    finally:
        client.close()
        server.stop()


def put_target(client: httpx.Client, name: str, url: str, **target: Any) -> None:
    """Declare a webhook target with fast retries and a circuit that does not open."""
    body = {
        "url": url,
        "secret": SECRET,
        "rate_per_second": 0,
        "retry": FAST,
        "circuit": {"failure_threshold": 1000, "cooldown_seconds": 0.1},
        **target,
    }
    r = client.put(f"/v1/targets/{name}", json=body)
    assert r.status_code == 200, r.text


def settled(hub: Hub) -> bool:
    """Nothing left to send: every delivery delivered, dead, rejected or superseded."""
    return not any(t["backlog"] for t in hub.deliveries.targets())


def wait_for(hub: Hub, predicate: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Wait until `predicate` holds, re-checked after each unit of the hub's background
    work (dispatcher rounds, connector inbox passes, monitor runs); fails naming `what`."""
    assert hub.wait_until(predicate, timeout), f"timed out waiting: {what}"
