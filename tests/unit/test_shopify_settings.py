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


def test_the_mapping_source_defaults_to_cross_references_and_explicit_maps_still_work() -> None:
    token = {"access_token_env": "TOKEN"}
    url = "https://x.myshopify.com"
    # A new target with no explicit map reads the hub's cross references
    xrefs = TargetIn(kind="shopify", url=url, platform={**token, "location": "DC"})
    assert xrefs.platform["location"] == "DC"
    # An existing one with inventory_items keeps reading them
    explicit = {**token, "location_id": 1, "inventory_items": {"TEE-M": 7}}
    TargetIn(kind="shopify", url=url, platform=explicit)
    for platform, message in (
        (token, ("platform.location:", "required")),
        ({**explicit, "mapping": "xrefs"}, ("platform.mapping:", "inventory_items is explicit")),
        ({**token, "location_id": 1, "mapping": "settings"}, ("platform.mapping:", "needs")),
        ({**token, "location": "DC", "mapping": "settings"}, ("platform.mapping:", "needs")),
        ({**token, "location": "DC", "mapping": "csv"}, ("platform.mapping:", "'xrefs'")),
    ):
        with pytest.raises(ValueError) as e:
            TargetIn(kind="shopify", url=url, platform=platform)
        assert all(part in str(e.value) for part in message), (platform, str(e.value))
