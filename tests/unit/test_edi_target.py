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


def hold(movement: str, reservation_id: str = "cc-42", **more: Any) -> dict[str, Any]:
    return {
        "type": "posting",
        "movement": movement,
        "document_number": f"reservations:{movement}-{reservation_id}",
        "sku": "TEE-M",
        "location": "DC",
        "quantity": "2",
        "occurred_at": "2026-03-02T09:30:00+00:00",
        "reference": "click and collect",
        "reservation_id": reservation_id,
        **more,
    }


def test_a_reservation_at_the_3pl_becomes_one_940_and_its_release_a_cancel(
    tmp_path: Path,
) -> None:
    t = target(tmp_path)
    # Given a hold at the 3PL's location, delivered twice under two delivery keys
    first = asyncio.run(t.send(delivery("posting", hold("reserve"), key="reservations:r1")))
    again = asyncio.run(t.send(delivery("posting", hold("reserve"), key="other:r1")))
    # Then one 940 is written, under the reservation id, for the reserved units
    assert (first.status, again.status) == (200, 200)
    assert first.headers["X-X12-File"] == again.headers["X-X12-File"]
    (file,) = (tmp_path / "out").iterdir()
    assert "W05*N*cc-42*click and collect~" in file.read_text()
    assert "W01*2*EA**SK*TEE-M~" in file.read_text()
    # When it is released before the warehouse shipped it
    cancel = asyncio.run(t.send(delivery("posting", hold("release"), key="reservations:x1")))
    # Then a cancelling 940 (W05-01 C) follows for the same depositor order number
    assert cancel.status == 200
    assert "W05*C*cc-42*click and collect~" in Path(cancel.headers["X-X12-File"]).read_text()
    # And a hold elsewhere is none of the warehouse's business
    store = asyncio.run(t.send(delivery("posting", hold("reserve", "s-1", location="S1"))))
    assert store.status == 204
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_a_release_before_any_940_cancels_nothing_and_voids_a_late_hold(tmp_path: Path) -> None:
    t = target(tmp_path)
    # Given a release delivered before its hold (nothing sent to cancel)
    assert asyncio.run(t.send(delivery("posting", hold("release"), key="a"))).status == 204
    # Then the hold that comes after it is not sent either
    assert asyncio.run(t.send(delivery("posting", hold("reserve"), key="b"))).status == 204
    assert not (tmp_path / "out").exists()


def test_reservation_holds_reach_x12_targets_unless_told_otherwise() -> None:
    from stockbridge.app.routing import load_routing

    x12 = {"kind": "x12", "postings": True, "platform": {"partner": "a", "config": "c.toml"}}
    targets = {
        "3pl": (x12, True),
        "quiet-3pl": ({**x12, "reservations": False}, True),
        "erp": ({"url": "http://erp/", "postings": True}, True),
        "wms": ({"url": "http://wms/", "postings": True, "reservations": True}, True),
    }
    routing = load_routing({}, targets)
    assert routing.posting_targets == ("3pl", "erp", "quiet-3pl", "wms")
    assert routing.reservation_targets == ("3pl", "wms")


def transfer_order(to: str = "S1", cancel: bool = False, origin: str = "DC") -> dict[str, Any]:
    from datetime import UTC, datetime
    from decimal import Decimal

    from stockbridge.domain.transfers import Transfer, TransferLine, open_transfer, warehouse_order

    t = Transfer("T7", "transfers", origin, to, datetime(2026, 3, 2, 9, tzinfo=UTC),
                 (TransferLine(1, "TEE-M", Decimal(4)),))  # fmt: skip
    return warehouse_order(open_transfer(t), t.created_at, cancel=cancel).payload


def test_a_transfer_out_of_the_3pl_becomes_a_940_to_the_receiving_location(
    tmp_path: Path,
) -> None:
    t = target(tmp_path)
    # Given a transfer order out of the 3PL's location, delivered twice
    first = asyncio.run(t.send(delivery("posting", transfer_order(), key="transfer_order:T7")))
    again = asyncio.run(t.send(delivery("posting", transfer_order(), key="retry")))
    # Then one 940 ships its lines to the receiving location under the transfer id
    assert (first.status, again.status) == (200, 200)
    (file,) = (tmp_path / "out").iterdir()
    text = file.read_text()
    assert "W05*N*T7*" in text and "N1*ST*S1*91*S1~" in text
    assert "W01*4*EA**SK*TEE-M~" in text
    # When the transfer is cancelled: a 940 W05-01 C under the same number
    cancel = asyncio.run(t.send(delivery("posting", transfer_order(cancel=True), key="c")))
    assert "W05*C*T7*" in Path(cancel.headers["X-X12-File"]).read_text()
    # And a transfer into the 3PL or between stores is no 940
    inbound = asyncio.run(t.send(delivery("posting", transfer_order(to="DC", origin="S1"))))
    assert inbound.status == 204


def test_a_transfer_cancelled_before_its_940_is_never_sent(tmp_path: Path) -> None:
    t = target(tmp_path)
    # Given the cancellation delivered before the order (nothing sent to cancel)
    assert asyncio.run(t.send(delivery("posting", transfer_order(cancel=True)))).status == 204
    # Then the order that comes after it is not sent either
    assert asyncio.run(t.send(delivery("posting", transfer_order(), key="b"))).status == 204
    assert not (tmp_path / "out").exists()
