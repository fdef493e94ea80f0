"""`ErpDocuments` for Odoo: each neutral document as the Odoo record that carries it.

A count is applied with the context `inventory_name` = our reference, which Odoo gives
as the name of the inventory move it creates: that move is what a retry looks up.

| document | Odoo record, our reference in | applied by |
| --- | --- | --- |
| StockTransfer | `stock.picking`, `origin` | `button_validate` |
| StockCount | `stock.quant` `inventory_quantity`; its move's `name` | `action_apply_inventory` |
| Invoice | `account.move` `out_invoice`/`out_refund`, `ref` | `action_post` |
| SalesOrder | `sale.order`, `client_order_ref` | `action_confirm` |
| SalesOrderCancel | the order's `sale.order` | `action_cancel` |
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from ..erp.documents import (
    ErpDocument,
    Flow,
    Invoice,
    Line,
    SalesOrder,
    StockCount,
    StockTransfer,
)
from ..erp.port import ErpRejected, Found
from .client import OdooCaller
from .config import OdooTargetSettings

#: Flow -> (picking type code, source, destination); "here" is the document's location.
ROUTES = {
    Flow.RECEIPT: ("incoming", "supplier", "here"),
    Flow.DELIVERY: ("outgoing", "here", "customer"),
    Flow.CUSTOMER_RETURN: ("incoming", "customer", "here"),
    Flow.TRANSIT_OUT: ("internal", "here", "transit"),
    Flow.TRANSIT_IN: ("internal", "transit", "here"),
}


def odoo_datetime(text: str) -> str:
    """An ISO time stamp as Odoo's UTC "YYYY-MM-DD HH:MM:SS"; a bare date stays a date."""
    if len(text) <= 10:
        return text
    at = datetime.fromisoformat(text)
    if at.tzinfo is not None:
        at = at.astimezone(UTC)
    return at.strftime("%Y-%m-%d %H:%M:%S")


def _num(value: Decimal) -> float | int:
    return int(value) if value == value.to_integral_value() else float(value)


