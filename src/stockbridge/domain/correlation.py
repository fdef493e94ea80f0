"""Correlation ids and W3C trace context, derived without I/O.

An event keeps the correlation id its source gave it. When the source gave none, the hub
makes one from the event's identity (source, event id): a resent event gets the same id,
whichever writer process or retry records it, so nothing has to be remembered between
attempts. Generated ids are 32 lowercase hex digits, the shape of a W3C trace id, so a
trace started from an event and the hub's own headers line up.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

#: W3C Trace Context version 00: version-traceid-parentid-flags.
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_HEX32 = re.compile(r"^[0-9a-f]{32}$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


def generated_correlation_id(source: str, event_id: str) -> str:
    """The correlation id made at ingest for an event its source sent without one."""
    # The unit separator cannot occur in either part's meaning: "a:b"+"c" != "a"+":bc".
    digest = hashlib.blake2b(f"{source}\x1f{event_id}".encode(), digest_size=16).hexdigest()
    return digest if digest != _ZERO_TRACE else "1" * 32


def trace_id_for(correlation_id: str) -> str:
    """The W3C trace id a correlation id travels under.

    A correlation id already shaped as a trace id (every generated one) is used as it is;
    any other text is hashed to one, so the same correlation id always gives the same
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
