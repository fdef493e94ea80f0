"""The server span of each API request, continuing the caller's W3C trace context."""

from __future__ import annotations

from typing import Any

from opentelemetry.trace import SpanKind

from ..tracing import Tracing


class TracingMiddleware:
    """Plain ASGI middleware (installed only when tracing is on, so it costs nothing off)."""

    def __init__(self, app: Any, tracing: Tracing) -> None:
        self.app = app
        self.tracing = tracing

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = {
            k.decode("latin-1"): v.decode("latin-1")
            for k, v in scope["headers"]
            if k == b"traceparent"
        }
        method = scope["method"]
        with self.tracing.span(
            f"{method} {scope['path']}",
            kind=SpanKind.SERVER,
            context=Tracing.incoming(incoming),
            attributes={"http.request.method": method, "url.path": scope["path"]},
        ) as span:

            async def send_traced(message: Any) -> None:
                if message["type"] == "http.response.start":
                    span.set_attribute("http.response.status_code", message["status"])
                await send(message)

            await self.app(scope, receive, send_traced)
            # Named by route template once routing has matched: one name per route.
            route = scope.get("route")
            if route is not None and hasattr(route, "path"):
                span.update_name(f"{method} {route.path}")
                span.set_attribute("http.route", route.path)
