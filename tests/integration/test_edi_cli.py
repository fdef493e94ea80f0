"""`stockbridge edi check` and `stockbridge edi poll --once`."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from stockbridge.cli import app


def isa(control: str) -> str:
    return "*".join(
        ["ISA", "00", " " * 10, "00", " " * 10, "ZZ", "ACME3PL".ljust(15), "ZZ",
         "STOCKBRIDGE".ljust(15), "260302", "1405", "U", "00401", control, "0", "P", ">"]
    )  # fmt: skip


SHIPPING_ADVICE = (
    "~\n".join(
        [
            isa("000000201"),
            "GS*SW*ACME3PL*STOCKBRIDGE*20260302*1405*201*X*004010",
            "ST*945*0001",
            "W06*F*O1*20260302*SH1",
            "LX*1",
            "W12*CC*5*5*0*EA**SK*TEE-M",
            "W03*5",
            "SE*6*0001",
            "GE*1*201",
            "IEA*1*000000201",
        ]
    )
    + "~\n"
)


def test_check_prints_what_a_valid_file_holds(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "ok.x12"
    path.write_text(SHIPPING_ADVICE)
    result = runner.invoke(app, ["edi", "check", str(path)])
    assert result.exit_code == 0, result.output
    assert "interchange 000000201 from ZZ/ACME3PL to ZZ/STOCKBRIDGE" in result.output
    assert "group SW 201 version 004010: 1 transaction set(s)" in result.output
    assert "945 shipping advice: order O1, shipment SH1, 1 line(s), 5 unit(s) shipped" in (
        result.output
    )
    assert "ok.x12: valid" in result.output


def test_check_names_each_error_and_fails(tmp_path: Path, runner: CliRunner) -> None:
    path = tmp_path / "bad.x12"
    path.write_text(SHIPPING_ADVICE.replace("W12*CC*5*5*0*EA", "W12*CC*5*5*0*E").replace(
        "SE*6*", "SE*7*"))  # fmt: skip
    result = runner.invoke(app, ["edi", "check", str(path)])
    assert result.exit_code == 1
    lines = [x for x in result.output.splitlines() if x.startswith("error:")]
    assert lines == [
        "error: interchange 000000201, group SW 201, transaction set 945 0001: number of "
        "included segments does not match actual count [AK502=4]",
        "error: interchange 000000201, group SW 201, transaction set 945 0001, segment 4 "
        "(W12), segment 6 of the file: W1205 (element 355) data element too short: 'E' "
        "[AK403=4] [AK304=8]",
    ]
    assert "bad.x12: would be refused (2 error(s))" in result.output


def test_poll_once_applies_the_inbound_folder(tmp_path: Path, runner: CliRunner, db: str) -> None:
    root = tmp_path / "edi"
    config = tmp_path / "stockbridge.toml"
    config.write_text(
        f"""
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
    )
    (root / "in").mkdir(parents=True)
    (root / "in" / "945.x12").write_text(SHIPPING_ADVICE)
    result = runner.invoke(app, ["edi", "poll", "--once", "-c", str(config), "-d", db])
    assert result.exit_code == 0, result.output
    assert "acme: 945.x12: applied" in result.output
    assert "997 written: 997-000000001.x12" in result.output
    assert (root / "archive" / "945.x12").exists()
    ack = (root / "out" / "997-000000001.x12").read_text()
    assert "AK1*SW*201~" in ack and "AK9*A*1*1*1~" in ack


def test_poll_names_a_bad_partner_key(tmp_path: Path, runner: CliRunner, db: str) -> None:
    config = tmp_path / "stockbridge.toml"
    config.write_text('[edi.partners.acme]\nsender_id = "X"\n')
    result = runner.invoke(app, ["edi", "poll", "--once", "-c", str(config), "-d", db])
    assert result.exit_code == 2
    assert "edi.partners.acme.receiver_id: Field required" in result.output


def test_the_simulated_3pl_answers_a_940(tmp_path: Path, runner: CliRunner) -> None:
    from datetime import UTC, datetime

    from stockbridge.connectors.edi.documents import shipping_order
    from stockbridge.connectors.edi.x12 import GroupOut, Party, SetOut, write

    inbox, outbox = tmp_path / "out", tmp_path / "in"
    inbox.mkdir()
    body = shipping_order("O7", "web", "DC", "STOCKBRIDGE", "20260302", [(1, "TEE-M", "2")], "SK")
    text = write(
        Party("ZZ", "STOCKBRIDGE"), Party("ZZ", "ACME3PL"), 5,
        [GroupOut("OW", 5, [SetOut("940", 1, body)])], "005010", datetime.now(UTC),
    )  # fmt: skip
    (inbox / "940-000000005.x12").write_text(text)
    args = ["edi", "simulate", "--inbox", str(inbox), "--outbox", str(outbox), "--once"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    written = sorted(p.name.split("-")[0] for p in outbox.iterdir())
    assert written == ["945", "997"]
    for path in outbox.iterdir():
        check = runner.invoke(app, ["edi", "check", str(path)])
        assert check.exit_code == 0, check.output
        assert "version 005010" in check.output


def test_check_reports_segment_order_and_the_ta1_answer(tmp_path: Path, runner: CliRunner) -> None:
    # Given a 945 whose reference comes after its totals, from a sender asking for a TA1
    text = SHIPPING_ADVICE.replace("W03*5~\n", "W03*5~\nN9*LT*L1~\n").replace("SE*6*", "SE*7*")
    path = tmp_path / "late.x12"
    path.write_text(text.replace("*0*P*>", "*1*P*>"))
    result = runner.invoke(app, ["edi", "check", str(path)])
    # Then the segment is named with its AK304 code, and the TA1 the hub would answer
    assert result.exit_code == 1
    assert (
        "error: interchange 000000201, group SW 201, transaction set 945 0001, segment 6 (N9), "
        "segment 8 of the file: segment not in proper sequence [AK304=7]"
    ) in result.output
    assert "answered by TA1: A (note code 000)" in result.output
    # And a broken envelope is answered by a rejecting TA1 whatever ISA14 says
    path.write_text(SHIPPING_ADVICE.replace("IEA*1*000000201", "IEA*1*000000202"))
    result = runner.invoke(app, ["edi", "check", str(path)])
    assert "answered by TA1: R (note code 001)" in result.output
