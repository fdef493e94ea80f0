"""A Shopify target's platform settings: refused by name when wrong."""

from __future__ import annotations

import pytest

from stockbridge.app.targets import TargetIn


def test_target_settings_name_the_bad_key() -> None:
    base = {"access_token_env": "TOKEN", "location_id": "gid://shopify/Location/1"}
    ok = TargetIn(kind="shopify", url="https://x.myshopify.com", platform=base)
    assert ok.platform == base
    for platform, key in (
        ({**base, "location_id": "gid://shopify/Product/1"}, "platform.location_id"),
        ({**base, "inventory_items": {"TEE-M": "nope"}}, "platform.inventory_items"),
        ({**base, "reason": "because"}, "platform.reason"),
        ({**base, "api_version": "2025-01"}, "platform.api_version"),
        ({**base, "colour": "red"}, "platform.colour"),
        ({"location_id": "1"}, "platform.access_token_env"),
    ):
        with pytest.raises(ValueError) as e:
            TargetIn(kind="shopify", url="https://x.myshopify.com", platform=platform)
        assert key in str(e.value)
