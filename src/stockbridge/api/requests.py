"""What the write routes share: a body read within the size limit, the writer's answer
awaited, and the 422 that names a bad field."""

from __future__ import annotations

import asyncio
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

import orjson
from fastapi import Request

from .problems import Problem

T = TypeVar("T")


async def raw_body(request: Request) -> bytes:
    """The request body; past `server.max_body_bytes` the BodyLimit middleware has
    already answered 413 (declared length) or stops the read with one (streamed)."""
    return await request.body()


async def json_body(request: Request, *, empty_ok: bool = False) -> Any:
    """The body parsed as JSON (400 when it is not); `{}` for a blank body if empty_ok."""
    body = await raw_body(request)
    if empty_ok and not body.strip():
        return {}
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise Problem(400, "Malformed JSON", str(e), kind="malformed-json") from None


async def answer_of(future: Future[T]) -> T:
    """Wait, without blocking the event loop, for what the writer thread decided."""
    return await asyncio.wrap_future(future)


def invalid_request(detail: str | None, **extra: Any) -> Problem:
    """A 422 `invalid-request` problem; extra members (errors, ...) as given."""
    return Problem(422, "Invalid request", detail, kind="invalid-request", **extra)


class _Judged(Protocol):
    @property
    def reason(self) -> str | None: ...
    @property
    def detail(self) -> str | None: ...
    @property
    def field(self) -> str | None: ...


def with_reason(out: dict[str, Any], judged: _Judged) -> dict[str, Any]:
    """`out` with the reason, detail and field of a refused item (nothing when accepted)."""
    if judged.reason:
        out["reason"] = judged.reason
        out["detail"] = judged.detail
        if judged.field:
            out["field"] = judged.field
    return out
