"""Each request runs with a correlation id in the log context, answered back to the caller.

A caller may send its own `X-Correlation-Id` (a store's POS tying its logs to ours);
otherwise one is made. Every log record written while the request is handled carries it,
with the method, the path and, once authenticated, the API key's name.
"""

from __future__ import annotations

import logging
import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

HEADER = b"x-correlation-id"
#: A caller's id is kept only if it is a plain token: it is echoed in headers and logs.
_SAFE = re.compile(rb"^[A-Za-z0-9._:-]{1,128}$")

log = logging.getLogger("stockbridge.api")


class RequestContext:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        given = dict(scope["headers"]).get(HEADER, b"")
        correlation_id = given.decode() if _SAFE.match(given) else uuid.uuid4().hex
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [
                    *message.get("headers", []),
                    (HEADER, correlation_id.encode()),
                ]
            await send(message)

        with structlog.contextvars.bound_contextvars(
            correlation_id=correlation_id, method=scope["method"], path=scope["path"]
        ):
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                # Refusals and errors at info and above; the steady flow of answers at debug.
                level = (
                    logging.DEBUG
                    if status < 400
                    else logging.INFO
                    if status < 500
                    else logging.ERROR
                )
                if log.isEnabledFor(level):
                    duration_ms = round((time.perf_counter() - started) * 1000, 2)
                    log.log(level, "request", extra={"status": status, "duration_ms": duration_ms})
