"""The `stockbridge` command line."""

from __future__ import annotations

import math
import os
import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

from .config import ConfigError, Settings, load_settings
from .connectors.edi.cli import app as edi_app
from .connectors.files.cli import app as files_app
from .connectors.odoo.cli import app as erp_app
from .domain.errors import StockbridgeError
from .reconcile_cli import reconcile

app = typer.Typer(
    no_args_is_help=True, help="Stockbridge: one ledger of stock, in sync everywhere."
)
keys_app = typer.Typer(no_args_is_help=True, help="Create, list and revoke API keys.")
exceptions_app = typer.Typer(no_args_is_help=True, help="Work the business exception queue.")
bench_app = typer.Typer(
    help="Measure throughput and latency; with no command, run every benchmark.",
    invoke_without_command=True,
)
deliveries_app = typer.Typer(
    no_args_is_help=True, help="Inspect deliveries, replay dead letters, pause targets."
)
app.add_typer(keys_app, name="keys")
app.add_typer(exceptions_app, name="exceptions")
mappings_app = typer.Typer(
    no_args_is_help=True,
    help="History of cross references, channels and targets; roll back to a version.",
)
app.add_typer(mappings_app, name="mappings")
app.add_typer(deliveries_app, name="deliveries")
app.add_typer(bench_app, name="bench")
prices_app = typer.Typer(
    no_args_is_help=True, help="Import price books and promotions; check a price."
)
app.add_typer(prices_app, name="prices")

sim_app = typer.Typer(
    no_args_is_help=True,
    help="Run a platform simulator on its own: the same endpoints, limits and errors.",
)
app.add_typer(sim_app, name="sim")
app.add_typer(erp_app, name="erp")
app.add_typer(files_app, name="files")
app.add_typer(edi_app, name="edi")

app.command("reconcile")(reconcile)

console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="TOML configuration file.", exists=False)
]
DatabaseOpt = Annotated[
    str | None,
    typer.Option("--database", "-d", help="SQLite file path or postgresql:// URL."),
]


def _settings(config: Path | None, database: str | None = None, **overrides: Any) -> Settings:
    try:
        settings = load_settings(config)
        return settings.with_overrides(**{"database.url": database, **overrides})
    except ConfigError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None


def _hub(config: Path | None, database: str | None) -> Any:
    from .app.bootstrap import bootstrap

    return bootstrap(_settings(config, database))


def _audit(hub: Any, action: str, subject: tuple[str, str], detail: Any = None) -> None:
    """Keep an administrative action done on the command line in the audit log."""
    from .app.audit import CLI_ACTOR

    hub.audit.record(CLI_ACTOR, action, subject, detail)


@app.command()
def serve(
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on.")] = None,
) -> None:
    """Run the hub's HTTP API."""
    import uvicorn

    from . import logs
    from .api.app import create_app
    from .app.bootstrap import bootstrap
    from .runtime import tune_gc

    settings = _settings(config, database, **{"server.host": host, "server.port": port})
    logs.configure(
        settings.logging.level,
        settings.logging.json_logs,
        secrets=logs.secret_values(settings, os.environ),
    )
    hub = bootstrap(settings)
    try:
        hub.declare()
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    tune_gc()
    uvicorn.run(
        create_app(hub),
        host=settings.server.host,
        port=settings.server.port,
        log_config=None,
        access_log=False,
        loop="auto",
        http="auto",
    )


class Kind(StrEnum):
    items = "items"
    locations = "locations"
    xrefs = "xrefs"


