"""Fixtures shared by the integration modules: the CLI runner and its database, and the
server processes a test starts."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A database path; the working folder is tmp_path so file names in output stay short."""
    monkeypatch.chdir(tmp_path)
    # The CLI reads the environment: keep a developer's settings out of the test.
    monkeypatch.delenv("STOCKBRIDGE_DATABASE", raising=False)
    monkeypatch.delenv("STOCKBRIDGE_BOOTSTRAP_KEY", raising=False)
    return str(tmp_path / "hub.db")


@pytest.fixture
def servers() -> Iterator[list[Any]]:
    """Every server process a test starts is killed at its end, pass or fail."""
    started: list[Any] = []
    try:
        yield started
    finally:
        for s in started:
            s.stop()
