"""create_app(hub): the HTTP API v1. No wiring at import time."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request

from .. import __version__
from ..app.bootstrap import Hub
from . import (
    metrics,
    problems,
    routes_admin,
    routes_audit,
    routes_channels,
    routes_dashboard,
    routes_delivery,
    routes_documents,
    routes_events,
    routes_exceptions,
    routes_history,
    routes_positions,
    routes_prices,
    routes_reconciliation,
    routes_reservations,
    routes_returns,
    routes_slas,
    routes_trace,
    routes_webhooks,
)
from .body_limit import BodyLimit
from .context import RequestContext
from .deprecation import DeprecationHeaders, Deprecations
from .openapi import build as build_openapi
from .problems import JsonResponse
from .tracing import TracingMiddleware


def create_app(
    hub: Hub, *, manage_hub: bool = True, deprecations: Deprecations | None = None
) -> FastAPI:
    """The API over a hub. With `manage_hub`, the app starts and stops the hub's writer."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if manage_hub:
            hub.start()
        try:
            yield
        finally:
            if manage_hub:
                hub.stop()

    app = FastAPI(
        title="Stockbridge",
        version=__version__,
        summary="Inventory and workflow synchronization hub for retailers.",
        lifespan=lifespan,
        default_response_class=JsonResponse,
    )
    app.state.hub = hub
    deprecations = deprecations or Deprecations()
    if deprecations:
        # Only while something is deprecated: otherwise every answer would pass through it.
        app.add_middleware(DeprecationHeaders, deprecations=deprecations)
    app.add_middleware(BodyLimit, max_bytes=hub.settings.server.max_body_bytes)
    # Outermost: the correlation id is in the context of everything logged below.
    app.add_middleware(RequestContext)
    problems.install(app)
    if hub.tracing.enabled:
        app.add_middleware(TracingMiddleware, tracing=hub.tracing)
    app.include_router(routes_events.router)
    app.include_router(routes_positions.router)
    app.include_router(routes_admin.router)
    app.include_router(routes_exceptions.router)
    app.include_router(routes_history.router)
    app.include_router(routes_audit.router)
    app.include_router(routes_channels.router)
    app.include_router(routes_delivery.router)
    app.include_router(routes_documents.router)
    app.include_router(metrics.router(hub))
    app.include_router(routes_reservations.router)
    app.include_router(routes_prices.router)
    app.include_router(routes_reconciliation.router)
    app.include_router(routes_returns.router)
    app.include_router(routes_slas.router)
    app.include_router(routes_webhooks.router)
    app.include_router(routes_trace.router)
    app.include_router(routes_dashboard.router())

    @app.get("/healthz", tags=["operations"], summary="Liveness and a few vital figures")
    def healthz(request: Request) -> JsonResponse:
        h: Hub = request.app.state.hub
        return JsonResponse(
            {
                "status": "ok",
                "version": __version__,
                "database": h.store.dialect,
                "outbox_depth": h.store.outbox_depth(),
                "group_commits": h.writer.commits,
            }
        )

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = build_openapi(app, deprecations)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app
