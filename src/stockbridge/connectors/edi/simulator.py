"""A 3PL warehouse that speaks X12 through folders, for tests and the demo.

It reads what the hub writes to it (the hub's outbound folder): for every 940 or 943 it
answers a 997 echoing the group's control numbers, then (unless a 940 with W05-01 `C`
cancelled the order first) a 945 shipping what its own stock allows (W12 `CC` complete
or `CP` partial, W03 totals that match the lines) or a 944 for the units announced.
997s from the hub about its own files are recorded. Every run picks its delimiters from
the seed, as real partners differ.

Faults: `duplicate_945` sends each 945 twice in two interchanges; `late` holds 945s back
one pass; `malformed` sends one 945 with a wrong segment count (SE01) first.
"""

from __future__ import annotations

import logging
import os
import random
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from .ack import acknowledgment
from .documents import read_997
from .state import atomic_write
from .validate import check
from .x12 import Delimiters, GroupOut, Party, SetOut, TransactionSet, write

log = logging.getLogger(__name__)

DELIMITER_SETS = (("*", ">", "~"), ("|", "^", "~"), ("~", ":", "}"), ("*", ":", "!"))


@dataclass
class Faults:
    duplicate_945: bool = False
    late: bool = False
    malformed: bool = False


@dataclass
class Warehouse:
    #: Where the hub writes for the warehouse (the partner's outbound folder).
    inbox: Path
    #: Where the warehouse writes for the hub (the partner's inbound folder).
    outbox: Path
    #: The warehouse's own stock: SKU (as written in the hub's files) -> units.
    stock: dict[str, Decimal] = field(default_factory=dict)
    seed: int = 0
    faults: Faults = field(default_factory=Faults)
    #: AK9 codes of the 997s the hub sent about the warehouse's files.
    acks: list[tuple[str, str]] = field(default_factory=list)
    held: list[tuple[Party, Party, str, list[list[str]], str]] = field(default_factory=list)
    control: int = 0
    malformed_sent: bool = False
    #: Depositor order numbers whose 940 was cancelled (W05-01 C): never shipped.
    cancelled: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        rng = random.Random(self.seed)
        e, c, s = rng.choice(DELIMITER_SETS)
        self.delimiters = Delimiters(e, c, s)
        self.control = rng.randrange(1000, 90_000)

    # --- writing ------------------------------------------------------------------------
    def _send(
        self,
        me: Party,
        hub: Party,
        functional_id: str,
        set_id: str,
        bodies: list[list[list[str]]],
        version: str,
        now: datetime,
    ) -> str:
        self.control += 1
        sets = [SetOut(set_id, self.control * 10 + n, b) for n, b in enumerate(bodies, 1)]
        text = write(
            me,
            hub,
            self.control,
            [GroupOut(functional_id, self.control, sets)],
            version,
            now,
            self.delimiters,
        )
        name = f"{set_id}-{self.control:09d}.x12"
        atomic_write(self.outbox, name, text.encode())
        return name

    def _malformed(self, me: Party, hub: Party, version: str, now: datetime) -> str:
        self.control += 1
        body = [
            ["W06", "F", "BROKEN", now.strftime("%Y%m%d"), "X"],
            ["LX", "1"],
            ["W12", "CC", "1", "1", "0", "EA", "", "SK", "X"],
            ["W03", "1"],
        ]
        group = GroupOut("SW", self.control, [SetOut("945", 1, body)])
        text = write(me, hub, self.control, [group], version, now, self.delimiters)
        # SE01 counts one segment too many: the set's trailer is wrong.
        se = self.delimiters.element.join(["SE", str(len(body) + 2)])
        text = text.replace(se, self.delimiters.element.join(["SE", str(len(body) + 3)]), 1)
        name = f"945-{self.control:09d}.x12"
        atomic_write(self.outbox, name, text.encode())
        return name

    # --- answering ----------------------------------------------------------------------
    def _ship(self, tset: TransactionSet, now: datetime) -> list[list[str]]:
        w05 = next(s for s in tset.body if s.id == "W05")
        lines: list[list[str]] = []
        total = Decimal(0)
        current = "1"
        for seg in tset.body:
            if seg.id == "LX":
                current = seg.get(1)
            if seg.id != "W01":
                continue
            ordered = Decimal(seg.get(1))
            qualifier, code = seg.get(4), seg.get(5)
            have = self.stock.get(code, Decimal(0))
            shipped = min(ordered, max(have, Decimal(0)))
            self.stock[code] = have - shipped
            total += shipped
            status = "CC" if shipped == ordered else "CP"
            lines.append(["LX", current])
            lines.append(
                [
                    "W12",
                    status,
                    _q(ordered),
                    _q(shipped),
                    _q(ordered - shipped),
                    "EA",
                    "",
                    qualifier,
                    code,
                ]
            )
        shipment = f"SH{self.control + 1}"
        return [
            ["W06", "F", w05.get(2), now.strftime("%Y%m%d"), shipment, "", w05.get(3)],
            ["G62", "11", now.strftime("%Y%m%d"), "8", now.strftime("%H%M")],
            ["W27", "M", "UPSN"],
            *lines,
            ["W03", _q(total)],
        ]

    def _receive(self, tset: TransactionSet, now: datetime) -> list[list[str]]:
        w06 = next(s for s in tset.body if s.id == "W06")
        lines: list[list[str]] = []
        total = Decimal(0)
        current = "1"
        for seg in tset.body:
            if seg.id == "LX":
                current = seg.get(1)
            if seg.id != "W04":
                continue
            qty = Decimal(seg.get(1))
            code = seg.get(5)
            self.stock[code] = self.stock.get(code, Decimal(0)) + qty
            total += qty
            lines += [["LX", current], ["W07", _q(qty), "EA", "", seg.get(4), code]]
        receipt = f"RC{self.control + 1}"[:12]
        return [
            ["W17", "F", now.strftime("%Y%m%d"), receipt, w06.get(2)],
            *lines,
            ["W14", _q(total)],
        ]

    def step(self, now: datetime | None = None) -> list[str]:
        """One pass: answer every file the hub wrote; the names of the files written."""
        now = now or datetime.now(UTC)
        written: list[str] = []
        for me, hub, set_id, body, version in self.held:
            written.append(self._send(me, hub, "SW", set_id, [body], version, now))
        self.held = []
        if not self.inbox.is_dir():
            return written
        done = self.inbox / "done"
        files = [
            p
            for p in sorted(self.inbox.iterdir(), key=lambda p: p.name)
            if p.is_file() and not p.name.startswith(".")
        ]
        reports = [check(p.read_bytes()) for p in files]
        # An order cancelled in this pass is not picked, whichever file came first.
        self.cancelled |= {
            w05.get(2)
            for r in reports
            for i in r.interchanges
            for g in i.groups
            for s in g.sets
            for w05 in s.tset.body
            if s.tset.set_id == "940" and w05.id == "W05" and w05.get(1) == "C"
        }
        for path, report in zip(files, reports, strict=True):
            done.mkdir(exist_ok=True)
            path.replace(done / path.name)
            for i in report.interchanges:
                ic = i.interchange
                me, hub = Party(*ic.receiver), Party(*ic.sender)
                version = next((g.group.version for g in i.groups), "004010")
                answers = [
                    acknowledgment(g, not i.ok) for g in i.groups if g.group.functional_id != "FA"
                ]
                if answers:
                    written.append(self._send(me, hub, "FA", "997", answers, version, now))
                if not i.ok:
                    continue
                for g in i.groups:
                    for s in g.sets:
                        written += self._answer(me, hub, s.tset, version, now)
        return written

    def _answer(
        self, me: Party, hub: Party, tset: TransactionSet, version: str, now: datetime
    ) -> list[str]:
        if tset.set_id == "997":
            ack = read_997(tset)
            self.acks.append((ack.group_control, ack.code))
            return []
        written: list[str] = []
        if tset.set_id == "940":
            w05 = next(s for s in tset.body if s.id == "W05")
            if w05.get(2) in self.cancelled:
                return written  # cancelled before it was picked: nothing ships
            if self.faults.malformed and not self.malformed_sent:
                self.malformed_sent = True
                written.append(self._malformed(me, hub, version, now))
            body = self._ship(tset, now)
            if self.faults.late:
                self.held.append((me, hub, "945", body, version))
                return written
            written.append(self._send(me, hub, "SW", "945", [body], version, now))
            if self.faults.duplicate_945:
                written.append(self._send(me, hub, "SW", "945", [body], version, now))
        elif tset.set_id == "943":
            body = self._receive(tset, now)
            written.append(self._send(me, hub, "RE", "944", [body], version, now))
        return written


