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
