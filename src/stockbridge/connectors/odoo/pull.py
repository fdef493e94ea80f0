"""Pulls from Odoo: the item master, price lists and promotions, and a stock snapshot.

Each function reads pages of `search_read` and returns rows in Stockbridge's import shapes
(`MasterDataService.import_list`, `PricingService.import_list`) or, for the snapshot,
observations for reconciliation; nothing here writes to the hub.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from .client import OdooCaller
from .config import OdooTargetSettings

PAGE = 200
#: The start of a list price, which has no date of its own in Odoo: a fixed instant, so
#: pulling again finds the same price book entry (unchanged or updated, never a new one).
LIST_PRICE_START = "2000-01-01T00:00:00+00:00"
_GTIN = re.compile(r"^\d{8,14}$")


async def read_all(
    odoo: OdooCaller,
    model: str,
    domain: list[Any],
    fields: list[str],
    context: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Every matching record, page by page (`limit`/`offset`)."""
    rows: list[dict[str, Any]] = []
    while True:
        page = await odoo.call(
            model,
            "search_read",
            domain=domain,
            fields=fields,
            offset=len(rows),
            limit=PAGE,
            order="id",
            context=context,
        )
        rows.extend(page or [])
        if not page or len(page) < PAGE:
            return rows


def _name(value: Any) -> str | None:
    """A many2one as read ([id, name]) -> its name."""
    return str(value[1]) if isinstance(value, list) and len(value) > 1 else None


def _id(value: Any) -> int | None:
    return int(value[0]) if isinstance(value, list) and value else None


def _context(settings: OdooTargetSettings) -> dict[str, Any]:
    return {"allowed_company_ids": [settings.company_id]} if settings.company_id else {}


