"""Availability pushed to Shopify: `inventorySetQuantities` with compare-and-set.

One request sets `available` at the channel's Shopify location for up to 250 SKUs
(`send_batch`). Each quantity carries `changeFromQuantity`, the level this target last
saw; if Shopify moved meanwhile (an order it took) it answers CHANGE_FROM_QUANTITY_STALE,
the target reads the current levels and sends again with them, a few times within one
attempt. The hub is the system of record for available-to-sell, so its value wins; the
order that moved Shopify reaches the hub as a webhook and the next push carries it.

Throttling never sleeps here: a THROTTLED answer (HTTP 200) or an HTTP 429 becomes a
SendResult 429 whose Retry-After is the time the cost bucket needs to refill, and the
target refuses to send (the same 429) while its last reading of the bucket says the
query would be throttled. The dispatcher waits.
"""

from __future__ import annotations

import contextlib
import hashlib
import math
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import orjson

from ...app.ports import ConnectorState, Delivery
from ...app.targets import TargetIn
from ..mapping import Unmapped, externals
from ..webhook import SendResult
from . import documents
from .config import ShopifyTargetSettings
from .ids import as_gid, number
from .throttle import CostTracker, retry_after

SET_OPERATION = documents.operation_name(documents.SET_AVAILABLE)
READ_OPERATION = documents.operation_name(documents.AVAILABLE_LEVELS)
#: Shopify's bounds on `available`.
LIMIT = 1_000_000_000
STALE = "CHANGE_FROM_QUANTITY_STALE"


@dataclass(slots=True)
class _Row:
    delivery: Delivery
    item: str
    quantity: int


@dataclass(slots=True)
class _Session:
    cost: CostTracker = field(default_factory=CostTracker)
    levels: dict[tuple[str, str], int] = field(default_factory=dict)


_SESSIONS: WeakKeyDictionary[httpx.AsyncClient, dict[str, _Session]] = WeakKeyDictionary()


class _Stop(Exception):
    """The attempt ends with this result (throttled, down, refused as a whole)."""

    def __init__(self, result: SendResult) -> None:
        self.result = result


def quantity_of(available: Any) -> int:
    """The hub's available (a decimal string) as Shopify's whole units, rounded down and
    kept within Shopify's bounds. ValueError if it is not a number."""
    try:
        value = Decimal(str(available))
    except InvalidOperation:
        raise ValueError(f"available {available!r} is not a number") from None
    if not value.is_finite():
        raise ValueError(f"available {available!r} is not a number")
    return max(-LIMIT, min(LIMIT, math.floor(value)))


