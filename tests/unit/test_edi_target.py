"""The x12 target: settings, which deliveries it writes, skips or refuses."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from pydantic import ValidationError

from stockbridge.app.ports import Delivery
from stockbridge.app.targets import TargetIn
from stockbridge.connectors.edi.target import X12Target

PARTNER = """
[edi.partners.acme]
sender_id = "STOCKBRIDGE"
sender_qualifier = "ZZ"
receiver_id = "ACME3PL"
receiver_qualifier = "ZZ"
location = "DC"
inbound = "{root}/in"
outbound = "{root}/out"
archive = "{root}/archive"
error = "{root}/error"
"""


def delivery(kind: str, payload: dict[str, Any], key: str = "k1") -> Delivery:
    return Delivery(1, "acme-3pl", kind, "key", key, payload, 2, "pending", 0, 0, 0, 0, 0,
                    None, None, None, [])  # fmt: skip


def target(tmp_path: Path, config: Path | None = None) -> X12Target:
    if config is None:
        config = tmp_path / "stockbridge.toml"
        config.write_text(PARTNER.format(root=tmp_path))
    cfg = TargetIn(
        kind="x12", url="http://localhost/", postings=True,
        platform={"partner": "acme", "config": str(config)},
    )  # fmt: skip
    return X12Target("acme-3pl", cfg, httpx.AsyncClient())


def test_the_platform_settings_are_checked_with_the_key_named() -> None:
    with pytest.raises(ValidationError) as caught:
        TargetIn(kind="x12", url="http://localhost/", platform={"partner": "acme"})
    assert "platform.config: Field required" in str(caught.value)


ORDER = {
    "type": "sales_order",
    "document_number": "order:web:O1",
    "channel": "web",
    "order_id": "O1",
    "ordered_at": "2026-03-02T09:30:00+00:00",
    "lines": [
        {"line": 1, "sku": "TEE-M", "quantity": "5", "location": "DC"},
        {"line": 2, "sku": "MUG", "quantity": "1", "location": "S1"},
    ],
}


def test_an_order_for_the_3pl_becomes_one_940_file(tmp_path: Path) -> None:
    t = target(tmp_path)
    result = asyncio.run(t.send(delivery("posting", ORDER)))
    assert result.status == 200, result.error
    (file,) = (tmp_path / "out").iterdir()
    assert result.headers["X-X12-File"] == str(file)
    text = file.read_text()
    assert "ST*940*0001~" in text and "LX*1~\nW01*5*EA**SK*TEE-M~" in text
    assert "W76*5~" in text and "MUG" not in text
    # A retry of the same delivery writes nothing more
    assert asyncio.run(t.send(delivery("posting", ORDER))).status == 200
    assert len(list((tmp_path / "out").iterdir())) == 1


def test_what_is_not_for_the_warehouse_is_skipped_or_refused(tmp_path: Path) -> None:
    t = target(tmp_path)
    elsewhere = {**ORDER, "lines": [ORDER["lines"][1]]}  # type: ignore[index]
    assert asyncio.run(t.send(delivery("posting", elsewhere))).status == 204
    movement = {"type": "posting", "movement": "sale", "sku": "TEE-M", "location": "DC"}
    assert asyncio.run(t.send(delivery("posting", movement))).status == 204
    push = {"type": "availability", "channel": "web", "sku": "TEE-M", "available": "3"}
    refused = asyncio.run(t.send(delivery("availability", push)))
    assert refused.status == 422 and "takes postings" in (refused.error or "")
    assert not (tmp_path / "out").exists()


def test_a_missing_partner_is_retried_not_refused(tmp_path: Path) -> None:
    t = target(tmp_path, tmp_path / "missing.toml")
    result = asyncio.run(t.send(delivery("posting", ORDER)))
    assert result.status is None and "platform.config: cannot read" in (result.error or "")
