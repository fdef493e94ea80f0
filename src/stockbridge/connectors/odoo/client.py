"""Calling Odoo models: JSON-2 (19.0+) or JSON-RPC `execute_kw`, behind one method.

Foreign errors stop here: httpx failures, timeouts, 5xx and maintenance pages become
`ErpUnavailable`; Odoo's business exceptions (`odoo.exceptions.UserError`,
`ValidationError`, ...) become `ErpRejected` carrying Odoo's own message.
"""

from __future__ import annotations

import itertools
from typing import Any, Protocol

import httpx
import orjson

from ...delivery.policy import RETRYABLE_4XX
from ..erp.port import ErpRejected, ErpUnavailable

#: Odoo exceptions that refuse the request itself: the same call fails the same way again.
BUSINESS_ERRORS = frozenset(
    {
        "odoo.exceptions.UserError",
        "odoo.exceptions.ValidationError",
        "odoo.exceptions.MissingError",
        "odoo.exceptions.AccessError",
        "odoo.exceptions.RedirectWarning",
    }
)
USER_AGENT = "stockbridge-odoo/1"


class OdooCaller(Protocol):
    async def call(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        context: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        """`method` of `model` (on `ids` for a record method) with named parameters.

        Raises ErpUnavailable or ErpRejected.
        """
        ...


def _describe(error: Any, fallback: str) -> tuple[str | None, str]:
    """(exception name, message) from Odoo's error object (JSON-2 body or JSON-RPC data)."""
    if not isinstance(error, dict):
        return None, fallback
    name = error.get("name")
    message = error.get("message") or fallback
    return (str(name) if name else None), str(message)


async def _post(
    client: httpx.AsyncClient,
    url: str,
    body: dict[str, Any],
    headers: dict[str, str],
    timeout: float,
    what: str,
) -> httpx.Response:
    try:
        return await client.post(url, content=orjson.dumps(body), headers=headers, timeout=timeout)
    except httpx.TimeoutException:
        raise ErpUnavailable(f"timeout calling {what}") from None
    except httpx.HTTPError as e:
        raise ErpUnavailable(f"{what}: {type(e).__name__}: {e}") from None


def _unavailable(response: httpx.Response, what: str) -> ErpUnavailable:
    # A maintenance page is HTML: its status line says enough.
    text = response.reason_phrase
    if "json" in response.headers.get("content-type", ""):
        text = response.text[:200].strip()
    return ErpUnavailable(
        f"{what}: HTTP {response.status_code} {text}".strip(),
        response.status_code,
        response.headers.get("Retry-After"),
    )


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return orjson.loads(response.content)
    except orjson.JSONDecodeError:
        raise ErpUnavailable(f"{what}: the answer is not JSON", 502) from None


class Json2Client:
    """`POST {url}/json/2/<model>/<method>`, `Authorization: bearer <API key>`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        api_key: str,
        database: str | None,
        timeout: float,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/")
        self.timeout = timeout
        self.headers = {
            "Authorization": f"bearer {api_key}",
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": USER_AGENT,
        }
        if database:
            self.headers["X-Odoo-Database"] = database

    async def call(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        context: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        what = f"{model}.{method}"
        body: dict[str, Any] = dict(params)
        if ids is not None:
            body["ids"] = ids
        if context:
            body["context"] = context
        response = await _post(
            self.client,
            f"{self.url}/json/2/{model}/{method}",
            body,
            self.headers,
            self.timeout,
            what,
        )
        status = response.status_code
        if status == 200:
            return _json(response, what)
        if status in RETRYABLE_4XX or status >= 500:
            raise _unavailable(response, what)
        try:
            error = orjson.loads(response.content)
        except orjson.JSONDecodeError:
            error = None
        name, message = _describe(error, response.text[:200] or f"HTTP {status}")
        if status == 401:
            # A revoked or expired key: fixed in the configuration, then the queue drains.
            raise ErpUnavailable(f"Odoo refused the API key: {message}", None)
        raise ErpRejected(f"{name}: {message}" if name else message, status)


class JsonRpcClient:
    """`POST {url}/jsonrpc`: `common.authenticate` once, then `object.execute_kw`."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        url: str,
        database: str,
        login: str,
        password: str,
        timeout: float,
    ) -> None:
        self.client = client
        self.url = url.rstrip("/") + "/jsonrpc"
        self.database = database
        self.login = login
        self.password = password
        self.timeout = timeout
        self.uid: int | None = None
        self._ids = itertools.count(1)

    async def _rpc(self, service: str, method: str, args: list[Any], what: str) -> Any:
        body = {
            "jsonrpc": "2.0",
            "method": "call",
            "params": {"service": service, "method": method, "args": args},
            "id": next(self._ids),
        }
        headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
        response = await _post(self.client, self.url, body, headers, self.timeout, what)
        if response.status_code != 200:
            if response.status_code in RETRYABLE_4XX or response.status_code >= 500:
                raise _unavailable(response, what)
            raise ErpRejected(f"{what}: HTTP {response.status_code}", response.status_code)
        answer = _json(response, what)
        error = answer.get("error") if isinstance(answer, dict) else None
        if error is None:
            return answer.get("result") if isinstance(answer, dict) else None
        name, message = _describe(error.get("data"), str(error.get("message")))
        if name in BUSINESS_ERRORS:
            raise ErpRejected(f"{name}: {message}")
        if name == "odoo.exceptions.AccessDenied":
            self.uid = None
            raise ErpUnavailable(f"Odoo refused the login: {message}")
        raise ErpUnavailable(f"{what}: {name or 'error'}: {message}", 500)

    async def _uid(self) -> int:
        if self.uid is None:
            uid = await self._rpc(
                "common",
                "authenticate",
                [self.database, self.login, self.password, {}],
                "common.authenticate",
            )
            if not isinstance(uid, int) or isinstance(uid, bool):
                raise ErpUnavailable(f"Odoo refused the login {self.login!r}")
            self.uid = uid
        return self.uid

    async def call(
        self,
        model: str,
        method: str,
        *,
        ids: list[int] | None = None,
        context: dict[str, Any] | None = None,
        **params: Any,
    ) -> Any:
        uid = await self._uid()
        kwargs = dict(params)
        if context:
            kwargs["context"] = context
        args = [ids] if ids is not None else []
        return await self._rpc(
            "object",
            "execute_kw",
            [self.database, uid, self.password, model, method, args, kwargs],
            f"{model}.{method}",
        )
