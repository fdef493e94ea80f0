"""The operations dashboard: a static page (public) and the JSON it reads (a read scope).

The page holds no data of its own. It asks for an API key, keeps it in the browser tab's
session storage and sends it only to this hub's API: the Content-Security-Policy below
lets the page talk to its own origin and nothing else, and load nothing from elsewhere.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from ..app.keys import Scope
from .auth import hub_of, require
from .problems import JsonResponse

#: The page's own files, shipped as package data beside this module.
ASSETS = {
    "index.html": "text/html; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "dashboard.js": "text/javascript; charset=utf-8",
    "common.js": "text/javascript; charset=utf-8",
    "trace.html": "text/html; charset=utf-8",
    "trace.js": "text/javascript; charset=utf-8",
    "reconciliation.html": "text/html; charset=utf-8",
    "reconciliation.js": "text/javascript; charset=utf-8",
    "exceptions.html": "text/html; charset=utf-8",
    "exceptions.css": "text/css; charset=utf-8",
    "exceptions.js": "text/javascript; charset=utf-8",
    "slas.html": "text/html; charset=utf-8",
    "slas.js": "text/javascript; charset=utf-8",
}

_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    ),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    # Always revalidated, so a hub upgrade is seen at the next load.
    "Cache-Control": "no-cache",
}


def _load_assets() -> dict[str, bytes]:
    folder = files("stockbridge.api").joinpath("dashboard")
    return {name: folder.joinpath(name).read_bytes() for name in ASSETS}


def router() -> APIRouter:
    """The pages, their files, and `/v1/dashboard/*`. Reads the files once, here."""
    assets = _load_assets()
    routes = APIRouter()

    def asset(name: str) -> Response:
        return Response(assets[name], media_type=ASSETS[name], headers=_HEADERS)

    def page(path: str, name: str) -> None:
        def serve() -> Response:
            return asset(name)

        serve.__name__ = "dashboard_" + name.replace(".", "_")
        routes.api_route(path, methods=["GET", "HEAD"], include_in_schema=False)(serve)

    page("/", "index.html")
    page("/dashboard", "index.html")
    page("/dashboard/dashboard.css", "dashboard.css")
    page("/dashboard/dashboard.js", "dashboard.js")
    page("/dashboard/common.js", "common.js")
    page("/dashboard/trace", "trace.html")
    page("/dashboard/trace.js", "trace.js")
    page("/dashboard/reconciliation", "reconciliation.html")
    page("/dashboard/reconciliation.js", "reconciliation.js")
    page("/dashboard/exceptions", "exceptions.html")
    page("/dashboard/exceptions.css", "exceptions.css")
    page("/dashboard/exceptions.js", "exceptions.js")
    page("/dashboard/slas", "slas.html")
    page("/dashboard/slas.js", "slas.js")

    read = [Depends(require(Scope.POSITIONS_READ))]

    @routes.get(
        "/v1/dashboard/summary",
        tags=["operations"],
        summary="Store freshness, delivery backlog, exceptions waiting, propagation latency",
        description=(
            "What the operations dashboard shows besides stock: each location against its "
            "freshness SLA, each target's backlog, oldest pending age, dead letters, pause "
            "and circuit, open exceptions by reason with the oldest's age, and the p50 / "
            "p99 time from queueing to delivery of the availability pushes delivered in "
            "the last `window_seconds`."
        ),
        response_class=JsonResponse,
        dependencies=read,
    )
    def summary(request: Request) -> JsonResponse:
        return JsonResponse(hub_of(request).dashboard.summary())

    @routes.get(
        "/v1/dashboard/skus",
        tags=["operations"],
        summary="Known SKUs matching a search, for the dashboard's SKU picker",
        response_class=JsonResponse,
        dependencies=read,
    )
    def skus(
        request: Request,
        q: str | None = Query(
            None, max_length=100, description="Part of a SKU, GTIN or description."
        ),
        limit: int = Query(50, ge=1, le=500),
    ) -> JsonResponse:
        return JsonResponse({"skus": hub_of(request).dashboard.skus(q, limit)})

    return routes
