"""Reconciliation from a 3PL's 846 inventory advice: the newest advice, kept as
observations, compared with the ledger as of the advice's own instant; the trusted
warehouse's figures become counts."""

from __future__ import annotations

from pathlib import Path

from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.app.bootstrap import bootstrap
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import PartnerSettings
from stockbridge.connectors.edi.poll import run_pass

from ..conftest import event, hub_settings, seed_master
from .test_edi_documents import drop, interchange, partner

__all__ = ["partner"]  # fixtures


def test_the_newest_846_is_reconciled_and_taken_as_counts(
    tmp_path: Path, partner: PartnerSettings
) -> None:
    # Given a hub with 10 tees received at DC at 09:00 and 2 sold at 13:00
    store = SqliteStore(str(tmp_path / "hub.db"))
    store.migrate()
    settings = hub_settings(
        edi={"partners": {"acme": partner.model_dump(mode="json")}},
        reconciliation={
            "systems": {"dc-3pl": {"kind": "edi", "partner": "acme", "policy": "accept_theirs"}}
        },
    )
    hub = bootstrap(settings, store=store)
    try:
        seed_master(hub)
        hub.submit(
            [
                event("r1", "receipt", location="DC", quantity=10),
                event("s1", "sale", location="DC", quantity=2, at="2026-03-02T13:00:00+00:00"),
            ]
        )
        # And two 846s from the warehouse; the newer, at 12:00, counts 7 tees, no mugs and
        # an item the hub does not know
        old = ["BIA*00*SI*INV1*20260302*0800", "LIN**VN*TEE-M", "QTY*17*1"]
        new = [
            "BIA*00*SI*INV2*20260302*1200",
            "LIN**VN*TEE-M",
            "QTY*33*6",
            "QTY*17*7",
            "LIN**VN*W-MUG",
            "QTY*17*0",
            "LIN**VN*ZZ-9",
            "QTY*17*3",
        ]
        drop(partner, "a.x12", interchange(31, "IB", "846", old))
        drop(partner, "b.x12", interchange(32, "IB", "846", new))
        run_pass("acme", partner, HubPort.of(hub))

        # When the warehouse is reconciled
        record = hub.reconciliation.pull("dc-3pl")
        lines = {d.system_sku: d for d in hub.reconciliation.lines(record.id)}

        # Then the newest advice was compared as of its own instant (12:00: 10 tees then)
        assert (record.origin, record.lines_read, record.matched) == ("edi", 3, 1)
        assert record.snapshot_us == 1772452800000000  # 2026-03-02T12:00:00Z
        tee = lines["TEE-M"]
        assert (tee.hub, tee.system, tee.cause.value, tee.action.value) == (
            10,
            7,
            "drift",
            "counted",
        )
        assert lines["ZZ-9"].cause.value == "mapping_missing"
        # And the warehouse's 7 became a count at 12:00; the 13:00 sale applies on top
        position = hub.store.position("TEE-M", "DC")
        assert position is not None and position.on_hand == 5
        # And a second run finds the tee equal, the unknown item still unmapped
        again = hub.reconciliation.pull("dc-3pl")
        assert [d.system_sku for d in hub.reconciliation.lines(again.id)] == ["ZZ-9"]
    finally:
        hub.close()
