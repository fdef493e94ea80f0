"""Stores whose till is Square: their sales are rung up at the simulated Square register
and reach the hub only as Square tells it, through signed webhooks.

The Square simulator is served on the platforms port under `/square`. A sale at one of
these stores is a Square order at the store's Square location (`POST /admin/sales`, the
register); Square then sends its `order.created`, `order.updated`, `payment.updated` and
`inventory.count.updated` notifications, signed for the subscription's notification URL,
to the hub's `POST /v1/webhooks/pos-square`, and tries again on its own schedule (1, 2, 4,
8, 16, 32 minutes, then hourly, of wall time) while the hub does not answer 2xx. The
hub's Square connector reads each completed order from the Orders API and records its
lines as sales. The way back: the hub counts the store's available stock into Square's
inventory with BatchChangeInventory (a channel per store, fed by the Square target), so
the register sells from what the ledger says. Square's location and catalog ids map to
the hub's stores and SKUs through cross references, as in a real installation.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import random
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import datetime
from typing import Any

import httpx
from starlette.routing import Mount

from ..app.bootstrap import Hub
from ..app.master import MasterKind
from ..connectors.square import simulator as square_sim
from ..connectors.square.sim_state import SimClock, SimState, new_id
from ..connectors.square.sim_webhooks import Subscription

#: Where the Square simulator is served on the platforms port.
SQUARE_PREFIX = "/square"
#: The hub's Square connector and Square target (they share the cross references).
CONNECTOR = "pos-square"
#: Environment variables the connector and target read their credentials from (the
#: simulator's own, not secrets).
SIGNATURE_KEY_ENV = "STOCKBRIDGE_SIM_SQUARE_SIGNATURE_KEY"
TOKEN_ENV = "STOCKBRIDGE_SIM_SQUARE_TOKEN"
#: How often the simulator sends its due webhooks (wall seconds).
PUMP_SECONDS = 0.5
#: The channel through which a Square store's available stock is counted into Square.
CHANNEL = "pos-{store}"


class FollowingClock(SimClock):
    """Square's clock following another one (the estate simulator's virtual clock), so
    orders, counts and the webhook retry schedule run on simulated time."""

    def __init__(self, now: Callable[[], datetime]) -> None:
        super().__init__()
        self._follow = now

    def now(self) -> datetime:
        return self._follow() + self._offset


class SquarePos:
    """The Square seller of an estate's Square stores: one Square location per store.

    `now`: the clock Square runs on (default: the wall clock)."""

    def __init__(
        self,
        stores: list[str],
        skus: list[str],
        seed: int = 1,
        now: Callable[[], datetime] | None = None,
    ) -> None:
        rng = random.Random(seed)
        # The environment's credentials when set (a process runs one seller), else drawn.
        token = os.environ.get(TOKEN_ENV) or "sq-sim-" + new_id(rng, 20)
        clock = FollowingClock(now) if now is not None else SimClock()
        self.state = SimState(clock=clock, seed=seed, access_token=token)
        self.signature_key = os.environ.get(SIGNATURE_KEY_ENV) or "sq-sim-" + new_id(rng, 22)
        self.locations = {store: "L" + new_id(rng, 12) for store in stores}
        self.catalog = {sku: new_id(rng, 24) for sku in skus}
        self.state.locations = set(self.locations.values())
        self.state.catalog = set(self.catalog.values())
        self.app = square_sim.create_app(self.state)
        self.sender = self.app.state.sender
        self.mount = Mount(SQUARE_PREFIX, self.app)

    @property
    def stores(self) -> frozenset[str]:
        return frozenset(self.locations)

    # --- the register ------------------------------------------------------------------------
    def sale_request(self, store: str, lines: Mapping[str, int]) -> dict[str, Any]:
        """The register's body for a sale of `lines` (SKU -> units) at `store`."""
        return {
            "location_id": self.locations[store],
            "lines": [
                {"catalog_object_id": self.catalog[sku], "quantity": str(qty)}
                for sku, qty in lines.items()
            ],
        }

    def units(self, store: str, sku: str) -> int:
        """What Square counts in stock for `sku` at `store`."""
        return int(self.state.quantity(self.catalog[sku], self.locations[store]))

    @contextlib.asynccontextmanager
    async def sending(self) -> AsyncIterator[None]:
        """While open, Square sends its due webhooks (in the serving event loop: the
        mounted simulator's own lifespan does not run)."""
        task = asyncio.create_task(square_sim.pump(self.sender, PUMP_SECONDS))
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    # --- the hub's side ----------------------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        return {SIGNATURE_KEY_ENV: self.signature_key, TOKEN_ENV: str(self.state.access_token)}

    def connector(self, hub_url: str, platforms_url: str) -> dict[str, Any]:
        """The `[connectors.pos-square]` table of the hub."""
        return {
            "kind": "square",
            "signature_key_env": SIGNATURE_KEY_ENV,
            "notification_url": f"{hub_url}/v1/webhooks/{CONNECTOR}",
            "access_token_env": TOKEN_ENV,
            "api_url": platforms_url + SQUARE_PREFIX,
        }

    def target(self, platforms_url: str) -> dict[str, Any]:
        """The Square target: each store's channel counted at its Square location."""
        return {
            "kind": "square",
            "url": platforms_url + SQUARE_PREFIX,
            "platform": {
                "access_token_env": TOKEN_ENV,
                "channels": {CHANNEL.format(store=s): loc for s, loc in self.locations.items()},
            },
            "rate_per_second": 0,
            "batch_size": 100,
            "concurrency": 1,
            "timeout_seconds": 10,
            "retry": {"base_seconds": 1, "max_seconds": 60, "max_attempts": 25},
            "circuit": {"failure_threshold": 5, "cooldown_seconds": 10},
        }

    def xrefs(self) -> list[dict[str, str]]:
        """Square's catalog objects and locations as the hub's SKUs and stores."""
        rows = [
            {"source": CONNECTOR, "kind": "item", "external_code": cid, "code": sku}
            for sku, cid in self.catalog.items()
        ]
        rows += [
            {"source": CONNECTOR, "kind": "location", "external_code": loc, "code": store}
            for store, loc in self.locations.items()
        ]
        return rows

    def declare(self, hub: Hub, hub_url: str, platforms_url: str) -> None:
        """The connector, cross references, target and store channels into the hub (before
        it starts), and Square's webhook subscription to it.

        The simulator's credentials are put in this process's environment, where the
        connector and the target read them (unless already set).
        """
        for key, value in self.credentials().items():
            os.environ.setdefault(key, value)
        hub.connectors.add(CONNECTOR, self.connector(hub_url, platforms_url), os.environ)
        hub.master_data.import_list(MasterKind.XREFS, self.xrefs())
        hub.deliveries.put_target(CONNECTOR, self.target(platforms_url))
        for store in self.locations:
            hub.channels.put(
                CHANNEL.format(store=store), {"locations": {store: 0}, "target": CONNECTOR}
            )
        self.sender.subscriptions.append(
            Subscription(
                f"{hub_url}/v1/webhooks/{CONNECTOR}",
                self.signature_key,
                ["order.created", "order.updated", "inventory.count.updated"],
            )
        )


def ring(client: httpx.Client, body: dict[str, Any]) -> bool:
    """Ring a sale up at the Square register (the simulator under `client`'s base URL)."""
    try:
        answer = client.post(f"{SQUARE_PREFIX}/admin/sales", json=body)
    except httpx.HTTPError:
        return False
    return answer.status_code == 200