async def pull_items(
    odoo: OdooCaller, settings: OdooTargetSettings, source: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(item rows, cross references): products with an Internal Reference become items
    (SKU = `default_code`), their packagings unit conversions; each product id is kept as a
    cross reference of `source` so Odoo's ids map back to SKUs."""
    products = await read_all(
        odoo,
        "product.product",
        [["default_code", "!=", False]],
        ["default_code", "barcode", "name", "uom_id", "categ_id"],
        _context(settings),
    )
    packagings = await read_all(
        odoo, "product.packaging", [], ["name", "qty", "product_id"], _context(settings)
    )
    conversions: dict[int, dict[str, Any]] = {}
    for p in packagings:
        product = _id(p.get("product_id"))
        if product is not None and p.get("qty"):
            conversions.setdefault(product, {})[str(p["name"])] = str(p["qty"])
    items, xrefs = [], []
    for p in products:
        sku = str(p["default_code"])
        unit = _name(p.get("uom_id")) or "Units"
        row: dict[str, Any] = {
            "sku": sku,
            "base_uom": settings.units.get(unit, unit.upper()),
            "description": p.get("name") or None,
            "category": _name(p.get("categ_id")),
            "conversions": conversions.get(int(p["id"]), {}),
        }
        barcode = p.get("barcode")
        if isinstance(barcode, str) and _GTIN.match(barcode):
            row["gtin"] = barcode
        items.append(row)
        xrefs.append({"source": source, "kind": "item", "external_code": str(p["id"]), "code": sku})
    return items, xrefs


def _when(value: Any) -> str | None:
    """Odoo's "YYYY-MM-DD HH:MM:SS" (UTC) -> ISO 8601 with an offset."""
    if not value:
        return None
    return datetime.fromisoformat(str(value)).replace(tzinfo=UTC).isoformat()


async def pull_prices(
    odoo: OdooCaller, settings: OdooTargetSettings
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(price rows, promotion rows).

    Every product's list price is an entry of the `base` book. A price list item on one
    product variant with a fixed price is an entry of the book named after its price list;
    a percentage item, or any item of a `promotion_pricelists` list, is a promotion.
    """
    context = _context(settings)
    products = await read_all(
        odoo,
        "product.product",
        [["default_code", "!=", False]],
        ["default_code", "list_price"],
        context,
    )
    skus = {int(p["id"]): str(p["default_code"]) for p in products}
    prices = [
        {
            "book": "base",
            "sku": skus[int(p["id"])],
            "amount": str(p.get("list_price") or 0),
            "currency": settings.currency,
            "start": LIST_PRICE_START,
        }
        for p in products
    ]
    items = await read_all(
        odoo,
        "product.pricelist.item",
        [["applied_on", "=", "0_product_variant"]],
        [
            "pricelist_id",
            "product_id",
            "compute_price",
            "fixed_price",
            "percent_price",
            "date_start",
            "date_end",
        ],
        context,
    )
    promotions = []
    for item in items:
        sku = skus.get(_id(item.get("product_id")) or 0)
        if sku is None:
            continue
        pricelist = _id(item.get("pricelist_id"))
        window = {"start": _when(item.get("date_start")) or LIST_PRICE_START}
        if item.get("date_end"):
            window["end"] = _when(item["date_end"]) or ""
        promotion = pricelist in settings.promotion_pricelists
        if item.get("compute_price") == "percentage":
            promotions.append(
                {
                    "id": f"odoo-pricelist-item-{item['id']}",
                    "skus": [sku],
                    "percent_off": str(item["percent_price"]),
                    "description": _name(item.get("pricelist_id")),
                    **window,
                }
            )
        elif item.get("compute_price") == "fixed" and promotion:
            promotions.append(
                {
                    "id": f"odoo-pricelist-item-{item['id']}",
                    "skus": [sku],
                    "price": str(item["fixed_price"]),
                    "currency": settings.currency,
                    "description": _name(item.get("pricelist_id")),
                    **window,
                }
            )
        elif item.get("compute_price") == "fixed":
            prices.append(
                {
                    "book": _name(item.get("pricelist_id")) or f"pricelist-{pricelist}",
                    "sku": sku,
                    "amount": str(item["fixed_price"]),
                    "currency": settings.currency,
                    **window,
                }
            )
    return prices, promotions


async def snapshot(
    odoo: OdooCaller, settings: OdooTargetSettings, source: str, now: datetime
) -> list[dict[str, Any]]:
    """Odoo's stock per SKU and mapped location, as observations for reconciliation:
    `{source, sku, location, on_hand, reserved, observed_at}`. Quants at locations outside
    `platform.locations`, or of products without an Internal Reference, are left out."""
    by_id = {odoo_id: code for code, odoo_id in settings.locations.items()}
    if not by_id:
        return []
    quants = await read_all(
        odoo,
        "stock.quant",
        [["location_id", "in", sorted(by_id)]],
        ["product_id", "location_id", "quantity", "reserved_quantity"],
        _context(settings),
    )
    product_ids = sorted({pid for q in quants if (pid := _id(q.get("product_id")))})
    codes: Mapping[int, str] = {}
    if product_ids:
        rows = await odoo.call(
            "product.product",
            "read",
            ids=product_ids,
            fields=["default_code"],
            context=_context(settings) or None,
        )
        codes = {int(r["id"]): str(r["default_code"]) for r in rows if r.get("default_code")}
    totals: dict[tuple[str, str], list[float]] = {}
    for q in quants:
        sku = codes.get(_id(q.get("product_id")) or 0)
        location = by_id.get(_id(q.get("location_id")) or 0)
        if sku is None or location is None:
            continue
        total = totals.setdefault((sku, location), [0.0, 0.0])
        total[0] += float(q.get("quantity") or 0)
        total[1] += float(q.get("reserved_quantity") or 0)
    observed = now.astimezone(UTC).isoformat()
    return [
        {
            "source": source,
            "sku": sku,
            "location": location,
            "on_hand": _plain(on_hand),
            "reserved": _plain(reserved),
            "observed_at": observed,
        }
        for (sku, location), (on_hand, reserved) in sorted(totals.items())
    ]


def _plain(value: float) -> str:
    return str(int(value)) if value == int(value) else repr(value)
