"""`stockbridge keys create` with bindings and a rate, and `stockbridge audit`."""

from __future__ import annotations

from typer.testing import CliRunner

from stockbridge.app.bootstrap import open_store
from stockbridge.app.clock import ManualClock
from stockbridge.app.keys import KeyService
from stockbridge.cli import app
from stockbridge.domain.access import Binding
from tests.conftest import START


def test_a_key_created_bound_and_rated_authenticates_with_them(runner: CliRunner, db: str) -> None:
    # When a key is created for one store's POS, with a rate
    result = runner.invoke(
        app,
        [
            "keys", "create", "pos-paris", "--scope", "events:write",
            "--source", "pos", "--location", "S1", "--location", "S1-BACK",
            "--rate", "5", "--database", db,
        ],
    )  # fmt: skip

    # Then the key carries its binding and its rate (burst twice the rate by default)
    assert result.exit_code == 0, result.output
    assert "bound to locations: S1, S1-BACK" in result.stderr
    store = open_store(db)
    try:
        principal = KeyService(store, ManualClock(START)).authenticate(result.stdout.strip())
        assert principal is not None
        assert principal.binding == Binding.of({"sources": ["pos"], "locations": ["S1", "S1-BACK"]})
        assert principal.rate == (5.0, 10)
    finally:
        store.close()


def test_a_rate_that_is_not_positive_is_refused(runner: CliRunner, db: str) -> None:
    result = runner.invoke(app, ["keys", "create", "x", "--rate", "0", "--database", db])
    assert result.exit_code == 2
    assert "rate" in result.stderr


def test_the_audit_command_lists_key_creation_and_revocation(runner: CliRunner, db: str) -> None:
    # Given a key created and revoked on the command line
    created = runner.invoke(app, ["keys", "create", "temp", "--database", db])
    assert created.exit_code == 0, created.output
    assert runner.invoke(app, ["keys", "revoke", "1", "--database", db]).exit_code == 0

    # When the audit log is listed, whole and by action
    whole = runner.invoke(app, ["audit", "--database", db])
    revokes = runner.invoke(app, ["audit", "--action", "key.revoke", "--database", db])

    # Then both actions are there, by the command line, and the filter keeps one
    assert whole.exit_code == 0, whole.output
    assert "key.create" in whole.stdout and "key.revoke" in whole.stdout
    assert "cli" in whole.stdout
    assert "key.create" not in revokes.stdout and "key.revoke" in revokes.stdout
    # And the key itself is never in the log
    assert created.stdout.strip() not in whole.stdout
