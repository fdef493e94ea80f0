"""The seam platform connectors plug into: target kinds and their settings, inbound
connectors declared in the configuration, and per-item refusals in a batch."""

from __future__ import annotations

from typing import Any

import pytest

from stockbridge.app.connectors import load_connectors
from stockbridge.app.targets import TargetIn
from stockbridge.config import ConfigError
from stockbridge.connectors.registry import UnknownConnector, inbound_class, simulator


def test_a_webhook_target_takes_no_platform_settings() -> None:
    with pytest.raises(ValueError, match="platform settings are for platform targets"):
        TargetIn.model_validate({"url": "http://shop", "platform": {"api_version": "2026-04"}})


def test_an_unknown_target_kind_is_refused_naming_the_kinds() -> None:
    with pytest.raises(ValueError, match="kind"):
        TargetIn.model_validate({"kind": "ebay", "url": "http://shop"})


def test_a_connector_without_a_kind_is_a_configuration_error_naming_the_key() -> None:
    with pytest.raises(ConfigError, match=r"connectors\.till\.kind: required"):
        load_connectors({"till": {"secret_env": "X"}}, {})


def test_a_connector_of_an_unknown_kind_names_the_known_ones() -> None:
    with pytest.raises(
        ConfigError, match=r"connectors\.till\.kind: .*known: amazon, shopify, square"
    ):
        load_connectors({"till": {"kind": "lightspeed"}}, {})


def test_unknown_kinds_have_no_inbound_connector_or_simulator() -> None:
    with pytest.raises(UnknownConnector):
        inbound_class("lightspeed")
    with pytest.raises(UnknownConnector):
        simulator("lightspeed")


def test_only_file_targets_go_without_a_url(tmp_path: object) -> None:
    with pytest.raises(ValueError, match="url: a webhook target needs the address"):
        TargetIn.model_validate({"kind": "webhook"})
    feed = TargetIn.model_validate({"kind": "csv", "platform": {"folder": str(tmp_path)}})
    assert feed.url is None
    with pytest.raises(ValueError, match="has no url"):
        _ = feed.address


def test_a_platform_target_names_the_credential_variables_that_are_not_set() -> None:
    from stockbridge.app.targets import unset_credentials

    target = TargetIn.model_validate({"kind": "webhook", "url": "http://shop"}).model_copy(
        update={"platform": {"access_token_env": "SHOP_TOKEN", "api_version": "x"}}
    )
    assert unset_credentials(target, {}) == [
        ("platform.access_token_env", "environment variable SHOP_TOKEN is not set")
    ]
    assert unset_credentials(target, {"SHOP_TOKEN": "shpat_1"}) == []


def test_a_connector_added_later_is_validated_as_a_declared_one() -> None:
    from stockbridge.app.connectors import ConnectorService
    from stockbridge.connectors.square.inbound import SquareInbound

    def unused(_: object) -> Any:
        raise AssertionError("nothing is received here")

    # Given a hub's connectors, none declared
    service = ConnectorService({}, submit=unused, submit_command=unused)
    square = {
        "kind": "square",
        "signature_key_env": "SQ_SIG",
        "notification_url": "https://hub.example.com/v1/webhooks/till",
        "access_token_env": "SQ_TOKEN",
    }
    # When one is added without its credentials set, the error names the key
    with pytest.raises(ConfigError, match=r"connectors\.till\.signature_key_env: .*SQ_SIG"):
        service.add("till", square, {})
    # With them, it receives and keeps observations under its name
    service.add("till", square, {"SQ_SIG": "k", "SQ_TOKEN": "t"})
    assert isinstance(service.connectors["till"], SquareInbound)
    assert service.observations("till") == []
    # And a second one of the same name is refused
    with pytest.raises(ConfigError, match=r"connectors\.till: already declared"):
        service.add("till", square, {"SQ_SIG": "k", "SQ_TOKEN": "t"})


def test_a_target_that_dates_what_it_sends_gets_the_hubs_clock() -> None:
    from datetime import UTC, datetime

    import httpx

    from stockbridge.connectors.registry import build_target

    # Given the hub's clock on a simulated day
    day = datetime(2026, 11, 28, 9, tzinfo=UTC)
    config = TargetIn.model_validate(
        {"kind": "square", "url": "http://square", "platform": {"access_token_env": "T"}}
    )
    # When the Square target is built by the dispatcher's factory
    target = build_target("sq", config, httpx.AsyncClient(), now=lambda: day)
    # Then it dates its changes on that clock
    assert target.now() == day  # type: ignore[attr-defined]
