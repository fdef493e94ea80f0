"""Snapshots of a system's stock: uploaded files, Shopify pulls, a partner's last 846.

Each source gives a `Snapshot`: the instant it describes and its lines in the system's
own codes. A row that cannot be read is kept as an error with its line and field; the
good rows are compared anyway.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any, Protocol

import httpx

from ..domain.errors import StockbridgeError
from ..domain.model import MAX_BASE_QUANTITY, XrefKind, from_micros
from ..domain.reconciliation import SnapshotLine
from .master import ImportFileError, csv_rows
from .ports import Store
from .targets import TargetIn


class SnapshotError(StockbridgeError):
    """A snapshot that cannot be taken or read at all (not a row problem)."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    taken_us: int
    lines: list[SnapshotLine]
    #: Rows that could not be read: {"line", "field", "message"}.
    rejected: list[dict[str, Any]] = field(default_factory=list)


class SnapshotSource(Protocol):
    origin: str

    def take(self, now_us: int) -> Snapshot: ...


def read_rows(rows: Sequence[tuple[int, Any]], taken_us: int) -> Snapshot:
    """Numbered rows {sku, location, quantity} in the system's codes -> a snapshot.

    A second row for the same SKU and location is refused: one system holds one figure.
    """
    lines: list[SnapshotLine] = []
    rejected: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], int] = {}

    def refuse(number: int, where: str, message: str) -> None:
        rejected.append({"line": number, "field": where, "message": message})

    for number, raw in rows:
        if not isinstance(raw, dict):
            refuse(number, "$", "a line must be an object with sku, location and quantity")
            continue
        bad = False
        codes: dict[str, str] = {}
        for name in ("sku", "location"):
            value = raw.get(name)
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)
            if not isinstance(value, str) or not value.strip():
                refuse(number, name, "required: the system's own code")
                bad = True
            else:
                codes[name] = value.strip()
        quantity = _quantity(raw.get("quantity"))
        if isinstance(quantity, str):
            refuse(number, "quantity", quantity)
            bad = True
        unknown = sorted(set(raw) - {"sku", "location", "quantity"})
        if unknown:
            refuse(number, unknown[0], "unknown field (expected sku, location, quantity)")
            bad = True
        if bad:
            continue
        assert isinstance(quantity, Decimal)
        key = (codes["sku"], codes["location"])
        if key in seen:
            refuse(number, "sku", f"{key[0]} at {key[1]} already given on line {seen[key]}")
            continue
        seen[key] = number
        lines.append(SnapshotLine(number, key[0], key[1], quantity))
    return Snapshot(taken_us, lines, rejected)


def _quantity(value: Any) -> Decimal | str:
    """A quantity, or why it is not one."""
    if value is None or value == "":
        return "required: a number"
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        return f"{value!r} is not a number"
    try:
        q = Decimal(str(value).strip())
    except InvalidOperation:
        return f"{value!r} is not a number"
    if not q.is_finite():
        return f"{value!r} is not a number"
    if abs(q) > MAX_BASE_QUANTITY:
        return f"{value!r} is beyond the largest quantity ({MAX_BASE_QUANTITY})"
    return q


def parse_upload(content: bytes, content_type: str, taken_us: int) -> Snapshot:
    """An uploaded file: CSV with a header (sku, location, quantity), or JSON (a list of
    lines, or {"lines": [...]}). SnapshotError when the file as a whole is unreadable."""
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise SnapshotError("the file is not UTF-8 text") from None
    if "csv" in content_type or (not text.lstrip().startswith(("[", "{"))):
        try:
            return read_rows(csv_rows(text), taken_us)
        except ImportFileError as e:
            raise SnapshotError(str(e)) from None
    import orjson

    try:
        data = orjson.loads(text)
    except orjson.JSONDecodeError as e:
        raise SnapshotError(f"the body is not JSON: {e}") from None
    if isinstance(data, dict):
        data = data.get("lines")
    if not isinstance(data, list):
        raise SnapshotError("JSON snapshots are a list of lines or an object with 'lines'")
    # JSON lines are numbered from 1, as a person counts them.
    return read_rows(list(enumerate(data, start=1)), taken_us)


