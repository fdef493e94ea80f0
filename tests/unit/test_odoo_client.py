"""Odoo's answers as the hub reads them: values, business errors, unavailability."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

from stockbridge.connectors.erp.port import ErpRejected, ErpUnavailable
from stockbridge.connectors.odoo.client import Json2Client, JsonRpcClient, OdooCaller
from stockbridge.connectors.odoo.sim_models import seed_database
from stockbridge.connectors.odoo.simulator import Faults, Injected, OdooState, create_app

URL = "http://odoo.test"


def simulated() -> tuple[OdooState, Faults, httpx.AsyncBaseTransport]:
    state, faults = OdooState(), Faults()
    state.catalogue = seed_database(state.db, {"MUG": {"list_price": 5}}, ["S1"])
    return state, faults, httpx.ASGITransport(app=create_app(state, faults))


def run(
    transport: httpx.AsyncBaseTransport,
    protocol: str,
    work: Callable[[OdooCaller], Awaitable[Any]],
    key: str = "odoo-test-key",
) -> Any:
    async def go() -> Any:
        async with httpx.AsyncClient(transport=transport) as client:
            caller: OdooCaller
            if protocol == "json2":
                caller = Json2Client(client, URL, key, "stockbridge", 5)
            else:
                caller = JsonRpcClient(client, URL, "stockbridge", "stockbridge", key, 5)
            return await work(caller)

    return asyncio.run(go())


def products(odoo: OdooCaller) -> Awaitable[Any]:
    return odoo.call(
        "product.product",
        "search_read",
        domain=[["default_code", "=", "MUG"]],
        fields=["default_code", "uom_id"],
    )


@pytest.mark.parametrize("protocol", ["json2", "jsonrpc"])
def test_a_search_read_answers_records_with_many2one_pairs(protocol: str) -> None:
    _, _, transport = simulated()
    (row,) = run(transport, protocol, products)
    assert row["default_code"] == "MUG" and row["uom_id"][1] == "Units"


@pytest.mark.parametrize("protocol", ["json2", "jsonrpc"])
def test_a_business_error_is_a_rejection_with_odoos_name_and_message(protocol: str) -> None:
    _, faults, transport = simulated()
    faults.errors[("product.product", "search_read")] = Injected(
        "odoo.exceptions.ValidationError", "The period is closed."
    )
    with pytest.raises(ErpRejected) as e:
        run(transport, protocol, products)
    assert e.value.message == "odoo.exceptions.ValidationError: The period is closed."
    assert e.value.status == 422


@pytest.mark.parametrize("protocol", ["json2", "jsonrpc"])
def test_maintenance_is_unavailability_with_its_status(protocol: str) -> None:
    _, faults, transport = simulated()
    faults.outage, faults.retry_after = True, 30
    with pytest.raises(ErpUnavailable) as e:
        run(transport, protocol, products)
    assert (e.value.status, e.value.retry_after) == (503, "30")
    assert "Service Unavailable" in e.value.reason


@pytest.mark.parametrize("protocol", ["json2", "jsonrpc"])
def test_a_wrong_key_is_retried_not_rejected(protocol: str) -> None:
    _, _, transport = simulated()
    with pytest.raises(ErpUnavailable, match="refused"):
        run(transport, protocol, products, key="wrong")


def test_no_connection_is_unavailability_without_a_status() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("[Errno 111] Connection refused", request=request)

    with pytest.raises(ErpUnavailable) as e:
        run(httpx.MockTransport(refuse), "json2", products)
    assert e.value.status is None and "Connection refused" in e.value.reason


def test_json2_sends_named_parameters_and_the_bearer_key() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=True)

    run(
        httpx.MockTransport(answer),
        "json2",
        lambda o: o.call("stock.picking", "button_validate", ids=[4], context={"a": 1}),
    )
    (request,) = seen
    assert request.url.path == "/json/2/stock.picking/button_validate"
    assert request.headers["authorization"] == "bearer odoo-test-key"
    assert request.headers["x-odoo-database"] == "stockbridge"
    assert request.read() == b'{"ids":[4],"context":{"a":1}}'
