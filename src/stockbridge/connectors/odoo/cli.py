"""`stockbridge erp ...`: pull the item master, prices and a stock snapshot from Odoo.

The connection is an Odoo target's: `--target NAME` names a `[targets.NAME]` of the
configuration file (or one stored with `PUT /v1/targets/NAME`) of kind `odoo`; its
credentials come from the environment variables its settings name.
"""

from __future__ import annotations

import asyncio
import csv
import io
import os
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, TypeVar

import httpx
import orjson
import typer
from rich.console import Console

app = typer.Typer(
    no_args_is_help=True,
    help="Pull the item master, price lists and a stock snapshot from the ERP (Odoo).",
)
console = Console()
err = Console(stderr=True)
T = TypeVar("T")

TargetOpt = Annotated[str, typer.Option("--target", "-t", help="The Odoo target to read from.")]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database", "-d", help="SQLite file path or postgresql:// URL.")
]


def _hub(config: Path | None, database: str | None) -> Any:
    from ...app.bootstrap import bootstrap
    from ...config import ConfigError, load_settings

    try:
        settings = load_settings(config).with_overrides(**{"database.url": database})
    except ConfigError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    return bootstrap(settings)


def _target(hub: Any, name: str) -> Any:
    from ...app.targets import TargetIn

    raw = hub.settings.targets.get(name)
    if raw is None:
        stored = hub.store.targets().get(name)
        raw = stored[0] if stored else None
    if raw is None:
        err.print(f"[red]--target: no target named {name!r}[/red]")
        raise typer.Exit(2)
    try:
        config = TargetIn.model_validate(raw)
    except ValueError as e:
        err.print(f"[red]targets.{name}: {e}[/red]")
        raise typer.Exit(2) from None
    if config.kind != "odoo":
        err.print(f"[red]--target: {name!r} is a {config.kind} target, not odoo[/red]")
        raise typer.Exit(2)
    return config


def _call(config: Any, work: Callable[[Any, Any], Awaitable[T]]) -> T:
    """Run `work(odoo, settings)` with a client for the target; errors end the command."""
    from ..erp.port import ErpRejected, ErpUnavailable
    from .target import odoo_caller

    async def run() -> T:
        async with httpx.AsyncClient() as client:
            odoo, settings = odoo_caller(config, client, os.environ)
            return await work(odoo, settings)

    try:
        return asyncio.run(run())
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    except (ErpUnavailable, ErpRejected) as e:
        err.print(f"[red]Odoo: {e}[/red]")
        raise typer.Exit(1) from None


def _report(label: str, summary: dict[str, Any], errors: list[Any]) -> bool:
    console.print(
        f"{label}: {summary.get('upserted', 0)} upserted, {summary.get('rejected', 0)} rejected"
    )
    for e in errors:
        err.print(f"  [yellow]{label} row {e.row}: {e.field}: {e.message}[/yellow]")
    return bool(errors)


@app.command("pull-master")
def pull_master(target: TargetOpt, config: ConfigOpt = None, database: DatabaseOpt = None) -> None:
    """Import Odoo's products as items (and their Odoo ids as cross references)."""
    from ...app.master import MasterKind
    from .pull import pull_items

    hub = _hub(config, database)
    try:
        items, xrefs = _call(_target(hub, target), lambda o, s: pull_items(o, s, target))
        failed = False
        for kind, rows in ((MasterKind.ITEMS, items), (MasterKind.XREFS, xrefs)):
            report = hub.master_data.import_list(kind, rows)
            failed |= _report(kind.value, report.as_dict(), report.errors)
    finally:
        hub.close()
    raise typer.Exit(1 if failed else 0)


@app.command("pull-prices")
def pull_prices_cmd(
    target: TargetOpt, config: ConfigOpt = None, database: DatabaseOpt = None
) -> None:
    """Import list prices and price list items as price books and promotions."""
    from ...app.pricing import PricingKind
    from .pull import pull_prices

    hub = _hub(config, database)
    try:
        prices, promotions = _call(_target(hub, target), pull_prices)
        failed = False
        for kind, rows in ((PricingKind.PRICES, prices), (PricingKind.PROMOTIONS, promotions)):
            report = hub.pricing.import_list(kind, rows)
            failed |= _report(kind.value, report.as_dict(), report.errors)
    finally:
        hub.close()
    raise typer.Exit(1 if failed else 0)


def write_rows(rows: list[dict[str, Any]], out: Path) -> None:
    """JSON (a list) or, for a `.csv` name, CSV with a header."""
    if out.suffix.lower() == ".csv":
        buffer = io.StringIO()
        fields = ["source", "sku", "location", "on_hand", "reserved", "observed_at"]
        writer = csv.DictWriter(buffer, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
        out.write_text(buffer.getvalue(), encoding="utf-8")
    else:
        out.write_bytes(orjson.dumps(rows, option=orjson.OPT_INDENT_2))


@app.command("snapshot")
def snapshot_cmd(
    target: TargetOpt,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="A .json or .csv file (else stdout).")
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Odoo's stock per SKU and location, for reconciliation against the ledger."""
    from .pull import snapshot

    hub = _hub(config, database)
    try:
        now = datetime.now(UTC)
        rows = _call(_target(hub, target), lambda o, s: snapshot(o, s, target, now))
    finally:
        hub.close()
    if out is None:
        console.print_json(orjson.dumps(rows).decode())
    else:
        write_rows(rows, out)
        console.print(f"{len(rows)} stock level(s) written to {out}")
