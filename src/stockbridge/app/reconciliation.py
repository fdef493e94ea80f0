"""Reconciliation runs: a snapshot compared with the ledger as of its instant, then the
system's policy applied (DESIGN §8).

Load (snapshot, master data, open drift, deliveries in flight), decide (the pure
comparison), act (push, park or count through the normal paths), record the run.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from decimal import Decimal
from typing import Any

from ..config import ReconciliationSystemSettings
from ..domain.availability import channel_availability
from ..domain.errors import NotFound, Reason
from ..domain.mapping import MasterData
from ..domain.model import Position, from_micros, to_micros
from ..domain.reconciliation import (
    Action,
    Difference,
    Measure,
    Resolved,
    SnapshotLine,
    action_for,
    compare,
    summarise,
)
from .channels import ChannelService
from .ingest import BatchResult, MasterCache
from .ports import Clock, NewException, NewRun, RunRecord, Store
from .queries import position_as_of
from .routing import availability_push, plain
from .snapshots import (
    EdiSource,
    OdooSource,
    ShopifySource,
    Snapshot,
    SnapshotError,
    SnapshotSource,
    SquareSource,
)

log = logging.getLogger(__name__)

#: Called with (lines done, lines in all) while a large snapshot is compared.
Progress = Callable[[int, int], None]

CSV_COLUMNS = (
    "system",
    "sku",
    "location",
    "system_sku",
    "system_location",
    "hub",
    "system_quantity",
    "difference",
    "unit_cost",
    "value",
    "cause",
    "first_seen",
    "differing_seconds",
    "action",
)


class ReconciliationService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        master: MasterCache,
        channels: ChannelService,
        systems: Mapping[str, ReconciliationSystemSettings],
        submit: Callable[[Sequence[Any]], BatchResult],
    ) -> None:
        self.store = store
        self.clock = clock
        self.master = master
        self.channels = channels
        self.systems = dict(systems)
        self.submit = submit

    def system(self, name: str) -> ReconciliationSystemSettings:
        system = self.systems.get(name)
        if system is None:
            raise NotFound("reconciliation system", name)
        return system

    def source(self, name: str) -> SnapshotSource:
        """Where a pull takes this system's snapshot from."""
        system = self.system(name)
        if system.kind == "shopify":
            assert system.target is not None
            return ShopifySource(self.store, system.target)
        if system.kind == "square":
            assert system.target is not None
            channel = system.channel if system.measure is Measure.CHANNEL else None
            return SquareSource(self.store, system.target, channel)
        if system.kind == "odoo":
            assert system.target is not None
            return OdooSource(self.store, system.target)
        if system.kind == "edi":
            assert system.partner is not None
            return EdiSource(self.store, system.partner)
        raise SnapshotError(f"system {name!r} is reconciled from uploaded files only")

    # --- running ---------------------------------------------------------------------------
    def pull(self, name: str, progress: Progress | None = None) -> RunRecord:
        """Take a snapshot from the system itself and reconcile it."""
        source = self.source(name)
        snapshot = source.take(to_micros(self.clock.now()))
        return self.run(name, snapshot, source.origin, progress)

    def run(
        self,
        name: str,
        snapshot: Snapshot,
        origin: str = "upload",
        progress: Progress | None = None,
    ) -> RunRecord:
        system = self.system(name)
        now_us = to_micros(self.clock.now())
        md = self.master.get()
        resolved = self._resolve(name, system, snapshot, md, progress)
        comparison = compare(
            resolved,
            {sku: item.unit_cost for sku, item in md.items.items()},
            self._in_flight(system),
            self.store.open_drift(name),
            now_us,
        )
        decided = [
            replace(d, action=action_for(system.policy, d.cause)) for d in comparison.differences
        ]
        done = self._act(name, system, snapshot, decided, now_us)
        summary = summarise(len(snapshot.lines), comparison)
        run = NewRun(
            system=name,
            origin=origin,
            policy=system.policy.value,
            snapshot_us=snapshot.taken_us,
            summary=summary,
            rejected=snapshot.rejected,
            actions=done,
        )
        run_id = self.store.save_reconciliation(run, decided, comparison.matched, now_us)
        log.info(
            "reconciliation %d of %s: %d line(s), %d differ (%s units), %s",
            run_id,
            name,
            summary.lines,
            summary.differing,
            plain(summary.drift_units),
            done or "nothing to do",
        )
        record = self.store.reconciliation_run(run_id)
        assert record is not None
        return record

    def _resolve(
        self,
        name: str,
        system: ReconciliationSystemSettings,
        snapshot: Snapshot,
        md: MasterData,
        progress: Progress | None,
    ) -> list[Resolved]:
        source = system.xref_source or name
        at = snapshot.taken_us
        positions: dict[tuple[str, str], Position] = {}

        def position(sku: str, location: str) -> Position:
            key = (sku, location)
            if key not in positions:
                positions[key] = position_as_of(self.store, sku, location, at)
            return positions[key]

        policy = stale = None
        if system.measure is Measure.CHANNEL:
            assert system.channel is not None
            policy = self.channels.get(system.channel).policy(system.channel)
            stale = self.channels.stale()
        out: list[Resolved] = []
        total = len(snapshot.lines)
        for i, line in enumerate(snapshot.lines, start=1):
            out.append(self._hub_value(line, source, md, system, policy, stale, position))
            if progress is not None and (i % 200 == 0 or i == total):
                progress(i, total)
        return out

    def _hub_value(
        self,
        line: SnapshotLine,
        source: str,
        md: MasterData,
        system: ReconciliationSystemSettings,
        policy: Any,
        stale: frozenset[str] | None,
        position: Callable[[str, str], Position],
    ) -> Resolved:
        sku = line.sku or md.sku_for(source, line.system_sku)
        item = md.items.get(sku) if sku is not None else None
        if sku is None or item is None:
            return Resolved(line, None, None, None)
        if system.measure is Measure.CHANNEL:
            # A channel shows one figure per SKU: the location column names the channel.
            assert system.channel is not None and stale is not None
            feeding = [position(sku, loc) for loc in policy.locations]
            value = channel_availability(policy, sku, item, feeding, stale).available
            return Resolved(line, sku, system.channel, value)
        location = line.location or md.location_for(source, line.system_location)
        if location is None:
            return Resolved(line, sku, None, None)
        pos = position(sku, location)
        value = (
            pos.on_hand if system.measure is Measure.ON_HAND else pos.available(item.safety_stock)
        )
        return Resolved(line, sku, location, value)

    def _in_flight(self, system: ReconciliationSystemSettings) -> frozenset[tuple[str, str | None]]:
        """Deliveries on their way to the system: availability pushes of its channel (any
        location) and postings to its target (per SKU and location)."""
        flying: set[tuple[str, str | None]] = set()
        targets = self.store.targets()
        if system.channel is not None:
            channel = self.channels.get(system.channel)
            if channel.target is not None and channel.target in targets:
                for key in self.store.in_flight_keys(channel.target, "availability"):
                    name, _, sku = key.partition("/")
                    if name == system.channel:
                        flying.add((sku, None))
        if system.target is not None and system.target in targets:
            for key in self.store.in_flight_keys(system.target, "posting"):
                sku, _, location = key.rpartition("/")
                flying.add((sku, location))
        return frozenset(flying)

    # --- acting ---------------------------------------------------------------------------
    def _act(
        self,
        name: str,
        system: ReconciliationSystemSettings,
        snapshot: Snapshot,
        decided: Sequence[Difference],
        now_us: int,
    ) -> dict[str, int]:
        by_action: dict[Action, list[Difference]] = {}
        for d in decided:
            by_action.setdefault(d.action, []).append(d)
        done = {a.value: len(ds) for a, ds in by_action.items() if a is not Action.NONE}
        if by_action.get(Action.PUSHED):
            self._push(system, by_action[Action.PUSHED], now_us)
        if by_action.get(Action.EXCEPTION):
            self._raise(name, snapshot, by_action[Action.EXCEPTION], now_us)
        if by_action.get(Action.COUNTED):
            self._count(name, snapshot, by_action[Action.COUNTED])
        return done

    def _push(
        self, system: ReconciliationSystemSettings, pushes: Sequence[Difference], now_us: int
    ) -> None:
        """The hub's current value, through the normal delivery path (coalesced with any
        push still waiting)."""
        assert system.channel is not None
        target = self.channels.get(system.channel).target
        if target is None:
            raise SnapshotError(f"channel {system.channel!r} has no target to push to")
        rows = []
        for d in pushes:
            assert d.sku is not None
            value = self.channels.availability(system.channel, d.sku).available
            rows.append(availability_push(target, system.channel, d.sku, value, 1, [], now_us))
        with self.store.transaction() as tx:
            tx.enqueue_deliveries(rows, now_us)

    def _raise(
        self, name: str, snapshot: Snapshot, differences: Sequence[Difference], now_us: int
    ) -> None:
        at = from_micros(snapshot.taken_us).isoformat()
        parked = []
        for d in differences:
            what = (
                f"hub {plain(d.hub)}, {name} {plain(d.system)} (difference {plain(d.difference)})"
                if d.hub is not None
                else f"{name} reports {plain(d.system)} for codes with no cross reference"
            )
            parked.append(
                NewException(
                    reason=Reason.RECONCILIATION_DRIFT,
                    detail=f"{d.cause.value}: {d.system_sku} at {d.system_location}: {what}, "
                    f"as of {at}",
                    payload=difference_view(name, d, now_us),
                    source=f"reconciliation:{name}",
                    event_id=f"{d.system_sku}@{d.system_location}",
                    # The same difference found again is one more occurrence, not a new one.
                    payload_hash=f"{plain(d.hub) if d.hub is not None else '-'}:{plain(d.system)}",
                    field="sku" if d.sku is None else "location" if d.location is None else None,
                )
            )
        with self.store.transaction() as tx:
            tx.park(parked, now_us)

    def _count(self, name: str, snapshot: Snapshot, differences: Sequence[Difference]) -> None:
        """The system's figure as a count at the snapshot's instant, through ingest: later
        movements still apply on top of it."""
        at = from_micros(snapshot.taken_us).isoformat()
        events = [
            {
                "source": f"reconciliation:{name}",
                "event_id": f"{snapshot.taken_us}:{d.sku}@{d.location}",
                "type": "count",
                "sku": d.sku,
                "location": d.location,
                "quantity": plain(d.system),
                "occurred_at": at,
                "reason": "reconciliation",
            }
            for d in differences
        ]
        result = self.submit(events)
        refused = [r for r in result.results if r.status.value == "exception"]
        if refused:
            log.warning("reconciliation of %s: %d count(s) parked", name, len(refused))

    # --- reading --------------------------------------------------------------------------
    def runs(self, system: str | None = None, limit: int = 50) -> list[RunRecord]:
        if system is not None:
            self.system(system)
        return self.store.reconciliation_runs(system, limit)

    def get(self, run_id: int) -> RunRecord:
        record = self.store.reconciliation_run(run_id)
        if record is None:
            raise NotFound("reconciliation run", str(run_id))
        return record

    def lines(self, run_id: int) -> list[Difference]:
        self.get(run_id)
        return self.store.reconciliation_lines(run_id)

    def report_csv(self, run_id: int) -> str:
        record = self.get(run_id)
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(CSV_COLUMNS)
        for d in self.store.reconciliation_lines(run_id):
            view = difference_view(record.system, d, record.created_us)
            writer.writerow([_cell(view[c]) for c in CSV_COLUMNS])
        return out.getvalue()


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    return plain(value) if isinstance(value, Decimal) else value


