"""846 inventory advice kept as the warehouse's snapshot: stored on SQLite and PostgreSQL,
the latest report per partner for reconciliation, and read through the observations API
over real HTTP."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import httpx

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.app.ports import SnapshotRow
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import load_partners
from stockbridge.connectors.edi.poll import run_pass
from stockbridge.domain.model import to_micros

from ..conftest import START, event
from .conftest import admin_client, start_hub
from .test_edi_documents import drop, interchange


def row(reference: str, sku: str, on_hand: str, hours: float, source: str = "acme") -> SnapshotRow:
    return SnapshotRow(
        source, reference, sku, "DC", Decimal(on_hand), {"17": Decimal(on_hand)},
        {"VN": f"W-{sku}"}, to_micros(START) + int(hours * 3_600_000_000),
    )  # fmt: skip


def test_the_latest_report_of_a_partner_is_its_snapshot(store: SqlStore) -> None:
    # Given a first report of two items, then the same report sent again
    first = [row("INV1", "TEE-M", "7", 0), row("INV1", "MUG", "2.5", 0)]
    assert store.save_warehouse_snapshot(first, 1) == 2
    assert store.save_warehouse_snapshot(first, 2) == 0
    (tee, mug) = sorted(store.latest_warehouse_snapshot("acme"), key=lambda r: r.sku, reverse=True)
    assert (tee.reference, tee.sku, tee.quantity, tee.quantities) == (
        "INV1", "TEE-M", Decimal(7), {"17": Decimal(7)}
    )  # fmt: skip
    assert (mug.quantity, mug.items, mug.recorded_us) == (Decimal("2.5"), {"VN": "W-MUG"}, 1)
    # When a later report comes, and an older one arrives after it
    store.save_warehouse_snapshot([row("INV3", "TEE-M", "5", 2)], 3)
    store.save_warehouse_snapshot([row("INV2", "TEE-M", "6", 1)], 4)
    # Then the latest by the report's own time stands, whole
    assert [(r.reference, r.sku, r.quantity) for r in store.latest_warehouse_snapshot("acme")] == [
        ("INV3", "TEE-M", Decimal(5))
    ]
    # And partners do not see each other's reports
    store.save_warehouse_snapshot([row("X1", "MUG", "1", 9, source="other")], 5)
    assert [r.reference for r in store.latest_warehouse_snapshot("acme")] == ["INV3"]
    assert store.latest_warehouse_snapshot("nobody") == []


PARTNER = {
    "sender_id": "STOCKBRIDGE",
    "sender_qualifier": "ZZ",
    "receiver_id": "ACME3PL",
    "receiver_qualifier": "ZZ",
    "location": "DC",
    "item_qualifier": "VN",
    "items": {"MUG": "W-MUG"},
}


def test_an_846_snapshot_is_read_through_the_observations_api(tmp_path: Path) -> None:
    # Given a hub with the 3PL as a trading partner, 10 tees on hand at DC in the ledger
    folders = {k: str(tmp_path / k) for k in ("inbound", "outbound", "archive", "error")}
    edi = {"partners": {"acme": {**PARTNER, **folders}}}
    partner = load_partners(edi)["acme"]
    store = SqliteStore(str(tmp_path / "hub.db"))
    store.migrate()
    hub, server = start_hub(store, edi=edi)
    try:
        with admin_client(server) as client:
            stock = [event("r1", "receipt", location="DC", quantity=10)]
            assert client.post("/v1/events", json={"events": stock}).status_code == 200
            # When the warehouse sends its inventory advice (one item with no on-hand qty)
            body = ["BIA*00*SI*INV7*20260302*1200", "DTM*007*20260302", "LIN**VN*TEE-M",
                    "QTY*33*6", "QTY*17*7", "LIN**VN*W-MUG", "QTY*17*2", "LIN**VN*CAP",
                    "QTY*29*4", "CTT*3"]  # fmt: skip
            drop(partner, "inv.x12", interchange(61, "IB", "846", body))
            result = run_pass("acme", partner, HubPort.of(hub))
            assert result.files[0].outcomes == [
                "846 INV7: snapshot of 2 item(s), 1 without an on-hand quantity"
            ]
            # Then the observations API shows the snapshot, the ledger untouched
            r = client.get("/v1/connectors/acme/observations")
            assert r.status_code == 200, r.text
            seen = r.json()["observations"]
            assert [(o["sku"], o["location"], o["quantity"]) for o in seen] == [
                ("MUG", "DC", "2"),
                ("TEE-M", "DC", "7"),
            ]
            assert seen[1]["quantities"] == {"33": "6", "17": "7"}
            assert seen[1]["as_of"] == "2026-03-02T12:00:00+00:00"
            assert seen[1]["reference"] == "INV7" and seen[0]["items"] == {"VN": "W-MUG"}
            assert hub.store.position("TEE-M", "DC").on_hand == 10  # type: ignore[union-attr]
            # And a name that is no connector nor partner is a 404
            assert client.get("/v1/connectors/nobody/observations").status_code == 404
            # And the API needs a key that may read positions
            anonymous = httpx.get(f"{server.url}/v1/connectors/acme/observations")
            assert anonymous.status_code == 401
    finally:
        hub.close()