class ShopifyTarget:
    #: Reads cross references from the hub's database (mapping = "xrefs"), and reads its
    #: cost bucket on the dispatcher's clock.
    uses_state = True
    uses_monotonic = True

    def __init__(
        self,
        name: str,
        config: TargetIn,
        client: httpx.AsyncClient,
        *,
        state: ConnectorState | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.name = name
        self.config = config
        self.client = client
        self.state = state
        self.monotonic = monotonic
        self.env: Mapping[str, str] = env if env is not None else os.environ
        # The dispatcher may build a target per round: what it learnt of the cost bucket
        # and of Shopify's levels lives as long as the HTTP client.
        session = _SESSIONS.setdefault(client, {}).setdefault(name, _Session())
        self.cost = session.cost
        #: (inventory item, location) -> the `available` this target last saw in Shopify.
        self.levels = session.levels
        self._parsed: tuple[dict[str, Any], ShopifyTargetSettings] | None = None

    # --- the Target protocol -----------------------------------------------------------
    async def send(self, delivery: Delivery) -> SendResult:
        return await self.send_batch([delivery])

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        started = time.perf_counter()
        settings = self.settings()
        token = self.env.get(settings.access_token_env)
        if not token:
            error = (
                f"platform.access_token_env: environment variable "
                f"{settings.access_token_env} is not set"
            )
            return SendResult(None, {}, error, 0.0)
        try:
            location = self._location(settings)
        except Unmapped as e:
            return SendResult(422, {}, f"platform.location: {e}", _ms(started))
        rows, rejected = self._rows(deliveries, settings)
        try:
            await self._set(rows, rejected, settings, location, token)
        except _Stop as stop:
            r = stop.result
            return SendResult(
                r.status, r.headers, r.error, _ms(started), {**rejected, **r.rejected}
            )
        if len(rejected) == len(deliveries):
            # Everything refused item by item: the request as a whole is refused too.
            return SendResult(422, {}, next(iter(rejected.values())), _ms(started), rejected)
        return SendResult(200, {}, None, _ms(started), rejected)

    # --- what to send --------------------------------------------------------------------
    def settings(self) -> ShopifyTargetSettings:
        """The platform settings of the current config (the dispatcher may swap it)."""
        if self._parsed is None or self._parsed[0] is not self.config.platform:
            parsed = ShopifyTargetSettings.model_validate(self.config.platform)
            self._parsed = (self.config.platform, parsed)
        return self._parsed[1]

    @property
    def xref_source(self) -> str:
        return self.settings().xref_source or self.name

    def _location(self, settings: ShopifyTargetSettings) -> str:
        """The Shopify location gid pushes are set at; Unmapped if its xref is missing."""
        if settings.location_id is not None:
            return settings.location_id
        assert settings.location is not None  # the settings require one or the other
        found = externals(
            self.state,
            self.xref_source,
            "location",
            [settings.location],
            lambda code: number(code, "Location") is not None,
        )
        mapped = found[settings.location]
        if isinstance(mapped, Unmapped):
            raise mapped
        return as_gid(mapped, "Location")

    def _items(self, skus: list[str], settings: ShopifyTargetSettings) -> dict[str, str | Unmapped]:
        """SKU -> its Shopify inventory item gid, or why there is none."""
        if settings.mapping == "settings":
            why = "add it to platform.inventory_items"
            return {
                sku: settings.inventory_items.get(sku)
                or Unmapped(f"no Shopify inventory item for SKU {sku!r}: {why}")
                for sku in skus
            }
        # The source's item xrefs also hold variants (for webhooks): only inventory items.
        found = externals(
            self.state,
            self.xref_source,
            "item",
            skus,
            lambda code: number(code, "InventoryItem") is not None and "/" in code,
        )
        return {
            sku: item if isinstance(item, Unmapped) else as_gid(item, "InventoryItem")
            for sku, item in found.items()
        }

    def _rows(
        self, deliveries: list[Delivery], settings: ShopifyTargetSettings
    ) -> tuple[list[_Row], dict[int, str]]:
        rows: dict[str, _Row] = {}
        rejected: dict[int, str] = {}
        pushes = []
        for d in deliveries:
            payload = d.payload if isinstance(d.payload, dict) else {}
            if d.kind != "availability" or payload.get("type") != "availability":
                rejected[d.id] = f"a Shopify target takes availability pushes, not {d.kind}"
                continue
            pushes.append(d)
        items = self._items(sorted({str(d.payload.get("sku")) for d in pushes}), settings)
        for d in pushes:
            payload = d.payload
            sku = str(payload.get("sku"))
            item = items[sku]
            if isinstance(item, Unmapped):
                rejected[d.id] = str(item)
                continue
            try:
                quantity = quantity_of(payload.get("available"))
            except ValueError as e:
                rejected[d.id] = str(e)
                continue
            if item in rows:
                other = rows[item].delivery.payload
                rejected[d.id] = (
                    f"SKUs {other.get('sku')!r} and {sku!r} (channels {other.get('channel')!r}, "
                    f"{payload.get('channel')!r}) both set inventory item {item}"
                )
                continue
            rows[item] = _Row(d, item, quantity)
        return list(rows.values()), rejected

    # --- the exchange --------------------------------------------------------------------
    async def _set(
        self,
        rows: list[_Row],
        rejected: dict[int, str],
        settings: ShopifyTargetSettings,
        location: str,
        token: str,
    ) -> None:
        for _ in range(settings.max_stale_retries + 1):
            if not rows:
                return
            unknown = [r.item for r in rows if (r.item, location) not in self.levels]
            if unknown:
                await self._read(unknown, location, settings, token)
            variables = self._variables(rows, settings, location)
            data = await self._call(
                SET_OPERATION, documents.SET_AVAILABLE, variables, settings, token
            )
            result = data.get("inventorySetQuantities") or {}
            errors = result.get("userErrors") or []
            if not errors:
                for r in rows:
                    self.levels[(r.item, location)] = r.quantity
                return
            # The mutation is all or nothing: refuse the rows at fault, re-read the stale
            # ones, and send the rest again.
            stale: set[int] = set()
            for error in errors:
                index = _row_index(error.get("field"))
                code = error.get("code") or "USER_ERROR"
                if index is None or index >= len(rows):
                    raise _Stop(SendResult(422, {}, f"{code}: {error.get('message')}", 0.0))
                if code == STALE:
                    stale.add(index)
                    self.levels.pop((rows[index].item, location), None)
                else:
                    rejected[rows[index].delivery.id] = f"{code}: {error.get('message')}"
            refused = {d for d in rejected}
            rows = [r for r in rows if r.delivery.id not in refused]
        if rows:
            raise _Stop(
                SendResult(
                    None,
                    {},
                    f"{STALE}: Shopify kept changing the level of {len(rows)} item(s) at "
                    f"{location}; trying again later",
                    0.0,
                )
            )

    def _variables(
        self, rows: list[_Row], settings: ShopifyTargetSettings, location: str
    ) -> dict[str, Any]:
        quantities = [
            {
                "inventoryItemId": r.item,
                "locationId": location,
                "quantity": r.quantity,
                # Explicit null opts out of the check for a level never read (not stocked).
                "changeFromQuantity": self.levels.get((r.item, location)),
            }
            for r in rows
        ]
        keys = "\n".join(sorted(r.delivery.idempotency_key for r in rows))
        body = orjson.dumps(quantities, option=orjson.OPT_SORT_KEYS)
        digest = hashlib.sha256(keys.encode() + b"\n" + body).hexdigest()
        return {
            "input": {
                "name": "available",
                "reason": settings.reason,
                "referenceDocumentUri": f"gid://stockbridge/AvailabilityPush/{digest[:24]}",
                "quantities": quantities,
            },
            # One logical operation: the same pushes with the same expected levels. A
            # resend after a stale answer compares with other levels, so it is another.
            "idempotencyKey": f"stockbridge-{digest[:40]}",
        }

    async def _read(
        self, items: list[str], location: str, settings: ShopifyTargetSettings, token: str
    ) -> None:
        variables = {"ids": items, "locationId": location}
        data = await self._call(
            READ_OPERATION, documents.AVAILABLE_LEVELS, variables, settings, token
        )
        for node in data.get("nodes") or []:
            if not isinstance(node, dict) or not node.get("id"):
                continue
            level = node.get("inventoryLevel") or {}
            for q in level.get("quantities") or []:
                if q.get("name") == "available" and isinstance(q.get("quantity"), int):
                    self.levels[(node["id"], location)] = q["quantity"]

    async def _call(
        self,
        operation: str,
        document: str,
        variables: dict[str, Any],
        settings: ShopifyTargetSettings,
        token: str,
    ) -> dict[str, Any]:
        """One GraphQL request; its `data`, or _Stop with what the attempt comes to."""
        wait = self.cost.wait(operation, self.monotonic())
        if wait > 0:
            raise _Stop(_throttled(wait, f"cost budget: {operation} waits {wait:.2f}s for points"))
        url = f"{self.config.address.rstrip('/')}/admin/api/{settings.api_version}/graphql.json"
        headers = {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "X-Shopify-Access-Token": token,
        }
        body = orjson.dumps({"query": document, "variables": variables})
        try:
            response = await self.client.post(
                url, content=body, headers=headers, timeout=self.config.timeout_seconds
            )
        except httpx.TimeoutException:
            raise _Stop(SendResult(None, {}, "timeout", 0.0)) from None
        except httpx.HTTPError as e:
            raise _Stop(SendResult(None, {}, f"{type(e).__name__}: {e}", 0.0)) from None
        try:
            answer = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            answer = None
        cost = (
            (answer or {}).get("extensions", {}).get("cost") if isinstance(answer, dict) else None
        )
        self.cost.observe(operation, cost, self.monotonic())
        if response.status_code == 429:
            wait = _wait_from(cost, response.headers.get("Retry-After"))
            raise _Stop(_throttled(wait, f"HTTP 429 from Shopify on {operation}"))
        if not response.is_success or not isinstance(answer, dict):
            raise _Stop(
                SendResult(response.status_code, dict(response.headers), response.text[:500], 0.0)
            )
        errors = answer.get("errors") or []
        if any((e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors):
            raise _Stop(_throttled(_wait_from(cost, None), f"THROTTLED on {operation}"))
        if errors:
            first = errors[0]
            code = (first.get("extensions") or {}).get("code") or "GRAPHQL_ERROR"
            # The document or its variables are wrong: the same request fails again.
            raise _Stop(SendResult(422, {}, f"{code}: {first.get('message')}", 0.0))
        data = answer.get("data")
        return data if isinstance(data, dict) else {}


def _row_index(field: Any) -> int | None:
    """["input", "quantities", "3", "changeFromQuantity"] -> 3."""
    if isinstance(field, list) and len(field) >= 3 and field[1] == "quantities":
        try:
            return int(field[2])
        except (TypeError, ValueError):
            return None
    return None


def _wait_from(cost: dict[str, Any] | None, header: str | None) -> float:
    """Seconds until the refused query fits the bucket, or the server's own Retry-After."""
    waits = [0.0]
    if cost:
        requested = cost.get("requestedQueryCost")
        status = cost.get("throttleStatus") or {}
        if isinstance(requested, int | float):
            waits.append(retry_after(requested, status))
    if header:
        with contextlib.suppress(ValueError):
            waits.append(float(header))
    return max(waits) or 1.0


def _throttled(wait: float, why: str) -> SendResult:
    seconds = f"{max(wait, 0.001):.3f}"
    return SendResult(429, {"Retry-After": seconds}, f"{why} (retry after {seconds}s)", 0.0)


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000