class OdooDocuments:
    """Documents in one Odoo database; ids and lookups are cached for the target's life."""

    def __init__(self, odoo: OdooCaller, settings: OdooTargetSettings) -> None:
        self.odoo = odoo
        self.settings = settings
        self.context: dict[str, Any] = (
            {"allowed_company_ids": [settings.company_id]} if settings.company_id else {}
        )
        self._products = dict(settings.products)
        self._counterparts: dict[str, int] = {
            k: v for k, v in settings.counterparts.model_dump().items() if v is not None
        }
        self._types: dict[str, int] = {
            k: v for k, v in settings.picking_types.model_dump().items() if v is not None
        }

    # --- lookups ---------------------------------------------------------------------------
    async def _search(
        self, model: str, domain: list[Any], fields: list[str], limit: int = 1
    ) -> list[dict[str, Any]]:
        rows = await self.odoo.call(
            model,
            "search_read",
            domain=domain,
            fields=fields,
            limit=limit,
            context=self.context,
        )
        return list(rows or [])

    async def product(self, sku: str) -> int:
        if sku not in self._products:
            rows = await self._search("product.product", [["default_code", "=", sku]], ["id"])
            if not rows:
                raise ErpRejected(f"no Odoo product has the Internal Reference {sku!r}")
            self._products[sku] = int(rows[0]["id"])
        return self._products[sku]

    def location(self, code: str) -> int:
        try:
            return self.settings.locations[code]
        except KeyError:
            raise ErpRejected(
                f"location {code!r} has no Odoo stock.location (platform.locations)"
            ) from None

    async def counterpart(self, usage: str) -> int:
        if usage not in self._counterparts:
            rows = await self._search("stock.location", [["usage", "=", usage]], ["id"])
            if not rows:
                raise ErpRejected(f"Odoo has no stock.location of usage {usage!r}")
            self._counterparts[usage] = int(rows[0]["id"])
        return self._counterparts[usage]

    async def picking_type(self, code: str) -> int:
        if code not in self._types:
            rows = await self._search("stock.picking.type", [["code", "=", code]], ["id"])
            if not rows:
                raise ErpRejected(f"Odoo has no stock.picking.type with code {code!r}")
            self._types[code] = int(rows[0]["id"])
        return self._types[code]

    async def _place(self, which: str, here: str) -> int:
        return self.location(here) if which == "here" else await self.counterpart(which)

    # --- the port ----------------------------------------------------------------------------
    async def find(self, document: ErpDocument) -> Found | None:
        if isinstance(document, StockTransfer):
            rows = await self._search(
                "stock.picking",
                [["origin", "=", document.reference], ["state", "!=", "cancel"]],
                ["id", "state"],
            )
            return Found(str(rows[0]["id"]), rows[0]["state"] == "done") if rows else None
        if isinstance(document, StockCount):
            rows = await self._search(
                "stock.move",
                [["name", "=", document.reference], ["is_inventory", "=", True]],
                ["id", "state"],
            )
            return Found(str(rows[0]["id"]), True) if rows else None
        if isinstance(document, Invoice):
            rows = await self._search(
                "account.move",
                [
                    ["ref", "=", document.reference],
                    ["move_type", "=", "out_refund" if document.refund else "out_invoice"],
                    ["state", "!=", "cancel"],
                ],
                ["id", "state"],
            )
            return Found(str(rows[0]["id"]), rows[0]["state"] == "posted") if rows else None
        if isinstance(document, SalesOrder):
            rows = await self._search(
                "sale.order",
                [["client_order_ref", "=", document.reference], ["state", "!=", "cancel"]],
                ["id", "state"],
            )
            return Found(str(rows[0]["id"]), rows[0]["state"] in ("sale", "done")) if rows else None
        rows = await self._search(
            "sale.order", [["client_order_ref", "=", document.order_reference]], ["id", "state"]
        )
        if not rows:
            raise ErpRejected(f"no Odoo sale.order has the reference {document.order_reference!r}")
        return Found(str(rows[0]["id"]), rows[0]["state"] == "cancel")

    async def create(self, document: ErpDocument) -> Found:
        if isinstance(document, StockTransfer):
            return await self._create_picking(document)
        if isinstance(document, StockCount):
            return await self._set_count(document)
        if isinstance(document, Invoice):
            return await self._create_invoice(document)
        if isinstance(document, SalesOrder):
            return await self._create_order(document)
        raise ErpRejected(f"no Odoo sale.order has the reference {document.order_reference!r}")

    async def apply(self, document: ErpDocument, found: Found) -> None:
        ids = [int(found.id)]
        if isinstance(document, StockTransfer):
            await self.odoo.call(
                "stock.picking",
                "button_validate",
                ids=ids,
                context={**self.context, "skip_backorder": True},
            )
        elif isinstance(document, StockCount):
            await self.odoo.call(
                "stock.quant",
                "action_apply_inventory",
                ids=ids,
                context={
                    **self.context,
                    "inventory_mode": True,
                    "inventory_name": document.reference,
                },
            )
        elif isinstance(document, Invoice):
            await self.odoo.call("account.move", "action_post", ids=ids, context=self.context)
        elif isinstance(document, SalesOrder):
            await self.odoo.call("sale.order", "action_confirm", ids=ids, context=self.context)
        else:
            await self.odoo.call("sale.order", "action_cancel", ids=ids, context=self.context)

    # --- creating ----------------------------------------------------------------------------
    async def _create(self, model: str, vals: dict[str, Any], context: dict[str, Any]) -> int:
        if self.settings.company_id and model != "stock.quant":
            vals = {"company_id": self.settings.company_id, **vals}
        ids = await self.odoo.call(model, "create", vals_list=[vals], context=context)
        return int(ids[0] if isinstance(ids, list) else ids)

    async def _create_picking(self, d: StockTransfer) -> Found:
        code, src, dst = ROUTES[d.flow]
        source, destination = await self._place(src, d.location), await self._place(dst, d.location)
        moves = []
        for line in d.lines:
            assert line.sku is not None
            quantity = _num(line.quantity)
            moves.append(
                [
                    0,
                    0,
                    {
                        "name": d.reference,
                        "product_id": await self.product(line.sku),
                        "product_uom_qty": quantity,
                        "quantity": quantity,
                        "location_id": source,
                        "location_dest_id": destination,
                    },
                ]
            )
        vals: dict[str, Any] = {
            "picking_type_id": await self.picking_type(code),
            "location_id": source,
            "location_dest_id": destination,
            "origin": d.reference,
            "move_ids": moves,
        }
        if d.flow in (Flow.DELIVERY, Flow.CUSTOMER_RETURN):
            vals["partner_id"] = self.settings.partner_id
        return Found(str(await self._create("stock.picking", vals, self.context)), False)

    async def _set_count(self, d: StockCount) -> Found:
        product, location = await self.product(d.sku), self.location(d.location)
        context = {**self.context, "inventory_mode": True}
        rows = await self._search(
            "stock.quant",
            [["product_id", "=", product], ["location_id", "=", location]],
            ["id", "quantity"],
        )
        on_hand = Decimal(str(rows[0]["quantity"])) if rows else Decimal(0)
        counted = _num(on_hand + d.quantity if d.delta else d.quantity)
        if rows:
            quant = int(rows[0]["id"])
            await self.odoo.call(
                "stock.quant",
                "write",
                ids=[quant],
                vals={"inventory_quantity": counted},
                context=context,
            )
        else:
            quant = await self._create(
                "stock.quant",
                {"product_id": product, "location_id": location, "inventory_quantity": counted},
                context,
            )
        return Found(str(quant), False)

    async def _line(self, line: Line) -> dict[str, Any]:
        vals: dict[str, Any] = {"quantity": _num(line.quantity)}
        if line.sku is not None:
            vals["product_id"] = await self.product(line.sku)
        if line.label is not None:
            vals["name"] = line.label
        if line.price is not None:
            vals["price_unit"] = float(round(line.price, 6))
        return vals

    async def _create_invoice(self, d: Invoice) -> Found:
        vals: dict[str, Any] = {
            "move_type": "out_refund" if d.refund else "out_invoice",
            "partner_id": self.settings.partner_id,
            "ref": d.reference,
            "invoice_date": d.date[:10],
            "invoice_line_ids": [[0, 0, await self._line(x)] for x in d.lines],
        }
        if d.origin:
            vals["invoice_origin"] = d.origin
        if d.note:
            vals["narration"] = d.note
        if self.settings.journal_id:
            vals["journal_id"] = self.settings.journal_id
        return Found(str(await self._create("account.move", vals, self.context)), False)

    async def _create_order(self, d: SalesOrder) -> Found:
        lines = []
        for x in d.lines:
            assert x.sku is not None
            line: dict[str, Any] = {
                "product_id": await self.product(x.sku),
                "product_uom_qty": _num(x.quantity),
            }
            if x.price is not None:
                line["price_unit"] = float(x.price)
            lines.append([0, 0, line])
        vals = {
            "partner_id": self.settings.partner_id,
            "client_order_ref": d.reference,
            "date_order": odoo_datetime(d.date),
            "order_line": lines,
        }
        return Found(str(await self._create("sale.order", vals, self.context)), False)
