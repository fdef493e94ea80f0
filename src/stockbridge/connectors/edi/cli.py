"""`stockbridge edi`: check an X12 file, or poll the trading partners' folders."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from .ack import interchange_ack, wants_ta1
from .documents import summary
from .validate import check as check_file

app = typer.Typer(
    no_args_is_help=True, help="EDI X12 with 3PL warehouses: check files, poll partner folders."
)
console = Console(highlight=False, soft_wrap=True)


@app.command()
def check(
    file: Annotated[Path, typer.Argument(help="The X12 file to check.", exists=True)],
) -> None:
    """Check a file without applying it: what it holds, or each error with the segment
    position, segment and element at fault. Exits 1 when the hub would refuse it."""
    report = check_file(file.read_bytes())
    for i in report.interchanges:
        ic = i.interchange
        isa = ic.isa
        console.print(
            f"interchange {ic.control} from {'/'.join(ic.sender)} to {'/'.join(ic.receiver)}, "
            f"{isa.get(9)} {isa.get(10)}, version {isa.get(12)}, "
            f"{'test' if isa.get(15) == 'T' else 'production'}, {len(ic.groups)} group(s)"
        )
        for g in i.groups:
            group = g.group
            console.print(
                f"  group {group.functional_id} {group.control} version {group.version}: "
                f"{len(group.sets)} transaction set(s)"
            )
            for s in g.sets:
                verdict = "ok" if s.ok else "in error"
                console.print(
                    f"    set {s.tset.set_id} {s.tset.control} ({len(s.tset.segments)} "
                    f"segments, {verdict}): {summary(s.tset)}"
                )
        if wants_ta1(i):
            answer = interchange_ack(i)
            console.print(f"  answered by TA1: {answer[4]} (note code {answer[5]})")
        for note in ic.notes:
            console.print(
                f"  TA1 for interchange {note.get(1)}: {note.get(4)} (note code {note.get(5)})"
            )
    errors = report.errors()
    if not report.ok:
        for line in errors:
            console.print(f"error: {line}")
        console.print(f"{file.name}: would be refused ({len(errors)} error(s))")
        raise typer.Exit(1)
    console.print(f"{file.name}: valid")


@app.command()
def poll(
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="TOML configuration file.")
    ] = None,
    database: Annotated[
        str | None, typer.Option("--database", "-d", help="SQLite file path or postgresql:// URL.")
    ] = None,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    interval: Annotated[float, typer.Option(help="Seconds between passes.")] = 5.0,
) -> None:
    """Apply what each partner dropped in its inbound folder, answer with 997s, archive."""
    from ...cli import _settings
    from ...config import ConfigError
    from .config import load_partners
    from .poll import run_all

    settings = _settings(config, database, **{"ingest.writer": "thread"})
    try:
        partners = load_partners(settings.edi)
    except ConfigError as e:
        console.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    if not partners:
        console.print("[red]no [edi.partners.NAME] in the configuration[/red]")
        raise typer.Exit(2)
    from ...app.bootstrap import bootstrap

    hub = bootstrap(settings)
    try:
        while True:
            for result in run_all(partners, hub):
                for f in result.files:
                    console.print(f"{result.partner}: {f.file}: {f.status}")
                    for line in f.outcomes + f.errors:
                        console.print(f"  {line}")
                    for ack in f.acks:
                        console.print(f"  997 written: {ack}")
                for alert in result.alerts:
                    console.print(f"{result.partner}: {alert}")
            if once:
                return
            time.sleep(interval)
    finally:
        hub.close()


@app.command("simulate")
def simulate(
    inbox: Annotated[Path, typer.Option(help="The partner's outbound folder (940s, 997s).")],
    outbox: Annotated[Path, typer.Option(help="The partner's inbound folder.")],
    seed: Annotated[int, typer.Option(help="Picks the delimiters and numbers.")] = 1,
    stock: Annotated[float, typer.Option(help="Units of every item at the start.")] = 100,
    once: Annotated[bool, typer.Option("--once", help="One pass, then exit.")] = False,
    duplicate_945: Annotated[bool, typer.Option(help="Send every 945 twice.")] = False,
    late: Annotated[bool, typer.Option(help="Hold 945s back one pass.")] = False,
    malformed: Annotated[bool, typer.Option(help="Send one 945 with a wrong SE01.")] = False,
) -> None:
    """Play a 3PL warehouse: answer 940s with 997 and 945, 943s with 944."""
    from decimal import Decimal

    from .simulator import Faults, run

    faults = Faults(duplicate_945=duplicate_945, late=late, malformed=malformed)
    run(inbox, outbox, seed, Decimal(str(stock)), faults=faults, passes=1 if once else None)
