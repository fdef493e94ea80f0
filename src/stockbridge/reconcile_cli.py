"""`stockbridge reconcile SYSTEM`: pull a snapshot from the system (or read a file of
it), compare it with the ledger, apply the system's policy, and show the report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from .app.snapshots import SnapshotError, parse_upload, snapshot_path
from .config import ConfigError, load_settings
from .domain.errors import NotFound
from .domain.model import to_micros
from .domain.reconciliation import Difference

console = Console()
err = Console(stderr=True)

#: Rows of the report shown on the terminal; the CSV (--output) holds them all.
SHOWN = 50


def reconcile(
    system: Annotated[str, typer.Argument(help="A system of [reconciliation.systems].")],
    file: Annotated[
        Path | None,
        typer.Option(
            "--file", "-f", help="A snapshot file (CSV or JSON) instead of a pull.", exists=True
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        typer.Option(help="The instant the file describes (RFC 3339 with an offset)."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write the report as CSV here.")
    ] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML configuration file.")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="SQLite file path or postgresql:// URL.")
    ] = None,
) -> None:
    """Reconcile a system's stock with the ledger; exit 1 if anything differs."""
    from .app.bootstrap import bootstrap

    try:
        settings = load_settings(config).with_overrides(**{"database.url": database})
    except ConfigError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    hub = bootstrap(settings)
    service = hub.reconciliation
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
    )
    task = bar.add_task(f"comparing {system}", total=None)

    def progress(done: int, total: int) -> None:
        bar.update(task, completed=done, total=total)

    try:
        with bar:
            if file is None:
                record = service.pull(system, progress)
            else:
                if as_of is None:
                    err.print("[red]--as-of: give the instant the file describes[/red]")
                    raise typer.Exit(2)
                at = datetime.fromisoformat(as_of)
                if at.tzinfo is None:
                    err.print("[red]--as-of: the instant needs a UTC offset[/red]")
                    raise typer.Exit(2)
                content, kind = snapshot_path(file)
                snapshot = parse_upload(content, kind, to_micros(at))
                record = service.run(system, snapshot, "upload", progress)
    except (NotFound, SnapshotError, ValueError) as e:
        err.print(f"[red]{e}[/red]")
        hub.close()
        raise typer.Exit(2) from None
    lines = service.lines(record.id)
    for bad in record.summary.get("rejected", []):
        err.print(f"[yellow]line {bad['line']}: {bad['field']}: {bad['message']}[/yellow]")
    _show(system, lines)
    console.print(
        f"run {record.id}: {record.lines_read} line(s), {record.matched} equal, "
        f"{record.differing} differ ({record.drift_units.normalize():f} units, value "
        f"{record.drift_value.normalize():f}), {record.lines_rejected} unreadable; "
        f"actions: {record.summary.get('actions') or 'none'}"
    )
    if output is not None:
        output.write_text(service.report_csv(record.id))
        console.print(f"report written to {output}")
    hub.close()
    raise typer.Exit(1 if record.differing else 0)


def _show(system: str, lines: list[Difference]) -> None:
    if not lines:
        return
    table = Table("SKU", "location", "hub", system, "difference", "value", "cause", "action")
    for d in lines[:SHOWN]:
        table.add_row(
            d.sku or f"({d.system_sku})",
            d.location or f"({d.system_location})",
            "" if d.hub is None else f"{d.hub.normalize():f}",
            f"{d.system.normalize():f}",
            f"{d.difference.normalize():+f}",
            "" if d.value is None else f"{d.value.normalize():f}",
            d.cause.value,
            d.action.value,
        )
    console.print(table)
    if len(lines) > SHOWN:
        console.print(f"… and {len(lines) - SHOWN} more (see --output)")
