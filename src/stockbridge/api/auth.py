"""Bearer API keys with scopes, checked per route."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from ..app.bootstrap import Hub
from ..app.keys import Principal, Scope
from .problems import Problem

_bearer = HTTPBearer(auto_error=False, description="An API key from `stockbridge keys create`.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def hub_of(request: Request) -> Hub:
    hub: Hub = request.app.state.hub
    return hub


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
        principal = hub_of(request).keys.authenticate(credentials.credentials)
        if principal is None:
            raise Problem(
                401, "Unauthorized", "the API key is unknown or revoked", headers=_CHALLENGE
            )
        if not principal.allows(scope):
            raise Problem(
                403,
                "Forbidden",
                f"this API key lacks the {scope.value!r} scope",
                kind="missing-scope",
                required_scope=scope.value,
            )
        return principal

    return check
