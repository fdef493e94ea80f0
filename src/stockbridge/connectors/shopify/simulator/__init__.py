"""A local Shopify store: the GraphQL Admin API the connector uses, with Shopify's cost
bucket, compare-and-set, error codes and idempotency keys, and webhooks signed and
retried as Shopify sends them. `serve(host, port, seed)` runs it (`stockbridge sim shopify`).
"""

from __future__ import annotations

import os
import random

from .app import Faults, create_app
from .clock import SimClock
from .shop import Shop
from .webhooks import WebhookSender

__all__ = ["Faults", "Shop", "SimClock", "WebhookSender", "build", "create_app", "serve"]

#: The app secret webhooks are signed with, unless SHOPIFY_SIM_SECRET says otherwise.
DEFAULT_SECRET = "shopify-simulator-secret"
API_VERSION = "2026-04"


def build(
    seed: int, secret: str = DEFAULT_SECRET, clock: SimClock | None = None
) -> tuple[Shop, WebhookSender]:
    """A store and its webhook sender on one clock, ids drawn from `seed`."""
    clock = clock or SimClock()
    shop = Shop(seed=seed, clock=clock)
    sender = WebhookSender(secret, shop.domain, API_VERSION, clock.now, random.Random(seed))
    return shop, sender


def serve(host: str, port: int, seed: int) -> None:
    """Run the simulator with uvicorn; webhooks go out as they fall due."""
    import uvicorn

    secret = os.environ.get("SHOPIFY_SIM_SECRET", DEFAULT_SECRET)
    shop, sender = build(seed, secret)
    shop.access_token = os.environ.get("SHOPIFY_SIM_TOKEN", shop.access_token)
    location = shop.add_location("Shop location")
    # Before uvicorn's own lines: what a hub's configuration needs to point here.
    print(f"Shopify simulator: location gid://shopify/Location/{location}", flush=True)
    uvicorn.run(create_app(shop, sender, auto_pump=0.25), host=host, port=port, log_level="info")
