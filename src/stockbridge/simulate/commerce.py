"""The storefront and the marketplaces as the platforms they stand for: the Shopify and
Amazon SP-API simulators, fed by the hub's real Shopify and Amazon targets.

Shared by the estate simulator (reached in process, on its virtual clock) and the live
demo (mounted on the platforms port). Each simulator keeps its own inventory; what a
channel shows its shoppers is read from that inventory, so a figure such as phantom
stock measures what the platform really holds. The storefront is a Shopify store with
one location (its items' `available` set by `inventorySetQuantities`, within the cost
bucket); each marketplace is an Amazon seller account (listings quantities patched
one listing per request within the token bucket, as the status quo's marketplace takes
them; feeds are left to the connector's own tests). SKUs
find their Shopify inventory items and seller SKUs through the hub's cross references.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping, MutableMapping
from datetime import datetime
from functools import partial
from typing import Any

import httpx
from starlette.routing import Mount, Router
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..app.bootstrap import Hub
from ..app.master import MasterKind
from ..connectors.amazon import simulator as amazon_sim
from ..connectors.amazon.sim_state import AmazonState
from ..connectors.amazon.sim_state import SimClock as AmazonClock
from ..connectors.shopify import simulator as shopify_sim
from ..connectors.shopify.ids import gid
from ..connectors.shopify.simulator.clock import SimClock as ShopifyClock
from .platforms import Channel

#: The storefront channel, and where each platform is served on the platforms port.
STOREFRONT = "web"
SHOPIFY_PREFIX = "/shopify"
AMAZON_PREFIX = "/amazon-"
#: Environment variables the targets read the simulators' credentials from (the
#: simulators' own published test credentials, not secrets).
SHOPIFY_TOKEN_ENV = "STOCKBRIDGE_SIM_SHOPIFY_TOKEN"
LWA_ENV = {
    "lwa_client_id_env": "STOCKBRIDGE_SIM_LWA_CLIENT_ID",
    "lwa_client_secret_env": "STOCKBRIDGE_SIM_LWA_CLIENT_SECRET",
    "lwa_refresh_token_env": "STOCKBRIDGE_SIM_LWA_REFRESH_TOKEN",
}
#: A marketplace lists each SKU under this seller SKU (mapped by cross references).
SELLER_SKU = "AMZ-{sku}"
#: Delivery knobs shared by the commerce targets (as the estate's generic targets had).
DELIVERY = {
    "concurrency": 1,
    "timeout_seconds": 10,
    "retry": {"base_seconds": 2, "max_seconds": 300, "max_attempts": 25},
    "circuit": {"failure_threshold": 5, "cooldown_seconds": 30},
}


async def in_process(transport: httpx.AsyncBaseTransport, request: httpx.Request) -> httpx.Response:
    """`request` answered by an in-process transport, its body read."""
    response = await transport.handle_async_request(request)
    content = await response.aread()
    return httpx.Response(response.status_code, headers=response.headers, content=content)


class Metered:
    """An ASGI app whose calls (and throttled answers: HTTP 429, or Shopify's THROTTLED
    inside a 200) are counted on the channel it serves, for the report."""

    def __init__(self, app: ASGIApp, channel: Channel) -> None:
        self.app = app
        self.channel = channel

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.channel.calls += 1
        throttled = False

        async def counting(message: Message) -> None:
            nonlocal throttled
            if not throttled and (
                (message["type"] == "http.response.start" and message["status"] == 429)
                or (message["type"] == "http.response.body" and b'"THROTTLED"' in message["body"])
            ):
                throttled = True
                self.channel.throttled += 1
            await send(message)

        await self.app(scope, receive, counting)


class ShownBy(MutableMapping[str, int]):
    """A channel's shown availability, read SKU by SKU from its platform's inventory."""

    def __init__(self, skus: list[str], read: Callable[[str], int]) -> None:
        self._skus = skus
        self._known = set(skus)
        self._read = read

    def __getitem__(self, sku: str) -> int:
        if sku not in self._known:
            raise KeyError(sku)
        return self._read(sku)

    def __iter__(self) -> Iterator[str]:
        return iter(self._skus)

    def __len__(self) -> int:
        return len(self._skus)

    def __setitem__(self, sku: str, value: int) -> None:
        raise TypeError("a platform's shown stock changes only through its API")

    def __delitem__(self, sku: str) -> None:
        raise TypeError("a platform's shown stock changes only through its API")


class Commerce:
    """The Shopify storefront and the Amazon marketplaces of an estate."""

    def __init__(
        self,
        channels: Mapping[str, Channel],
        skus: list[str],
        monotonic: Callable[[], float] | None = None,
        start: datetime | None = None,
    ) -> None:
        clock = ShopifyClock(monotonic) if monotonic else ShopifyClock()
        self.shop, self.sender = shopify_sim.build(seed=1, clock=clock)
        self.location = self.shop.add_location("Online store")
        self.items = {sku: self.shop.add_item(sku) for sku in skus}
        for item in self.items.values():
            self.shop.stock(item.inventory_item_id, self.location, 0)
        self.markets: dict[str, AmazonState] = {}
        for name in channels:
            if name == STOREFRONT:
                continue
            amazon_clock = AmazonClock(monotonic, start) if monotonic else AmazonClock(start=start)
            state = AmazonState(clock=amazon_clock)
            state.listings = {SELLER_SKU.format(sku=s): {"DEFAULT": 0} for s in skus}
            self.markets[name] = state
        self.channels = dict(channels)
        self.mounts: list[Mount] = []
        if STOREFRONT in channels:
            channels[STOREFRONT].shown = ShownBy(skus, self.storefront_units)
            app = shopify_sim.create_app(self.shop, self.sender)
            self.mounts.append(Mount(SHOPIFY_PREFIX, Metered(app, channels[STOREFRONT])))
        for name, state in self.markets.items():
            channels[name].shown = ShownBy(skus, partial(self.marketplace_units, state))
            app = amazon_sim.create_app(state)
            self.mounts.append(Mount(AMAZON_PREFIX + name, Metered(app, channels[name])))
        self._transport = httpx.ASGITransport(app=Router(routes=list(self.mounts)))

    # --- what each platform holds ----------------------------------------------------------
    def storefront_units(self, sku: str) -> int:
        item = self.items[sku]
        return self.shop.levels[(item.inventory_item_id, self.location)].available

    @staticmethod
    def marketplace_units(state: AmazonState, sku: str) -> int:
        return state.quantity(SELLER_SKU.format(sku=sku)) or 0

    def shown(self, channel: str) -> dict[str, int]:
        """SKU -> units the platform behind `channel` holds for sale."""
        return dict(self.channels[channel].shown)

    # --- in process (the estate simulator) ---------------------------------------------------
    def serves(self, path: str) -> bool:
        return any(path.startswith(mount.path + "/") for mount in self.mounts)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        return await in_process(self._transport, request)

    # --- the hub's side ----------------------------------------------------------------------
    def credentials(self) -> dict[str, str]:
        """The environment the commerce targets read their credentials from."""
        state = next(iter(self.markets.values()), AmazonState())
        return {
            SHOPIFY_TOKEN_ENV: self.shop.access_token,
            LWA_ENV["lwa_client_id_env"]: state.client_id,
            LWA_ENV["lwa_client_secret_env"]: state.client_secret,
            LWA_ENV["lwa_refresh_token_env"]: state.refresh_token,
        }

    def targets(self, base_url: str) -> dict[str, dict[str, Any]]:
        """Target per channel: the storefront's Shopify target, each marketplace's Amazon one."""
        out: dict[str, dict[str, Any]] = {}
        if STOREFRONT in self.channels:
            out[STOREFRONT] = {
                "kind": "shopify",
                "url": base_url + SHOPIFY_PREFIX,
                "platform": {
                    "access_token_env": SHOPIFY_TOKEN_ENV,
                    "location_id": gid("Location", self.location),
                },
                # The cost bucket paces it: one mutation sets up to 250 SKUs.
                "rate_per_second": 0,
                "batch_size": 250,
                **DELIVERY,
            }
        for name, state in self.markets.items():
            url = base_url + AMAZON_PREFIX + name
            out[name] = {
                "kind": "amazon",
                "url": url,
                "platform": {
                    "seller_id": state.seller_id,
                    "marketplace_ids": [state.marketplace_id],
                    **LWA_ENV,
                    "lwa_token_url": url + "/auth/o2/token",
                },
                # Listing by listing, as the status quo's marketplace takes them: a batch
                # paced inside one attempt would wait out the dispatcher's backoff.
                "batch_size": 1,
                **DELIVERY,
            }
        return out

    def xrefs(self) -> list[dict[str, str]]:
        """Each SKU's Shopify inventory item (source: the storefront's target) and seller
        SKU (source: each marketplace's target)."""
        rows = [
            {
                "source": STOREFRONT,
                "kind": "item",
                "external_code": gid("InventoryItem", item.inventory_item_id),
                "code": sku,
            }
            for sku, item in self.items.items()
            if STOREFRONT in self.channels
        ]
        rows += [
            {"source": name, "kind": "item", "external_code": SELLER_SKU.format(sku=s), "code": s}
            for name in self.markets
            for s in self.items
        ]
        return rows

    def declare(self, hub: Hub, policies: Mapping[str, dict[str, Any]], base_url: str) -> None:
        """Cross references, targets and channels of the commerce platforms, into the hub.

        The simulators' credentials are put in this process's environment, where the
        targets read them (unless already set).
        """
        for key, value in self.credentials().items():
            os.environ.setdefault(key, value)
        hub.master_data.import_list(MasterKind.XREFS, self.xrefs())
        for name, body in self.targets(base_url).items():
            hub.deliveries.put_target(name, body)
            hub.channels.put(name, {**policies[name], "target": name})
