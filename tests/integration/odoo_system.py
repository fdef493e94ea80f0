"""An Odoo simulator and a hub whose ERP target points at it, both over real HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub, open_store
from stockbridge.connectors.odoo.sim_models import Catalogue, seed_database
from stockbridge.connectors.odoo.simulator import Faults, OdooState, create_app

from ..conftest import LiveServer
from .conftest import FAST, admin_client, start_hub

API_KEY_ENV = "STOCKBRIDGE_TEST_ODOO_KEY"
PASSWORD_ENV = "STOCKBRIDGE_TEST_ODOO_PASSWORD"
PRODUCTS = {
    "TEE-M": {"name": "Tee M", "list_price": 10, "barcode": "00012345678905"},
    "MUG": {"name": "Mug", "list_price": 5},
}
LOCATIONS = ["S1", "S2", "DC"]


@dataclass
class Odoo:
    """The simulated Odoo server, its faults and the ids of its starting records."""

    state: OdooState
    faults: Faults
    catalogue: Catalogue
    server: LiveServer

    @property
    def url(self) -> str:
        return self.server.url

    def on_hand(self, sku: str, location: str) -> Decimal:
        value = self.state.db.on_hand(self.catalogue.products[sku], self.catalogue.stock[location])
        return Decimal(str(value)).normalize()

    def records(self, model: str, **match: Any) -> list[dict[str, Any]]:
        return [
            r
            for r in self.state.db.table(model).values()
            if all(r.get(k) == v for k, v in match.items())
        ]

    def applied_references(self) -> list[str]:
        return [ref for _, _, _, ref in self.state.db.applied]


@contextmanager
def odoo_server(products: dict[str, dict[str, Any]] | None = None) -> Iterator[Odoo]:
    state = OdooState()
    catalogue = seed_database(state.db, products or PRODUCTS, LOCATIONS)
    state.catalogue = catalogue
    faults = Faults()
    server = LiveServer(create_app(state, faults)).start()
    try:
        yield Odoo(state, faults, catalogue, server)
    finally:
        server.stop()


def platform(odoo: Odoo, protocol: str = "json2", **more: Any) -> dict[str, Any]:
    """Platform settings for the simulator: locations mapped, products by default_code."""
    base: dict[str, Any] = {
        "protocol": protocol,
        "database": odoo.state.db.name,
        "locations": dict(odoo.catalogue.stock),
        "partner_id": odoo.catalogue.partner,
        "journal_id": odoo.catalogue.journal,
    }
    if protocol == "json2":
        base["api_key_env"] = API_KEY_ENV
    else:
        base.update(login=odoo.state.login, password_env=PASSWORD_ENV)
    return {**base, **more}


def target_body(odoo: Odoo, protocol: str = "json2", **target: Any) -> dict[str, Any]:
    return {
        "kind": "odoo",
        "url": odoo.url,
        "postings": True,
        "platform": platform(odoo, protocol),
        "rate_per_second": 0,
        "timeout_seconds": 2,
        "retry": FAST,
        "circuit": {"failure_threshold": 1000, "cooldown_seconds": 0.1},
        **target,
    }


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    state = OdooState()
    monkeypatch.setenv(API_KEY_ENV, state.api_key)
    monkeypatch.setenv(PASSWORD_ENV, state.password)


@pytest.fixture
def odoo() -> Iterator[Odoo]:
    with odoo_server() as server:
        yield server


@pytest.fixture
def hub_client(tmp_path: Path, credentials: None) -> Iterator[tuple[Hub, httpx.Client]]:
    """A hub on SQLite (the connector is the same on every store) with its API over HTTP."""
    store = open_store(str(tmp_path / "hub.db"))
    hub, server = start_hub(store)
    try:
        with admin_client(server) as client:
            yield hub, client
    finally:
        store.close()
