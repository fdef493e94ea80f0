"""Request bodies past `server.max_body_bytes` are refused with 413 on every route.

The declared Content-Length is checked before anything is read; a body sent without one
(chunked) or longer than declared is counted as it streams in and refused as soon as it
passes the limit, so an oversized upload is never held in memory whole.
"""

from __future__ import annotations

from fastapi import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .problems import PROBLEM_TYPE, ProblemResponse

TITLE = "Request too large"


class BodyTooLarge(HTTPException):
    """An HTTPException so FastAPI's body parsing lets it through as it is (not as a 400)."""

    def __init__(self, limit: int) -> None:
        super().__init__(413, f"the body exceeds {limit} bytes")


class BodyLimit:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send)
            return
        seen = 0

        async def counted() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        await self.app(scope, counted, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "type": PROBLEM_TYPE + "request-too-large",
            "title": TITLE,
            "status": 413,
            "instance": scope.get("path", ""),
            "detail": f"the body exceeds {self.max_bytes} bytes",
        }
        # Connection: close, so the client stops sending what will not be read.
        response = ProblemResponse(body, status_code=413, headers={"Connection": "close"})
        await response(scope, receive, send)
