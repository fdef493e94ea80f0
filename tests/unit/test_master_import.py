"""Master data import from CSV and JSON files (MasterDataService.import_file) on SQLite."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import orjson
import pytest

from stockbridge.adapters.sql_store import SqlStore
from stockbridge.app.bootstrap import open_store
from stockbridge.app.clock import ManualClock
from stockbridge.app.master import ImportFileError, MasterDataService, MasterKind
from stockbridge.domain.model import LocationKind, XrefKind
from tests.conftest import START


@pytest.fixture
def store(tmp_path: Path) -> Iterator[SqlStore]:
    s = open_store(str(tmp_path / "x.db"))
    try:
        yield s
    finally:
        s.close()


@pytest.fixture
def service(store: SqlStore) -> MasterDataService:
    return MasterDataService(store, ManualClock(START))


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding=encoding)
    return path


def errors(report_dict: dict[str, object]) -> list[tuple[object, object]]:
    found = report_dict["errors"]
    assert isinstance(found, list)
    return [(e["row"], e["field"]) for e in found]


# --- CSV -------------------------------------------------------------------------------------
def test_items_csv_with_conversions_is_imported(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given an items file with a conversions column in the UNIT:FACTOR;... form
    path = write(
        tmp_path,
        "items.csv",
        "sku,gtin,base_uom,conversions,category,safety_stock,description\n"
        "TEE-M,00012345678905,EA,CASE12:12;PACK6:6,apparel,1,Organic tee\n"
        "CHEESE,,KG,G:0.001,grocery,0.5,\n",
    )

    # When it is imported
    report = service.import_file(path)

    # Then every row is stored with its conversions as exact numbers
    assert (report.kind, report.received, report.upserted, report.errors) == (
        MasterKind.ITEMS,
        2,
        2,
        [],
    )
    items = store.master_data().items
    tee, cheese = items["TEE-M"], items["CHEESE"]
    assert tee.conversions == {"CASE12": Decimal(12), "PACK6": Decimal(6)}
    assert (tee.gtin, tee.category, tee.safety_stock, tee.description) == (
        "00012345678905",
        "apparel",
        Decimal(1),
        "Organic tee",
    )
    assert (cheese.base_uom, cheese.conversions, cheese.safety_stock) == (
        "KG",
        {"G": Decimal("0.001")},
        Decimal("0.5"),
    )
    # Empty cells take the defaults
    assert (cheese.gtin, cheese.description) == (None, None)


def test_csv_errors_name_the_file_line_and_field(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given an items file with good rows around bad ones (and a blank line)
    path = write(
        tmp_path,
        "items.csv",
        "sku,gtin,conversions,safety_stock\n"  # line 1
        "GOOD-1,,CASE12:12,\n"  # line 2
        "BAD-CONV,,CASE12,\n"  # line 3: no factor
        "\n"  # line 4: blank
        "BAD-GTIN,12AB,,\n"  # line 5
        "BAD-FACTOR,,CASE:abc,\n"  # line 6
        "BAD-STOCK,,,-1\n"  # line 7
        "GOOD-2,,,\n",  # line 8
    )

    # When it is imported
    report = service.import_file(path)

    # Then each bad row is reported by its line in the file and its field
    assert errors(report.as_dict()) == [
        (3, "conversions"),
        (5, "gtin"),
        (6, "conversions.CASE"),
        (7, "safety_stock"),
    ]
    # And the good rows are stored all the same
    assert report.upserted == 2
    assert set(store.master_data().items) == {"GOOD-1", "GOOD-2"}


def test_a_csv_row_with_more_cells_than_the_header_is_rejected(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given a row whose unquoted description holds a comma: one cell more than the header
    path = write(
        tmp_path,
        "items.csv",
        "sku,category,description\nMUG,home,Mug, stoneware\nCUP,home,Cup\n",
    )

    # When it is imported
    report = service.import_file(path)

    # Then that row is reported at its line, not stored with its description cut short
    assert [e.row for e in report.errors] == [2]
    items = store.master_data().items
    assert "MUG" not in items
    assert items["CUP"].description == "Cup"


def test_a_csv_saved_with_a_byte_order_mark_is_read(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given a file saved by a spreadsheet, with a UTF-8 byte order mark
    path = write(tmp_path, "items.csv", "sku,category\nTEE,apparel\n", encoding="utf-8-sig")

    # When it is imported
    report = service.import_file(path)

    # Then the first column is still `sku`
    assert report.errors == []
    assert store.master_data().items["TEE"].category == "apparel"


def test_locations_csv_rejects_an_unknown_time_zone(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given locations, one in a time zone that does not exist and one of an unknown kind
    path = write(
        tmp_path,
        "locations.csv",
        "code,kind,timezone,name\n"
        "S1,store,Europe/Paris,Paris Rivoli\n"
        "S2,store,Europe/Lutetia,Nowhere\n"
        "S3,warehouse,UTC,\n"
        "DC,dc,,\n",
    )

    # When it is imported
    report = service.import_file(path)

    # Then the bad rows are reported by line and field; the rest are stored
    assert errors(report.as_dict()) == [(3, "timezone"), (4, "kind")]
    assert "Europe/Lutetia" in report.errors[0].message
    locations = store.master_data().locations
    assert set(locations) == {"S1", "DC"}
    assert (locations["S1"].timezone, locations["S1"].name) == ("Europe/Paris", "Paris Rivoli")
    assert (locations["DC"].kind, locations["DC"].timezone) == (LocationKind.DC, "UTC")


def test_xrefs_csv_is_imported(tmp_path: Path, service: MasterDataService, store: SqlStore) -> None:
    # Given cross references, one of an unknown kind
    path = write(
        tmp_path,
        "xrefs.csv",
        "source,kind,external_code,code\n"
        "pos,location,0001,S1\n"
        "pos,item,4711,TEE-M\n"
        "pos,supplier,99,ACME\n",
    )

    # When it is imported
    report = service.import_file(path)

    # Then the good ones map the source's codes
    assert errors(report.as_dict()) == [(4, "kind")]
    xrefs = store.master_data().xrefs
    assert xrefs[("pos", XrefKind.LOCATION, "0001")] == "S1"
    assert xrefs[("pos", XrefKind.ITEM, "4711")] == "TEE-M"


def test_a_later_row_for_the_same_key_wins_and_a_reimport_updates(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given a file that lists one SKU twice
    path = write(tmp_path, "items.csv", "sku,category\nTEE,apparel\nTEE,basics\n")

    # When it is imported, then imported again with a change
    first = service.import_file(path)
    write(tmp_path, "items.csv", "sku,category\nTEE,sale\n")
    service.import_file(path)

    # Then the last row counted once, and the re-import updated the item
    assert first.upserted == 1
    assert store.master_data().items["TEE"].category == "sale"


def test_a_csv_without_a_header_cannot_be_read(tmp_path: Path, service: MasterDataService) -> None:
    # Given an empty CSV file
    path = write(tmp_path, "items.csv", "")

    # When it is imported
    # Then the file as a whole is refused
    with pytest.raises(ImportFileError):
        service.import_file(path)


# --- JSON ------------------------------------------------------------------------------------
def test_items_json_list_is_imported_with_row_indexes_in_errors(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given a JSON list of items, the second one with an unknown field
    rows = [
        {"sku": "MUG", "conversions": {"PACK4": 4}, "safety_stock": 2},
        {"sku": "CUP", "colour": "blue"},
        {"sku": "BOWL", "conversions": "CASE6:6"},
    ]
    path = write(tmp_path, "items.json", orjson.dumps(rows).decode())

    # When it is imported
    report = service.import_file(path)

    # Then the bad row is named by its index and field, the others are stored
    assert errors(report.as_dict()) == [(1, "colour")]
    items = store.master_data().items
    assert set(items) == {"MUG", "BOWL"}
    assert items["MUG"].conversions == {"PACK4": Decimal(4)}
    assert items["MUG"].safety_stock == Decimal(2)
    assert items["BOWL"].conversions == {"CASE6": Decimal(6)}


def test_json_object_holding_the_list_under_its_kind(
    tmp_path: Path, service: MasterDataService, store: SqlStore
) -> None:
    # Given a JSON object with a "locations" list, in a file whose name says nothing
    path = write(
        tmp_path,
        "estate.json",
        orjson.dumps({"locations": [{"code": "S1", "kind": "store"}]}).decode(),
    )

    # When it is imported with its kind given
    report = service.import_file(path, MasterKind.LOCATIONS)

    # Then the locations are stored
    assert (report.kind, report.upserted) == (MasterKind.LOCATIONS, 1)
    assert set(store.master_data().locations) == {"S1"}


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("items.json", "[{not json"),
        ("items.json", '{"locations": []}'),
        ("items.json", '"items"'),
    ],
    ids=["not-json", "wrong-key", "not-a-list"],
)
def test_an_unreadable_json_file_is_refused(
    tmp_path: Path, service: MasterDataService, store: SqlStore, name: str, text: str
) -> None:
    # Given a JSON file that does not hold an items list
    path = write(tmp_path, name, text)

    # When it is imported
    # Then the file as a whole is refused, naming it, and nothing is stored
    with pytest.raises(ImportFileError, match=name):
        service.import_file(path)
    assert store.master_data().items == {}


def test_a_file_name_that_says_nothing_needs_a_kind(
    tmp_path: Path, service: MasterDataService
) -> None:
    # Given a file whose name tells neither items, locations nor xrefs
    path = write(tmp_path, "export.csv", "sku\nTEE\n")

    # When it is imported without a kind
    # Then it is refused with a hint
    with pytest.raises(ImportFileError, match="--kind"):
        service.import_file(path)


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("items.csv", MasterKind.ITEMS),
        ("2026-03-item-master.csv", MasterKind.ITEMS),
        ("store_locations.csv", MasterKind.LOCATIONS),
        ("pos-xref.csv", MasterKind.XREFS),
    ],
)
def test_the_kind_is_told_from_the_file_name(
    tmp_path: Path, service: MasterDataService, name: str, kind: MasterKind
) -> None:
    # Given a file named after what it holds
    path = write(tmp_path, name, "nothing\n")

    # When it is imported
    report = service.import_file(path)

    # Then its kind comes from the name
    assert report.kind is kind
