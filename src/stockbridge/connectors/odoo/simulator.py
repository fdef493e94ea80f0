"""A simulated Odoo server: JSON-2 and JSON-RPC over the models Stockbridge uses.

`create_app(state, faults)` serves:
- `POST /json/2/<model>/<method>` (`Authorization: bearer <API key>`, optional
  `X-Odoo-Database`): named parameters in, the method's value out with 200; errors as
  Odoo's error object (`name`, `message`, `arguments`, `context`, `debug`) with 4xx/5xx;
- `POST /jsonrpc`: `common.authenticate`/`common.version` and `object.execute_kw`; errors
  inside a 200 answer, `{"error": {"code": 200, "message": "Odoo Server Error",
  "data": {"name", "message", ...}}}`;
- `GET /web/version`.

Faults: maintenance windows and outages (503 page), latency, business errors injected on
a model's method (Odoo's exception name and message), a closed accounting period, and
"apply then time out": the call is carried out, then its answer held past the client's
timeout, so only a lookup before creating again avoids a second document.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from .sim_models import Catalogue, Database, OdooError, seed_database

MAINTENANCE_PAGE = (
    "<html><head><title>503 Service Unavailable</title></head><body>"
    "<h1>Service Unavailable</h1><p>The server is temporarily unable to service your "
    "request due to maintenance downtime or capacity problems. Please try again later.</p>"
    "</body></html>"
)
SERVER_VERSION = {
    "server_version": "19.0",
    "server_version_info": [19, 0, 0, "final", 0, ""],
    "server_serie": "19.0",
    "protocol_version": 1,
}


@dataclass
class Injected:
    """A business error raised by the next `times` calls of a model's method."""

    name: str
    message: str
    times: int = 1


@dataclass
class Faults:
    """What goes wrong, changed by tests while the server runs."""

    #: Every request answered 503 (the maintenance page) while set.
    outage: bool = False
    #: (start, end) in seconds of the clock: scheduled maintenance, answered 503.
    windows: list[tuple[float, float]] = field(default_factory=list)
    #: Seconds added to every answer (and a random extra up to `jitter`).
    latency: float = 0.0
    jitter: float = 0.0
    #: (model, method) -> errors raised before the method runs.
    errors: dict[tuple[str, str], Injected] = field(default_factory=dict)
    #: (model, method) -> seconds: the next call is carried out, then answered that late.
    stall_after: dict[tuple[str, str], float] = field(default_factory=dict)
    #: The value of Retry-After on 503 answers, if any.
    retry_after: int | None = None

    def down(self, now: float) -> bool:
        return self.outage or any(start <= now < end for start, end in self.windows)


@dataclass
class OdooState:
    """The simulated server: its database, credentials and request counts."""

    db: Database = field(default_factory=Database)
    api_key: str = "odoo-test-key"
    login: str = "stockbridge"
    password: str = "odoo-test-password"
    uid: int = 2
    rng: random.Random = field(default_factory=lambda: random.Random(1))
    clock: Callable[[], float] = time.monotonic
    #: Calls received, by "model.method"; refused ones (503, 401) are not counted.
    calls: dict[str, int] = field(default_factory=dict)
    catalogue: Catalogue | None = None

    def count(self, model: str, method: str) -> None:
        key = f"{model}.{method}"
        self.calls[key] = self.calls.get(key, 0) + 1

    def documents(self, model: str, field_name: str) -> dict[str, list[dict[str, Any]]]:
        """Records of a model grouped by a reference field (e.g. `origin`, `ref`)."""
        out: dict[str, list[dict[str, Any]]] = {}
        for rec in self.db.table(model).values():
            if rec.get(field_name):
                out.setdefault(str(rec[field_name]), []).append(rec)
        return out


def _traceback(name: str, message: str) -> str:
    return (
        "Traceback (most recent call last):\n"
        '  File "/opt/odoo/odoo/http.py", line 2212, in _transactioning\n'
        "    return service_model.retrying(func, env=self.env)\n"
        f"{name}: {message}\n"
    )


def error_object(e: OdooError, context: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": e.name,
        "message": e.message,
        "arguments": [e.message] if e.status >= 422 or e.status < 400 else [e.message, e.status],
        "context": context or {},
        "debug": _traceback(e.name, e.message),
    }


async def _run(
    state: OdooState,
    faults: Faults,
    model: str,
    method: str,
    ids: list[int] | None,
    params: dict[str, Any],
    context: dict[str, Any],
) -> Any:
    injected = faults.errors.get((model, method))
    if injected is not None and injected.times > 0:
        injected.times -= 1
        if injected.times == 0:
            del faults.errors[(model, method)]
        raise OdooError(injected.name, injected.message, 422)
    state.count(model, method)
    result = state.db.execute(model, method, ids, params, context)
    stall = faults.stall_after.pop((model, method), None)
    if stall:
        await asyncio.sleep(stall)  # applied and committed; the answer comes too late
    return result


#: Positional parameters of `execute_kw` for model-level methods, by name.
_POSITIONAL = {
    "search_read": ("domain", "fields", "offset", "limit", "order"),
    "search": ("domain", "offset", "limit", "order"),
    "search_count": ("domain",),
    "create": ("vals_list",),
}
_RECORD_POSITIONAL = {"write": ("vals",), "read": ("fields",)}


