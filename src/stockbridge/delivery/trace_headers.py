"""Correlation headers on every connector HTTP call, and the span around each call.

Connectors build their requests in their own protocol's terms; the dispatcher's HTTP
client adds what every target gets, whatever its platform: `X-Correlation-Id` (the
delivery's primary correlation id) and a W3C `traceparent`. With tracing on, the
`traceparent` is that of the call's own span; with tracing off it is derived from the
correlation id (trace id) and the delivery (parent id), so it is valid, the same on every
retry, and the same trace id for every delivery of one correlation id.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

import httpx
from opentelemetry.trace import SpanKind, Status, StatusCode

from ..app.ports import Delivery
from ..domain.correlation import primary_correlation_id, traceparent_for
from ..tracing import Tracing

CORRELATION_HEADER = "X-Correlation-Id"


@dataclass(frozen=True, slots=True)
class Sending:
    """The delivery (or first of a batch) whose request is being made."""

    correlation_id: str | None
    delivery_ref: str


_sending: ContextVar[Sending | None] = ContextVar("stockbridge_sending", default=None)


@contextmanager
def sending(group: Sequence[Delivery]) -> Iterator[Sending]:
    """Mark the requests made in the block as sending `group` (first one names them)."""
    first = group[0]
    current = Sending(primary_correlation_id(first.payload), str(first.id))
    token = _sending.set(current)
    try:
        yield current
    finally:
        _sending.reset(token)


class TracedTransport(httpx.AsyncBaseTransport):
    """Wraps the dispatcher's transport: headers on every request, a span around each."""

    def __init__(self, inner: httpx.AsyncBaseTransport, tracing: Tracing) -> None:
        self.inner = inner
        self.tracing = tracing

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        current = _sending.get()
        with self.tracing.span(
            f"HTTP {request.method}",
            kind=SpanKind.CLIENT,
            attributes={
                "http.request.method": request.method,
                "url.full": str(request.url.copy_with(query=None)),
                "server.address": request.url.host,
            },
        ) as span:
            if current is not None:
                if current.correlation_id is not None:
                    request.headers.setdefault(CORRELATION_HEADER, current.correlation_id)
                parent = self.tracing.traceparent() if self.tracing.enabled else None
                if parent is None and current.correlation_id is not None:
                    parent = traceparent_for(current.correlation_id, current.delivery_ref)
                if parent is not None:
                    request.headers["traceparent"] = parent
            response = await self.inner.handle_async_request(request)
            span.set_attribute("http.response.status_code", response.status_code)
            if response.status_code >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return response

    async def aclose(self) -> None:
        await self.inner.aclose()
