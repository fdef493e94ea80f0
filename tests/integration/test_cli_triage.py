"""`stockbridge exceptions` as a workbench and `stockbridge mappings`, run in-process with
typer's CliRunner on a SQLite file."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from stockbridge.app.bootstrap import bootstrap, open_store
from stockbridge.app.clock import ManualClock, SystemClock
from stockbridge.app.history import HistoryKind
from stockbridge.cli import app
from stockbridge.config import Settings
from tests.conftest import START, event, seed_master


def parked_hub(db: str) -> dict[str, int]:
    """A hub with three parked sales (two on pos item 9001, one from the web); event id
    -> exception id."""
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=ManualClock(START))
    seed_master(hub)
    hub.ingest.ingest(
        [
            event("a", "sale", sku="9001"),
            event("b", "sale", sku="9001", quantity=2),
            event("w", "sale", sku="OLD", source="web"),
        ]
    )
    ids = {r.event_id or "": r.id for r in hub.store.exceptions()}
    hub.close()
    return ids


def listed(runner: CliRunner, db: str, *options: str) -> list[dict[str, object]]:
    result = runner.invoke(app, ["exceptions", "list", "--json", "--database", db, *options])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def test_an_exception_is_worked_from_the_command_line(runner: CliRunner, db: str) -> None:
    # Given parked sales
    ids = parked_hub(db)
    a = str(ids["a"])

    # When an operator takes one, notes it and escalates it
    assign = runner.invoke(app, ["exceptions", "assign", a, "nadia", "--by", "nadia", "-d", db])
    note = runner.invoke(app, ["exceptions", "note", a, "new supplier code", "-d", db])
    escalate = runner.invoke(app, ["exceptions", "escalate", a, "--note", "item team", "-d", db])

    # Then the list shows the owner and the level, and the filters find it
    for result in (assign, note, escalate):
        assert result.exit_code == 0, result.output
    assert "escalated to level 1" in escalate.stdout
    mine = listed(runner, db, "--assignee", "nadia")
    assert [(x["id"], x["assignee"], x["escalation"]) for x in mine] == [(ids["a"], "nadia", 1)]
    # And `show` prints the thread in order, with who did what
    shown = runner.invoke(app, ["exceptions", "show", a, "-d", db])
    assert shown.exit_code == 0, shown.output
    thread = shown.stdout[shown.stdout.index("thread") :]
    assert thread.index("assigned to nadia") < thread.index("new supplier code")
    assert thread.index("new supplier code") < thread.index("escalated to level 1")
    assert "nadia" in thread and "cli" in thread
    assert runner.invoke(app, ["exceptions", "show", "999", "-d", db]).exit_code == 1


def test_fix_mapping_replays_what_it_resolves_and_ignore_takes_a_filter(
    runner: CliRunner, db: str
) -> None:
    # Given two pos sales parked on item 9001 and one web sale
    ids = parked_hub(db)

    # When the mapping is fixed from the command line
    fixed = runner.invoke(
        app, ["exceptions", "fix-mapping", "pos", "item", "9001", "MUG", "-d", db]
    )

    # Then both pos sales are replayed and accepted, the web one waits
    assert fixed.exit_code == 0, fixed.output
    assert "pos item 9001 -> MUG: 2 resolved, 0 still failing" in fixed.stdout
    assert [x["id"] for x in listed(runner, db)] == [ids["w"]]

    # When the web exceptions are ignored by filter, first without a note
    no_note = runner.invoke(app, ["exceptions", "ignore", "--source", "web", "-d", db])
    ignored = runner.invoke(
        app, ["exceptions", "ignore", "--source", "web", "--note", "retired", "-d", db]
    )

    # Then the note is required, and with it the queue is empty
    assert no_note.exit_code == 2
    assert ignored.exit_code == 0, ignored.output
    assert "1 exception(s) ignored" in ignored.stdout
    assert listed(runner, db) == []
    closed = listed(runner, db, "--status", "ignored")
    assert [(x["id"], x["note"], x["resolution"]) for x in closed] == [
        (ids["w"], "retired", "ignored")
    ]


def test_mappings_history_and_rollback(runner: CliRunner, db: str) -> None:
    # Given a cross reference seeded (version 1), then changed by a fix (version 2)
    parked_hub(db)
    runner.invoke(app, ["exceptions", "fix-mapping", "pos", "item", "4711", "MUG", "-d", db])

    # When its history is shown and version 1 rolled back to
    shown = runner.invoke(app, ["mappings", "history", "xref", "pos/item/4711", "-d", db])
    rolled = runner.invoke(
        app, ["mappings", "rollback", "xref", "pos/item/4711", "--to", "1", "--by", "ops", "-d", db]
    )
    missing = runner.invoke(
        app, ["mappings", "rollback", "xref", "pos/item/4711", "--to", "9", "-d", db]
    )

    # Then both versions were listed, and the rollback re-applied version 1 as version 3
    assert shown.exit_code == 0, shown.output
    assert "TEE-M" in shown.stdout and "MUG" in shown.stdout
    assert rolled.exit_code == 0, rolled.output
    assert "version 1 re-applied as version 3" in rolled.stdout
    assert missing.exit_code == 1
    store = open_store(db)
    try:
        assert store.master_data().sku_for("pos", "4711") == "TEE-M"
        newest = store.config_history(HistoryKind.XREF.value, "pos/item/4711", limit=1)[0]
        assert (newest.action, newest.actor, newest.rollback_of) == ("rollback", "ops", 1)
    finally:
        store.close()


def test_overdue_lists_the_overdue_ones_however_many_come_first(runner: CliRunner, db: str) -> None:
    # Given an exception parked just now, then older ones past their SLA (higher ids)
    hub = bootstrap(Settings().with_overrides(**{"database.url": db}), clock=SystemClock())
    seed_master(hub)
    hub.ingest.ingest([event("fresh", "sale", sku="NEW-ITEM")])
    hub.close()
    ids = parked_hub(db)
    # When the overdue ones are listed a page of one at a time
    first = listed(runner, db, "--overdue", "--limit", "1")
    # Then the page holds an overdue exception, not the fresh one filtered out of it
    assert [(x["id"], x["overdue"]) for x in first] == [(ids["a"], True)]
    assert {x["event_id"] for x in listed(runner, db, "--overdue")} == {"a", "b", "w"}
