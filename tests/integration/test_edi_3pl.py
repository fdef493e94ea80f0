"""A 3PL cycle over X12 files, with the hub served over real HTTP on SQLite.

An order whose line ships from the 3PL's location reserves stock there; its sales order
posting reaches the x12 target, which writes a 940 into the partner's outbound folder.
The simulated warehouse answers with a 997 and a 945 (sent twice); one inbound pass
fulfils the order line once, acknowledges the 945s and closes the 940's interchange.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from stockbridge.adapters.sqlite import SqliteStore
from stockbridge.app.bootstrap import Hub
from stockbridge.connectors.edi.apply import HubPort
from stockbridge.connectors.edi.config import PartnerSettings, load_partners
from stockbridge.connectors.edi.poll import run_pass
from stockbridge.connectors.edi.simulator import Faults, Warehouse
from stockbridge.connectors.edi.state import PartnerState

from ..conftest import event
from .conftest import SECRET, admin_client, put_target, settled, start_hub, wait_for
from .receiver import Receiver
from .test_tickets_orders_api import order

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
item_qualifier = "SK"
"""


@pytest.fixture
def partner_file(tmp_path: Path) -> Path:
    path = tmp_path / "stockbridge.toml"
    path.write_text(PARTNER.format(root=tmp_path / "edi"))
    return path


@pytest.fixture
def partner(partner_file: Path) -> PartnerSettings:
    import tomllib

    return load_partners(tomllib.loads(partner_file.read_text())["edi"])["acme"]


@pytest.fixture
def system(tmp_path: Path, partner_file: Path) -> Iterator[tuple[Hub, httpx.Client, Receiver]]:
    store = SqliteStore(str(tmp_path / "hub.db"))
    store.migrate()
    hub, server = start_hub(store)
    with Receiver(secret=SECRET, seed=3) as erp, admin_client(server) as client:
        put_target(
            client,
            "acme-3pl",
            "http://127.0.0.1:9/unused",
            kind="x12",
            postings=True,
            platform={"partner": "acme", "config": str(partner_file)},
        )
        put_target(client, "erp", erp.url + "/erp", postings=True)
        stock = [event("r1", "receipt", location="DC", quantity=10)]
        stock.append(event("r2", "receipt", sku="MUG", location="S1", quantity=3))
        assert client.post("/v1/events", json={"events": stock}).json()["totals"]["accepted"] == 2
        try:
            yield hub, client, erp
        finally:
            hub.close()


def outbound(partner: PartnerSettings, prefix: str) -> list[Path]:
    return sorted(partner.outbound.glob(f"{prefix}-*.x12"))


def position(client: httpx.Client, sku: str, location: str) -> dict[str, Any]:
    body: dict[str, Any] = client.get(f"/v1/positions/{sku}/{location}").json()
    return body


def place_order(hub: Hub, client: httpx.Client, partner: PartnerSettings) -> Path:
    assert client.post("/v1/orders", json=order()).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub) and bool(outbound(partner, "940")), "the 940 file")
    (file,) = outbound(partner, "940")
    return file


