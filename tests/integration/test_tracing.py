"""OpenTelemetry spans from an API request to the connector's HTTP call, across the outbox.

Spans are collected with the OpenTelemetry SDK's in-memory exporter, handed to the hub
as its tracer provider; the target is a real webhook receiver over HTTP.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from stockbridge.api.app import create_app
from stockbridge.app.bootstrap import Hub, bootstrap, open_store
from stockbridge.config import TracingSettings
from stockbridge.domain.correlation import (
    event_correlation_id,
    parse_traceparent,
    traceparent_for,
)
from stockbridge.tracing import Tracing

from ..conftest import LiveServer, event, hub_settings, seed_master
from .conftest import SECRET, admin_client, put_target, settled, wait_for
from .receiver import Receiver

#: The caller's own trace: the hub's spans must continue it.
CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


@pytest.fixture
def shop() -> Iterator[Receiver]:
    with Receiver(secret=SECRET, seed=9) as r:
        yield r


def run_one_event(tmp_path: Path, shop: Receiver, tracing: Tracing | None) -> Hub:
    """One receipt posted with the caller's traceparent, pushed to `shop`; the hub is
    returned stopped, its store still open."""
    settings = hub_settings(**{"delivery.poll_interval_seconds": 0.01, "delivery.lease_seconds": 5})
    hub = bootstrap(settings, store=open_store(str(tmp_path / "hub.db")), tracing=tracing)
    seed_master(hub)
    server = LiveServer(create_app(hub)).start()
    with admin_client(server) as client:
        put_target(client, "shop", shop.url + "/inventory")
        r = client.put("/v1/channels/web", json={"locations": {"S1": 0}, "target": "shop"})
        assert r.status_code == 200, r.text
        r = client.post(
            "/v1/events",
            json={"events": [event("r1", "receipt", quantity=4)]},
            headers={"traceparent": f"00-{CALLER_TRACE}-{CALLER_SPAN}-01"},
        )
        assert r.json()["totals"]["accepted"] == 1
        wait_for(hub, lambda: settled(hub) and bool(shop.applied), "the push to be delivered")
    return hub


def ids(traceparent: str | None) -> tuple[str, str]:
    """(trace id, parent id) of a traceparent; the flags vary (sampled, random id)."""
    parsed = parse_traceparent(traceparent or "")
    assert parsed is not None, traceparent
    return parsed[0], parsed[1]


def ids_of(span: ReadableSpan) -> tuple[str, str]:
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}"


def one(spans: list[ReadableSpan], name: str) -> ReadableSpan:
    found = [s for s in spans if s.name == name]
    assert len(found) == 1, [s.name for s in spans]
    return found[0]


def test_one_event_makes_linked_spans_from_request_to_connector_call(
    tmp_path: Path, shop: Receiver
) -> None:
    # Given a hub tracing into memory
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    # When one event is posted under a caller's trace and pushed to the channel
    hub = run_one_event(tmp_path, shop, Tracing(provider))
    try:
        spans = list(exporter.get_finished_spans())
        (delivery,) = hub.store.deliveries(target="shop")
    finally:
        hub.close()

    # Then the request's span continues the caller's trace
    request = one(spans, "POST /v1/events")
    assert request.kind is SpanKind.SERVER
    assert request.parent is not None and f"{request.parent.span_id:016x}" == CALLER_SPAN
    assert f"{request.context.trace_id:032x}" == CALLER_TRACE
    # And the ingest transaction links to the request
    ingest = one(spans, "ingest transaction")
    assert [link.context.span_id for link in ingest.links] == [request.context.span_id]
    # And the delivery keeps the ingest span's context, which the send links to
    assert ids(delivery.traceparent) == ids_of(ingest)
    send = one(spans, "deliver shop")
    assert [link.context.span_id for link in send.links] == [ingest.context.span_id]
    assert dict(send.attributes or {})["stockbridge.correlation_id"] == (
        event_correlation_id("pos", "r1")
    )
    # And the connector's HTTP call is a client span under the send
    call = one(spans, "HTTP POST")
    assert call.kind is SpanKind.CLIENT
    assert call.parent is not None and call.parent.span_id == send.context.span_id
    assert dict(call.attributes or {})["http.response.status_code"] == 200
    # And the target got that call's span as its traceparent, with the correlation id
    (pushed,) = shop.applied
    assert ids(pushed.headers["traceparent"]) == ids_of(call)
    assert pushed.headers["x-correlation-id"] == event_correlation_id("pos", "r1")


def test_tracing_off_records_no_span_context_and_sends_the_derived_traceparent(
    tmp_path: Path, shop: Receiver
) -> None:
    # Given the default settings: tracing off
    tracing = Tracing.from_settings(TracingSettings())
    assert not tracing.enabled and tracing.provider is None
    # When one event is posted under a caller's trace and pushed to the channel
    hub = run_one_event(tmp_path, shop, None)
    try:
        (delivery,) = hub.store.deliveries(target="shop")
        app = create_app(hub)
    finally:
        hub.close()
    # Then nothing was traced: no tracing middleware, no span context kept with the delivery
    assert not hub.tracing.enabled
    installed = [m.cls.__name__ for m in app.user_middleware]  # type: ignore[attr-defined]
    assert "TracingMiddleware" not in installed
    assert delivery.traceparent is None
    # And the target got the traceparent derived from the correlation id and the delivery
    (pushed,) = shop.applied
    made = event_correlation_id("pos", "r1")
    assert pushed.headers["traceparent"] == traceparent_for(made, str(delivery.id))
    assert pushed.headers["x-correlation-id"] == made


def test_a_malformed_caller_traceparent_starts_a_new_trace(tmp_path: Path, shop: Receiver) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    hub = bootstrap(
        hub_settings(), store=open_store(str(tmp_path / "hub.db")), tracing=Tracing(provider)
    )
    seed_master(hub)
    try:
        # Given a hub tracing into memory, called in process
        app = create_app(hub, manage_hub=False)
        transport = httpx.ASGITransport(app=app)

        async def call() -> int:
            async with httpx.AsyncClient(transport=transport, base_url="http://hub") as client:
                r = await client.get(
                    "/v1/trace/x",
                    headers={"traceparent": "00-zz-yy-01", "Authorization": "Bearer none"},
                )
                return r.status_code

        # When a request comes with a traceparent that is not W3C
        assert asyncio.run(call()) == 401
        # Then its span starts a trace of its own, named by route
        (span,) = exporter.get_finished_spans()
        assert span.parent is None
        assert f"{span.context.trace_id:032x}" != CALLER_TRACE
        assert span.name == "GET /v1/trace/{correlation_id}"
        assert dict(span.attributes or {})["http.response.status_code"] == 401
    finally:
        hub.close()
