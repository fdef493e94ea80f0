"""Errors as RFC 9457 problem details (application/problem+json)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response

from ..app.channels import InvalidChannel
from ..app.deliveries import InvalidTarget
from ..app.exceptions import ExceptionNotWorkable
from ..app.pricing import InvalidPriceQuery
from ..domain.errors import NotFound, StoreUnavailable

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://stockbridge.dev/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"
#: RFC 9457 members every problem carries; problems add their own (errors, limit...).
PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
    "additionalProperties": True,
}


def problem_content() -> dict[str, Any]:
    return {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` for problems only this route answers (409, say)."""
    return {s: {"description": "Problem", "content": problem_content()} for s in statuses}


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        # Numbers stay numbers: integral quantities as integers, others exactly as written.
        if value == value.to_integral_value():
            return int(value)
        return float(value.normalize())
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    raise TypeError(f"cannot serialise {type(value).__name__}")


def dumps(content: Any) -> bytes:
    return orjson.dumps(content, default=_default)


class JsonResponse(JSONResponse):
    """JSON rendered by orjson; a JSONResponse so OpenAPI documents its declared model."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)


class ProblemResponse(JsonResponse):
    media_type = PROBLEM_MEDIA_TYPE


class Problem(Exception):
    """Raise anywhere in a route to answer with a problem document."""

    def __init__(
        self,
        status: int,
        title: str,
        detail: str | None = None,
        *,
        kind: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(detail or title)
        self.status = status
        self.title = title
        self.detail = detail
        self.kind = kind or title.lower().replace(" ", "-")
        self.headers = headers
        self.extra = extra


def problem_response(request: Request, p: Problem) -> ProblemResponse:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE + p.kind,
        "title": p.title,
        "status": p.status,
        "instance": request.url.path,
    }
    if p.detail:
        body["detail"] = p.detail
    body.update(p.extra)
    return ProblemResponse(body, status_code=p.status, headers=p.headers)


def install(app: FastAPI) -> None:
    async def on_problem(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, Problem)
        return problem_response(request, exc)

    async def on_http(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed", 413: "Request too large"}.get(
            exc.status_code, "HTTP error"
        )
        return problem_response(
            request,
            Problem(exc.status_code, title, str(exc.detail), headers=getattr(exc, "headers", None)),
        )

    async def on_validation(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        errors = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "message": e.get("msg", "")}
            for e in exc.errors()
        ]
        return problem_response(
            request,
            Problem(
                422,
                "Invalid request",
                f"{len(errors)} problem(s) in the request",
                kind="invalid-request",
                errors=errors,
            ),
        )

    async def on_not_found(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, NotFound)
        return problem_response(request, Problem(404, "Not found", str(exc)))

    async def on_not_workable(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ExceptionNotWorkable)
        return problem_response(
            request,
            Problem(
                409,
                "Exception not open",
                str(exc),
                kind="exception-not-open",
                exception_id=exc.record.id,
            ),
        )

    async def on_invalid_channel(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidChannel | InvalidTarget)
        what = "channel" if isinstance(exc, InvalidChannel) else "target"
        return problem_response(
            request,
            Problem(422, f"Invalid {what}", str(exc), kind=f"invalid-{what}", errors=exc.problems),
        )

    async def on_invalid_query(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, InvalidPriceQuery)
        return problem_response(
            request, Problem(422, "Invalid request", str(exc), kind="invalid-request")
        )

    async def on_unexpected(request: Request, exc: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.url.path, exc_info=exc)
        return problem_response(
            request, Problem(500, "Internal error", "the error is logged on the server")
        )

    async def on_unavailable(request: Request, exc: Exception) -> Response:
        log.error("store unavailable: %s", exc)
        return problem_response(
            request,
            Problem(503, "Store unavailable", str(exc), headers={"Retry-After": "5"}),
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(NotFound, on_not_found)
    app.add_exception_handler(ExceptionNotWorkable, on_not_workable)
    app.add_exception_handler(InvalidChannel, on_invalid_channel)
    app.add_exception_handler(InvalidTarget, on_invalid_channel)
    app.add_exception_handler(InvalidPriceQuery, on_invalid_query)
    app.add_exception_handler(Exception, on_unexpected)
    app.add_exception_handler(StoreUnavailable, on_unavailable)
