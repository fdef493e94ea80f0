"""Correlation ids and W3C trace context, derived without I/O.

An event keeps the correlation id its source gave it. When the source gave none, its id
is derived from the event's identity: `event:{source}:{event_id}`. A resent event gets
the same id whichever writer process or retry records it, nothing has to be stored for
it (the ledger keeps only ids a source sent, so the hot ingest path indexes nothing new),
and a trace can be found from the id alone through the event's own key.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any
from urllib.parse import unquote

#: W3C Trace Context version 00: version-traceid-parentid-flags.
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
EVENT_PREFIX = "event:"


def event_correlation_id(source: str, event_id: str) -> str:
    """The correlation id of an event its source sent without one.

    `%` and `:` in the source are percent-encoded, so the id names one event only.
    """
    if ":" in source or "%" in source:
        source = source.replace("%", "%25").replace(":", "%3A")
    return f"{EVENT_PREFIX}{source}:{event_id}"


def event_of_correlation_id(correlation_id: str) -> tuple[str, str] | None:
    """(source, event id) of an id made by `event_correlation_id`; None for any other."""
    if not correlation_id.startswith(EVENT_PREFIX):
        return None
    source, colon, event_id = correlation_id[len(EVENT_PREFIX) :].partition(":")
    if not (source and colon and event_id):
        return None
    return unquote(source), event_id


def trace_id_for(correlation_id: str) -> str:
    """The W3C trace id a correlation id travels under.

    A correlation id already shaped as a trace id (a source may send one) is used as it
    is; any other text is hashed to one, so the same correlation id always gives the same
    trace id.
    """
    if _HEX32.match(correlation_id) and correlation_id != _ZERO_TRACE:
        return correlation_id
    digest = hashlib.blake2b(correlation_id.encode(), digest_size=16).hexdigest()
    return digest if digest != _ZERO_TRACE else "1" * 32


def span_id_for(*parts: str) -> str:
    """A W3C parent id (16 hex digits, never all zeros) derived from `parts`."""
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).hexdigest()
    return digest if digest != _ZERO_SPAN else "1" * 16


def traceparent_for(correlation_id: str, delivery_ref: str) -> str:
    """A valid `traceparent` for an outbound call when no tracing span is active.

    The trace id comes from the correlation id and the parent id from the delivery, so
    every retry of a delivery sends the same header and a receiver can group all
    deliveries of one correlation id under one trace. Flags 01: sampled.
    """
    return f"00-{trace_id_for(correlation_id)}-{span_id_for(correlation_id, delivery_ref)}-01"


def parse_traceparent(header: str) -> tuple[str, str, int] | None:
    """(trace id, parent id, flags) of a version-00 `traceparent`, or None if malformed."""
    match = _TRACEPARENT.match(header.strip().lower())
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return trace_id, span_id, int(flags, 16)


def primary_correlation_id(payload: Any) -> str | None:
    """The correlation id a delivery is sent under: its document's, else its first event's."""
    if not isinstance(payload, dict):
        return None
    single = payload.get("correlation_id")
    if single:
        return str(single)
    many = payload.get("correlation_ids") or ()
    return str(many[0]) if many else None
