"""One pass over a partner's inbound folder: check, apply, acknowledge, file away.

For each file fully written (temporary names — a leading dot, or .tmp, .part, .partial,
.filepart — are left alone until renamed), oldest first:

1. The file is checked whole (`validate.check`) and its interchanges must come from the
   partner to the hub. An invalid file applies nothing: it goes to the error folder with a
   `.errors.txt` beside it, each of its groups gets a rejecting 997, and an exception
   naming the segment position, segment and element at fault is raised.
2. An interchange whose control number (ISA13) was already applied for this partner is a
   re-send: nothing of it is applied again and it is not acknowledged twice.
3. Each transaction set is applied (`apply.py`), a 997 accepting each group is written to
   the outbound folder (997 groups themselves are never acknowledged), and the file goes
   to the archive.

Inbound 997s close the hub's own interchanges; a rejecting one, or none within the
partner's `ack_hours`, raises an exception whose replay sends the document again.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from ...app.ports import NewException
from ...domain.errors import Reason
from ...domain.model import to_micros
from .ack import acknowledgment, interchange_ack, wants_ta1
from .apply import APPLY, Context, HubPort
from .config import PartnerSettings
from .documents import read_997
from .state import PartnerState, take_numbers
from .target import write_interchange
from .validate import InterchangeReport, Report, check
from .x12 import GroupOut, Segment, SetOut

log = logging.getLogger(__name__)

TEMPORARY = (".tmp", ".part", ".partial", ".filepart", "~")


def ready_files(folder: Path) -> list[Path]:
    """Files fully written, oldest first."""
    if not folder.is_dir():
        return []
    files = [
        p
        for p in folder.iterdir()
        if p.is_file() and not p.name.startswith(".") and not p.name.endswith(TEMPORARY)
    ]
    return sorted(files, key=lambda p: (p.stat().st_mtime, p.name))


@dataclass
class FileResult:
    file: str
    #: applied, rejected or duplicate.
    status: str
    interchanges: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    outcomes: list[str] = field(default_factory=list)
    acks: list[str] = field(default_factory=list)


@dataclass
class PassResult:
    partner: str
    files: list[FileResult] = field(default_factory=list)
    #: Outbound interchanges whose 997 rejected them or is overdue (raised this pass).
    alerts: list[str] = field(default_factory=list)


def _identity(partner: PartnerSettings, report: Report) -> list[str]:
    problems = []
    for i in report.interchanges:
        ic = i.interchange
        if ic.sender != (partner.receiver_qualifier, partner.receiver_id):
            problems.append(
                f"interchange {ic.control}: segment {ic.isa.index} of the file (ISA) element "
                f"ISA06: sender {ic.sender[0]}/{ic.sender[1]} is not the partner "
                f"{partner.receiver_qualifier}/{partner.receiver_id} [TA1 006]"
            )
        if ic.receiver != (partner.sender_qualifier, partner.sender_id):
            problems.append(
                f"interchange {ic.control}: segment {ic.isa.index} of the file (ISA) element "
                f"ISA08: receiver {ic.receiver[0]}/{ic.receiver[1]} is not the hub "
                f"{partner.sender_qualifier}/{partner.sender_id} [TA1 008]"
            )
    return problems


def _write_997(
    partner: PartnerSettings,
    state: dict[str, Any],
    report: InterchangeReport,
    reject: bool,
    now: datetime,
) -> str | None:
    """One interchange of 997s answering every group of an inbound interchange."""
    groups = [g for g in report.groups if g.group.functional_id != "FA"]
    if not groups:
        return None
    interchange, group, first = take_numbers(state, len(groups))
    sets = [
        SetOut("997", (first + n - 1) % 9_999 + 1, acknowledgment(g, reject))
        for n, g in enumerate(groups, start=1)
    ]
    return write_interchange(partner, "997", interchange, [GroupOut("FA", group, sets)], now)


def _write_ta1(
    partner: PartnerSettings, state: dict[str, Any], report: InterchangeReport, now: datetime
) -> str:
    """An interchange holding only the TA1 that answers an inbound interchange."""
    interchange, _, _ = take_numbers(state, 0)
    return write_interchange(partner, "TA1", interchange, [], now, [interchange_ack(report)])


def _acknowledge(
    partner: PartnerSettings,
    state: dict[str, Any],
    report: InterchangeReport,
    reject: bool,
    now: datetime,
) -> list[str]:
    """The TA1 (when asked for, or the envelope is in error) and the 997s of an interchange."""
    written = [_write_ta1(partner, state, report, now)] if wants_ta1(report) else []
    ack = _write_997(partner, state, report, reject, now)
    return written + ([ack] if ack else [])


def _close_sent(
    name: str, partner: PartnerSettings, state: dict[str, Any], ctx: Context, tset: Any
) -> list[NewException]:
    """An inbound 997 acknowledges one of the hub's groups."""
    ack = read_997(tset)
    match = next(
        (
            (k, v)
            for k, v in state["sent"].items()
            if str(v["group"]) == ack.group_control.lstrip("0")
            and v["functional_id"] == ack.functional_id
        ),
        None,
    )
    if match is None:
        ctx.outcomes.append(
            f"997 for group {ack.functional_id} {ack.group_control}: no such group sent"
        )
        return []
    key, sent = match
    sent["ack"] = ack.code
    ctx.outcomes.append(f"997 {ack.code} for interchange {key} ({sent['set']} {sent['file']})")
    if ack.code not in ("R", "P"):
        return []
    # Forget the delivery's file so that a replay writes the document again.
    state["documents"].pop(sent["key"], None)
    detail = (
        f"{name} rejected the {sent['set']} for {sent['depositor_order']} "
        f"(interchange {key}, file {sent['file']}): AK9 {ack.code}; " + "; ".join(ack.errors)
    )
    return [
        NewException(
            Reason.TARGET_REJECTED,
            detail,
            {"partner": name, "interchange": key, **sent, "errors": ack.errors},
            name,
            str(sent["delivery"]),
        )
    ]


