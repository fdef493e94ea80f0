"""OpenTelemetry tracing: spans of API requests, ingest transactions and deliveries.

Off by default. When on, spans go to an OTLP/HTTP collector; tests hand in their own
tracer provider (the SDK's in-memory exporter). No global provider is installed: the hub
carries its `Tracing`, so two hubs in one process (tests, the simulator) never share one.

The ingest transaction and the dispatcher meet only through the outbox, so the ingest
span's context is stored with each delivery (`deliveries.traceparent`) and the
dispatcher's send span links to it.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, TraceFlags
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .domain.correlation import parse_traceparent

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from .config import TracingSettings

_PROPAGATOR = TraceContextTextMapPropagator()
INSTRUMENTATION = "stockbridge"


def span_context_of(traceparent: str | None) -> SpanContext | None:
    """The remote span context a `traceparent` header names; None when absent or bad."""
    parsed = parse_traceparent(traceparent) if traceparent else None
    if parsed is None:
        return None
    trace_id, span_id, flags = parsed
    return SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(flags)
    )


class Tracing:
    """The hub's tracer; with no provider every span is a no-op and costs next to nothing."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self.provider = provider
        self.enabled = provider is not None
        self.tracer: trace.Tracer = (
            provider.get_tracer(INSTRUMENTATION) if provider is not None else trace.NoOpTracer()
        )

    @classmethod
    def from_settings(cls, settings: TracingSettings) -> Tracing:
        """OTLP/HTTP export when `enabled`; a tracer that records nothing otherwise."""
        if not settings.enabled:
            return cls()
        # The SDK and exporter load only when tracing is on.
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor
        from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

        provider = TracerProvider(
            resource=Resource.create({"service.name": settings.service_name}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        provider.add_span_processor(
            BatchSpanProcessor(OTLPSpanExporter(endpoint=settings.otlp_endpoint))
        )
        return cls(provider)

    def shutdown(self) -> None:
        """Flush spans still buffered (at stop)."""
        if self.provider is not None:
            self.provider.shutdown()

    @staticmethod
    def traceparent() -> str | None:
        """The `traceparent` of the current span, if one is recording or was propagated."""
        carrier: dict[str, str] = {}
        _PROPAGATOR.inject(carrier)
        return carrier.get("traceparent")

    @staticmethod
    def incoming(headers: Any) -> Context | None:
        """The caller's trace context from request headers (W3C `traceparent`)."""
        if "traceparent" not in headers:
            return None
        return _PROPAGATOR.extract({"traceparent": headers["traceparent"]})

    @staticmethod
    def links(traceparents: Sequence[str | None]) -> list[Link]:
        """Links to the spans these `traceparent`s name (duplicates and bad ones dropped)."""
        seen: dict[str, Link] = {}
        for tp in traceparents:
            ctx = span_context_of(tp)
            if tp is not None and ctx is not None and tp not in seen:
                seen[tp] = Link(ctx)
        return list(seen.values())

    @contextmanager
    def span(
        self,
        name: str,
        *,
        kind: SpanKind = SpanKind.INTERNAL,
        links: Sequence[Link] = (),
        context: Context | None = None,
        attributes: dict[str, Any] | None = None,
    ) -> Iterator[Span]:
        """A span made current for the block; a non-recording one when tracing is off."""
        if not self.enabled:
            yield trace.INVALID_SPAN
            return
        with self.tracer.start_as_current_span(
            name, context=context, kind=kind, links=links, attributes=attributes
        ) as span:
            yield span
