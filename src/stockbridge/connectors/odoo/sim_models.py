"""The Odoo simulator's database: the records and the business methods the hub calls.

A small ORM over dicts: `search_read`/`search`/`read`/`search_count`/`create`/`write` on
every model, many2one values read back as `[id, display_name]`, one2many creation commands
`[0, 0, vals]`, and the actions Stockbridge uses with Odoo's effects and error messages:
`stock.quant.action_apply_inventory`, `stock.picking.button_validate`,
`account.move.action_post`, `sale.order.action_confirm` / `action_cancel`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

#: Fields holding a many2one (stored as an int, read as [id, name]) -> their model.
MANY2ONE = {
    "product_id": "product.product",
    "location_id": "stock.location",
    "location_dest_id": "stock.location",
    "partner_id": "res.partner",
    "picking_type_id": "stock.picking.type",
    "picking_id": "stock.picking",
    "uom_id": "uom.uom",
    "categ_id": "product.category",
    "pricelist_id": "product.pricelist",
    "journal_id": "account.journal",
    "move_id": "account.move",
    "order_id": "sale.order",
    "company_id": "res.company",
}
#: One2many fields created with `[0, 0, vals]`: field -> (child model, inverse field).
ONE2MANY = {
    ("stock.picking", "move_ids"): ("stock.move", "picking_id"),
    ("account.move", "invoice_line_ids"): ("account.move.line", "move_id"),
    ("sale.order", "order_line"): ("sale.order.line", "order_id"),
}
MODELS = (
    "res.company",
    "res.partner",
    "uom.uom",
    "product.category",
    "product.product",
    "product.packaging",
    "product.pricelist",
    "product.pricelist.item",
    "stock.location",
    "stock.picking.type",
    "stock.quant",
    "stock.move",
    "stock.picking",
    "account.journal",
    "account.move",
    "account.move.line",
    "sale.order",
    "sale.order.line",
)
_SEQUENCE_PREFIX = {"incoming": "WH/IN/", "outgoing": "WH/OUT/", "internal": "WH/INT/"}


class OdooError(Exception):
    """An exception raised by the simulated server, named as Odoo names it."""

    def __init__(self, name: str, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.status = status


def user_error(message: str) -> OdooError:
    return OdooError("odoo.exceptions.UserError", message, 422)


def _match(value: Any, op: str, wanted: Any) -> bool:
    if isinstance(value, list) and value and op in ("=", "!=", "in", "not in"):
        value = value[0]  # a many2one as [id, name]
    if value is None:
        value = False
    if op == "=":
        return bool(value == wanted)
    if op == "!=":
        return bool(value != wanted)
    if op == "in":
        return value in wanted
    if op == "not in":
        return value not in wanted
    if op in ("ilike", "like"):
        return isinstance(value, str) and str(wanted).lower().strip("%") in value.lower()
    if value is False:
        return False
    comparisons: dict[str, Callable[[Any, Any], bool]] = {
        ">": lambda a, b: a > b,
        ">=": lambda a, b: a >= b,
        "<": lambda a, b: a < b,
        "<=": lambda a, b: a <= b,
    }
    if op in comparisons:
        return comparisons[op](value, wanted)
    raise OdooError("builtins.ValueError", f"Invalid leaf operator {op!r}", 422)


def evaluate(domain: list[Any], record: dict[str, Any]) -> bool:
    """A domain in Odoo's Polish notation ('&', '|', '!', and implicit '&')."""
    stack: list[bool] = []
    for term in reversed(domain):
        if term == "&":
            stack.append(stack.pop() and stack.pop())
        elif term == "|":
            a, b = stack.pop(), stack.pop()
            stack.append(a or b)
        elif term == "!":
            stack.append(not stack.pop())
        else:
            name, op, wanted = term
            stack.append(_match(record.get(name, False), op, wanted))
    return all(stack)


