"""Shopify's global ids (`gid://shopify/Type/123`) and the numeric ids webhooks carry."""

from __future__ import annotations

import re

_GID = re.compile(r"^gid://shopify/([A-Za-z]+)/(\d+)(\?.*)?$")


def gid(kind: str, number: int | str) -> str:
    """`gid("Location", 905684977)` -> "gid://shopify/Location/905684977"."""
    return f"gid://shopify/{kind}/{number}"


def number(value: str | int, kind: str) -> int | None:
    """The numeric id of a gid of `kind` (or of a bare number); None if it is neither."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = str(value)
    if text.isdigit():
        return int(text)
    m = _GID.match(text)
    if m is None or m.group(1) != kind:
        return None
    return int(m.group(2))


def as_gid(value: str | int, kind: str) -> str:
    """A numeric id or a gid of `kind`, as a gid; ValueError for anything else."""
    n = number(value, kind)
    if n is None:
        raise ValueError(
            f"{value!r} is not a Shopify {kind} id (a number or gid://shopify/{kind}/N)"
        )
    return gid(kind, n)