class ShopifySource:
    """`available` at a Shopify target's location, for every inventory item stocked there.

    Inventory items are named as the target names them: its `inventory_items`, or the
    hub's cross references of its source (`mapping = "xrefs"`). Items mapped to a SKU but
    not stocked at the location count as 0.
    """

    origin = "pull"

    def __init__(self, store: Store, target: str, env: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.target = target
        self.env = env if env is not None else os.environ

    def take(self, now_us: int) -> Snapshot:
        from ..connectors.shopify.config import ShopifyTargetSettings
        from ..connectors.shopify.inventory import ShopifyReadError, location_levels

        target = _target(self.store, self.target)
        settings = ShopifyTargetSettings.model_validate(target.platform)
        token = _token(self.env, settings.access_token_env)
        skus, location = self._mapping(settings)
        lines: list[SnapshotLine] = []
        seen: set[str] = set()
        try:
            with httpx.Client(timeout=target.timeout_seconds) as client:
                for level in location_levels(client, target.address, settings, location, token):
                    seen.add(level.inventory_item_id)
                    lines.append(
                        SnapshotLine(
                            len(lines) + 1,
                            level.inventory_item_id,
                            location,
                            Decimal(level.available),
                            sku=skus.get(level.inventory_item_id),
                        )
                    )
        except ShopifyReadError as e:
            raise SnapshotError(str(e)) from e
        for item, sku in sorted(skus.items()):
            if item not in seen:
                lines.append(SnapshotLine(len(lines) + 1, item, location, Decimal(0), sku))
        return Snapshot(now_us, lines)

    def _mapping(self, settings: Any) -> tuple[dict[str, str], str]:
        """(inventory item gid -> SKU, the location's gid) as the target maps them."""
        from ..connectors.shopify.ids import as_gid, number

        if settings.mapping == "settings":
            assert settings.location_id is not None  # the settings require it
            return {item: sku for sku, item in settings.inventory_items.items()}, (
                settings.location_id
            )
        source = settings.xref_source or self.target
        skus = {
            as_gid(code, "InventoryItem"): sku
            for code, sku in _xrefs(self.store, source, XrefKind.ITEM).items()
            # The source's item xrefs also hold variants (for webhooks): only inventory items.
            if "/" in code and number(code, "InventoryItem") is not None
        }
        if settings.location_id is not None:
            return skus, settings.location_id
        places = [
            code
            for code, loc in _xrefs(self.store, source, XrefKind.LOCATION).items()
            if loc == settings.location
        ]
        found = [as_gid(c, "Location") for c in places if number(c, "Location") is not None]
        if len(found) != 1:
            raise SnapshotError(
                f"no single Shopify location for {settings.location!r} in the cross "
                f"references of {source!r}"
            )
        return skus, found[0]


class SquareSource:
    """IN_STOCK counts at the target's Square locations: the channel's location when the
    system is compared as a channel, else every mapped enterprise location. Variations
    Square holds no count for count as 0."""

    origin = "pull"

    def __init__(
        self,
        store: Store,
        target: str,
        channel: str | None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.store = store
        self.target = target
        self.channel = channel
        self.env = env if env is not None else os.environ

    def take(self, now_us: int) -> Snapshot:
        from ..connectors.square.config import SquareTargetSettings
        from ..connectors.square.counts import SquareReadError, in_stock_counts

        target = _target(self.store, self.target)
        settings = SquareTargetSettings.model_validate(target.platform)
        token = _token(self.env, settings.access_token_env)
        if settings.mapping == "xrefs":
            source = settings.xref_source or self.target
            settings = settings.model_copy(
                update={
                    name: {code: ext for ext, code in _xrefs(self.store, source, kind).items()}
                    for name, kind in (("catalog", XrefKind.ITEM), ("locations", XrefKind.LOCATION))
                }
            )
        if self.channel is not None:
            if self.channel not in settings.channels:
                raise SnapshotError(
                    f"target {self.target!r} maps no Square location to {self.channel!r}"
                )
            places: dict[str, str | None] = {settings.channels[self.channel]: None}
        else:
            places = {square: code for code, square in settings.locations.items()}
        skus = {variation: sku for sku, variation in settings.catalog.items()}
        found: dict[tuple[str, str], Decimal] = {}
        try:
            with httpx.Client(timeout=target.timeout_seconds) as client:
                for c in in_stock_counts(client, target.address, settings, token, list(places)):
                    found[(c.catalog_object_id, c.location_id)] = c.quantity
        except SquareReadError as e:
            raise SnapshotError(str(e)) from e
        lines: list[SnapshotLine] = []
        for square in sorted(places):
            for variation in sorted(skus):
                lines.append(
                    SnapshotLine(
                        len(lines) + 1,
                        variation,
                        square,
                        found.get((variation, square), Decimal(0)),
                        sku=skus[variation],
                        location=places[square],
                    )
                )
        return Snapshot(now_us, lines)


class OdooSource:
    """Odoo's on-hand quantity (`stock.quant`) per product and mapped location."""

    origin = "pull"

    def __init__(self, store: Store, target: str, env: Mapping[str, str] | None = None) -> None:
        self.store = store
        self.target = target
        self.env = env if env is not None else os.environ

    def take(self, now_us: int) -> Snapshot:
        import asyncio

        from ..connectors.erp.port import ErpRejected, ErpUnavailable
        from ..connectors.odoo.pull import snapshot
        from ..connectors.odoo.target import odoo_caller

        target = _target(self.store, self.target)
        now = from_micros(now_us)

        async def read() -> list[dict[str, Any]]:
            async with httpx.AsyncClient() as client:
                odoo, settings = odoo_caller(target, client, self.env)
                return await snapshot(odoo, settings, self.target, now)

        try:
            rows = asyncio.run(read())
        except (ValueError, ErpUnavailable, ErpRejected) as e:
            raise SnapshotError(f"Odoo: {e}") from e
        lines = [
            # Odoo's Internal Reference is its SKU code; its locations are mapped already.
            SnapshotLine(i, r["sku"], r["location"], Decimal(r["on_hand"]), location=r["location"])
            for i, r in enumerate(rows, start=1)
        ]
        return Snapshot(now_us, lines)


def _target(store: Store, name: str) -> TargetIn:
    config = store.targets().get(name)
    if config is None:
        raise SnapshotError(f"no target {name!r} to read the system through")
    return TargetIn.model_validate(config[0])


def _xrefs(store: Store, source: str, kind: XrefKind) -> dict[str, str]:
    """A source's cross references of one kind: its code -> the enterprise code."""
    return {
        code: enterprise
        for (src, k, code), enterprise in store.master_data().xrefs.items()
        if src == source and k is kind
    }


def _token(env: Mapping[str, str], name: str) -> str:
    token = env.get(name)
    if not token:
        raise SnapshotError(f"environment variable {name} is not set")
    return token


class EdiSource:
    """The newest 846 inventory advice an EDI partner sent, as the store keeps it: its
    on-hand quantity (QTY 17, else 33) per item at the partner's location, as of the
    advice's own date."""

    origin = "edi"

    def __init__(self, store: Store, partner: str) -> None:
        self.store = store
        self.partner = partner

    def take(self, now_us: int) -> Snapshot:
        rows = self.store.latest_warehouse_snapshot(self.partner)
        if not rows:
            raise SnapshotError(f"partner {self.partner!r} has sent no 846 inventory advice yet")
        lines = [
            # The row's SKU is the partner's item code when it mapped to none: cross
            # references (or the item master) decide.
            SnapshotLine(i, r.sku, r.location, r.quantity, location=r.location)
            for i, r in enumerate(rows, start=1)
        ]
        return Snapshot(rows[0].as_of_us, lines)


def snapshot_path(path: Path) -> tuple[bytes, str]:
    """A file's bytes and the content type its name suggests."""
    kind = "text/csv" if path.suffix.lower() == ".csv" else "application/json"
    return path.read_bytes(), kind
