"""SQLite writers take turns through an exclusive lock on `<database>-writer`.

The kernel hands the lock to a waiting process as soon as it is released, instead of the
waiter polling the database lock between growing sleeps; these tests hold the lock from
the outside, as another process would, through a descriptor of their own.
"""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockbridge.adapters.sqlite import SqliteStore

BUMP = "UPDATE meta SET value = value + 1 WHERE name = 'master_version'"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqliteStore]:
    s = SqliteStore(tmp_path / "hub.db")
    s.migrate()
    yield s
    s.close()


@pytest.fixture
def other_process_lock(tmp_path: Path) -> Iterator[int]:
    """A descriptor of the turn file of its own, as another writer process has."""
    fd = os.open(tmp_path / "hub.db-writer", os.O_RDWR | os.O_CREAT)
    yield fd
    os.close(fd)


def _free(fd: int) -> bool:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    fcntl.flock(fd, fcntl.LOCK_UN)
    return True


def test_a_write_transaction_holds_the_turn_until_it_commits(
    store: SqliteStore, other_process_lock: int
) -> None:
    # Given a store between write transactions
    assert _free(other_process_lock)
    # When it runs one, then the turn is taken for as long as it lasts
    with store.transaction():
        assert not _free(other_process_lock)
    # And given back when it commits
    assert _free(other_process_lock)


def test_a_failed_transaction_gives_the_turn_back(
    store: SqliteStore, other_process_lock: int
) -> None:
    # Given a write transaction that fails half way
    with pytest.raises(RuntimeError), store.transaction():
        raise RuntimeError("the ingest step failed")
    # Then the turn is free again and the next write goes through
    assert _free(other_process_lock)
    store.write(BUMP)
    assert store.read("SELECT value FROM meta WHERE name = 'master_version'")[0][0] >= 1


def test_a_writer_waits_for_another_process_and_goes_as_soon_as_it_is_done(
    store: SqliteStore, other_process_lock: int
) -> None:
    # Given another process in the middle of its write turn
    before = store.read("SELECT value FROM meta WHERE name = 'master_version'")[0][0]
    fcntl.flock(other_process_lock, fcntl.LOCK_EX)
    done = threading.Event()

    def write() -> None:
        store.write(BUMP)
        done.set()

    writer = threading.Thread(target=write, daemon=True)
    writer.start()
    try:
        # When this store writes, then it waits (a bound on a wait that must not end)
        assert not done.wait(0.3)
    finally:
        # And once the other process releases its turn, the write is made
        fcntl.flock(other_process_lock, fcntl.LOCK_UN)
    assert done.wait(10)
    writer.join(10)
    after = store.read("SELECT value FROM meta WHERE name = 'master_version'")[0][0]
    assert after == before + 1
