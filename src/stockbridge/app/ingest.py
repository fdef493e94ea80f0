"""The one ingest transaction: validate -> map -> dedupe -> ledger -> positions -> outbox.

Everything an ingest call decides (accepted events, positions, reservations, parked
exceptions and outbound messages) is written in one transaction, so it is all there or
none of it is (DESIGN §4, law 4).
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
import structlog

from ..domain.availability import ChannelPolicy, stale_locations
from ..domain.errors import Reason
from ..domain.intake import InvalidEvent, ParsedEvent, parse_event
from ..domain.ledger import Entry, LedgerBatch, PositionKey
from ..domain.mapping import MasterData, Parked, map_event
from ..domain.model import ZERO, Event, EventKey, EventType, to_micros
from ..domain.slas import CANARY_SOURCE
from ..tracing import Tracing
from .documents import (
    DOCUMENT_COMMANDS,
    DocumentCommand,
    DocumentDesk,
    DocumentPlan,
    DocumentResult,
    TicketPolicy,
    is_closed,
    plan_settlement,
)
from .log_context import group_context, log_parked
from .ports import Clock, NewDelivery, NewException, OutboxMessage, Store
from .reservations import COMMANDS, Command, CommandBatch, Outcome
from .returns import RETURN_COMMANDS, GradeCommand, ReturnCommand, ReturnDesk, ReturnPolicy
from .routing import (
    ChannelIn,
    ChannelInputs,
    Routing,
    load_routing,
    plan_postings,
    plan_pushes,
    positions_needed,
)
from .transfers import (
    TRANSFER_COMMANDS,
    CloseCommand,
    MovementCommand,
    TransferCommand,
    TransferDesk,
    TransferPolicy,
)

log = logging.getLogger(__name__)

#: Causes listed in one outbox message; the rest are counted, not named.
MAX_CAUSES = 50
#: Expired reservations released per transaction; the rest wait for the next one.
EXPIRY_BATCH = 1000


class Status(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    EXCEPTION = "exception"


@dataclass(frozen=True, slots=True)
class EventResult:
    event_id: str | None
    source: str | None
    status: Status
    reason: str | None = None
    detail: str | None = None
    field: str | None = None


@dataclass(slots=True)
class BatchResult:
    results: list[EventResult] = field(default_factory=list)

    def count(self, status: Status) -> int:
        return sum(1 for r in self.results if r.status is status)

    def totals(self) -> dict[str, int]:
        return {s.value: self.count(s) for s in Status}


class MasterCache:
    """Master data and routing held in memory, reloaded when any process changed them."""

    def __init__(self, store: Store) -> None:
        self._store = store
        self._version = -1
        self._data = MasterData()
        self.routing = Routing()
        #: Every channel, with or without a target to push to, and its policy.
        self.channels: dict[str, ChannelIn] = {}
        self.policies: dict[str, ChannelPolicy] = {}

    def get(self) -> MasterData:
        version = self._store.master_version()
        if version != self._version:
            self._data = self._store.master_data()
            channels = self._store.channels()
            self.routing = load_routing(channels, self._store.targets())
            self.channels = {n: ChannelIn.model_validate(c) for n, c in channels.items()}
            self.policies = {n: c.policy(n) for n, c in self.channels.items()}
            self._version = version
        return self._data

    @property
    def version(self) -> int:
        """The master data version the cached data was loaded at (the basis of sums)."""
        return self._version


@dataclass(slots=True)
class Prepared:
    """A client batch validated and ready for the ingest transaction."""

    size: int
    invalid: list[tuple[int, NewException]]
    candidates: list[tuple[int, ParsedEvent, Any]]


#: Documents the writer decides: tickets, orders, returns, transfers and their steps.
AnyDocument = (
    DocumentCommand
    | ReturnCommand
    | GradeCommand
    | TransferCommand
    | MovementCommand
    | CloseCommand
)
ALL_DOCUMENTS = (*DOCUMENT_COMMANDS, *RETURN_COMMANDS, *TRANSFER_COMMANDS)
#: What the group-commit writer takes (a client batch or a command) and what it answers.
WriterItem = Prepared | Command | AnyDocument
Answer = BatchResult | Outcome | DocumentResult
#: Items that go to the writer as they are: everything but raw event batches.
PASS_THROUGH = (*COMMANDS, *ALL_DOCUMENTS)


@dataclass(frozen=True, slots=True)
class BatchRejected:
    """A request body that is not a batch at all: nothing in it is processed."""

    status: int
    title: str
    detail: str
    kind: str


def decode_batch(body: bytes, max_events: int) -> list[Any] | BatchRejected:
    """`{"events": [...]}` as bytes -> the list of raw events, or why not."""
    try:
        payload = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        return BatchRejected(400, "Malformed JSON", str(e), "malformed-json")
    events = payload.get("events") if isinstance(payload, dict) else None
    if not isinstance(events, list):
        return BatchRejected(
            422,
            "Invalid request",
            "the body must be an object with an 'events' list",
            "invalid-request",
        )
    if len(events) > max_events:
        return BatchRejected(
            413,
            "Too many events",
            f"{len(events)} events; at most {max_events} per request",
            "too-many-events",
        )
    return events


def prepare(raws: Sequence[Any]) -> Prepared:
    invalid: list[tuple[int, NewException]] = []
    candidates: list[tuple[int, ParsedEvent, Any]] = []
    for i, raw in enumerate(raws):
        parsed = parse_event(raw)
        if isinstance(parsed, InvalidEvent):
            invalid.append((i, _invalid(parsed, raw)))
        else:
            candidates.append((i, parsed, raw))
    return Prepared(len(raws), invalid, candidates)


@dataclass(slots=True)
class _Call:
    """Working state of one ingest call (one or several client batches)."""

    results: list[list[EventResult | None]]
    exceptions: list[NewException] = field(default_factory=list)
    accepted: list[Event] = field(default_factory=list)
    accepted_raws: list[bytes] = field(default_factory=list)
    #: (source, type, status) -> events: the ingest counters' increments.
    counts: Counter[tuple[str, str, str]] = field(default_factory=Counter)

    def answer(self, at: tuple[int, int], result: EventResult, type_: str) -> None:
        self.results[at[0]][at[1]] = result
        self.counts[(result.source or "unknown", type_, result.status.value)] += 1

    def reject(self, at: tuple[int, int], exc: NewException, type_: str = "unknown") -> None:
        self.exceptions.append(exc)
        self.answer(
            at,
            EventResult(
                exc.event_id, exc.source, Status.EXCEPTION, exc.reason.value, exc.detail, exc.field
            ),
            type_,
        )


class IngestService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        master: MasterCache | None = None,
        change_feed_retention_seconds: float = 600.0,
        tickets: TicketPolicy | None = None,
        returns: ReturnPolicy | None = None,
        transfers: TransferPolicy | None = None,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.tracing = tracing or Tracing()
        self.master = master or MasterCache(store)
        self.change_feed_retention_us = int(change_feed_retention_seconds * 1_000_000)
        self.tickets = tickets or TicketPolicy()
        self.returns = returns or ReturnPolicy()
        self.transfers = transfers or TransferPolicy()

    def ingest(self, raws: Sequence[Any]) -> BatchResult:
        return self.ingest_many([prepare(raws)])[0]

    def ingest_many(self, batches: Sequence[Prepared]) -> list[BatchResult]:
        """Ingest several client batches in one transaction (group commit)."""
        return [r for r in self.run_group(batches) if isinstance(r, BatchResult)]

    def execute(self, command: Command) -> Outcome:
        """Decide and record one reservation command in its own transaction."""
        outcome = self.run_group([command])[0]
        assert isinstance(outcome, Outcome)
        return outcome

    def apply_documents(self, documents: Sequence[AnyDocument]) -> list[DocumentResult]:
        """Apply document commands (tickets, orders, returns, transfers), each with its
        ledger events, in one transaction."""
        return [r for r in self.run_group(documents) if isinstance(r, DocumentResult)]

    def run_group(
        self, items: Sequence[WriterItem], parents: Sequence[str | None] = ()
    ) -> list[Answer]:
        """Apply client batches, reservation commands, tickets and order commands in one
        transaction (group commit), answering each in order.

        If the shared transaction fails, each item is retried alone so one item's
        trouble is not another's. `parents` are the `traceparent`s of the requests
        behind the items: the transaction's span links to each.
        """
        with self.tracing.span(
            "ingest transaction",
            links=self.tracing.links(parents),
            attributes={"stockbridge.items": len(items)},
        ):
            try:
                return self._ingest(items)[0]
            except Exception:
                if len(items) == 1:
                    raise
                with group_context(items):
                    log.exception(
                        "group commit failed; retrying its %d items one by one", len(items)
                    )
                return [self._ingest([b])[0][0] for b in items]

    def expire_reservations(self) -> int:
        """Release reservations past their expiry; returns how many were released."""
        return self._ingest([])[1]

    def settle_closed_days(self) -> int:
        """Queue the daily settlement of every store day that is over; returns how many.

        A (store, business day) is settled once: its tickets are marked with the settlement
        that took them, in the transaction that queues the settlement's postings. A ticket
        that arrives for a day already settled goes into a supplement (`...:2`).
        """
        now = self.clock.now()
        now_us = to_micros(now)
        master = self.master.get()
        targets = self.master.routing.posting_targets
        settled = 0
        with self.store.transaction() as tx:
            for store, day in tx.unsettled_days():
                location = master.locations.get(store)
                timezone = location.timezone if location is not None else "UTC"
                if not is_closed(self.tickets, store, day, timezone, now):
                    continue
                tickets = tx.tickets_to_settle(store, day)
                if not tickets:
                    continue
                seq = tx.next_settlement_seq(store, day)
                due = plan_settlement(store, day, seq, tickets, targets)
                tx.save_settlement(store, day, seq, due.tickets, due.document, now_us)
                tx.enqueue_deliveries(due.deliveries, now_us)
                settled += 1
        return settled

    def housekeeping(self) -> None:
        """The writer's timed work: expiry, freshness, change-feed retention.

        Each part is retried at the next tick if it fails; none stops the writer.
        """
        try:
            released = self.expire_reservations()
            changed = self.refresh_freshness()
            self.prune_change_feed()
            settled = self.settle_closed_days()
        except Exception:
            log.exception("expiry, freshness, feed pruning or daily settlement failed")
            return
        if released:
            log.info("released %d expired reservation(s)", released)
        if settled:
            log.info("queued %d daily settlement(s)", settled)
        for location, stale in changed.items():
            with structlog.contextvars.bound_contextvars(location=location):
                log.warning("location %s is %s", location, "stale" if stale else "reporting again")

    def prune_change_feed(self) -> int:
        before_us = to_micros(self.clock.now()) - self.change_feed_retention_us
        with self.store.transaction() as tx:
            return tx.prune_change_feed(before_us)

    def refresh_freshness(self) -> dict[str, bool]:
        """Mark locations stale or fresh again by their SLA, and re-push their channels.

        Returns the locations whose state changed (location -> now stale?).
        """
        now_us = to_micros(self.clock.now())
        master = self.master.get()
        routing = self.master.routing
        slas = {code: loc.freshness_sla_seconds for code, loc in master.locations.items()}
        with self.store.transaction() as tx:
            stale = stale_locations(tx.liveness(), slas, now_us)
            known = tx.location_status()
            changes = {loc: loc in stale for loc in slas if known.get(loc, False) != (loc in stale)}
            if not changes:
                return {}
            tx.set_location_status(changes, now_us)
            pairs = sorted(
                {
                    (channel, sku)
                    for loc in changes
                    for channel, policy in routing.channels.items()
                    if loc in policy.locations
                    for sku in tx.skus_at(loc)
                }
            )
            if pairs:
                feeding = routing.channel_locations()
                keys = {(sku, loc) for _, sku in pairs for loc in feeding}
                positions = tx.lock_positions(keys)
                # Sums are recomputed from every feeding location under the new status.
                pushes, kept = plan_pushes(
                    routing,
                    pairs,
                    ChannelInputs(positions, None, (), stale),
                    master,
                    tx.channel_values(pairs),
                    self.master.version,
                    [],
                    now_us,
                )
                tx.save_channel_values(kept, now_us)
                tx.enqueue_deliveries(pushes, now_us)
                # Positions were only read here; nothing to save, rows made to lock go.
                tx.save_positions([], now_us)
        return changes

    def _ingest(self, items: Sequence[WriterItem]) -> tuple[list[Answer], int]:
        now_us = to_micros(self.clock.now())
        master = self.master.get()
        routing = self.master.routing
        batches = [b for b in items if isinstance(b, Prepared)]
        documents = [d for d in items if isinstance(d, ALL_DOCUMENTS)]
        commands = CommandBatch(
            [c for c in items if isinstance(c, COMMANDS)], master, self.master.policies
        )
        call = _Call(results=[[None] * b.size for b in batches])
        candidates: list[tuple[tuple[int, int], ParsedEvent, Any]] = []
        for b, batch in enumerate(batches):
            for i, exc in batch.invalid:
                call.reject((b, i), exc)
            candidates.extend(((b, i), parsed, raw) for i, parsed, raw in batch.candidates)

        with self.store.transaction() as tx:
            plan = DocumentPlan()
            if documents:
                desk = DocumentDesk(
                    tx,
                    master,
                    routing.posting_targets,
                    self.tickets,
                    [ReturnDesk(self.returns), TransferDesk(self.transfers)],
                    routing.reservation_targets,
                )
                plan = desk.decide(documents)
                # The documents' events take the ordinary path; their answers go nowhere.
                call.results.append([None] * len(plan.events))
                for i, raw in enumerate(plan.events):
                    parsed = parse_event(raw)
                    assert isinstance(parsed, ParsedEvent)  # checked by the desk
                    candidates.append(((len(batches), i), parsed, raw))
                call.exceptions.extend(plan.exceptions)
            recorded = tx.find_events([p.key for _, p, _ in candidates])
            self._sort(call, candidates, recorded, master)
            reservation_ids = {e.reservation_id for e in call.accepted if e.reservation_id}
            due = [r.reservation_id for r in tx.due_reservations(now_us, EXPIRY_BATCH)]
            reservation_ids.update(commands.reservation_ids())
            reservations = tx.load_reservations(reservation_ids.union(due))
            keys: set[PositionKey] = commands.position_keys(reservations)
            for e in call.accepted:
                keys.add((e.sku, e.location))
                if e.type is EventType.TRANSFER_OUT and e.counterparty_location:
                    keys.add((e.sku, e.counterparty_location))
            keys.update((r.sku, r.location) for r in reservations.values() if r.sku and r.location)
            loaded = tx.lock_positions(keys)
            # Channel sums move by what each changed position gives before and after.
            before = (
                {k: p.available(_safety(master, k[0])) for k, p in loaded.items()}
                if routing.channels
                else {}
            )
            ledger = LedgerBatch(loaded, reservations, tx, now_us)
            for rid in due:
                ledger.expire(reservations[rid])
            entries = ledger.apply_all(call.accepted)
            # Every event is a sign of life from its location (freshness, DESIGN §7); a
            # reservation the hub records is not.
            alive = {
                e.location: e.key.source for e in call.accepted if e.key.source != CANARY_SOURCE
            }
            raws = call.accepted_raws
            if commands.commands:
                # Read once the positions are locked: a request committed meanwhile by
                # another writer is seen, not repeated.
                requests = tx.reservation_requests(commands.reservation_ids())
                recorded_keys = set(tx.find_events(commands.event_keys(reservations)))
                recorded_keys.update(e.key for e in call.accepted)
                stale = frozenset[str]()
                if commands.needs_freshness():
                    slas = {c: loc.freshness_sla_seconds for c, loc in master.locations.items()}
                    stale = stale_locations(tx.liveness(), slas, now_us) - alive.keys()
                commands.run(ledger, requests, recorded_keys, stale, now_us)
                entries = entries + commands.entries
                raws = raws + commands.raws
                tx.save_reservation_requests(commands.new_requests, now_us)

            tx.append(entries, raws, now_us)
            tx.save_positions(
                (ledger.positions[k] for k in sorted(ledger.changed_positions)), now_us
            )
            tx.save_reservations(
                (reservations[r] for r in sorted(ledger.changed_reservations)), now_us
            )
            tx.save_tickets(plan.tickets, now_us)
            tx.save_orders(list(plan.orders.values()), now_us)
            tx.save_document_states(list(plan.states.values()), now_us)
            tx.park(call.exceptions, now_us)
            tx.count_events(call.counts)
            tx.resolve_exceptions(
                [e.key for e in call.accepted] + [EventKey(*r) for r in plan.accepted_refs],
                now_us,
            )
            tx.enqueue(_position_messages(entries, ledger.changed_positions), now_us)
            tx.touch_locations(alive, now_us)
            # A document's events reach the ERP as that document (a ticket, a settlement, a
            # shipment), never a second time as movement postings.
            documented = {EventKey(e["source"], e["event_id"]) for e in plan.events}
            movements = [e for e in entries if e.event.key not in documented]
            deliveries = plan_postings(routing, movements) + plan.deliveries
            if routing.channels and ledger.changed_positions:
                stale = frozenset(loc for loc, is_stale in tx.location_status().items() if is_stale)
                reporting = stale & alive.keys()
                pairs = sorted(
                    {
                        (channel, sku)
                        for sku, loc in ledger.changed_positions
                        for channel, policy in routing.channels.items()
                        if loc in policy.locations
                    }
                )
                states = tx.channel_values(pairs)
                basis = self.master.version
                needed = positions_needed(routing, pairs, states, basis, reporting)
                others = tx.read_positions(needed - ledger.positions.keys())
                pushes, kept = plan_pushes(
                    routing,
                    pairs,
                    ChannelInputs(
                        {**others, **ledger.positions},
                        before,
                        ledger.changed_positions,
                        stale,
                        reporting,
                    ),
                    master,
                    states,
                    basis,
                    entries,
                    now_us,
                )
                tx.save_channel_values(kept, now_us)
                deliveries = pushes + deliveries
            tx.enqueue_deliveries(self._traced(deliveries), now_us)
        # Committed: only now is each of them really parked.
        log_parked(call.exceptions)

        batch_answers = iter(
            [BatchResult([r for r in rs if r is not None]) for rs in call.results[: len(batches)]]
        )
        outcomes = iter(o for o in commands.outcomes if o is not None)
        results = iter(plan.results)
        answers: list[Answer] = [
            next(batch_answers)
            if isinstance(item, Prepared)
            else next(results)
            if isinstance(item, ALL_DOCUMENTS)
            else next(outcomes)
            for item in items
        ]
        return answers, len(due)

    def _traced(self, deliveries: list[NewDelivery]) -> list[NewDelivery]:
        """Deliveries stamped with the transaction span's context, when tracing is on."""
        if not self.tracing.enabled or not deliveries:
            return deliveries
        parent = self.tracing.traceparent()
        return [replace(d, traceparent=parent) for d in deliveries]

    @staticmethod
    def _sort(
        call: _Call,
        candidates: list[tuple[tuple[int, int], ParsedEvent, Any]],
        recorded: dict[EventKey, str],
        master: MasterData,
    ) -> None:
        """Decide for each well-formed event: duplicate, conflict, parked or accepted."""
        seen = dict(recorded)
        for at, parsed, raw in candidates:
            key = parsed.key
            prior = seen.get(key)
            type_ = parsed.type.value
            if prior is not None:
                if prior == parsed.payload_hash:
                    call.answer(at, EventResult(key.event_id, key.source, Status.DUPLICATE), type_)
                else:
                    call.reject(at, _conflict(parsed, raw), type_)
                continue
            mapped = map_event(parsed, master)
            if isinstance(mapped, Parked):
                call.reject(at, _parked(parsed, mapped, raw), type_)
                continue
            seen[key] = parsed.payload_hash
            call.accepted.append(mapped)
            call.accepted_raws.append(parsed.canonical)
            call.answer(at, EventResult(key.event_id, key.source, Status.ACCEPTED), type_)


