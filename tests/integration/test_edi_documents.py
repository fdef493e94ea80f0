"""Each warehouse document applied by one inbound pass, on a hub with a SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.app.bootstrap import Hub, bootstrap
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import PartnerSettings
from stockbridge.connectors.edi.outbound import depositor_number, plan
from stockbridge.connectors.edi.poll import run_pass

from ..conftest import event, hub_settings, seed_master


def isa(control: str) -> str:
    return "*".join(
        ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "ACME3PL".ljust(15), "ZZ",
         "STOCKBRIDGE".ljust(15), "260302", "1405", "U", "00401", control, "0", "P", ">"]
    )  # fmt: skip


def interchange(control: int, fid: str, set_id: str, body: list[str]) -> str:
    lines = [
        isa(f"{control:09d}"),
        f"GS*{fid}*ACME3PL*STOCKBRIDGE*20260302*1405*{control}*X*004010",
        f"ST*{set_id}*0001",
        *body,
        f"SE*{len(body) + 2}*0001",
        f"GE*1*{control}",
        f"IEA*1*{control:09d}",
    ]
    return "~".join(lines) + "~"


@pytest.fixture
def partner(tmp_path: Path) -> PartnerSettings:
    root = tmp_path / "edi"
    return PartnerSettings(
        sender_id="STOCKBRIDGE",
        sender_qualifier="ZZ",
        receiver_id="ACME3PL",
        receiver_qualifier="ZZ",
        inbound=root / "in",
        outbound=root / "out",
        archive=root / "archive",
        error=root / "error",
        location="DC",
        item_qualifier="VN",
        items={"MUG": "W-MUG"},
    )


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[Hub]:
    store = SqliteStore(str(tmp_path / "hub.db"))
    store.migrate()
    h = bootstrap(hub_settings(), store=store)
    seed_master(h)
    h.submit([event("r1", "receipt", location="DC", quantity=10)])
    try:
        yield h
    finally:
        h.close()


def drop(partner: PartnerSettings, name: str, text: str) -> None:
    partner.inbound.mkdir(parents=True, exist_ok=True)
    (partner.inbound / name).write_text(text)


def on_hand(hub: Hub, sku: str) -> Decimal:
    p = hub.store.position(sku, "DC")
    return p.on_hand if p is not None else Decimal(0)


def test_a_947_adjusts_stock_with_mapped_reasons_once(hub: Hub, partner: PartnerSettings) -> None:
    body = [
        "W15*20260302*ADJ7",
        "W19*AU*-2*EA**VN*TEE-M",
        "W19*AA*3*EA**VN*W-MUG",
    ]
    drop(partner, "a.x12", interchange(11, "AW", "947", body))
    drop(partner, "b.x12", interchange(12, "AW", "947", body))  # the same advice, resent
    result = run_pass("acme", partner, HubPort.of(hub))
    assert [f.status for f in result.files] == ["applied", "applied"]
    assert on_hand(hub, "TEE-M") == 8 and on_hand(hub, "MUG") == 3
    stored = hub.store.event("acme", "947:ADJ7:1")
    assert stored is not None and (stored.reason, stored.quantity) == ("damaged", -2)


def test_an_unannounced_944_records_receipts(hub: Hub, partner: PartnerSettings) -> None:
    body = ["W17*F*20260302*RC1*PO9", "LX*1", "W07*4*EA**VN*TEE-M", "W14*4"]
    drop(partner, "r.x12", interchange(21, "RE", "944", body))
    result = run_pass("acme", partner, HubPort.of(hub))
    assert result.files[0].outcomes == ["944 receipt RC1: 1 event(s): accepted 1"]
    assert on_hand(hub, "TEE-M") == 14


def test_an_846_is_kept_as_a_snapshot_or_applied_as_counts(
    hub: Hub, partner: PartnerSettings
) -> None:
    body = ["BIA*00*SI*INV1*20260302*1200", "LIN**VN*TEE-M", "QTY*33*6", "QTY*17*7"]
    drop(partner, "i.x12", interchange(31, "IB", "846", body))
    run_pass("acme", partner, HubPort.of(hub))
    (seen,) = hub.store.latest_warehouse_snapshot("acme")
    assert (seen.sku, seen.location, seen.quantity) == ("TEE-M", "DC", 7)  # QTY 17, on hand
    assert seen.quantities == {"33": Decimal(6), "17": Decimal(7)}
    assert on_hand(hub, "TEE-M") == 10  # a snapshot never touches the ledger
    counting = partner.model_copy(update={"inventory_846": "counts"})
    body[0] = "BIA*00*SI*INV2*20260302*1300"
    drop(partner, "j.x12", interchange(32, "IB", "846", body))
    run_pass("acme", counting, HubPort.of(hub))
    assert on_hand(hub, "TEE-M") == 7  # QTY 17, on hand


def test_a_945_for_an_unknown_order_is_an_exception(hub: Hub, partner: PartnerSettings) -> None:
    body = ["W06*F*NOPE*20260302*SH1", "LX*1", "W12*CC*1*1*0*EA**VN*TEE-M", "W03*1"]
    drop(partner, "s.x12", interchange(41, "SW", "945", body))
    result = run_pass("acme", partner, HubPort.of(hub))
    assert "no order, transfer or reservation" in result.files[0].outcomes[0]
    (exc,) = hub.store.exceptions(status="open", source="acme", after_id=0, limit=5)
    assert exc.reason == "invalid_order"


def test_a_file_from_another_partner_is_refused(hub: Hub, partner: PartnerSettings) -> None:
    text = interchange(51, "AW", "947", ["W15*20260302*ADJ9", "W19*AU*-1*EA**VN*TEE-M"])
    drop(partner, "x.x12", text.replace("ACME3PL        ", "OTHER3PL       ", 1))
    (f,) = run_pass("acme", partner, HubPort.of(hub)).files
    assert f.status == "rejected" and "[TA1 006]" in f.errors[0]
    assert on_hand(hub, "TEE-M") == 10


def test_a_rejecting_997_raises_an_exception_and_lets_a_replay_write_again(
    hub: Hub, partner: PartnerSettings
) -> None:
    from stockbridge.connectors.edi.target import write_outgoing

    posting = {
        "type": "sales_order",
        "channel": "web",
        "order_id": "O1",
        "ordered_at": "2026-03-02T09:30:00+00:00",
        "lines": [{"line": 1, "sku": "MUG", "quantity": "2", "location": "DC"}],
    }
    out = plan(partner, posting)
    assert out is not None and ["W01", "2", "EA", "", "VN", "W-MUG"] in out.body
    now = hub.clock.now()
    write_outgoing(partner, out, "order:web:O1", 77, now)
    assert write_outgoing(partner, out, "order:web:O1", 77, now) == "940-000000001.x12"
    assert len(list(partner.outbound.iterdir())) == 1  # a retry writes nothing new
    reject = ["AK1*OW*1", "AK2*940*0001", "AK3*W01*3**8", "AK4*2*355*4*E", "AK5*R*5", "AK9*R*1*1*0"]
    drop(partner, "ack.x12", interchange(61, "FA", "997", reject))
    result = run_pass("acme", partner, HubPort.of(hub))
    assert result.files[0].acks == []  # a 997 is never acknowledged
    (exc,) = hub.store.exceptions(status="open", source="acme", after_id=0, limit=5)
    assert exc.reason == "target_rejected" and exc.event_id == "77"
    assert "AK9 R" in exc.detail and "AK403=4" in exc.detail
    assert write_outgoing(partner, out, "order:web:O1", 77, now) == "940-000000002.x12"


def test_long_hub_ids_become_stable_depositor_numbers() -> None:
    long_id = "order-" + "x" * 40
    assert depositor_number("O1") == "O1"
    assert depositor_number(long_id) == depositor_number(long_id)
    assert len(depositor_number(long_id)) == 22


def test_a_ta1_answers_an_interchange_that_asks_or_whose_envelope_is_bad(
    hub: Hub, partner: PartnerSettings
) -> None:
    body = ["W15*20260302*ADJ9", "W19*AU*-1*EA**VN*TEE-M"]
    # Given a valid 947 whose sender asks for a TA1 (ISA14 = 1)
    asking = interchange(71, "AW", "947", body).replace("*0*P*>", "*1*P*>", 1)
    drop(partner, "a.x12", asking)
    (f,) = run_pass("acme", partner, HubPort.of(hub)).files
    # Then it is applied and answered by a TA1 accepting it, and a 997
    assert f.status == "applied" and [n.split("-")[0] for n in f.acks] == ["TA1", "997"]
    ta1 = (partner.outbound / f.acks[0]).read_text()
    assert "TA1*000000071*260302*1405*A*000~" in ta1 and "GS*" not in ta1
    assert "IEA*0*" in ta1
    assert on_hand(hub, "TEE-M") == 9
    # When an interchange's trailer does not match its header (ISA14 = 0)
    bad = interchange(72, "AW", "947", body).replace("IEA*1*000000072", "IEA*1*000000073")
    drop(partner, "b.x12", bad)
    (g,) = run_pass("acme", partner, HubPort.of(hub)).files
    # Then it is refused and answered by a TA1 rejecting it with note code 001
    assert g.status == "rejected" and [n.split("-")[0] for n in g.acks] == ["TA1", "997"]
    assert "TA1*000000072*260302*1405*R*001~" in (partner.outbound / g.acks[0]).read_text()
    (exc,) = hub.store.exceptions(status="open", source="acme", after_id=0, limit=5)
    assert exc.reason == "edi_rejected" and exc.field == "IEA02"
    assert exc.payload["faults"][0]["ta1"] == "001"
    assert on_hand(hub, "TEE-M") == 9


def test_a_rejecting_ta1_from_the_partner_raises_an_exception(
    hub: Hub, partner: PartnerSettings
) -> None:
    from stockbridge.connectors.edi.target import write_outgoing

    posting = {"type": "posting", "movement": "reserve", "document_number": "reservations:C1",
               "sku": "MUG", "location": "DC", "quantity": "1",
               "occurred_at": "2026-03-02T09:30:00+00:00", "reservation_id": "C1"}  # fmt: skip
    out = plan(partner, posting)
    assert out is not None
    write_outgoing(partner, out, "reservations:C1", 88, hub.clock.now())
    # When the warehouse answers the hub's interchange 1 with a TA1 rejecting it
    text = isa("000000081") + "~TA1*000000001*260302*0930*R*006~IEA*0*000000081~"
    drop(partner, "ta1.x12", text)
    (f,) = run_pass("acme", partner, HubPort.of(hub)).files
    # Then nothing is answered back, and the rejection is an exception naming the 940
    assert f.status == "applied" and f.acks == []
    assert f.outcomes == ["TA1 R 006 for interchange 1 (940-000000001.x12)"]
    (exc,) = hub.store.exceptions(status="open", source="acme", after_id=0, limit=5)
    assert exc.reason == "target_rejected" and exc.event_id == "88"
    assert "by TA1: note code 006" in exc.detail
