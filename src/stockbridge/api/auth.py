"""Bearer API keys with scopes, a rate per key, and bindings, checked per route."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import Any

import structlog
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ..app.audit import Outcome
from ..app.bootstrap import Hub
from ..app.keys import Principal, Scope
from ..domain.access import Refusal, refused_names
from .problems import Problem

_bearer = HTTPBearer(auto_error=False, description="An API key from `stockbridge keys create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


def principal_of(request: Request) -> Principal:
    """The caller `require` admitted (every route that names a scope has one)."""
    principal: Principal = request.state.principal
    return principal


async def _admit(request: Request, presented: str) -> Principal:
    """Authenticate and take a token from the key's bucket, once per request."""
    known: Principal | None = getattr(request.state, "principal", None)
    if known is not None:
        return known
    hub = hub_of(request)
    principal = hub.keys.authenticate(presented)
    if principal is None:
        raise Problem(401, "Unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE)
    request.state.principal = principal
    structlog.contextvars.bind_contextvars(api_key=principal.name)
    wait = hub.limits.wait(principal)
    if wait > 0:
        rate, _ = principal.rate or hub.limits.default
        raise Problem(
            429,
            "Too many requests",
            f"this API key may make {rate:g} requests per second",
            kind="rate-limited",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    return principal


def require(scope: Scope) -> Callable[..., Awaitable[Principal]]:
    # Async so FastAPI runs it on the event loop: a sync dependency costs every request a
    # round trip through the thread pool. The key lookup is one primary-key read.
    async def check(
        request: Request,
        credentials: HTTPAuthorizationCredentials | None = Depends(_bearer),
    ) -> Principal:
        if credentials is None or credentials.scheme.lower() != "bearer":
            raise Problem(
                401,
                "Unauthorized",
                "send an API key as 'Authorization: Bearer <key>'",
                headers=_CHALLENGE,
            )
        principal = await _admit(request, credentials.credentials)
        if not principal.allows(scope):
            await run_in_threadpool(
                _audit_refusal, request, principal, {"required_scope": scope.value}
            )
            raise Problem(
                403,
                "Forbidden",
                f"this API key lacks the {scope.value!r} scope",
                kind="missing-scope",
                required_scope=scope.value,
            )
        return principal

    return check


def audit(
    request: Request, action: str, subject: tuple[str, str], detail: Mapping[str, Any] | None = None
) -> None:
    """Record an administrative action done by the request's key (call from a sync route)."""
    hub_of(request).audit.record(principal_of(request).name, action, subject, detail)


def _audit_refusal(request: Request, principal: Principal, detail: dict[str, Any]) -> None:
    if principal.key_id is not None:
        detail = {"key_id": principal.key_id, **detail}
    hub_of(request).audit.record(
        principal.name,
        "request.refused",
        ("route", f"{request.method} {request.url.path}"),
        detail,
        Outcome.REFUSED,
    )


def refuse_outside(request: Request, refusals: Sequence[Refusal]) -> None:
    """Refuse the whole request (403, audited) when it names anything outside the key's
    binding; a batch is refused whole, since the key itself is misused, not the data.
    Blocking (it writes the audit entry): call from a sync route or through the pool."""
    if not refusals:
        return
    principal = principal_of(request)
    named = [r.as_dict() for r in refusals]
    _audit_refusal(request, principal, {"refused": named})
    first = refusals[0]
    raise Problem(
        403,
        "Outside the key's binding",
        f"this API key may not use {first.dimension} {first.value!r} ({first.where})"
        + (f" and {len(refusals) - 1} more" if len(refusals) > 1 else ""),
        kind="outside-binding",
        refused=named,
    )


def check_names(request: Request, named: Mapping[str, tuple[str, object]]) -> None:
    """`refuse_outside` for single names a request carries: {where: (dimension, value)}."""
    refuse_outside(request, refused_names(principal_of(request).binding, named))


async def enforce_binding(request: Request, refusals: Sequence[Refusal]) -> None:
    """`refuse_outside` from an async route."""
    if refusals:
        await run_in_threadpool(refuse_outside, request, refusals)


async def enforce_names(request: Request, named: Mapping[str, tuple[str, object]]) -> None:
    """`check_names` from an async route."""
    await enforce_binding(request, refused_names(principal_of(request).binding, named))