def test_a_reservation_at_the_3pl_is_shipped_through_940_and_945_once(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, erp = system
    # Given an order of 5 tees from the 3PL's location (and a mug from a store)
    file = place_order(hub, client, partner)
    assert Decimal(position(client, "TEE-M", "DC")["reserved"]) == 5
    text = file.read_text()
    # Then the 940 asks the warehouse for the 3PL line only, under the order's number
    assert "W05*N*O1*web~" in text
    assert "W01*5*EA**SK*TEE-M~" in text and "MUG" not in text
    # When the warehouse answers with a 997 and the same 945 twice
    warehouse = Warehouse(
        partner.outbound,
        partner.inbound,
        {"TEE-M": Decimal(8)},
        seed=5,
        faults=Faults(duplicate_945=True),
    )
    written = warehouse.step()
    assert [n.split("-")[0] for n in written] == ["997", "945", "945"]
    result = run_pass("acme", partner, HubPort.of(hub))
    # Then the order line is fulfilled once and the duplicate changes nothing
    statuses = [f.status for f in result.files]
    assert statuses == ["applied", "applied", "applied"], result
    outcomes = [line for f in result.files for line in f.outcomes]
    assert any("997 A for interchange" in x for x in outcomes)
    assert sum("shipment SH" in x and x.endswith("accepted") for x in outcomes) == 1
    assert sum(x.endswith("duplicate") for x in outcomes) == 1
    tee = position(client, "TEE-M", "DC")
    assert (Decimal(tee["on_hand"]), Decimal(tee["reserved"])) == (5, 0)
    record = hub.store.order("web", "O1")
    assert record is not None and record.status == "partially_fulfilled"
    # And the ERP got the shipment posted once; the 940's interchange is acknowledged
    wait_for(hub, lambda: settled(hub), "the shipment posting")
    shipments = [x.key for x in erp.applied if x.key.startswith("shipment:web:O1:")]
    assert len(shipments) == 1
    sent = PartnerState(partner.state_folder).read()["sent"]
    assert [s["ack"] for s in sent.values()] == ["A"]
    # And the hub acknowledged each 945 it applied; the warehouse reads them as accepted
    assert len(outbound(partner, "997")) == 2
    warehouse.step()
    assert [code for _, code in warehouse.acks] == ["A", "A"]
    assert sorted(p.name for p in partner.archive.iterdir()) == sorted(written)


def test_a_malformed_file_applies_nothing_and_a_late_945_still_lands(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, _ = system
    place_order(hub, client, partner)
    warehouse = Warehouse(
        partner.outbound,
        partner.inbound,
        {"TEE-M": Decimal(3)},
        seed=9,
        faults=Faults(malformed=True, late=True),
    )
    # When the warehouse first sends a 945 with a wrong segment count, the real one late
    warehouse.step()
    first = run_pass("acme", partner, HubPort.of(hub))
    # Then that file is refused whole: error folder, rejecting 997, an exception
    rejected = [f for f in first.files if f.status == "rejected"]
    assert len(rejected) == 1
    (error,) = rejected[0].errors
    assert "number of included segments does not match actual count [AK502=4]" in error
    assert (partner.error / rejected[0].file).exists()
    (ack,) = rejected[0].acks
    assert "AK5*R*4~" in (partner.outbound / ack).read_text()
    assert "AK9*R*1*1*0~" in (partner.outbound / ack).read_text()
    (exc,) = hub.store.exceptions(status="open", source="acme", after_id=0, limit=10)
    assert exc.reason == "edi_rejected" and "[AK502=4]" in exc.detail
    # (the fault is named as data too: the SE trailer's count, with the set's number)
    assert exc.field == "SE"
    (fault,) = exc.payload["faults"]
    assert (fault["at"], fault["ak502"], fault["set"]) == ("SE", "4", "0001")
    assert Decimal(position(client, "TEE-M", "DC")["reserved"]) == 5
    # When the held 945 arrives (3 of 5 shipped: the warehouse had 3)
    warehouse.step()
    second = run_pass("acme", partner, HubPort.of(hub))
    assert [f.status for f in second.files] == ["applied"]
    tee = position(client, "TEE-M", "DC")
    # Then 3 units left, the 2 still open are reserved again
    assert (Decimal(tee["on_hand"]), Decimal(tee["reserved"])) == (7, 2)


def test_an_interchange_sent_again_applies_nothing_and_overdue_acks_are_raised(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, _ = system
    place_order(hub, client, partner)
    warehouse = Warehouse(partner.outbound, partner.inbound, {"TEE-M": Decimal(9)}, seed=1)
    written = warehouse.step()
    # Given the 945 is re-sent as the very same interchange after it was applied
    copy = (partner.inbound / written[1]).read_bytes()
    hub_port = HubPort.of(hub)
    run_pass("acme", partner, hub_port)
    (partner.inbound / "again.x12").write_bytes(copy)
    (partner.inbound / ".half-written.x12.tmp").write_bytes(copy[:50])
    again = run_pass("acme", partner, hub_port)
    # Then it is archived as a duplicate, the temp file is left alone
    assert [(f.file, f.status) for f in again.files] == [("again.x12", "duplicate")]
    assert (partner.inbound / ".half-written.x12.tmp").exists()
    tee = position(client, "TEE-M", "DC")
    assert (Decimal(tee["on_hand"]), Decimal(tee["reserved"])) == (5, 0)
    # When a second order's 940 gets no 997 within the partner's ack window
    assert client.post("/v1/orders", json=order("O2")).json()["status"] == "accepted"
    wait_for(hub, lambda: len(list(partner.outbound.rglob("940-*"))) == 2, "the second 940")
    later = HubPort(
        hub.store,
        lambda: hub.clock.now() + timedelta(hours=3),
        hub_port.submit,
        hub_port.submit_document,
        hub_port.submit_command,
    )
    late = run_pass("acme", partner, later)
    # Then an exception names the unacknowledged document
    (alert,) = late.alerts
    assert "has not acknowledged the 940 for O2" in alert
    reasons = [
        x.reason for x in hub.store.exceptions(status="open", source="acme", after_id=0, limit=10)
    ]
    assert reasons == ["edi_ack_overdue"]


def test_a_transfer_to_the_3pl_is_announced_by_943_and_received_by_944(
    system: tuple[Hub, httpx.Client, Receiver], partner: PartnerSettings
) -> None:
    hub, client, _ = system
    # Given 3 mugs shipped from a store to the 3PL's location
    transfer = {
        "transfer_id": "T1",
        "from": "S1",
        "to": "DC",
        "lines": [{"sku": "MUG", "quantity": 3}],
    }
    assert client.post("/v1/transfers", json=transfer).json()["status"] == "accepted"
    shipment = {"shipment_id": "S1-T1", "lines": [{"line": 1, "quantity": 3}]}
    assert client.post("/v1/transfers/T1/ship", json=shipment).json()["status"] == "accepted"
    wait_for(hub, lambda: settled(hub) and bool(outbound(partner, "943")), "the 943 file")
    (file,) = outbound(partner, "943")
    assert "W06*F*T1*" in file.read_text() and "W04*3*EA**SK*MUG~" in file.read_text()
    assert Decimal(position(client, "MUG", "DC")["in_transit"]) == 3
    # When the warehouse confirms the receipt
    warehouse = Warehouse(partner.outbound, partner.inbound, seed=2)
    assert [n.split("-")[0] for n in warehouse.step()] == ["997", "944"]
    result = run_pass("acme", partner, HubPort.of(hub))
    # Then the transfer is received at the 3PL
    assert any("transfer T1 receipt" in x and x.endswith("accepted") for f in result.files
               for x in f.outcomes), result  # fmt: skip
    mug = position(client, "MUG", "DC")
    assert (Decimal(mug["on_hand"]), Decimal(mug["in_transit"])) == (3, 0)
    assert warehouse.stock == {"MUG": 3}