@dataclass
class Database:
    """Every record of one Odoo database, and the order actions were applied in."""

    name: str = "stockbridge"
    tables: dict[str, dict[int, dict[str, Any]]] = field(
        default_factory=lambda: {m: {} for m in MODELS}
    )
    #: (model, method, record id, reference) of each applied action, in order.
    applied: list[tuple[str, str, int, str]] = field(default_factory=list)
    #: Invoices dated on or before this date cannot be posted (a closed period).
    lock_date: str | None = None
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))
    _sequences: dict[str, itertools.count[int]] = field(default_factory=dict)

    # --- plain ORM ---------------------------------------------------------------------------
    def table(self, model: str) -> dict[int, dict[str, Any]]:
        try:
            return self.tables[model]
        except KeyError:
            raise OdooError(
                "werkzeug.exceptions.NotFound", f"the model {model!r} does not exist", 404
            ) from None

    def display_name(self, model: str, rid: int) -> str:
        rec = self.tables.get(model, {}).get(rid, {})
        return str(rec.get("complete_name") or rec.get("name") or f"{model},{rid}")

    def _read(self, model: str, rec: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        names = fields or list(rec)
        out: dict[str, Any] = {"id": rec["id"]}
        for name in names:
            value = rec.get(name, False)
            if name in MANY2ONE and value:
                value = [value, self.display_name(MANY2ONE[name], value)]
            out[name] = value
        return out

    def search(
        self,
        model: str,
        domain: list[Any] | None = None,
        offset: int = 0,
        limit: int | None = None,
        order: str | None = None,
    ) -> list[int]:
        rows = [
            r
            for r in self.table(model).values()
            if r.get("active", True) is not False
            or any(isinstance(t, list) and t[0] == "active" for t in domain or [])
        ]
        ids = [r["id"] for r in rows if evaluate(list(domain or []), r)]
        ids.sort()
        if order and order.strip().lower().endswith("desc"):
            ids.reverse()
        return ids[offset : offset + limit if limit else None]

    def read(self, model: str, ids: list[int], fields: list[str] | None = None) -> list[Any]:
        table = self.table(model)
        missing = [i for i in ids if i not in table]
        if missing:
            raise self.missing(model, missing)
        return [self._read(model, table[i], fields) for i in ids]

    def missing(self, model: str, ids: list[int]) -> OdooError:
        return OdooError(
            "odoo.exceptions.MissingError",
            "Record does not exist or has been deleted.\n"
            f"(Record: {model}({', '.join(map(str, ids))},), User: 2)",
            404,
        )

    def _check_links(self, vals: dict[str, Any]) -> None:
        for name, value in vals.items():
            target = MANY2ONE.get(name)
            if target and value and target in self.tables and value not in self.tables[target]:
                raise self.missing(target, [value])

    def insert(self, model: str, vals: dict[str, Any]) -> int:
        rid = next(self._ids)
        children = {}
        own = {}
        for name, value in vals.items():
            if (model, name) in ONE2MANY:
                children[name] = value
            else:
                own[name] = value
        self._check_links(own)
        self.table(model)[rid] = {"id": rid, **own}
        for name, commands in children.items():
            child_model, inverse = ONE2MANY[(model, name)]
            ids = [
                self.insert(child_model, {**command[2], inverse: rid})
                for command in commands
                if isinstance(command, list) and command and command[0] == 0
            ]
            self.table(model)[rid][name] = ids
        return rid

    def next_name(self, key: str, prefix: str, width: int = 5) -> str:
        counter = self._sequences.setdefault(key, itertools.count(1))
        return f"{prefix}{next(counter):0{width}d}"

    # --- model methods -------------------------------------------------------------------------
    def create(
        self, model: str, vals_list: list[dict[str, Any]], context: dict[str, Any]
    ) -> list[int]:
        ids = []
        for vals in vals_list:
            vals = dict(vals)
            if model == "stock.quant":
                if not context.get("inventory_mode"):
                    raise user_error("Quant's creation is restricted, you can't do this operation.")
                vals.setdefault("quantity", 0.0)
                vals.setdefault("reserved_quantity", 0.0)
                vals["inventory_quantity_set"] = "inventory_quantity" in vals
            elif model == "stock.picking":
                vals.setdefault("state", "draft")
                kind = self.table("stock.picking.type").get(vals.get("picking_type_id", 0), {})
                vals["name"] = self.next_name(
                    f"picking:{kind.get('code')}",
                    _SEQUENCE_PREFIX.get(str(kind.get("code")), "WH/"),
                )
                for command in vals.get("move_ids", []):
                    command[2].setdefault("state", "draft")
                    command[2].setdefault("reference", vals["name"])
            elif model == "account.move":
                vals.setdefault("state", "draft")
                vals.setdefault("name", "/")
            elif model == "sale.order":
                vals.setdefault("state", "draft")
                vals["name"] = self.next_name("sale.order", "S")
            ids.append(self.insert(model, vals))
        return ids

    def write(
        self, model: str, ids: list[int], vals: dict[str, Any], context: dict[str, Any]
    ) -> bool:
        table = self.table(model)
        missing = [i for i in ids if i not in table]
        if missing:
            raise self.missing(model, missing)
        self._check_links(vals)
        for i in ids:
            table[i].update(vals)
            if model == "stock.quant" and "inventory_quantity" in vals:
                table[i]["inventory_quantity_set"] = True
        return True

    # --- stock ---------------------------------------------------------------------------------
    def _usage(self, location: int) -> str:
        return str(self.table("stock.location").get(location, {}).get("usage", "internal"))

    def quant(self, product: int, location: int) -> dict[str, Any]:
        for q in self.table("stock.quant").values():
            if q["product_id"] == product and q["location_id"] == location:
                return q
        rid = self.insert(
            "stock.quant",
            {
                "product_id": product,
                "location_id": location,
                "quantity": 0.0,
                "reserved_quantity": 0.0,
                "inventory_quantity_set": False,
            },
        )
        return self.table("stock.quant")[rid]

    def move_stock(self, product: int, source: int, destination: int, qty: float) -> None:
        """Quants exist at internal and transit locations only, as in Odoo."""
        for location, sign in ((source, -1), (destination, 1)):
            if self._usage(location) in ("internal", "transit"):
                q = self.quant(product, location)
                q["quantity"] = float(q["quantity"]) + sign * qty

    def on_hand(self, product: int, location: int) -> float:
        return sum(
            float(q["quantity"])
            for q in self.table("stock.quant").values()
            if q["product_id"] == product and q["location_id"] == location
        )

    def action_apply_inventory(self, ids: list[int], context: dict[str, Any]) -> None:
        quants = self.table("stock.quant")
        adjustment = next(
            (i for i, r in self.table("stock.location").items() if r.get("usage") == "inventory"),
            0,
        )
        for qid in ids:
            if qid not in quants:
                raise self.missing("stock.quant", [qid])
            q = quants[qid]
            if not q.get("inventory_quantity_set"):
                continue  # only quants whose count was set are applied
            diff = float(q["inventory_quantity"]) - float(q["quantity"])
            name = context.get("inventory_name") or (
                "Product Quantity Updated" if diff else "Product Quantity Confirmed"
            )
            source, dest = (
                (adjustment, q["location_id"]) if diff >= 0 else (q["location_id"], adjustment)
            )
            self.insert(
                "stock.move",
                {
                    "name": name,
                    "reference": name,
                    "product_id": q["product_id"],
                    "product_uom_qty": abs(diff),
                    "quantity": abs(diff),
                    "location_id": source,
                    "location_dest_id": dest,
                    "state": "done",
                    "is_inventory": True,
                },
            )
            q.update(
                quantity=float(q["inventory_quantity"]),
                inventory_quantity=0.0,
                inventory_quantity_set=False,
            )
            self.applied.append(("stock.quant", "action_apply_inventory", qid, str(name)))

    def button_validate(self, ids: list[int], context: dict[str, Any]) -> bool:
        pickings = self.table("stock.picking")
        for pid in ids:
            if pid not in pickings:
                raise self.missing("stock.picking", [pid])
            p = pickings[pid]
            if p["state"] == "cancel":
                raise user_error(
                    "You cannot validate a transfer if no quantities are reserved "
                    "nor done. To force the transfer, encode quantities."
                )
            if p["state"] == "done":
                continue
            moves = self.table("stock.move")
            if not p.get("move_ids"):
                raise user_error("Please add some items to move.")
            for mid in p["move_ids"]:
                m = moves[mid]
                qty = float(m.get("quantity") or m.get("product_uom_qty") or 0)
                self.move_stock(m["product_id"], m["location_id"], m["location_dest_id"], qty)
                m["state"] = "done"
            p["state"] = "done"
            self.applied.append(("stock.picking", "button_validate", pid, str(p.get("origin"))))
        return True

    # --- sales and invoicing ----------------------------------------------------------------------
    def action_post(self, ids: list[int], context: dict[str, Any]) -> bool:
        moves = self.table("account.move")
        for mid in ids:
            if mid not in moves:
                raise self.missing("account.move", [mid])
            m = moves[mid]
            if m["state"] == "posted":
                raise user_error(f"The entry {m['name']} (id {mid}) is already posted.")
            if not m.get("invoice_line_ids"):
                raise user_error("You need to add a line before posting.")
            date = str(m.get("invoice_date") or "")
            if self.lock_date and date and date <= self.lock_date:
                raise user_error(
                    "You cannot add/modify entries prior to and inclusive of the lock date "
                    f"{self.lock_date}."
                )
            lines = [self.table("account.move.line")[i] for i in m["invoice_line_ids"]]
            for line in lines:
                if "price_unit" not in line and line.get("product_id"):
                    product = self.table("product.product")[line["product_id"]]
                    line["price_unit"] = float(product.get("list_price", 0.0))
            m["amount_total"] = round(
                sum(float(x.get("quantity", 1)) * float(x.get("price_unit", 0)) for x in lines), 2
            )
            refund = m.get("move_type") == "out_refund"
            year = date[:4] or "2026"
            m["name"] = self.next_name(
                f"{m.get('move_type')}:{year}", f"{'RINV' if refund else 'INV'}/{year}/"
            )
            m["state"] = "posted"
            self.applied.append(("account.move", "action_post", mid, str(m.get("ref"))))
        return True

    def action_confirm(self, ids: list[int], context: dict[str, Any]) -> bool:
        orders = self.table("sale.order")
        for oid in ids:
            if oid not in orders:
                raise self.missing("sale.order", [oid])
            if orders[oid]["state"] not in ("draft", "sent"):
                raise user_error("Some orders are not in a state requiring confirmation.")
            orders[oid]["state"] = "sale"
            self.applied.append(
                ("sale.order", "action_confirm", oid, str(orders[oid].get("client_order_ref")))
            )
        return True

    def action_cancel(self, ids: list[int], context: dict[str, Any]) -> bool:
        orders = self.table("sale.order")
        for oid in ids:
            if oid not in orders:
                raise self.missing("sale.order", [oid])
            orders[oid]["state"] = "cancel"
            self.applied.append(
                ("sale.order", "action_cancel", oid, str(orders[oid].get("client_order_ref")))
            )
        return True

    # --- dispatch ------------------------------------------------------------------------
    ACTIONS: ClassVar[frozenset[tuple[str, str]]] = frozenset(
        {
            ("stock.quant", "action_apply_inventory"),
            ("stock.picking", "button_validate"),
            ("account.move", "action_post"),
            ("sale.order", "action_confirm"),
            ("sale.order", "action_cancel"),
        }
    )

    def execute(
        self,
        model: str,
        method: str,
        ids: list[int] | None,
        params: dict[str, Any],
        context: dict[str, Any],
    ) -> Any:
        """One call, with named parameters as JSON-2 sends them."""
        self.table(model)
        if method == "search_read":
            found = self.search(
                model,
                params.get("domain") or [],
                int(params.get("offset") or 0),
                params.get("limit"),
                params.get("order"),
            )
            return self.read(model, found, params.get("fields"))
        if method == "search":
            return self.search(
                model,
                params.get("domain") or [],
                int(params.get("offset") or 0),
                params.get("limit"),
                params.get("order"),
            )
        if method == "search_count":
            return len(self.search(model, params.get("domain") or []))
        if method == "read":
            return self.read(model, list(ids or []), params.get("fields"))
        if method == "create":
            vals_list = params.get("vals_list")
            if isinstance(vals_list, dict):
                return self.create(model, [vals_list], context)[0]
            return self.create(model, list(vals_list or []), context)
        if method == "write":
            return self.write(model, list(ids or []), dict(params.get("vals") or {}), context)
        if (model, method) in self.ACTIONS:
            action: Callable[[list[int], dict[str, Any]], Any] = getattr(self, method)
            return action(list(ids or []), context)
        raise OdooError(
            "builtins.AttributeError",
            f"The method '{method}' does not exist on the model '{model}'",
            422,
        )


# --- a starting catalogue -------------------------------------------------------------------------
def add(db: Database, model: str, **vals: Any) -> int:
    return db.insert(model, vals)


@dataclass(frozen=True)
class Catalogue:
    """Ids of the records a fresh simulated database starts with."""

    partner: int
    journal: int
    stock: dict[str, int]
    products: dict[str, int]
    supplier: int
    customer: int
    transit: int
    inventory: int


def seed_database(
    db: Database, products: dict[str, dict[str, Any]], locations: list[str]
) -> Catalogue:
    """Units, a category, a customer, a sales journal, the partner/transit/adjustment
    locations, the three operation types, one internal location per code and the products
    (`default_code` = SKU)."""
    add(db, "res.company", name="Stockbridge Retail")
    units = add(db, "uom.uom", name="Units")
    kg = add(db, "uom.uom", name="kg")
    category = add(db, "product.category", name="All / Saleable")
    partner = add(db, "res.partner", name="Store customers")
    journal = add(db, "account.journal", name="Customer Invoices", type="sale")
    supplier = add(
        db, "stock.location", name="Vendors", complete_name="Partners/Vendors", usage="supplier"
    )
    customer = add(
        db, "stock.location", name="Customers", complete_name="Partners/Customers", usage="customer"
    )
    transit = add(
        db,
        "stock.location",
        name="Inter-warehouse transit",
        complete_name="Virtual Locations/Inter-warehouse transit",
        usage="transit",
    )
    inventory = add(
        db,
        "stock.location",
        name="Inventory adjustment",
        complete_name="Virtual Locations/Inventory adjustment",
        usage="inventory",
    )
    for code, name in (
        ("incoming", "Receipts"),
        ("outgoing", "Delivery Orders"),
        ("internal", "Internal Transfers"),
    ):
        add(db, "stock.picking.type", name=name, code=code)
    stock = {
        code: add(
            db, "stock.location", name="Stock", complete_name=f"{code}/Stock", usage="internal"
        )
        for code in locations
    }
    ids = {}
    for sku, vals in products.items():
        unit = kg if vals.get("uom") == "kg" else units
        ids[sku] = add(
            db,
            "product.product",
            name=vals.get("name", sku),
            default_code=sku,
            barcode=vals.get("barcode", False),
            list_price=float(vals.get("list_price", 0)),
            uom_id=unit,
            categ_id=category,
            type="consu",
            active=True,
        )
    return Catalogue(partner, journal, stock, ids, supplier, customer, transit, inventory)