def _safety(master: MasterData, sku: str) -> Decimal:
    item = master.items.get(sku)
    return item.safety_stock if item is not None else ZERO


def _invalid(bad: InvalidEvent, raw: Any) -> NewException:
    return NewException(
        Reason.INVALID_EVENT,
        f"{bad.field} {bad.message}",
        raw,
        bad.source,
        bad.event_id,
        field=bad.field,
    )


def _conflict(parsed: ParsedEvent, raw: Any) -> NewException:
    return NewException(
        Reason.CONFLICTING_DUPLICATE,
        f"event {parsed.key} was already recorded with a different payload",
        raw,
        parsed.key.source,
        parsed.key.event_id,
        parsed.payload_hash,
    )


def _parked(parsed: ParsedEvent, parked: Parked, raw: Any) -> NewException:
    return NewException(
        parked.reason,
        parked.detail,
        raw,
        parsed.key.source,
        parsed.key.event_id,
        parsed.payload_hash,
        field=parked.field,
    )


def _position_messages(entries: Sequence[Entry], changed: set[PositionKey]) -> list[OutboxMessage]:
    """One `positions_changed` message per transaction, naming what moved and why.

    Downstream work (channel availability, postings) is derived from it; one message per
    transaction rather than per event keeps the ingest path's cost flat.
    """
    if not changed:
        return []
    causes = [e.event for e in entries[:MAX_CAUSES]]
    return [
        OutboxMessage(
            "positions_changed",
            "ledger",
            {
                "positions": sorted(changed),
                "event_count": len(entries),
                "events": [str(e.key) for e in causes],
                "correlation_ids": sorted({e.correlation for e in causes}),
            },
        )
    ]
