"""`stockbridge files`: take CSV drops from the watched folders, or check one file."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ...config import ConfigError, Settings, load_settings
from ...domain.errors import StockbridgeError
from .parse import LineError
from .watch import FileReport, HubSink, check_file, run_pass

if TYPE_CHECKING:
    from ...app.bootstrap import Hub

app = typer.Typer(
    no_args_is_help=True, help="Take CSV drops from watched folders; check a file first."
)
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="TOML configuration file.")]
DatabaseOpt = Annotated[
    str | None, typer.Option("--database", "-d", help="SQLite file path or postgresql:// URL.")
]


class BarProgress:
    """A rich progress bar per file, advanced at each batch submitted."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.bar: Progress | None = None
        self.task: TaskID | None = None

    def begin(self, name: str, total: int) -> None:
        self.bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=self.console,
        )
        self.bar.start()
        self.task = self.bar.add_task(name, total=total)

    def advance(self, done: int) -> None:
        if self.bar is not None and self.task is not None:
            self.bar.advance(self.task, done)

    def end(self) -> None:
        if self.bar is not None:
            self.bar.stop()
        self.bar = self.task = None


def _settings(config: Path | None, database: str | None) -> Settings:
    try:
        return load_settings(config).with_overrides(**{"database.url": database})
    except ConfigError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


def _hub(settings: Settings) -> Hub:
    from ...app.bootstrap import bootstrap

    return bootstrap(settings)


def _print_report(report: FileReport) -> None:
    where = f"{report.source}: {report.name}"
    if report.status == "refused":
        err.print(f"[red]{where}: refused: {report.reason}[/red] -> {report.moved_to}")
        return
    console.print(
        f"{where}: {report.lines} line(s), {report.accepted} applied, "
        f"{report.duplicates} already applied, {len(report.errors)} error(s) -> {report.moved_to}"
    )
    if report.skipped:
        err.print(
            f"[yellow]{where}: sequence gap, missing: "
            f"{', '.join(str(n) for n in report.skipped)}[/yellow]"
        )
    if report.error_file is not None:
        err.print(f"[yellow]{where}: line errors listed in {report.error_file}[/yellow]")


@app.command()
def watch(
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Take every complete drop of every configured source; with --once, one pass."""
    settings = _settings(config, database)
    sources = settings.files.sources
    if not sources:
        err.print("[red]no [files.sources.NAME] in the configuration[/red]")
        raise typer.Exit(2)
    hub = _hub(settings)
    sink = HubSink(hub)
    progress = BarProgress(console)
    failed = False
    try:
        while True:
            try:
                for report in run_pass(sources, sink, progress):
                    _print_report(report)
                    failed |= report.status == "refused" or bool(report.errors)
            except (StockbridgeError, OSError) as e:
                # The file being taken stays in the inbox; the next pass takes it again
                # (what it had applied is then a duplicate).
                err.print(f"[red]pass interrupted: {e}[/red]")
                failed = True
            if once:
                break
            time.sleep(settings.files.poll_seconds)
    except KeyboardInterrupt:
        pass
    finally:
        hub.close()
    raise typer.Exit(1 if once and failed else 0)


def _error_table(title: str, errors: list[LineError]) -> Table:
    table = Table("line", "column", "value", "message", title=title)
    for e in errors:
        table.add_row(str(e.line), e.column, e.value, e.message)
    return table


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The CSV file to check.", exists=True)],
    source: Annotated[str, typer.Option("--source", help="The [files.sources.NAME] it is for.")],
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Check a file by a source's rules and the master data, applying nothing."""
    settings = _settings(config, database)
    declared = settings.files.sources.get(source)
    if declared is None:
        known = ", ".join(settings.files.sources) or "none"
        err.print(f"[red]no source {source!r} in [files.sources] (known: {known})[/red]")
        raise typer.Exit(2)
    hub = _hub(settings)
    try:
        report = check_file(file, source, declared, hub.ingest.master.get())
    finally:
        hub.close()
    if report.refused is not None:
        err.print(f"[red]{file}: refused: {report.refused}[/red]")
        raise typer.Exit(1)
    if report.errors:
        console.print(_error_table(str(file), report.errors))
    console.print(
        f"{file}: {report.lines} line(s), {report.valid} valid, {len(report.errors)} error(s)"
    )
    raise typer.Exit(1 if report.errors else 0)


@app.command()
def bench(
    lines: Annotated[int, typer.Option(help="Lines in the dropped file.")] = 100_000,
    workdir: Annotated[
        Path | None, typer.Option(help="Where to put the bench database and folders.")
    ] = None,
) -> None:
    """Time a large drop on a throwaway hub: applied once, then dropped again."""
    import tempfile

    from .bench import run_bench

    with tempfile.TemporaryDirectory() as temp:
        result = run_bench(lines, workdir or Path(temp), BarProgress(console))
    console.print(
        f"{result.lines:,} lines: applied {result.first_applied:,} in "
        f"{result.first_seconds:.1f} s ({result.lines / result.first_seconds:,.0f} lines/s); "
        f"dropped again: {result.again_applied} applied, {result.again_duplicates:,} already "
        f"applied, in {result.again_seconds:.1f} s"
    )
