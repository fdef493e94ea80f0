"""Pulls from a simulated Odoo over real HTTP: the item master, price lists and promotions,
and a stock snapshot, through the functions and the `stockbridge erp` commands."""

from __future__ import annotations

import asyncio
import csv
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap
from stockbridge.app.master import MasterKind
from stockbridge.app.pricing import PricingKind
from stockbridge.app.targets import TargetIn
from stockbridge.cli import app
from stockbridge.config import Settings
from stockbridge.connectors.odoo.client import OdooCaller
from stockbridge.connectors.odoo.config import OdooTargetSettings
from stockbridge.connectors.odoo.pull import pull_items, pull_prices, snapshot
from stockbridge.connectors.odoo.sim_models import add
from stockbridge.connectors.odoo.target import odoo_caller
from tests.conftest import seed_master

from .odoo_system import API_KEY_ENV, Odoo, credentials, odoo, target_body

__all__ = ["credentials", "odoo"]  # fixtures
T = TypeVar("T")


def with_odoo(
    odoo: Odoo, work: Callable[[OdooCaller, OdooTargetSettings], Awaitable[T]], **platform: Any
) -> T:
    body = target_body(odoo)
    body["platform"].update(platform)
    config = TargetIn.model_validate(body)

    async def run() -> T:
        async with httpx.AsyncClient() as client:
            caller, settings = odoo_caller(config, client, {API_KEY_ENV: odoo.state.api_key})
            return await work(caller, settings)

    return asyncio.run(run())


def catalogue(odoo: Odoo) -> None:
    """A packaging, a weighed product, a price list with a fixed price, and a sale list."""
    db, c = odoo.state.db, odoo.catalogue
    add(db, "product.packaging", name="CASE12", qty=12.0, product_id=c.products["TEE-M"])
    kg = next(i for i, u in db.table("uom.uom").items() if u["name"] == "kg")
    add(
        db,
        "product.product",
        name="Comte",
        default_code="CHEESE",
        uom_id=kg,
        list_price=24.0,
        barcode=False,
        active=True,
    )
    add(db, "product.product", name="Gift wrap", default_code=False, list_price=1.0)
    outlet = add(db, "product.pricelist", name="outlet")
    sale = add(db, "product.pricelist", name="Spring sale")
    add(
        db,
        "product.pricelist.item",
        pricelist_id=outlet,
        applied_on="0_product_variant",
        product_id=c.products["TEE-M"],
        compute_price="fixed",
        fixed_price=8.0,
        percent_price=0.0,
        date_start=False,
        date_end=False,
    )
    add(
        db,
        "product.pricelist.item",
        pricelist_id=sale,
        applied_on="0_product_variant",
        product_id=c.products["MUG"],
        compute_price="percentage",
        fixed_price=0.0,
        percent_price=20.0,
        date_start="2026-04-01 00:00:00",
        date_end="2026-04-15 00:00:00",
    )


