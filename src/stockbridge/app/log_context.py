"""Correlation ids in the log lines the writer writes about events.

An HTTP request binds its own `X-Correlation-Id` (api/context.py), but ingest runs in the
writer's thread or child process, where that context is gone: the lines it writes about
events (an event parked, a group that failed) bind the ids of the events themselves, the
ones their traces are found by (`GET /v1/trace/{correlation_id}`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog

from ..domain.correlation import event_correlation_id
from .ports import NewException

log = logging.getLogger("stockbridge.app.ingest")

#: Parked events logged one by one per transaction; the rest are counted in one line.
MAX_PARKED_LINES = 20
#: Correlation ids named on a line about a whole group (a failed group commit).
MAX_GROUP_IDS = 20


def exception_correlation(exc: NewException) -> str | None:
    """The correlation id of a parked event: the one its source sent, else its derived one."""
    payload = exc.payload
    if isinstance(payload, dict):
        given = payload.get("correlation_id")
        if isinstance(given, str) and given:
            return given
    if exc.source and exc.event_id:
        return event_correlation_id(exc.source, exc.event_id)
    return None


def log_parked(exceptions: Sequence[NewException]) -> None:
    """A warning per event kept as a business exception, carrying that event's ids."""
    for exc in exceptions[:MAX_PARKED_LINES]:
        with structlog.contextvars.bound_contextvars(
            correlation_id=exception_correlation(exc),
            source=exc.source,
            event_id=exc.event_id,
            reason=exc.reason.value,
        ):
            log.warning("event parked as an exception: %s", exc.detail)
    if len(exceptions) > MAX_PARKED_LINES:
        log.warning(
            "%d more events parked in the same transaction",
            len(exceptions) - MAX_PARKED_LINES,
        )


def group_correlations(items: Sequence[Any]) -> list[str]:
    """The first correlation ids of a group's events (client batches), for a line about the
    whole group; computed only when such a line is written."""
    found: dict[str, None] = {}
    for item in items:
        for _, parsed, _ in getattr(item, "candidates", ()):
            found[parsed.correlation_id or event_correlation_id(*parsed.key)] = None
            if len(found) >= MAX_GROUP_IDS:
                return list(found)
    return list(found)


@contextmanager
def group_context(items: Sequence[Any]) -> Iterator[None]:
    """Bind the group's correlation ids to the lines written inside."""
    with structlog.contextvars.bound_contextvars(correlation_ids=group_correlations(items)):
        yield
