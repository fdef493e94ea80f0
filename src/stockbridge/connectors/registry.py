"""Which code speaks each platform: delivery targets, inbound webhooks, simulators.

Looked up by the `kind` a target or connector is declared with. Platform modules are
imported on first use, so a hub that talks only to webhooks loads none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

import httpx
from pydantic import BaseModel

if TYPE_CHECKING:
    from ..app.ports import ConnectorState, Delivery
    from ..app.reservations import Command
    from ..app.targets import TargetIn
    from .webhook import SendResult

#: kind -> (module, class) of the delivery target.
TARGETS = {
    "webhook": ("stockbridge.connectors.webhook", "WebhookTarget"),
    "shopify": ("stockbridge.connectors.shopify.target", "ShopifyTarget"),
    "amazon": ("stockbridge.connectors.amazon.target", "AmazonTarget"),
    "square": ("stockbridge.connectors.square.target", "SquareTarget"),
    "odoo": ("stockbridge.connectors.odoo.target", "OdooTarget"),
    "x12": ("stockbridge.connectors.edi.target", "X12Target"),
    "csv": ("stockbridge.connectors.files.target", "CsvFeedTarget"),
}
#: kind -> (module, class) of the pydantic model of a target's `platform` settings.
TARGET_SETTINGS = {
    "shopify": ("stockbridge.connectors.shopify.config", "ShopifyTargetSettings"),
    "amazon": ("stockbridge.connectors.amazon.config", "AmazonTargetSettings"),
    "square": ("stockbridge.connectors.square.config", "SquareTargetSettings"),
    "odoo": ("stockbridge.connectors.odoo.config", "OdooTargetSettings"),
    "x12": ("stockbridge.connectors.edi.config", "X12TargetSettings"),
    "csv": ("stockbridge.connectors.files.config", "CsvFeedTargetSettings"),
}
#: kind -> (module, class) of an inbound connector ([connectors.NAME]).
INBOUND = {
    "shopify": ("stockbridge.connectors.shopify.inbound", "ShopifyInbound"),
    "amazon": ("stockbridge.connectors.amazon.inbound", "AmazonInbound"),
    "square": ("stockbridge.connectors.square.inbound", "SquareInbound"),
}
#: kind -> module whose `serve(host, port, seed)` runs the platform's simulator.
SIMULATORS = {
    "shopify": "stockbridge.connectors.shopify.simulator",
    "amazon": "stockbridge.connectors.amazon.simulator",
    "square": "stockbridge.connectors.square.simulator",
    "odoo": "stockbridge.connectors.odoo.simulator",
    "3pl": "stockbridge.connectors.edi.simulator",
}


class UnknownConnector(ValueError):
    pass


def _load(table: Mapping[str, tuple[str, str]], kind: str, what: str) -> Any:
    try:
        module, name = table[kind]
    except KeyError:
        known = ", ".join(sorted(table))
        raise UnknownConnector(f"no {what} for kind {kind!r} (known: {known})") from None
    return getattr(importlib.import_module(module), name)


class Target(Protocol):
    """What the dispatcher sends through: one delivery, or several pushes in one call."""

    #: The target's configuration; the dispatcher swaps in a new one when it changes.
    config: TargetIn

    async def send(self, delivery: Delivery) -> SendResult: ...

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult: ...


def build_target(
    name: str,
    config: TargetIn,
    client: httpx.AsyncClient,
    state: ConnectorState | None = None,
    monotonic: Callable[[], float] | None = None,
    now: Callable[[], datetime] | None = None,
) -> Target:
    """The target for `config`. A platform target that keeps state in the hub's database
    (cross references, feeds in processing) is given `state` when it declares
    `uses_state`; one that paces itself is given the dispatcher's `monotonic` clock when
    it declares `uses_monotonic` (the simulator's virtual seconds, or real ones); one
    that dates what it sends is given the hub's clock (`now`) when it declares
    `uses_clock`."""
    cls = _load(TARGETS, config.kind, "delivery target")
    extra: dict[str, Any] = {}
    if getattr(cls, "uses_state", False):
        extra["state"] = state
    if monotonic is not None and getattr(cls, "uses_monotonic", False):
        extra["monotonic"] = monotonic
    if now is not None and getattr(cls, "uses_clock", False):
        extra["now"] = now
    target: Target = cls(name, config, client, **extra)
    return target


def target_settings(kind: str) -> type[BaseModel]:
    model: type[BaseModel] = _load(TARGET_SETTINGS, kind, "target settings")
    return model


@dataclass
class Translation:
    """What one inbound message means for the hub."""

    #: Canonical events (the /v1/events shape), deduplicated by the ledger on their keys.
    events: list[dict[str, Any]] = field(default_factory=list)
    #: Reservation commands (reserve, fulfil, release), idempotent on reservation ids.
    commands: list[Command] = field(default_factory=list)
    #: Facts reported by the platform that are not ledger movements (e.g. an inventory
    #: level it holds), kept for reconciliation.
    observations: list[dict[str, Any]] = field(default_factory=list)
    #: Reads from the platform the message needs before it means anything (key, what to
    #: read): kept in the hub's inbox and done off the request path by `complete`.
    deferred: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class Inbound(Protocol):
    """An inbound connector: verifies and translates what a platform sends."""

    #: The source name its events are recorded under (the connector's name).
    source: str

    def verify(self, headers: Mapping[str, str], body: bytes, url: str) -> bool:
        """True when the signature over the raw body is right (constant-time compare)."""
        ...

    def translate(self, headers: Mapping[str, str], payload: Any) -> Translation: ...


class Completing(Inbound, Protocol):
    """An inbound connector whose messages may need a read from the platform."""

    def complete(self, deferred: dict[str, Any]) -> Translation:
        """What a deferred read means, read now (blocking I/O). Raises a StockbridgeError
        while the platform cannot answer, so the read is tried again later."""
        ...


def inbound_class(kind: str) -> Any:
    return _load(INBOUND, kind, "inbound connector")


def simulator(kind: str) -> Any:
    try:
        module = SIMULATORS[kind]
    except KeyError:
        raise UnknownConnector(
            f"no simulator for {kind!r} (known: {', '.join(SIMULATORS)})"
        ) from None
    return importlib.import_module(module)