def test_the_item_master_and_prices_are_imported_from_odoo(tmp_path: Path, odoo: Odoo) -> None:
    catalogue(odoo)
    hub = bootstrap(Settings().with_overrides(**{"database.url": str(tmp_path / "hub.db")}))
    try:
        # When the products are pulled and imported
        items, xrefs = with_odoo(odoo, lambda o, s: pull_items(o, s, "odoo"))
        assert hub.master_data.import_list(MasterKind.ITEMS, items).errors == []
        assert hub.master_data.import_list(MasterKind.XREFS, xrefs).errors == []
        # Then every product with an Internal Reference is an item, with its unit and cases
        md = hub.store.master_data()
        assert sorted(md.items) == ["CHEESE", "MUG", "TEE-M"]
        tee = md.items["TEE-M"]
        assert (tee.base_uom, tee.gtin, tee.conversions) == (
            "EA",
            "00012345678905",
            {"CASE12": Decimal(12)},
        )
        assert md.items["CHEESE"].base_uom == "KG"
        assert md.xrefs[("odoo", "item", str(odoo.catalogue.products["MUG"]))] == "MUG"  # type: ignore[index]
        # When the prices are pulled and imported
        prices, promotions = with_odoo(odoo, pull_prices, promotion_pricelists=[])
        report = hub.pricing.import_list(PricingKind.PRICES, prices)
        assert report.errors == [] and len(report.imported) == 4
        assert hub.pricing.import_list(PricingKind.PROMOTIONS, promotions).errors == []
        # Then list prices are the base book, the fixed item its own book, the % a promotion
        books = {(e.book, e.amount) for e in hub.store.prices_for_sku("TEE-M")}
        assert books == {("base", Decimal(10)), ("outlet", Decimal(8))}
        (promo,) = promotions
        assert (promo["skus"], promo["percent_off"]) == (["MUG"], "20.0")
        assert promo["start"] == "2026-04-01T00:00:00+00:00"
        # And pulling again changes nothing
        prices_again, _ = with_odoo(odoo, pull_prices)
        again = hub.pricing.import_list(PricingKind.PRICES, prices_again)
        assert {row["status"] for row in again.imported} == {"unchanged"}
    finally:
        hub.close()


def test_a_snapshot_reports_odoo_stock_per_sku_and_mapped_location(odoo: Odoo) -> None:
    db, c = odoo.state.db, odoo.catalogue
    db.move_stock(c.products["TEE-M"], c.supplier, c.stock["S1"], 7)
    db.move_stock(c.products["MUG"], c.supplier, c.stock["DC"], 2.5)
    unmapped = add(db, "stock.location", name="Elsewhere", usage="internal")
    db.move_stock(c.products["MUG"], c.supplier, unmapped, 4)
    now = datetime(2026, 3, 2, 12, tzinfo=UTC)
    rows = with_odoo(odoo, lambda o, s: snapshot(o, s, "erp", now))
    assert [(r["sku"], r["location"], r["on_hand"]) for r in rows] == [
        ("MUG", "DC", "2.5"),
        ("TEE-M", "S1", "7"),
    ]
    assert rows[0]["observed_at"] == "2026-03-02T12:00:00+00:00"


@pytest.mark.usefixtures("credentials")
def test_the_erp_commands_pull_master_data_and_write_a_snapshot(
    runner: CliRunner, db: str, odoo: Odoo
) -> None:
    c = odoo.catalogue
    odoo.state.db.move_stock(c.products["TEE-M"], c.supplier, c.stock["S2"], 3)
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}))
    seed_master(hub)
    hub.close()
    body = target_body(odoo)
    platform = body.pop("platform")
    lines = [
        "[targets.erp]",
        'kind = "odoo"',
        f'url = "{body["url"]}"',
        "postings = true",
        "[targets.erp.platform]",
        f'api_key_env = "{platform["api_key_env"]}"',
        f'database = "{platform["database"]}"',
        f"partner_id = {platform['partner_id']}",
        "[targets.erp.platform.locations]",
        *(f"{k} = {v}" for k, v in platform["locations"].items()),
    ]
    Path("hub.toml").write_text("\n".join(lines) + "\n")
    # When the item master is pulled
    result = runner.invoke(app, ["erp", "pull-master", "-t", "erp", "-c", "hub.toml", "-d", db])
    assert result.exit_code == 0, result.output
    assert "items: 2 upserted, 0 rejected" in result.stdout
    # And a snapshot is written as CSV
    result = runner.invoke(
        app, ["erp", "snapshot", "-t", "erp", "-c", "hub.toml", "-d", db, "-o", "snap.csv"]
    )
    assert result.exit_code == 0, result.output
    with open("snap.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert [(r["source"], r["sku"], r["location"], r["on_hand"]) for r in rows] == [
        ("erp", "TEE-M", "S2", "3")
    ]
    # And a target that is not there is named
    result = runner.invoke(app, ["erp", "snapshot", "-t", "nope", "-c", "hub.toml", "-d", db])
    assert result.exit_code == 2 and "no target named 'nope'" in result.stderr