def _from_execute_kw(
    method: str, args: list[Any], kwargs: dict[str, Any]
) -> tuple[list[int] | None, dict[str, Any], dict[str, Any]]:
    """execute_kw's (args, kwargs) as JSON-2's (ids, named params, context)."""
    params = dict(kwargs)
    context = dict(params.pop("context", None) or {})
    if method in _POSITIONAL:
        ids = None
        names = _POSITIONAL[method]
    else:
        ids = list(args[0]) if args else []
        args = args[1:]
        names = _RECORD_POSITIONAL.get(method, ())
    for name, value in zip(names, args, strict=False):
        params[name] = value
    return ids, params, context


def create_app(state: OdooState, faults: Faults | None = None) -> FastAPI:
    faults = faults or Faults()
    app = FastAPI(title="Odoo (simulated)", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.odoo = state
    app.state.faults = faults

    async def gate() -> Response | None:
        delay = faults.latency + (state.rng.random() * faults.jitter if faults.jitter else 0)
        if delay:
            await asyncio.sleep(delay)
        if faults.down(state.clock()):
            headers = {"Retry-After": str(faults.retry_after)} if faults.retry_after else {}
            return HTMLResponse(MAINTENANCE_PAGE, status_code=503, headers=headers)
        return None

    @app.get("/web/version")
    async def version() -> Response:
        return (await gate()) or JSONResponse(
            {"version_info": SERVER_VERSION["server_version_info"], "version": "19.0"}
        )

    @app.post("/json/2/{model}/{method}")
    async def json2(model: str, method: str, request: Request) -> Response:
        refused = await gate()
        if refused is not None:
            return refused
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or key != state.api_key:
            e = OdooError("werkzeug.exceptions.Unauthorized", "Invalid apikey", 401)
            return JSONResponse(error_object(e), status_code=401)
        database = request.headers.get("x-odoo-database")
        if database is not None and database != state.db.name:
            e = OdooError("werkzeug.exceptions.NotFound", f"database {database!r} not found", 404)
            return JSONResponse(error_object(e), status_code=404)
        try:
            body = orjson.loads(await request.body() or b"{}")
        except orjson.JSONDecodeError as exc:
            e = OdooError(
                "werkzeug.exceptions.BadRequest", f"could not parse the body as json: {exc}", 400
            )
            return JSONResponse(error_object(e), status_code=400)
        params = dict(body) if isinstance(body, dict) else {}
        ids = params.pop("ids", None)
        context = dict(params.pop("context", None) or {})
        try:
            result = await _run(state, faults, model, method, ids, params, context)
        except OdooError as e:
            return JSONResponse(error_object(e, context), status_code=e.status)
        return Response(orjson.dumps(result), media_type="application/json; charset=utf-8")

    @app.post("/jsonrpc")
    async def jsonrpc(request: Request) -> Response:
        refused = await gate()
        if refused is not None:
            return refused
        body = orjson.loads(await request.body())
        rid = body.get("id")
        p = body.get("params") or {}
        service, method, args = p.get("service"), p.get("method"), list(p.get("args") or [])

        def answer(result: Any) -> Response:
            return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": result})

        def fail(e: OdooError) -> Response:
            return JSONResponse(
                {
                    "jsonrpc": "2.0",
                    "id": rid,
                    "error": {"code": 200, "message": "Odoo Server Error", "data": error_object(e)},
                }
            )

        if service == "common" and method == "version":
            return answer(SERVER_VERSION)
        if service == "common" and method in ("authenticate", "login"):
            db, login, password = args[0], args[1], args[2]
            ok = (
                db == state.db.name
                and login == state.login
                and password in (state.password, state.api_key)
            )
            return answer(state.uid if ok else False)
        if service == "object" and method == "execute_kw":
            db, uid, password, model, name = args[:5]
            if (
                db != state.db.name
                or uid != state.uid
                or password not in (state.password, state.api_key)
            ):
                return fail(OdooError("odoo.exceptions.AccessDenied", "Access Denied", 403))
            ids, params, context = _from_execute_kw(
                str(name),
                list(args[5]) if len(args) > 5 else [],
                dict(args[6]) if len(args) > 6 else {},
            )
            try:
                return answer(
                    await _run(state, faults, str(model), str(name), ids, params, context)
                )
            except OdooError as e:
                return fail(e)
        return fail(OdooError("builtins.KeyError", f"unknown service {service}.{method}", 500))

    return app


# --- running it on its own ---------------------------------------------------------------------
DEMO_PRODUCTS = {
    "TSHIRT-BLK-M": {
        "name": "Organic tee black M",
        "list_price": 19.9,
        "barcode": "00012345678905",
    },
    "TSHIRT-BLK-L": {
        "name": "Organic tee black L",
        "list_price": 19.9,
        "barcode": "00012345678912",
    },
    "MUG": {"name": "Stoneware mug", "list_price": 8.5},
}
DEMO_LOCATIONS = ["STORE-01", "STORE-02", "DC-NORTH"]


def demo_state(seed: int) -> tuple[OdooState, Faults]:
    """A small database and, from the seed, a maintenance window of 20-60 s every ten
    minutes or so."""
    rng = random.Random(seed)
    state = OdooState(rng=rng)
    state.catalogue = seed_database(state.db, DEMO_PRODUCTS, DEMO_LOCATIONS)
    start = time.monotonic()
    windows = []
    at = start + rng.uniform(300, 900)
    for _ in range(100):
        length = rng.uniform(20, 60)
        windows.append((at, at + length))
        at += length + rng.uniform(300, 900)
    return state, Faults(windows=windows, latency=0.02, jitter=0.05)


def serve(host: str, port: int, seed: int) -> None:
    import uvicorn

    state, faults = demo_state(seed)
    uvicorn.run(create_app(state, faults), host=host, port=port, log_config=None)