def _q(value: Decimal) -> str:
    text = format(value.normalize(), "f")
    return text if text != "-0" else "0"


def run(
    inbox: Path,
    outbox: Path,
    seed: int,
    stock: Decimal,
    interval: float = 1.0,
    faults: Faults | None = None,
    passes: int | None = None,
) -> None:
    """Answer what appears in `inbox` every `interval` seconds (forever, or `passes`
    times); every item starts with `stock` units."""
    warehouse = Warehouse(inbox, outbox, seed=seed, faults=faults or Faults())
    warehouse.stock = _Unlimited(stock)
    done = 0
    while passes is None or done < passes:
        for name in warehouse.step():
            log.info("3PL simulator wrote %s", name)
            print(f"3pl: wrote {outbox / name}", flush=True)
        done += 1
        if passes is None or done < passes:
            time.sleep(interval)


def serve(host: str, port: int, seed: int) -> None:
    """Watch the folders named by STOCKBRIDGE_3PL_INBOX and STOCKBRIDGE_3PL_OUTBOX (the
    partner's outbound and inbound folders) and answer, once a second. A 3PL talks through
    files: `host` and `port` are not used."""
    inbox = Path(os.environ.get("STOCKBRIDGE_3PL_INBOX", "3pl/to-warehouse"))
    outbox = Path(os.environ.get("STOCKBRIDGE_3PL_OUTBOX", "3pl/from-warehouse"))
    stock = Decimal(os.environ.get("STOCKBRIDGE_3PL_STOCK", "100"))
    log.info("3PL simulator: reading %s, writing %s (not %s:%s)", inbox, outbox, host, port)
    run(inbox, outbox, seed, stock)


class _Unlimited(dict[str, Decimal]):
    """Stock for the standalone simulator: every item starts with the same units."""

    def __init__(self, start: Decimal) -> None:
        super().__init__()
        self.start = start

    def __missing__(self, key: str) -> Decimal:
        self[key] = self.start
        return self.start

    def get(self, key: str, default: Decimal | None = None) -> Decimal:  # type: ignore[override]
        return self[key]
