"""A platform refusing some items of a bulk call: those go to the exception queue, the
rest are delivered (the stepped dispatcher, on the hub's clock)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from stockbridge.app.bootstrap import Hub
from stockbridge.app.ports import Delivery
from stockbridge.app.targets import TargetIn
from stockbridge.connectors import registry
from stockbridge.connectors.webhook import SendResult
from stockbridge.delivery.dispatcher import Dispatcher

from ..conftest import event, seed_master


class RefusesMugs:
    """A bulk endpoint that knows every SKU but MUG."""

    def __init__(self, name: str, config: TargetIn, client: httpx.AsyncClient) -> None:
        self.config = config

    async def send(self, delivery: Delivery) -> SendResult:
        return await self.send_batch([delivery])

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        refused = {d.id: "unknown item MUG" for d in deliveries if d.payload["sku"] == "MUG"}
        return SendResult(200, {}, None, 1.0, refused)


def test_refused_items_go_to_the_exception_queue_alone(
    hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(registry.TARGETS, "webhook", (__name__, "RefusesMugs"))
    seed_master(hub)
    hub.deliveries.put_target("shop", {"url": "http://shop.test", "batch_size": 10})
    hub.channels.put("web", {"locations": {"S1": 0}, "target": "shop"})
    hub.submit([
        event("r-1", "receipt", sku="TEE-M", quantity=5),
        event("r-2", "receipt", sku="MUG", quantity=5),
    ])  # fmt: skip
    dispatcher = Dispatcher(hub.store, hub.clock)

    async def step() -> Any:
        async with httpx.AsyncClient() as client:
            return await dispatcher.step(client)

    assert asyncio.run(step()).claimed == 2
    rows = dict(
        hub.store.read("SELECT json_extract(payload, '$.sku'), state FROM deliveries")
        if hub.store.dialect == "sqlite"
        else hub.store.read("SELECT payload::json->>'sku', state FROM deliveries")
    )
    assert rows == {"TEE-M": "delivered", "MUG": "rejected"}
    waiting = hub.store.exceptions(status="open")
    assert [e.reason for e in waiting] == ["target_rejected"]
