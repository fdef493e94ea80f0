"""The JSON logs of a real `stockbridge serve` never hold a secret (docs/security.md).

Known secrets are pushed through every path that logs: bearer API keys (good, unknown and
in paths), a webhook target's signing secret echoed back by a failing receiver, platform
tokens and inbound webhook secrets from the environment, signatures that do not verify,
and bad requests. The server's stderr is then searched for each secret, and for the
correlation ids that must be there.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.integration.test_crash_recovery import ServerProcess

pytestmark = pytest.mark.slow

BOOTSTRAP = "boot-7f3a91-admin-secret"
WEBHOOK_SECRET = "whsec-TARGET-8c1d2e"
SHOPIFY_TOKEN = "shpat_SECRET_shopify_42aa"
SHOPIFY_WEBHOOK_SECRET = "shpss_WEBHOOK_SECRET_77bb"
SQUARE_SIGNATURE_KEY = "sq0sig-SIGNATURE-KEY-99cc"
SQUARE_TOKEN = "EAAA-square-token-SECRET-11dd"
STOLEN_KEY = "sbk_STOLEN_key_that_is_unknown_0123"
SECRETS = (
    BOOTSTRAP,
    WEBHOOK_SECRET,
    SHOPIFY_TOKEN,
    SHOPIFY_WEBHOOK_SECRET,
    SQUARE_SIGNATURE_KEY,
    SQUARE_TOKEN,
    STOLEN_KEY,
)
CORRELATION = "corr-redaction-test-1"
EVENT_CORRELATION = "sale-at-till-4-0815"


class EchoingReceiver(BaseHTTPRequestHandler):
    """A platform that fails every call and echoes secrets in its error body."""

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length") or 0))
        body = json.dumps(
            {
                "error": "internal",
                "access_token": SHOPIFY_TOKEN,
                "debug": f"signed with {WEBHOOK_SECRET}",
                "authorization": self.headers.get("authorization"),
            }
        ).encode()
        self.send_response(500)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        """Quiet: the test reads the hub's logs, not the receiver's."""


@pytest.fixture
def receiver() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), EchoingReceiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def config(tmp_path: Path, receiver: str) -> Path:
    path = tmp_path / "stockbridge.toml"
    path.write_text(
        f"""
[logging]
level = "debug"

[targets.hook]
kind = "webhook"
url = "{receiver}/hook?access_token={SHOPIFY_TOKEN}"
secret = "{WEBHOOK_SECRET}"
rate_per_second = 0

[connectors.shop]
kind = "shopify"
secret_env = "SB_TEST_SHOPIFY_WEBHOOK_SECRET"

[connectors.square]
kind = "square"
signature_key_env = "SB_TEST_SQUARE_SIGNATURE_KEY"
access_token_env = "SB_TEST_SQUARE_TOKEN"
notification_url = "http://127.0.0.1/v1/webhooks/square"
"""
    )
    return path


def test_no_secret_reaches_the_logs_and_correlation_ids_do(
    tmp_path: Path, receiver: str, servers: list[ServerProcess]
) -> None:
    # Given a server with a failing webhook target, Shopify and Square connectors, and
    # every secret in its configuration or environment
    server = ServerProcess(str(tmp_path / "hub.db"))
    server.command += ["--config", str(config(tmp_path, receiver))]
    server.env.update(
        {
            "STOCKBRIDGE_BOOTSTRAP_KEY": BOOTSTRAP,
            "SB_TEST_SHOPIFY_WEBHOOK_SECRET": SHOPIFY_WEBHOOK_SECRET,
            "SB_TEST_SQUARE_SIGNATURE_KEY": SQUARE_SIGNATURE_KEY,
            "SB_TEST_SQUARE_TOKEN": SQUARE_TOKEN,
        }
    )
    servers.append(server)
    server.start()
    admin = {"Authorization": f"Bearer {BOOTSTRAP}", "X-Correlation-Id": CORRELATION}

    with httpx.Client(base_url=server.url, timeout=30) as c:
        # When master data is loaded and a sale is posted with its correlation id
        assert c.put("/v1/items", json={"items": [{"sku": "TEE"}]}, headers=admin).is_success
        assert c.put(
            "/v1/locations", json={"locations": [{"code": "S1"}]}, headers=admin
        ).is_success
        channel = {"locations": {"S1": 0}, "target": "hook"}
        assert c.put("/v1/channels/web", json=channel, headers=admin).is_success
        posted = c.post(
            "/v1/events",
            headers=admin,
            json={
                "events": [
                    {
                        "event_id": "r-1",
                        "source": "pos",
                        "type": "receipt",
                        "sku": "TEE",
                        "location": "S1",
                        "quantity": 3,
                        "occurred_at": "2026-03-02T09:00:00Z",
                        "correlation_id": EVENT_CORRELATION,
                    }
                ]
            },
        )
        assert posted.status_code == 200, posted.text
        assert posted.headers["x-correlation-id"] == CORRELATION
        # And secrets are sent where they do not belong
        assert (
            c.get("/v1/channels", headers={"Authorization": f"Bearer {STOLEN_KEY}"}).status_code
            == 401
        )
        assert c.get(f"/v1/positions/{WEBHOOK_SECRET}", headers=admin).status_code in (200, 404)
        assert c.get(f"/v1/events/pos/{SHOPIFY_TOKEN}", headers=admin).status_code == 404
        bad_json = c.post("/v1/events", headers=admin, content=f'{{"token": "{SQUARE_TOKEN}", oops')
        assert bad_json.status_code == 400
        shop = c.post(
            "/v1/webhooks/shop",
            content=json.dumps({"id": 1, "note": SHOPIFY_WEBHOOK_SECRET}),
            headers={
                "X-Shopify-Hmac-Sha256": SHOPIFY_WEBHOOK_SECRET,
                "X-Shopify-Topic": "orders/create",
                "Authorization": f"Bearer {SQUARE_TOKEN}",
            },
        )
        assert shop.status_code == 401
        square = c.post(
            "/v1/webhooks/square",
            content=json.dumps({"type": "order.updated", "key": SQUARE_SIGNATURE_KEY}),
            headers={"X-Square-Hmacsha256-Signature": SQUARE_SIGNATURE_KEY},
        )
        assert square.status_code == 401

        # And the dispatcher's failed push to the echoing receiver has been logged, and
        # the server has written the line of the last request (its stderr is read apart)
        expected = ('"delivery attempt failed"', '"path": "/v1/webhooks/square"')
        assert server.wait_for_lines(
            lambda lines: all(any(e in line for line in lines) for e in expected), timeout=60
        ), "the expected log lines never came"

    logs = "".join(server.lines)
    records = [json.loads(line) for line in server.lines if line.startswith("{")]
    # Then no secret is anywhere in the logs
    for secret in SECRETS:
        assert secret not in logs, f"{secret} leaked into the logs"
    # And the records are JSON with the request's correlation id on the request lines
    requests = [r for r in records if r.get("event") == "request"]
    assert any(r.get("correlation_id") == CORRELATION and r["status"] == 200 for r in requests)
    assert any(r["status"] == 401 and r["path"] == "/v1/channels" for r in requests)
    # And the failed delivery names its target, its delivery and the sale's correlation id
    failed = next(r for r in records if r.get("event") == "delivery attempt failed")
    assert failed["target"] == "hook"
    assert isinstance(failed["delivery_id"], int)
    assert failed["correlation_id"] == EVENT_CORRELATION
    assert failed["status"] == 500
    assert "***" in failed["error"]
    # And the bad signatures were logged, masked
    assert any("bad signature" in r.get("event", "") for r in records)
