"""Reading CSV drops: the file judged whole (header, trailer), then line by line."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import ValidationError

from stockbridge.config import ConfigError, load_settings_from
from stockbridge.connectors.files.config import SourceSettings
from stockbridge.connectors.files.parse import ParsedFile, Refused, digest_of, parse_drop

COLUMNS = {"sku": "item", "location": "store", "quantity": "qty", "occurred_at": "at"}


def settings(**overrides: Any) -> SourceSettings:
    return SourceSettings.model_validate(
        {"folder": "/in", "event_type": "sale", "columns": COLUMNS, **overrides}
    )


def parsed(text: str, **overrides: Any) -> ParsedFile:
    result = parse_drop(text.encode(), "pos", settings(**overrides))
    assert isinstance(result, ParsedFile), result
    return result


def refused(text: str, **overrides: Any) -> Refused:
    result = parse_drop(text.encode(), "pos", settings(**overrides))
    assert isinstance(result, Refused), result
    return result


def test_each_line_becomes_an_event_named_by_file_hash_and_line() -> None:
    # Given a two-line export with a header
    text = "item,store,qty,at\nTEE,S1,2,2026-03-02T09:00:00+01:00\nMUG,S2,1,2026-03-02 10:30\n"

    # When it is read
    result = parsed(text)

    # Then each line is an event of the source, its id the file's hash and line number,
    # and a time without offset is taken in the source's zone (UTC by default)
    prefix = digest_of(text.encode())[:24]
    assert [line.event for line in result.lines] == [
        {
            "event_id": f"{prefix}:2",
            "source": "pos",
            "type": "sale",
            "sku": "TEE",
            "location": "S1",
            "quantity": "2",
            "occurred_at": "2026-03-02T09:00:00+01:00",
        },
        {
            "event_id": f"{prefix}:3",
            "source": "pos",
            "type": "sale",
            "sku": "MUG",
            "location": "S2",
            "quantity": "1",
            "occurred_at": "2026-03-02T10:30:00+00:00",
        },
    ]
    assert result.data_lines == 2 and result.errors == []


def test_a_mapped_event_id_column_type_codes_formats_and_decimal_commas() -> None:
    # Given a European export: ';' separated, decimal commas, local times, type codes
    text = "id;kind;item;store;qty;at;why\nA-1;S;CHEESE;S1;1,250;02/03/2026 09:15;\n"

    # When it is read with those conventions
    result = parsed(
        text,
        event_type=None,
        columns={**COLUMNS, "event_id": "id", "type": "kind", "reason": "why"},
        type_values={"S": "sale"},
        delimiter=";",
        decimal_separator=",",
        occurred_at_format="%d/%m/%Y %H:%M",
        timezone="Europe/Paris",
    )

    # Then the file's own id, the canonical type, a dotted quantity and an offset time come
    # out, and an empty optional column is left out
    (line,) = result.lines
    assert line.event["event_id"] == "A-1"
    assert line.event["type"] == "sale"
    assert line.event["quantity"] == "1.250"
    assert line.event["occurred_at"] == "2026-03-02T09:15:00+01:00"
    assert "reason" not in line.event


def test_a_header_missing_a_mapped_column_refuses_the_file_naming_it() -> None:
    result = refused("item,store,at\nTEE,S1,2026-03-02T09:00:00Z\n")
    assert result.column == "qty"
    assert "missing column 'qty'" in result.message and "quantity" in result.message


def test_an_unknown_column_refuses_the_file_unless_ignored() -> None:
    text = "item,store,qty,at,cashier\nTEE,S1,1,2026-03-02T09:00:00Z,ann\n"
    result = refused(text)
    assert result.column == "cashier" and "unknown column 'cashier'" in result.message
    assert len(parsed(text, ignore_columns=["cashier"]).lines) == 1


def test_a_header_naming_a_column_twice_is_refused() -> None:
    assert refused("item,store,qty,qty,at\n").column == "qty"


def test_a_trailer_with_the_wrong_count_refuses_the_file() -> None:
    # Given a file whose trailer counts three lines but which has two (cut short)
    line = "S1,1,2026-03-02T09:00:00Z\n"
    text = f"item,store,qty,at\nTEE,{line}MUG,{line}TRL,3\n"

    # Then it is refused; with the right count it is read, the trailer not being a line
    result = refused(text, trailer="TRL")
    assert result.column == "trailer"
    assert "counts 3 data lines, the file has 2" in result.message
    ok = parsed(text.replace("TRL,3", "TRL,2"), trailer="TRL")
    assert [line.event["sku"] for line in ok.lines] == ["TEE", "MUG"]


def test_a_missing_trailer_is_a_file_cut_short() -> None:
    result = refused("item,store,qty,at\nTEE,S1,1,2026-03-02T09:00:00Z\n", trailer="TRL")
    assert "no trailer record 'TRL'" in result.message


def test_text_not_in_the_encoding_is_refused() -> None:
    data = "item,store,qty,at\nTÉE,S1,1,2026-03-02T09:00:00Z\n".encode("latin-1")
    result = parse_drop(data, "pos", settings())
    assert isinstance(result, Refused) and result.column == "encoding"
    ok = parse_drop(data, "pos", settings(encoding="latin-1"))
    assert isinstance(ok, ParsedFile) and ok.lines[0].event["sku"] == "TÉE"


def test_bad_dates_and_short_records_are_line_errors_the_rest_is_read() -> None:
    # Given a file with a bad date on line 3 and a short record on line 4
    text = (
        "item,store,qty,at\n"
        "TEE,S1,1,2026-03-02T09:00:00Z\n"
        "MUG,S1,1,yesterday\n"
        "MUG,S1\n"
        "TEE,S2,abc,2026-03-02T09:00:00Z\n"
    )

    # When it is read
    result = parsed(text)

    # Then those two are line errors with their column and value; the bad quantity is left
    # to the ingest path (which judges quantities), so lines 2 and 5 are events
    assert [(e.line, e.column, e.value) for e in result.errors] == [
        (3, "at", "yesterday"),
        (4, "", ""),
    ]
    assert "ISO 8601" in result.errors[0].message
    assert "2 fields where the header has 4" in result.errors[1].message
    assert [line.number for line in result.lines] == [2, 5]


def test_files_without_a_header_use_the_declared_field_names() -> None:
    result = parsed(
        "TEE,S1,1,2026-03-02T09:00:00Z\n", header=False, fieldnames=["item", "store", "qty", "at"]
    )
    assert result.lines[0].number == 1 and result.lines[0].event["sku"] == "TEE"


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"event_type": None}, "either columns.type or event_type"),
        ({"columns": {**COLUMNS, "type": "kind"}}, "either columns.type or event_type"),
        ({"header": False}, "fieldnames: required"),
        ({"sequence": r"POS_\d+"}, "exactly one group"),
        ({"timezone": "Mars/Olympus"}, "unknown time zone"),
    ],
)
def test_source_settings_are_checked(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(**overrides)


def test_the_files_section_of_the_configuration_names_a_bad_key() -> None:
    # Given a [files.sources.pos] with a misspelt key
    pos = {"folder": "/in", "event_type": "sale", "columns": COLUMNS}
    data = {"files": {"sources": {"pos": {**pos, "delimter": ";"}}}}

    # Then loading the configuration stops, naming the key
    with pytest.raises(ConfigError, match=r"files\.sources\.pos\.delimter"):
        load_settings_from(data)
    # And a good one survives a copy with overrides (the counterparty column by its alias)
    good = {"files": {"sources": {"pos": {**pos, "columns": {**COLUMNS, "counterparty": "to"}}}}}
    loaded = load_settings_from(good).with_overrides(**{"server.port": 9000})
    assert loaded.files.sources["pos"].columns.counterparty_location == "to"