@app.command("import-master")
def import_master(
    files: Annotated[list[Path], typer.Argument(help="CSV or JSON files.", exists=True)],
    kind: Annotated[
        Kind | None, typer.Option(help="What the files hold (else from the name).")
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Import items, locations or cross references from CSV or JSON files."""
    from .app.master import ImportFileError, MasterKind

    hub = _hub(config, database)
    failed = False
    for path in files:
        try:
            report = hub.master_data.import_file(path, MasterKind(kind.value) if kind else None)
        except ImportFileError as e:
            err.print(f"[red]{path}: {e}[/red]")
            failed = True
            continue
        _audit(
            hub,
            f"{report.kind.value}.upsert",
            (report.kind.value, "*"),
            {"file": str(path), "upserted": report.upserted, "rejected": len(report.errors)},
        )
        console.print(
            f"{path}: {report.kind.value}: {report.upserted} upserted, "
            f"{len(report.errors)} rejected"
        )
        for row_error in report.errors:
            err.print(
                f"  [yellow]{path}:{row_error.row}: {row_error.field}: {row_error.message}[/yellow]"
            )
        failed |= bool(report.errors)
    hub.close()
    raise typer.Exit(1 if failed else 0)


class PricingFileKind(StrEnum):
    prices = "prices"
    promotions = "promotions"


@prices_app.command("import")
def prices_import(
    files: Annotated[list[Path], typer.Argument(help="CSV or JSON files.", exists=True)],
    kind: Annotated[
        PricingFileKind | None,
        typer.Option(help="What the files hold (else from the name, or the JSON keys)."),
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Import price book entries or promotions; changes are queued for POS and channels."""
    from .app.master import ImportFileError
    from .app.pricing import PricingKind

    hub = _hub(config, database)
    failed = False
    try:
        for path in files:
            try:
                reports = hub.pricing.import_file(path, PricingKind(kind.value) if kind else None)
            except ImportFileError as e:
                err.print(f"[red]{path}: {e}[/red]")
                failed = True
                continue
            for report in reports:
                summary = report.as_dict()
                table = Table("row", "key", "status", title=f"{path}: {report.kind.value}")
                for row in report.imported:
                    key = (
                        f"{row['book']} {row['sku']} {row['scope']} from {row['start']}"
                        if "book" in row
                        else f"{row['id']} ({', '.join(row['skus'])}) {row['scope']}"
                    )
                    style = {"created": "green", "updated": "cyan"}.get(row["status"], "dim")
                    table.add_row(str(row["row"]), key, f"[{style}]{row['status']}[/{style}]")
                if report.imported:
                    console.print(table)
                console.print(
                    f"{path}: {report.kind.value}: {summary['upserted']} upserted, "
                    f"{summary['unchanged']} unchanged, {summary['rejected']} rejected, "
                    f"{report.published} delivery(ies) queued"
                )
                for row_error in report.errors:
                    err.print(
                        f"  [yellow]{path}:{row_error.row}: {row_error.field}: "
                        f"{row_error.message}[/yellow]"
                    )
                failed |= bool(report.errors)
    finally:
        hub.close()
    raise typer.Exit(1 if failed else 0)


@prices_app.command("check")
def prices_check(
    sku: Annotated[str, typer.Argument(help="SKU or GTIN.")],
    location: Annotated[str | None, typer.Option(help="Location code.")] = None,
    channel: Annotated[str | None, typer.Option(help="Channel name.")] = None,
    at: Annotated[str | None, typer.Option(help="ISO 8601 (UTC when no offset).")] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """The price in force for a SKU at a location or channel, now or at a given time."""
    from .app.pricing import price_view

    when = _when(at, "--at")
    hub = _hub(config, database)
    try:
        found = hub.pricing.check(sku, location=location, channel=channel, at=when)
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        hub.close()
    view = price_view(found)
    table = Table("field", "value", show_header=False, title=f"{view['sku']} at {view['at']}")
    table.add_row("price", f"{view['price']} {view['currency']}")
    table.add_row(
        "base", f"{view['base']['price']} ({view['base']['book']}, {view['base']['scope']})"
    )
    promotion = view["promotion"]
    table.add_row("promotion", promotion["id"] if promotion else "")
    table.add_row("effective from", view["effective_from"])
    table.add_row("until", view["effective_until"] or "no known end")
    console.print(table)


@keys_app.command("create")
def keys_create(
    name: Annotated[str, typer.Argument(help="Who uses the key, e.g. pos-paris.")],
    scope: Annotated[
        list[str], typer.Option("--scope", "-s", help="events:write, positions:read or admin.")
    ] = ["admin"],  # noqa: B006 - typer reads the default, never mutates it
    source: Annotated[
        list[str] | None,
        typer.Option("--source", help="Bind the key to this source (repeat for more)."),
    ] = None,
    location: Annotated[
        list[str] | None,
        typer.Option("--location", help="Bind the key to this location (repeat for more)."),
    ] = None,
    channel: Annotated[
        list[str] | None,
        typer.Option("--channel", help="Bind the key to this channel (repeat for more)."),
    ] = None,
    rate: Annotated[
        float | None, typer.Option(help="Requests per second this key may make.")
    ] = None,
    burst: Annotated[
        int | None, typer.Option(help="Requests at once above the rate (default: 2 x rate).")
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Create an API key. The key is printed once; only its hash is kept.

    A key bound to sources, locations or channels is refused (403) for any other.
    """
    from .domain.access import Binding

    binding = Binding.of(
        {"sources": source or [], "locations": location or [], "channels": channel or []}
    )
    limit = (rate, burst or max(1, math.ceil(2 * rate))) if rate is not None else None
    hub = _hub(config, database)
    try:
        key, record = hub.keys.create(name, scope, binding=binding, rate=limit)
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    finally:
        hub.close()
    err.print(f"created key #{record.id} '{record.name}' with scopes {' '.join(record.scopes)}")
    for dimension, values in record.bindings.items():
        err.print(f"  bound to {dimension}: {', '.join(values)}")
    print(key)


@keys_app.command("list")
def keys_list(config: ConfigOpt = None, database: DatabaseOpt = None) -> None:
    """List API keys (never the keys themselves)."""
    from .domain.model import from_micros

    hub = _hub(config, database)
    table = Table("id", "name", "prefix", "scopes", "bound to", "rate", "created", "revoked")
    for k in hub.store.api_keys():
        table.add_row(
            str(k.id),
            k.name,
            k.prefix + "…",
            " ".join(k.scopes),
            "\n".join(f"{d}: {', '.join(v)}" for d, v in k.bindings.items()),
            f"{k.rate_per_second:g}/s burst {k.rate_burst}" if k.rate_per_second else "",
            from_micros(k.created_us).isoformat(timespec="seconds"),
            from_micros(k.revoked_us).isoformat(timespec="seconds") if k.revoked_us else "",
        )
    hub.close()
    console.print(table)


@keys_app.command("revoke")
def keys_revoke(key_id: int, config: ConfigOpt = None, database: DatabaseOpt = None) -> None:
    """Revoke an API key by id."""
    hub = _hub(config, database)
    done = hub.keys.revoke(key_id)
    hub.close()
    if not done:
        err.print(f"[red]no key #{key_id}[/red]")
        raise typer.Exit(1)
    console.print(f"revoked key #{key_id}")


ByOpt = Annotated[
    str, typer.Option("--by", help="Who acts: the name recorded in the exception's thread.")
]
OlderOpt = Annotated[
    float | None, typer.Option("--older-than", help="Only exceptions at least this many hours old.")
]
NewerOpt = Annotated[
    float | None, typer.Option("--newer-than", help="Only exceptions at most this many hours old.")
]


def _hours(hours: float | None) -> float | None:
    return None if hours is None else hours * 3600


@exceptions_app.command("list")
def exceptions_list(
    status: Annotated[str | None, typer.Option(help="open, resolved or ignored.")] = "open",
    reason: Annotated[str | None, typer.Option(help="Reason code, e.g. unknown_sku.")] = None,
    source: Annotated[str | None, typer.Option()] = None,
    assignee: Annotated[str | None, typer.Option(help="Only those given to this person.")] = None,
    older_than: OlderOpt = None,
    newer_than: NewerOpt = None,
    overdue: Annotated[bool, typer.Option("--overdue", help="Only those past their SLA.")] = False,
    limit: Annotated[int, typer.Option()] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """List business exceptions, filtered by reason, source, owner and age."""
    from .api.routes_exceptions import exception_view
    from .app.triage import exception_filter

    hub = _hub(config, database)
    try:
        where = exception_filter(
            hub.clock.now(),
            status,
            reason,
            source,
            assignee,
            _hours(older_than),
            _hours(newer_than),
        )
        records = hub.triage.find(where, 0, limit, overdue=True if overdue else None)
        views = [exception_view(hub, r) for r in records]
    finally:
        hub.close()
    if as_json:
        from .api.problems import dumps

        for v in views:
            sys.stdout.write(dumps(v).decode() + "\n")
        return
    table = Table(
        "id", "reason", "source", "event", "seen", "status", "age", "owner", "esc", "detail"
    )
    for v in views:
        table.add_row(
            str(v["id"]),
            v["reason"],
            v["source"] or "",
            v["event_id"] or "",
            str(v["occurrences"]),
            v["status"],
            ("[red]" + _age(v["age_seconds"]) + " overdue[/red]")
            if v["overdue"]
            else _age(v["age_seconds"]),
            v["assignee"] or "",
            str(v["escalation"] or ""),
            v["detail"],
        )
    console.print(table)


@exceptions_app.command("show")
def exceptions_show(
    exception_id: int, config: ConfigOpt = None, database: DatabaseOpt = None
) -> None:
    """One exception: what, since when, who owns it, the payload and its thread."""
    from .api.problems import dumps
    from .api.routes_exceptions import exception_view
    from .domain.model import from_micros

    hub = _hub(config, database)
    try:
        view = exception_view(hub, hub.exceptions.get(exception_id))
        thread = hub.triage.thread(exception_id)
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        hub.close()
    facts = Table.grid(padding=(0, 2))
    for label, value in (
        ("reason", view["reason"]),
        ("detail", view["detail"]),
        ("source / event", f"{view['source'] or ''} / {view['event_id'] or ''}"),
        ("status", view["status"] + (f" ({view['resolution']})" if view["resolution"] else "")),
        ("age", _age(view["age_seconds"]) + (" overdue" if view["overdue"] else "")),
        ("owner", view["assignee"] or "nobody"),
        ("escalation", str(view["escalation"])),
        ("payload", dumps(view["payload"]).decode()),
    ):
        facts.add_row(f"[bold]{label}[/bold]", value)
    console.print(f"exception #{exception_id}")
    console.print(facts)
    notes = Table("when", "who", "what", "text", title="thread")
    for n in thread:
        at = from_micros(n.at_us).isoformat(timespec="seconds")
        notes.add_row(at, n.author, n.kind, n.text)
    console.print(notes)


def _act(config: Path | None, database: str | None, action: Any) -> Any:
    """Run one triage action on a hub; a refusal is printed and exits 1."""
    hub = _hub(config, database)
    try:
        return action(hub)
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        hub.close()


@exceptions_app.command("assign")
def exceptions_assign(
    exception_id: int,
    assignee: Annotated[str | None, typer.Argument(help="Who works it; omit to unassign.")] = None,
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Give an open exception to someone, or back to the pool."""
    record = _act(config, database, lambda hub: hub.triage.assign(exception_id, assignee, by))
    console.print(f"#{record.id} " + (f"assigned to {assignee}" if assignee else "unassigned"))


@exceptions_app.command("note")
def exceptions_note(
    exception_id: int,
    text: Annotated[str, typer.Argument(help="What was found or done.")],
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Add a note to an exception's thread."""
    if not text.strip():
        err.print("[red]the note is empty[/red]")
        raise typer.Exit(2)
    _act(config, database, lambda hub: hub.triage.note(exception_id, text, by))
    console.print(f"#{exception_id} noted")


@exceptions_app.command("escalate")
def exceptions_escalate(
    exception_id: int,
    note: Annotated[str | None, typer.Option(help="Why it is escalated.")] = None,
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Escalate an open exception one level."""
    record = _act(config, database, lambda hub: hub.triage.escalate(exception_id, by, note))
    console.print(f"#{record.id} escalated to level {record.escalation}")


@exceptions_app.command("replay")
def exceptions_replay(
    ids: Annotated[list[int] | None, typer.Argument(help="Exception ids; none = all open.")] = None,
    reason: Annotated[str | None, typer.Option(help="Only open ones with this reason.")] = None,
    source: Annotated[str | None, typer.Option()] = None,
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Replay exceptions after fixing their cause (for example a missing cross reference)."""
    from .app.exceptions import CannotReplay

    hub = _hub(config, database)
    try:
        if ids:
            outcomes = []
            for i in ids:
                try:
                    outcomes.append(hub.exceptions.replay(i, by))
                    _audit(hub, "exception.replay", ("exception", str(i)))
                except (CannotReplay, StockbridgeError) as e:
                    err.print(f"[yellow]#{i}: {e}[/yellow]")
        else:
            outcomes = hub.exceptions.replay_open(reason=reason, source=source, actor=by)
            for o in outcomes:
                _audit(hub, "exception.replay", ("exception", str(o.exception.id)))
    finally:
        hub.close()
    _print_replays(outcomes)


def _print_replays(outcomes: list[Any]) -> None:
    table = Table("id", "result", "reason", "now")
    for o in outcomes:
        table.add_row(
            str(o.exception.id), o.result.status.value, o.result.reason or "", o.exception.status
        )
    console.print(table)
    fixed = sum(1 for o in outcomes if o.exception.status == "resolved")
    console.print(f"{fixed} of {len(outcomes)} replayed exception(s) resolved")


@exceptions_app.command("ignore")
def exceptions_ignore(
    ids: Annotated[list[int] | None, typer.Argument(help="Exception ids; or use filters.")] = None,
    note: Annotated[str, typer.Option(help="Why they are closed without replay.")] = "",
    reason: Annotated[str | None, typer.Option(help="Every open one with this reason.")] = None,
    source: Annotated[str | None, typer.Option(help="Every open one from this source.")] = None,
    older_than: OlderOpt = None,
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Close exceptions without replaying them, with a note: by id, or by filter."""
    if not note.strip():
        err.print("[red]--note is required: say why they are closed[/red]")
        raise typer.Exit(2)
    filtered = reason is not None or source is not None or older_than is not None
    if bool(ids) == filtered:
        err.print("[red]give exception ids, or filters (--reason, --source, --older-than)[/red]")
        raise typer.Exit(2)

    def ignore(hub: Any) -> Any:
        from .app.triage import exception_filter

        where = exception_filter(
            hub.clock.now(), "open", reason, source, min_age_seconds=_hours(older_than)
        )
        chosen = ids or hub.triage.matching(where)
        outcome = hub.triage.ignore_many(chosen, note, by)
        for r in outcome.done:
            _audit(hub, "exception.ignore", ("exception", str(r.id)), {"note": note})
        return outcome

    outcome = _act(config, database, ignore)
    for s in outcome.skipped:
        err.print(f"[yellow]#{s.exception_id}: {s.why}[/yellow]")
    console.print(f"{len(outcome.done)} exception(s) ignored")
    if ids and outcome.skipped:
        raise typer.Exit(1)


@exceptions_app.command("fix-mapping")
def exceptions_fix_mapping(
    source: Annotated[str, typer.Argument(help="The system whose code did not map.")],
    kind: Annotated[str, typer.Argument(help="item or location.")],
    external_code: Annotated[str, typer.Argument(help="The source's own code.")],
    code: Annotated[str, typer.Argument(help="The enterprise SKU or location it means.")],
    by: ByOpt = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Add a cross reference and replay every open exception it resolves."""
    row = {"source": source, "kind": kind, "external_code": external_code, "code": code}
    fix = _act(config, database, lambda hub: hub.triage.fix_mapping([row], by))
    _print_replays(fix.replayed)
    console.print(
        f"{source} {kind} {external_code} -> {code}: {len(fix.resolved)} resolved, "
        f"{len(fix.still_failing)} still failing"
    )


# --- configuration history -------------------------------------------------------------------
class HistoryKindArg(StrEnum):
    xref = "xref"
    channel = "channel"
    target = "target"


_KEY_HELP = "A channel or target name; a cross reference as SOURCE/KIND/CODE (pos/item/4711)."


@mappings_app.command("history")
def mappings_history(
    kind: Annotated[HistoryKindArg, typer.Argument(help="xref, channel or target.")],
    key: Annotated[str | None, typer.Argument(help=_KEY_HELP + " Omit for the latest.")] = None,
    limit: Annotated[int, typer.Option()] = 50,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Every version of a cross reference, channel or target: who, when, what."""
    from .app.history import HistoryKind, changes, public
    from .domain.model import from_micros

    entries = _act(
        config, database, lambda hub: hub.history.entries(HistoryKind(kind.value), key, limit)
    )
    table = Table("key", "version", "when", "who", "action")
    table.add_column("what changed", overflow="fold")
    for e in entries:
        action = e.action + (f" to v{e.rollback_of}" if e.rollback_of else "")
        table.add_row(
            e.key,
            str(e.version),
            from_micros(e.at_us).isoformat(timespec="seconds"),
            e.actor,
            action,
            "; ".join(changes(public(e.kind, e.before), public(e.kind, e.after))) or "nothing",
        )
    console.print(table)


@mappings_app.command("rollback")
def mappings_rollback(
    kind: Annotated[HistoryKindArg, typer.Argument(help="xref, channel or target.")],
    key: Annotated[str, typer.Argument(help=_KEY_HELP)],
    to: Annotated[int, typer.Option("--to", help="The version to re-apply.", min=1)],
    by: Annotated[str, typer.Option("--by", help="Who asks: recorded in the history.")] = "cli",
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Re-apply an earlier version; the rollback is recorded as a new version."""
    from .app.history import CannotRollback, HistoryKind

    def rollback(hub: Any) -> Any:
        try:
            entry = hub.history.rollback(HistoryKind(kind.value), key, to, by)
        except CannotRollback as e:
            raise StockbridgeError(str(e)) from None
        _audit(
            hub,
            f"{kind.value}.rollback",
            (kind.value, key),
            {"to_version": to, "new_version": entry.version},
        )
        return entry

    entry = _act(config, database, rollback)
    console.print(f"{kind.value} {key}: version {to} re-applied as version {entry.version}")


@app.command("audit")
def audit(
    actor: Annotated[str | None, typer.Option(help="Key name, or 'cli'.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. key.create, target.pause.")] = None,
    since: Annotated[str | None, typer.Option(help="ISO 8601 instant (at or after).")] = None,
    until: Annotated[str | None, typer.Option(help="ISO 8601 instant (before).")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 100,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """The audit log: administrative actions and refused requests, oldest first."""
    from .domain.model import from_micros, to_micros

    since_at, until_at = _when(since, "--since"), _when(until, "--until")
    hub = _hub(config, database)
    try:
        entries = hub.store.audit_entries(
            actor=actor,
            action=action,
            since_us=to_micros(since_at) if since_at else None,
            until_us=to_micros(until_at) if until_at else None,
            limit=limit,
        )
    finally:
        hub.close()
    table = Table("id", "at", "actor", "action", "subject", "outcome", "detail")
    for e in entries:
        table.add_row(
            str(e.id),
            from_micros(e.at_us).isoformat(timespec="seconds"),
            e.actor,
            e.action,
            f"{e.subject_kind} {e.subject_key}",
            "[red]refused[/red]" if e.outcome == "refused" else e.outcome,
            ", ".join(f"{k}={v}" for k, v in e.detail.items()),
        )
    console.print(table)


# --- deliveries ------------------------------------------------------------------------------
class DeliveryKind(StrEnum):
    availability = "availability"
    posting = "posting"
    price = "price"


class DeliveryState(StrEnum):
    pending = "pending"
    in_flight = "in_flight"
    delivered = "delivered"
    dead = "dead"
    rejected = "rejected"
    superseded = "superseded"


CIRCUIT_CAPTION = (
    "circuit: unknown here. The CLI reads the database and runs no dispatcher; "
    "a running server shows its circuits at GET /v1/targets."
)


def _age(seconds: float | None) -> str:
    """A short age for a table: 42s, 7m, 3h, 2d."""
    if seconds is None:
        return ""
    s = max(0, int(seconds))
    for unit, size in (("d", 86_400), ("h", 3_600), ("m", 60)):
        if s >= size:
            return f"{s // size}{unit}"
    return f"{s}s"


def _last_outcome(status: int | None, error: str | None) -> str:
    """The last attempt in a cell: the error says the status itself when there was one."""
    text = error or (f"HTTP {status}" if status is not None else "")
    return text if len(text) <= 60 else text[:59] + "…"


def _when(value: str | None, option: str) -> Any:
    """An ISO 8601 option -> an aware datetime (UTC when no offset is given)."""
    from datetime import UTC, datetime

    if value is None:
        return None
    try:
        at = datetime.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(
            f"not an ISO 8601 date-time: {value!r}", param_hint=option
        ) from None
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


def _print_deliveries(hub: Any, records: list[Any], title: str | None = None) -> None:
    from .domain.model import to_micros

    now_us = to_micros(hub.clock.now())
    table = Table(
        "id",
        "target",
        "kind",
        "key",
        "state",
        "attempts",
        "coalesced",
        "last status/error",
        "age",
        title=title,
    )
    for d in records:
        table.add_row(
            str(d.id),
            d.target,
            d.kind,
            d.key,
            d.state,
            str(d.attempts),
            str(d.coalesced),
            _last_outcome(d.last_status, d.last_error),
            _age((now_us - d.created_us) / 1e6),
        )
    console.print(table)


def _print_json_lines(views: list[dict[str, Any]]) -> None:
    from .api.problems import dumps

    for view in views:
        sys.stdout.write(dumps(view).decode() + "\n")


@deliveries_app.command("list")
def deliveries_list(
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    kind: Annotated[
        DeliveryKind | None, typer.Option(help="availability, posting or price.")
    ] = None,
    state: Annotated[DeliveryState | None, typer.Option(help="Only deliveries in this state.")] = (
        None
    ),
    after_id: Annotated[int, typer.Option(help="Start after this id (paging).", min=0)] = 0,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """List deliveries, oldest first."""
    from .app.deliveries import delivery_view

    hub = _hub(config, database)
    try:
        records = hub.store.deliveries(
            target=target,
            kind=kind.value if kind else None,
            state=state.value if state else None,
            after_id=after_id,
            limit=limit,
        )
        if as_json:
            _print_json_lines([delivery_view(d) for d in records])
        else:
            _print_deliveries(hub, records)
    finally:
        hub.close()


@deliveries_app.command("show")
def deliveries_show(
    delivery_id: Annotated[int, typer.Argument(help="Delivery id.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Show a delivery, its payload and every attempt."""
    from rich.json import JSON

    from .api.problems import dumps
    from .app.deliveries import delivery_view

    hub = _hub(config, database)
    try:
        delivery = hub.deliveries.get(delivery_id)
        attempts = hub.store.attempts(delivery_id)
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        hub.close()
    view = delivery_view(delivery, attempts)
    if as_json:
        sys.stdout.write(dumps(view).decode() + "\n")
        return
    fields = Table("field", "value", show_header=False, title=f"delivery #{delivery.id}")
    for name in (
        "target",
        "kind",
        "key",
        "idempotency_key",
        "state",
        "priority",
        "attempts",
        "coalesced",
        "created_at",
        "updated_at",
        "next_attempt_at",
        "delivered_at",
        "last_status",
        "last_error",
    ):
        value = view[name]
        shown = value.isoformat(timespec="seconds") if hasattr(value, "isoformat") else value
        fields.add_row(name, "" if shown is None else str(shown))
    fields.add_row("causes", " ".join(delivery.causes))
    console.print(fields)
    console.print(JSON(dumps(delivery.payload).decode()))
    log = Table("at", "status", "ms", "verdict", "error", title="attempts")
    for a in view["attempt_log"]:
        log.add_row(
            a["at"].isoformat(timespec="seconds"),
            "" if a["status"] is None else str(a["status"]),
            f"{a['duration_ms']:.0f}",
            a["verdict"],
            a["error"] or "",
        )
    console.print(log)


@deliveries_app.command("replay")
def deliveries_replay(
    ids: Annotated[list[int], typer.Argument(help="Ids of dead or rejected deliveries.")],
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Send dead or rejected deliveries again, each with a fresh retry budget."""
    hub = _hub(config, database)
    requeued = 0
    unknown = False
    try:
        for delivery_id in ids:
            try:
                before = hub.deliveries.get(delivery_id)
                after = hub.deliveries.replay(delivery_id)
                _audit(hub, "delivery.replay", ("delivery", str(delivery_id)))
            except StockbridgeError as e:
                err.print(f"[red]{e}[/red]")
                unknown = True
                continue
            if before.state not in ("dead", "rejected"):
                err.print(
                    f"[yellow]#{delivery_id} is {before.state}: only dead or rejected "
                    "deliveries are replayed[/yellow]"
                )
            elif after.state == "superseded":
                err.print(
                    f"[yellow]#{delivery_id} superseded: a newer value for {after.key} "
                    "is queued or delivered[/yellow]"
                )
            else:
                requeued += 1
                console.print(f"#{delivery_id} {after.state}")
    finally:
        hub.close()
    console.print(f"{requeued} of {len(ids)} delivery(ies) requeued")
    if unknown:
        raise typer.Exit(1)


def _known_target(hub: Any, name: str | None) -> None:
    if name is not None and name not in hub.store.targets():
        hub.close()
        err.print(f"[red]target {name!r} not found[/red]")
        raise typer.Exit(1)


@deliveries_app.command("dead-letters")
def deliveries_dead_letters(
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    limit: Annotated[int, typer.Option(min=1, max=1000)] = 100,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """List dead letters: deliveries whose retry budget ran out."""
    from .app.deliveries import delivery_view

    hub = _hub(config, database)
    _known_target(hub, target)
    try:
        records = hub.store.deliveries(target=target, state="dead", limit=limit)
        if as_json:
            _print_json_lines([delivery_view(d) for d in records])
        else:
            _print_deliveries(hub, records, title="dead letters")
    finally:
        hub.close()


@deliveries_app.command("replay-dead")
def deliveries_replay_dead(
    target: Annotated[str | None, typer.Option(help="Only this target.")] = None,
    since: Annotated[
        str | None, typer.Option(help="Dead since (ISO 8601; UTC when no offset).")
    ] = None,
    until: Annotated[
        str | None, typer.Option(help="Dead until (ISO 8601; UTC when no offset).")
    ] = None,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Replay dead letters by target and time range (when they became dead)."""
    from .domain.model import to_micros

    since_at, until_at = _when(since, "--since"), _when(until, "--until")
    hub = _hub(config, database)
    _known_target(hub, target)
    try:
        matched = len(
            hub.store.dead_letter_ids(
                target,
                to_micros(since_at) if since_at else None,
                to_micros(until_at) if until_at else None,
            )
        )
        requeued = hub.deliveries.replay_dead_letters(target, since_at, until_at)
        _audit(hub, "dead_letters.replay", ("target", target or "*"), {"requeued": requeued})
    finally:
        hub.close()
    console.print(f"{requeued} of {matched} dead letter(s) requeued")
    if matched > requeued:
        console.print(
            f"{matched - requeued} superseded: a newer value for their channel and SKU exists"
        )


@deliveries_app.command("targets")
def deliveries_targets(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON lines.")] = False,
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Targets with pause state, backlog, oldest age and dead letters."""
    hub = _hub(config, database)
    try:
        targets = hub.deliveries.targets()
    finally:
        hub.close()
    for t in targets:
        # No dispatcher runs in this process: the breaker's state is not known here.
        t["circuit"] = {"state": "unknown"}
    if as_json:
        _print_json_lines(targets)
        return
    table = Table(
        "name",
        "paused",
        "backlog",
        "oldest",
        "dead letters",
        "circuit",
        "url",
        caption=CIRCUIT_CAPTION,
    )
    for t in targets:
        table.add_row(
            t["name"],
            "yes" if t["paused"] else "no",
            str(t["backlog"]),
            _age(t["oldest_age_seconds"]),
            str(t["dead_letters"]),
            t["circuit"]["state"],
            t["config"]["url"],
        )
    console.print(table)


def _pause(name: str, paused: bool, config: Path | None, database: str | None) -> None:
    hub = _hub(config, database)
    try:
        hub.deliveries.set_paused(name, paused)
        _audit(hub, "target.pause" if paused else "target.resume", ("target", name))
    except StockbridgeError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(1) from None
    finally:
        hub.close()


@deliveries_app.command("pause")
def deliveries_pause(
    name: Annotated[str, typer.Argument(help="Target name.")],
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Pause a target (maintenance window): its deliveries queue until it is resumed."""
    _pause(name, True, config, database)
    console.print(f"target {name} paused")


@deliveries_app.command("resume")
def deliveries_resume(
    name: Annotated[str, typer.Argument(help="Target name.")],
    config: ConfigOpt = None,
    database: DatabaseOpt = None,
) -> None:
    """Resume a paused target: its queue drains in order, at the target's rate."""
    _pause(name, False, config, database)
    console.print(f"target {name} resumed")


@app.command()
def demo(
    port: Annotated[int, typer.Option(help="Port of the hub and its dashboard.")] = 8000,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
    database: Annotated[
        str, typer.Option(help="Demo SQLite file (recreated).")
    ] = ".stockbridge/demo.db",
    acceleration: Annotated[
        float, typer.Option(help="Simulated seconds per wall-clock second.")
    ] = 60.0,
    seed: Annotated[int, typer.Option(help="Seed of the simulated estate's days.")] = 1,
    platforms_port: Annotated[
        int | None, typer.Option(help="Port of the simulated platforms (default: port + 1).")
    ] = None,
) -> None:
    """Run the hub on SQLite with a simulated estate trading live against it over HTTP,
    and serve the dashboard."""
    import secrets
    import threading

    import uvicorn

    from . import logs
    from .api.app import create_app
    from .app.bootstrap import bootstrap
    from .simulate.live import DEMO, LiveEstate, platforms_app

    for suffix in ("", "-wal", "-shm", "-writer"):
        Path(database + suffix).unlink(missing_ok=True)
    key = os.environ.get("STOCKBRIDGE_BOOTSTRAP_KEY") or "sbk_demo_" + secrets.token_urlsafe(12)
    settings = _settings(None, database, **{"server.host": host, "server.port": port})
    settings = settings.with_overrides(bootstrap_key=key)
    logs.configure("error", json=False)
    hub = bootstrap(settings)
    base = f"http://{host}:{port}"
    platforms_port = platforms_port or port + 1
    platforms_url = f"http://{host}:{platforms_port}"
    estate = LiveEstate(hub, base, key, acceleration=acceleration, seed=seed)
    estate.declare(platforms_url)
    platforms = uvicorn.Server(
        uvicorn.Config(
            platforms_app(estate.platforms, estate.commerce, estate.pos),
            host=host,
            port=platforms_port,
            log_config=None,
            access_log=False,
        )
    )
    threading.Thread(target=platforms.run, name="demo-platforms", daemon=True).start()
    console.rule("[bold]Stockbridge demo")
    console.print(f"Dashboard  {base}/#key={key}", soft_wrap=True)
    console.print(f"API        {base}   (OpenAPI: {base}/docs)")
    console.print(f"API key    {key}")
    console.print(f"Database   {database} (SQLite, recreated at each start)")
    console.print(
        f"Estate     {DEMO.summary} One simulated minute every {60 / acceleration:g} s; "
        f"the simulated platforms answer on {platforms_url}: Shopify under /shopify, "
        f"Amazon SP-API under /amazon-mkt-a, Square under /square (the till of "
        f"{', '.join(sorted(estate.pos.stores))}: its sales reach the hub as Square's signed "
        f"webhooks to /v1/webhooks/pos-square), the ERP at /erp."
    )
    console.print("Try:")
    auth = f'-H "Authorization: Bearer {key}"'
    console.print(f"  curl -s {auth} {base}/v1/positions/SKU-0001", soft_wrap=True)
    console.print(f"  curl -s {auth} {base}/v1/availability/web/SKU-0001", soft_wrap=True)
    console.print(f"  curl -s {auth} '{base}/v1/exceptions?status=open'", soft_wrap=True)
    console.print(
        f"  curl -s {platforms_url}/web   # what the Shopify storefront holds", soft_wrap=True
    )
    console.print("Ctrl-C stops the demo.")

    hub.start()
    estate.start()
    try:
        uvicorn.run(
            create_app(hub, manage_hub=False),
            host=host,
            port=port,
            log_config=None,
            access_log=False,
        )
    finally:
        estate.stop()
        platforms.should_exit = True
        hub.close()


@app.command()
def simulate(
    scenario: Annotated[
        str,
        typer.Option(help="last-unit, weekend-promo, marketplace-peak, bopis-dc or erp-outage."),
    ] = "weekend-promo",
    seed: Annotated[int, typer.Option(help="The same seed gives the same day.")] = 1,
    stores: Annotated[
        int | None, typer.Option(help="Stores (the scenario's own if unset).")
    ] = None,
    skus: Annotated[int | None, typer.Option(help="SKUs (the scenario's own if unset).")] = None,
    hours: Annotated[float | None, typer.Option(help="Trading hours simulated.")] = None,
    output: Annotated[
        Path, typer.Option(help="Folder for the HTML report and the JSON figures.")
    ] = Path("simulation"),
) -> None:
    """Run one trading day through the status quo and through Stockbridge, side by side."""
    import logging

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from .simulate.report import print_summary, write_html, write_json
    from .simulate.run import MODES
    from .simulate.run import simulate as run_simulation
    from .simulate.scenarios import scenario as preset

    try:
        chosen = preset(scenario).with_overrides(stores=stores, skus=skus, hours=hours)
    except ValueError as e:
        err.print(f"[red]{e}[/red]")
        raise typer.Exit(2) from None
    console.print(f"[bold]{chosen.name}[/bold]: {chosen.summary}")
    # The hub's own warnings (a store going stale) are the simulated day's weather here.
    logging.getLogger("stockbridge").setLevel(logging.ERROR)
    day_seconds = chosen.hours * 3600
    with Progress(
        TextColumn("{task.description:<12}"),
        BarColumn(),
        TextColumn("{task.fields[clock]}"),
        TimeElapsedColumn(),
        console=console,
    ) as bar:
        tasks = {m: bar.add_task(m, total=day_seconds, clock="--:--") for m in MODES}

        def progress(mode: str, now: float) -> None:
            hour = chosen.open_hour + int(now // 3600)
            minute = int(now % 3600 // 60)
            bar.update(
                tasks[mode], completed=min(now, day_seconds), clock=f"{hour:02d}:{minute:02d}"
            )

        figures = run_simulation(chosen, seed, progress=progress)
    print_summary(figures, console)
    output.mkdir(parents=True, exist_ok=True)
    stem = f"{chosen.name}-seed{seed}"
    write_json(figures, output / f"{stem}.json")
    write_html(figures, output / f"{stem}.html")
    console.print(f"Report: {output / (stem + '.html')}   Figures: {output / (stem + '.json')}")


@bench_app.command("ingest")
def bench_ingest(
    events: Annotated[int, typer.Option(help="Events per batch size measured.")] = 200_000,
    batch_sizes: Annotated[str, typer.Option(help="Comma-separated batch sizes.")] = "1,100,1000",
    output: Annotated[Path | None, typer.Option(help="Markdown file to update.")] = Path(
        "docs/benchmarks.md"
    ),
    workdir: Annotated[Path | None, typer.Option(help="Where to put the bench database.")] = None,
) -> None:
    """Events/s through the full ingest transaction on SQLite, and position read latency."""
    from .bench import run_ingest_bench

    run_ingest_bench(
        events=events,
        batch_sizes=[int(b) for b in batch_sizes.split(",")],
        output=output,
        workdir=workdir,
        console=console,
    )


@bench_app.command("propagate")
def bench_propagate(
    rates: Annotated[str, typer.Option(help="Comma-separated events/s to offer.")] = "1000,5000",
    seconds: Annotated[float, typer.Option(help="Seconds of load per rate.")] = 10.0,
    capped_rate: Annotated[int, typer.Option(help="Events/s for the capped run.")] = 1000,
    output: Annotated[Path | None, typer.Option(help="Markdown file to update.")] = Path(
        "docs/benchmarks.md"
    ),
    workdir: Annotated[Path | None, typer.Option(help="Where to put the bench database.")] = None,
    reads: Annotated[
        int, typer.Option(help="Lookups per second over HTTP during the load (0: none).", min=0)
    ] = 200,
) -> None:
    """Latency from a sale to the channel's receipt, pushes per event, capped backlog, and
    lookup latency meanwhile."""
    from .bench_propagate import run_propagate_bench

    run_propagate_bench(
        rates=[int(r) for r in rates.split(",")],
        seconds=seconds,
        capped_rate=capped_rate,
        output=output,
        workdir=workdir,
        console=console,
        reads=reads,
    )


@bench_app.command("floor")
def bench_floor(
    prefill: Annotated[int, typer.Option(help="Events in the ledger before measuring.")] = 400_000,
    per_commit: Annotated[str, typer.Option(help="Comma-separated rows per commit.")] = (
        "1000,5000,20000"
    ),
    output: Annotated[Path | None, typer.Option(help="Markdown file to update.")] = Path(
        "docs/benchmarks.md"
    ),
) -> None:
    """What SQLite alone writes in the ledger's shape: the bound under the ingest path."""
    from .bench_floor import run_floor_bench

    run_floor_bench(
        prefill=prefill,
        per_commit=[int(n) for n in per_commit.split(",")],
        output=output,
        console=console,
    )


@bench_app.command("simulate")
def bench_simulate(
    scenario: Annotated[str, typer.Option(help="The scenario simulated.")] = "weekend-promo",
    seed: Annotated[int, typer.Option()] = 1,
    stores: Annotated[int | None, typer.Option(help="Stores (the scenario's if unset).")] = None,
    hours: Annotated[float | None, typer.Option(help="Hours (the scenario's if unset).")] = None,
    output: Annotated[Path | None, typer.Option(help="Markdown file to update.")] = Path(
        "docs/benchmarks.md"
    ),
) -> None:
    """Simulated events per wall-clock second of a whole trading day, in both modes."""
    from .bench_simulate import run_simulate_bench

    run_simulate_bench(
        name=scenario, seed=seed, stores=stores, hours=hours, output=output, console=console
    )


@bench_app.callback()
def bench_all(ctx: typer.Context) -> None:
    """With no command: ingest, propagation and a simulated day, each rewriting its
    section of docs/benchmarks.md."""
    if ctx.invoked_subcommand is not None:
        return
    from .bench import run_ingest_bench
    from .bench_propagate import run_propagate_bench
    from .bench_simulate import run_simulate_bench

    output = Path("docs/benchmarks.md")
    run_ingest_bench(
        events=200_000, batch_sizes=[1, 100, 1000], output=output, workdir=None, console=console
    )
    run_propagate_bench(
        rates=[1000, 5000],
        seconds=10.0,
        capped_rate=1000,
        output=output,
        workdir=None,
        console=console,
    )
    run_simulate_bench(
        name="weekend-promo", seed=1, stores=None, hours=None, output=output, console=console
    )


SimHost = Annotated[str, typer.Option(help="Interface to listen on.")]
SimPort = Annotated[int, typer.Option(help="Port to listen on.")]
SimSeed = Annotated[int, typer.Option(help="Seed of the simulator's faults and ids.")]


def _serve_simulator(kind: str, host: str, port: int, seed: int) -> None:
    from .connectors.registry import simulator

    simulator(kind).serve(host=host, port=port, seed=seed)


@sim_app.command("shopify")
def sim_shopify(host: SimHost = "127.0.0.1", port: SimPort = 8081, seed: SimSeed = 1) -> None:
    """A Shopify store: GraphQL Admin API with its cost bucket, signed webhooks."""
    _serve_simulator("shopify", host, port, seed)


@sim_app.command("amazon")
def sim_amazon(host: SimHost = "127.0.0.1", port: SimPort = 8082, seed: SimSeed = 1) -> None:
    """An Amazon seller account: SP-API Listings Items and Feeds, LWA tokens, quotas."""
    _serve_simulator("amazon", host, port, seed)


@sim_app.command("odoo")
def sim_odoo(host: SimHost = "127.0.0.1", port: SimPort = 8084, seed: SimSeed = 1) -> None:
    """An Odoo ERP: JSON-2 and JSON-RPC endpoints, its models, maintenance and errors."""
    _serve_simulator("odoo", host, port, seed)


@sim_app.command("square")
def sim_square(host: SimHost = "127.0.0.1", port: SimPort = 8083, seed: SimSeed = 1) -> None:
    """A Square seller: Inventory API batch changes, signed webhooks."""
    _serve_simulator("square", host, port, seed)


def main() -> None:
    try:
        app()
    except ConfigError as e:
        err.print(f"[red]{e}[/red]")
        sys.exit(2)


if __name__ == "__main__":
    main()