def _close_by_ta1(
    name: str, state: dict[str, Any], ctx: Context, note: Segment
) -> list[NewException]:
    """A TA1 from the partner answers one of the hub's interchanges as a whole."""
    control, code, why = note.get(1).strip().lstrip("0"), note.get(4), note.get(5)
    sent = state["sent"].get(control)
    if sent is None:
        ctx.outcomes.append(f"TA1 for interchange {note.get(1)}: no such interchange sent")
        return []
    ctx.outcomes.append(f"TA1 {code} {why} for interchange {control} ({sent['file']})")
    if code != "R":
        return []
    sent["ack"] = f"TA1 {code}"
    state["documents"].pop(sent["key"], None)
    detail = (
        f"{name} rejected interchange {control} (the {sent['set']} for "
        f"{sent['depositor_order']}, file {sent['file']}) by TA1: note code {why}"
    )
    payload = {"partner": name, "interchange": control, **sent, "ta1": why}
    return [NewException(Reason.TARGET_REJECTED, detail, payload, name, str(sent["delivery"]))]


def _overdue(
    name: str, partner: PartnerSettings, state: dict[str, Any], now: datetime
) -> list[NewException]:
    late = now - timedelta(hours=partner.ack_hours)
    out = []
    for key, sent in state["sent"].items():
        if sent["ack"] is None and datetime.fromisoformat(sent["at"]) < late:
            sent["ack"] = "overdue"
            state["documents"].pop(sent["key"], None)
            out.append(
                NewException(
                    Reason.EDI_ACK_OVERDUE,
                    f"{name} has not acknowledged the {sent['set']} for "
                    f"{sent['depositor_order']} (interchange {key}, file {sent['file']}, "
                    f"sent {sent['at']}) within {partner.ack_hours:g} h: no 997",
                    {"partner": name, "interchange": key, **sent},
                    name,
                    str(sent["delivery"]),
                )
            )
    return out


def _move(path: Path, folder: Path, suffix: str = "") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / (path.name + suffix)
    n = 1
    while target.exists():
        target = folder / f"{path.name}.{n}{suffix}"
        n += 1
    path.replace(target)
    return target


def process_file(
    path: Path, name: str, partner: PartnerSettings, hub: HubPort, store: PartnerState
) -> FileResult:
    data = path.read_bytes()
    report = check(data)
    result = FileResult(path.name, "applied")
    result.interchanges = [i.interchange.control for i in report.interchanges]
    errors = report.errors() if not report.ok else []
    faults = report.faults()
    errors += _identity(partner, report) if report.fatal is None else []
    now = hub.now()
    with store.locked() as state:
        if errors:
            result.status = "rejected"
            result.errors = errors
            for i in report.interchanges:
                result.acks += _acknowledge(partner, state, i, True, now)
            moved = _move(path, partner.error)
            moved.with_name(moved.name + ".errors.txt").write_text("\n".join(errors) + "\n")
            hub.park(
                [
                    NewException(
                        Reason.EDI_REJECTED,
                        f"{path.name} refused: {errors[0]}"
                        + (f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""),
                        {
                            "partner": name,
                            "file": path.name,
                            "errors": errors,
                            "faults": faults,
                        },
                        name,
                        f"file:{path.name}:{','.join(result.interchanges) or '-'}",
                        field=faults[0]["at"] if faults else None,
                    )
                ]
            )
            log.warning("edi %s: %s refused: %s", name, path.name, errors[0])
            return result
        fresh = [i for i in report.interchanges if i.interchange.control not in state["received"]]
        if not fresh:
            result.status = "duplicate"
            _move(path, partner.archive, ".duplicate")
            return result
        ctx = Context(name, partner, hub, hub.store.master_data(), state["references"])
        raised: list[NewException] = []
        for i in fresh:
            for note in i.interchange.notes:
                raised += _close_by_ta1(name, state, ctx, note)
            for g in i.groups:
                for s in g.sets:
                    if s.tset.set_id == "997":
                        raised += _close_sent(name, partner, state, ctx, s.tset)
                    elif s.tset.set_id in APPLY:
                        APPLY[s.tset.set_id](ctx, s.tset)
                    else:
                        ctx.outcomes.append(f"{s.tset.set_id} {s.tset.control}: not for the hub")
            result.acks += _acknowledge(partner, state, i, False, now)
            state["received"][i.interchange.control] = {"file": path.name, "at": now.isoformat()}
        if raised:
            hub.park(raised)
        if ctx.snapshot:
            hub.store.save_warehouse_snapshot(ctx.snapshot, to_micros(now))
        result.outcomes = ctx.outcomes
        skipped = len(report.interchanges) - len(fresh)
        if skipped:
            result.outcomes.append(f"{skipped} interchange(s) already applied: skipped")
        _move(path, partner.archive)
    return result


def run_pass(name: str, partner: PartnerSettings, hub: HubPort) -> PassResult:
    """One pass over the partner's inbound folder, then the overdue acknowledgments."""
    store = PartnerState(partner.state_folder)
    result = PassResult(name)
    for path in ready_files(partner.inbound):
        result.files.append(process_file(path, name, partner, hub, store))
    with store.locked() as state:
        late = _overdue(name, partner, state, hub.now())
    if late:
        hub.park(late)
        result.alerts += [x.detail for x in late]
    return result


def run_all(partners: dict[str, PartnerSettings], hub: Any) -> list[PassResult]:
    port = HubPort.of(hub)
    return [run_pass(name, partner, port) for name, partner in partners.items()]
