"""The log redactor: what it masks, in fields and in free text (docs/security.md)."""

from __future__ import annotations

from stockbridge.config import Settings
from stockbridge.logs import MASK, Redactor, secret_values


def test_fields_named_like_secrets_are_masked_whatever_they_hold() -> None:
    redact = Redactor()
    record = redact.value(
        {
            "event": "sent",
            "headers": {"Authorization": "anything", "X-Shopify-Access-Token": "t", "n": 2},
            "password": "hunter2",
            "target": "shop",
        }
    )
    assert record == {
        "event": "sent",
        "headers": {"Authorization": MASK, "X-Shopify-Access-Token": MASK, "n": 2},
        "password": MASK,
        "target": "shop",
    }


def test_secrets_shaped_like_secrets_are_masked_in_text() -> None:
    redact = Redactor()
    assert redact.text("Authorization: Bearer abc.def-ghi") == f"Authorization: Bearer {MASK}"
    assert redact.text("key sbk_AbCdEf123456 refused") == f"key {MASK} refused"
    assert redact.text("GET /x?access_token=s3cr3t&page=2") == f"GET /x?access_token={MASK}&page=2"
    assert redact.text('{"api_key": "k-123", "id": 4}') == f'{{"api_key": "{MASK}", "id": 4}}'


def test_registered_values_are_masked_anywhere_longest_first() -> None:
    redact = Redactor(["whsec-123456", "whsec-123456-extended", "abc"])
    assert redact.text("got whsec-123456-extended and whsec-123456") == f"got {MASK} and {MASK}"
    # Too short to register: masking every "abc" would garble the logs.
    assert redact.text("abc") == "abc"


def test_the_configuration_names_its_secrets() -> None:
    # Given targets and connectors holding secrets inline, in URLs and by environment
    settings = Settings().with_overrides(
        bootstrap_key="boot-key-123456",
        targets={
            "hook": {"url": "https://h.example/x?token=url-token-99&a=1", "secret": "whsec-42abc"},
            "shop": {"kind": "shopify", "platform": {"access_token_env": "SHOP_TOKEN"}},
        },
    )
    # When its secrets are collected with the environment
    found = secret_values(settings, {"SHOP_TOKEN": "shpat_from_env_1", "OTHER": "not-a-secret"})
    # Then each is found, and nothing else
    assert sorted(found) == sorted(
        ["url-token-99", "whsec-42abc", "shpat_from_env_1", "boot-key-123456"]
    )


def test_a_group_names_the_first_correlation_ids_of_its_events() -> None:
    from stockbridge.app.ingest import prepare
    from stockbridge.app.log_context import MAX_GROUP_IDS, group_correlations

    # Given two client batches: one event with its own id, then many without one
    first = prepare([{"event_id": "a", "source": "pos", "type": "sale", "sku": "T",
                      "location": "S1", "quantity": 1, "occurred_at": "2026-03-02T09:00:00Z",
                      "correlation_id": "till-4"}])  # fmt: skip
    many = prepare(
        [{**first.candidates[0][2], "event_id": f"e{i}", "correlation_id": None}
         for i in range(50)]
    )  # fmt: skip
    # When the group's ids are named for a line about the whole group
    ids = group_correlations([first, many])
    # Then the source's id comes first, derived ones after, and no more than the bound
    assert ids[:3] == ["till-4", "event:pos:e0", "event:pos:e1"]
    assert len(ids) == MAX_GROUP_IDS