def difference_view(system: str, d: Difference, now_us: int) -> dict[str, Any]:
    """A difference as the report shows it (quantities as plain decimal strings)."""
    return {
        "system": system,
        "line": d.line_no,
        "sku": d.sku,
        "location": d.location,
        "system_sku": d.system_sku,
        "system_location": d.system_location,
        "hub": d.hub,
        "system_quantity": d.system,
        "difference": d.difference,
        "unit_cost": d.unit_cost,
        "value": d.value,
        "cause": d.cause.value,
        "first_seen": from_micros(d.first_seen_us).isoformat(),
        "differing_seconds": max(0, now_us - d.first_seen_us) // 1_000_000,
        "action": d.action.value,
    }


def run_view(r: RunRecord) -> dict[str, Any]:
    return {
        "id": r.id,
        "system": r.system,
        "origin": r.origin,
        "policy": r.policy,
        "snapshot_at": from_micros(r.snapshot_us).isoformat(),
        "created_at": from_micros(r.created_us).isoformat(),
        "lines": r.lines_read,
        "rejected": r.lines_rejected,
        "matched": r.matched,
        "differing": r.differing,
        "drift_units": r.drift_units,
        "drift_value": r.drift_value,
        "oldest_difference_since": from_micros(r.oldest_us).isoformat()
        if r.oldest_us is not None
        else None,
        "by_cause": r.summary.get("by_cause", {}),
        "actions": r.summary.get("actions", {}),
        "errors": r.summary.get("rejected", []),
    }
