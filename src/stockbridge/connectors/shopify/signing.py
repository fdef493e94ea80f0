"""Webhook signatures: base64(HMAC-SHA256(app client secret, raw body))."""

from __future__ import annotations

import base64
import hashlib
import hmac


def sign(secret: str, body: bytes) -> str:
    """The `X-Shopify-Hmac-Sha256` value of `body`."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of the raw `body` (constant-time compare).

    The header is base64, not hex: it is compared as bytes, so a hex digest of the right
    HMAC never passes.
    """
    if not header:
        return False
    return hmac.compare_digest(
        sign(secret, body).encode("ascii"), header.strip().encode("ascii", "replace")
    )
