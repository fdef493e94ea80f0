"""The GraphQL documents the connector sends, one operation per `.graphql` file."""

from __future__ import annotations

import re
from importlib import resources

_OPERATION = re.compile(r"^\s*(query|mutation)\s+([_A-Za-z][_0-9A-Za-z]*)", re.MULTILINE)


def load(filename: str) -> str:
    """A document shipped in this package's `graphql` folder."""
    return resources.files(__package__).joinpath("graphql", filename).read_text("utf-8")


def operation_name(document: str) -> str:
    m = _OPERATION.search(document)
    if m is None:
        raise ValueError("no named operation in the document")
    return m.group(2)


SET_AVAILABLE = load("set_available.graphql")
AVAILABLE_LEVELS = load("available_levels.graphql")
LOCATION_LEVELS = load("location_levels.graphql")
