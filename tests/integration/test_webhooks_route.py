"""`POST /v1/webhooks/{connector}` for a connector no one declared."""

from __future__ import annotations

import httpx

from stockbridge.app.bootstrap import Hub


def test_a_webhook_to_an_undeclared_connector_is_404_problem(hub: Hub, live: object) -> None:
    url = live.url  # type: ignore[attr-defined]
    r = httpx.post(f"{url}/v1/webhooks/nobody", content=b"{}")
    assert r.status_code == 404
    assert r.headers["content-type"].startswith("application/problem+json")
    assert "nobody" in r.json()["detail"]


def test_serve_refuses_a_shopify_target_whose_token_variable_is_unset(hub: Hub) -> None:
    import pytest

    from stockbridge.app.deliveries import InvalidTarget

    shop = {
        "kind": "shopify",
        "url": "https://example.myshopify.com",
        "platform": {"access_token_env": "SHOPIFY_TOKEN_FOR_TEST", "location_id": "1"},
    }
    with pytest.raises(InvalidTarget, match=r"platform\.access_token_env: environment"):
        hub.deliveries.declare({"shop": shop}, env={})
    hub.deliveries.declare({"shop": shop}, env={"SHOPIFY_TOKEN_FOR_TEST": "shpat_x"})
    assert hub.store.targets()["shop"][0]["kind"] == "shopify"
