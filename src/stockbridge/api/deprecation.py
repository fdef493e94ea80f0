"""Deprecated operations announce themselves on every answer (docs/security.md).

`Deprecation` (RFC 9745) carries the date the operation was deprecated, `Sunset`
(RFC 8594) the date after which it may answer 410, and `Link` its successor and the
policy. The OpenAPI document marks the same operations `deprecated`.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from email.utils import format_datetime

from starlette.types import ASGIApp, Message, Receive, Scope, Send

POLICY_URL = "https://stockbridge.dev/docs/security#deprecation-policy"


@dataclass(frozen=True, slots=True)
class Deprecated:
    """One operation (method and path template, as routed) on its way out."""

    method: str
    path: str
    since: datetime
    sunset: datetime | None = None
    #: The path of the operation that replaces it.
    successor: str | None = None

    def headers(self) -> list[tuple[bytes, bytes]]:
        out = [(b"deprecation", f"@{int(self.since.timestamp())}".encode())]
        if self.sunset is not None:
            out.append((b"sunset", format_datetime(self.sunset, usegmt=True).encode()))
        links = [f'<{POLICY_URL}>; rel="deprecation"; type="text/html"']
        if self.successor:
            links.insert(0, f'<{self.successor}>; rel="successor-version"')
        out.append((b"link", ", ".join(links).encode()))
        return out


#: The operations of this version that are deprecated. Empty: nothing is, yet.
DEPRECATED: tuple[Deprecated, ...] = ()


class Deprecations:
    def __init__(self, entries: Iterable[Deprecated] = DEPRECATED) -> None:
        self._by_route = {(d.method.upper(), d.path): d for d in entries}

    def find(self, method: str, path: str) -> Deprecated | None:
        return self._by_route.get((method.upper(), path))

    def __bool__(self) -> bool:
        return bool(self._by_route)


class DeprecationHeaders:
    """ASGI middleware: the headers of a deprecated operation on each of its answers
    (installed only when some operation is deprecated)."""

    def __init__(self, app: ASGIApp, deprecations: Deprecations) -> None:
        self.app = app
        self.deprecations = deprecations

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                # The router records the matched route in the scope before answering.
                route = scope.get("route")
                found = self.deprecations.find(scope["method"], getattr(route, "path", ""))
                if found is not None:
                    message["headers"] = [*message.get("headers", []), *found.headers()]
            await send(message)

        await self.app(scope, receive, send_with_headers)
