"""Ports: what the application needs from the outside world, as Protocols."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from ..domain.errors import Reason
from ..domain.ledger import Entry, PositionKey
from ..domain.mapping import MasterData
from ..domain.model import Event, EventKey, Item, Location, Position, Reservation, Xref
from ..domain.pricing import PriceEntry, Promotion
from ..domain.reconciliation import Difference, Summary
from ..domain.slas import Compliance


class Clock(Protocol):
    def now(self) -> datetime:
        """The current instant, timezone-aware."""
        ...


@dataclass(frozen=True, slots=True)
class NewException:
    """A business exception to keep: the raw payload and why it cannot be applied."""

    reason: Reason
    detail: str
    payload: Any
    source: str | None
    event_id: str | None
    payload_hash: str | None = None
    field: str | None = None


@dataclass(frozen=True, slots=True)
class ExceptionRecord:
    id: int
    reason: str
    detail: str
    field: str | None
    payload: Any
    source: str | None
    event_id: str | None
    status: str
    occurrences: int
    note: str | None
    created_us: int
    updated_us: int
    assignee: str | None = None
    #: 0: not escalated; each escalation raises it by one.
    escalation: int = 0
    escalated_us: int | None = None
    #: When and how it was closed: replayed, mapping_fixed, accepted or ignored.
    resolved_us: int | None = None
    resolution: str | None = None
    #: When it was found open past its SLA (the overdue alert is raised once).
    overdue_us: int | None = None


@dataclass(frozen=True, slots=True)
class ExceptionFilter:
    """Which exceptions to list; instants in µs since the epoch, None: no bound."""

    status: str | None = None
    reason: str | None = None
    source: str | None = None
    assignee: str | None = None
    created_before_us: int | None = None
    created_after_us: int | None = None
    #: Only exceptions escalated at least once (True) or never (False).
    escalated: bool | None = None
    #: Only overdue exceptions (True) or only those that are not (False): open and
    #: created before their reason's cutoff, given per reason in `overdue_cutoffs`.
    overdue: bool | None = None
    overdue_cutoffs: tuple[tuple[str, int], ...] = ()


@dataclass(frozen=True, slots=True)
class ExceptionNote:
    """One entry of an exception's thread: a note, or an action taken on it."""

    id: int
    exception_id: int
    kind: str  # note, assigned, escalated, replayed, ignored, resolved, overdue
    author: str
    at_us: int
    text: str


@dataclass(frozen=True, slots=True)
class ConfigChange:
    """Who writes configuration (a cross reference, channel or target), and whether the
    write re-applies an earlier version (a rollback)."""

    actor: str
    rollback_of: int | None = None


#: Configuration declared in the settings file, stored at start.
DECLARED = ConfigChange("configuration file")


@dataclass(frozen=True, slots=True)
class HistoryEntry:
    kind: str  # xref, channel or target
    key: str
    version: int
    action: str  # create, update, delete or rollback
    actor: str
    at_us: int
    before: dict[str, Any] | None
    after: dict[str, Any] | None
    rollback_of: int | None


@dataclass(frozen=True, slots=True)
class OutboxMessage:
    kind: str
    key: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ChannelState:
    """What the hub keeps per (channel, SKU): the last value queued for the channel, and
    the sum of location contributions behind it with the master data version it was
    computed under (a sum from another version is not trusted)."""

    value: Decimal
    total: Decimal | None = None
    basis: int | None = None


@dataclass(frozen=True, slots=True)
class LedgerChanges:
    """What the change feed holds after a reader's last id."""

    last: int  # the id to read after next time
    pruned_through: int  # rows up to here are gone; a reader behind it missed changes
    skus: tuple[str, ...]  # SKUs whose positions moved
    complete: bool  # False when more rows wait beyond the read limit


@dataclass(frozen=True, slots=True)
class StoredEvent:
    seq: int
    source: str
    event_id: str
    type: str
    sku: str
    location: str
    counterparty_location: str | None
    quantity: Decimal
    on_hand_delta: Decimal
    occurred_us: int
    recorded_us: int
    reservation_id: str | None
    expires_us: int | None
    condition: str | None
    reference: str | None
    reason: str | None
    correlation_id: str | None
    raw: Any


@dataclass(frozen=True, slots=True)
class ReservationRequest:
    """A reservation asked for through the API, as checked: kept for idempotent repeats."""

    reservation_id: str
    request_hash: str
    channel: str | None
    request: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ReservationRecord:
    """A reservation as stored, with the API request behind it if there was one."""

    reservation: Reservation
    request: ReservationRequest | None


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    id: int
    name: str
    prefix: str
    scopes: tuple[str, ...]
    created_us: int
    revoked_us: int | None
    #: {"sources": [...], "locations": [...], "channels": [...]}; absent lists: unbound.
    bindings: dict[str, list[str]] = field(default_factory=dict)
    #: Requests per second and burst; None: only the server-wide default applies.
    rate_per_second: float | None = None
    rate_burst: int | None = None


@dataclass(frozen=True, slots=True)
class NewApiKey:
    name: str
    key_hash: str
    prefix: str
    scopes: Sequence[str]
    bindings: dict[str, list[str]]
    rate_per_second: float | None
    rate_burst: int | None


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One administrative action, or one refused request, as the audit log keeps it."""

    at_us: int
    actor: str
    action: str
    subject_kind: str
    subject_key: str
    outcome: str  # "ok" or "refused"
    detail: dict[str, Any] = field(default_factory=dict)
    id: int = 0


@dataclass(frozen=True, slots=True)
class NewDelivery:
    target: str
    kind: str  # "availability", "posting", "price" or "alert"
    #: availability: "channel/sku" (coalescing); posting: "sku/location" (order);
    #: price: the price entry's or promotion line's natural key (a newer version replaces
    #: a pending one).
    key: str
    idempotency_key: str
    payload: dict[str, Any]
    priority: int  # 0: to zero, 1: lowers, 2: raises or posting
    causes: list[str]
    #: Not sent before this instant (µs since the epoch); None: as soon as possible.
    not_before_us: int | None = None
    #: The correlation ids of the events behind it: how a trace finds the delivery.
    correlation_ids: tuple[str, ...] = ()
    #: W3C trace context of the ingest span that queued it (only when tracing is on).
    traceparent: str | None = None
    #: The SLA workflow this delivery measures (domain.slas.Workflow), if any.
    workflow: str | None = None
    #: When its earliest cause occurred at the source: the start of its SLA clock and of
    #: its propagation latency.
    occurred_us: int | None = None


@dataclass(frozen=True, slots=True)
class Delivery:
    id: int
    target: str
    kind: str
    key: str
    idempotency_key: str
    payload: Any
    priority: int
    state: str
    attempts: int
    coalesced: int
    next_attempt_us: int
    created_us: int
    updated_us: int
    delivered_us: int | None
    last_status: int | None
    last_error: str | None
    causes: list[str]
    #: W3C trace context of the ingest span that queued it, when tracing was on.
    traceparent: str | None = None
    workflow: str | None = None
    occurred_us: int | None = None


@dataclass(frozen=True, slots=True)
class Finished:
    """The end of one delivery attempt, to record."""

    delivery: Delivery
    state: str  # delivered, pending (retry), dead or rejected
    status: int | None
    error: str | None
    duration_ms: float
    next_attempt_us: int | None
    #: False when the delivery was handed back unsent: the attempt is not counted.
    sent: bool = True


@dataclass(frozen=True, slots=True)
class NewTicket:
    source: str
    ticket_number: str
    payload_hash: str
    location: str
    business_date: date
    posting: str  # per_ticket or settlement
    totals: dict[str, Any]
    document: dict[str, Any]
    received: Any


@dataclass(frozen=True, slots=True)
class NewOrderState:
    channel: str
    order_id: str
    payload_hash: str
    status: str
    state: dict[str, Any]
    received: Any


@dataclass(frozen=True, slots=True)
class NewDocumentState:
    """A return's or a transfer's state after a command (kind: "return" or "transfer")."""

    kind: str
    document_id: str
    payload_hash: str
    status: str
    state: dict[str, Any]
    received: Any


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """One item at one location in a warehouse's report of its own stock (EDI 846)."""

    #: The trading partner that reported it.
    source: str
    #: The report's reference: a report sent again is the same snapshot.
    reference: str
    sku: str
    location: str
    #: Units on hand as the warehouse counts them.
    quantity: Decimal
    #: Every quantity reported for the item, by the report's qualifier (QTY01).
    quantities: Mapping[str, Decimal]
    #: The item ids the warehouse wrote, by qualifier.
    items: Mapping[str, str]
    as_of_us: int
    recorded_us: int = 0


@dataclass(frozen=True, slots=True)
class DocumentStateRecord:
    kind: str
    document_id: str
    payload_hash: str
    status: str
    state: dict[str, Any]
    received: Any
    created_us: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class TicketRecord:
    source: str
    ticket_number: str
    payload_hash: str
    status: str
    location: str
    business_date: str
    posting: str
    settlement_seq: int | None
    totals: dict[str, Any]
    document: dict[str, Any]
    received: Any
    created_us: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class OrderRecord:
    channel: str
    order_id: str
    payload_hash: str
    status: str
    state: dict[str, Any]
    received: Any
    created_us: int
    updated_us: int


@dataclass(frozen=True, slots=True)
class SettlementRecord:
    store: str
    business_date: str
    seq: int
    state: str
    ticket_count: int
    document: dict[str, Any]
    created_us: int


@dataclass(frozen=True, slots=True)
class NewRun:
    """A reconciliation run to record: where the snapshot came from and what it showed."""

    system: str
    origin: str  # pull, upload or edi
    policy: str
    snapshot_us: int
    summary: Summary
    #: Snapshot rows that could not be read: {"line", "field", "message"}.
    rejected: list[dict[str, Any]]
    #: What the policy did: action -> count.
    actions: dict[str, int]


@dataclass(frozen=True, slots=True)
class RunRecord:
    id: int
    system: str
    origin: str
    policy: str
    snapshot_us: int
    created_us: int
    lines_read: int
    lines_rejected: int
    matched: int
    differing: int
    drift_units: Decimal
    drift_value: Decimal
    oldest_us: int | None
    summary: dict[str, Any]


class IngestTransaction(Protocol):
    """One database transaction of the ingest path; commits on clean exit."""

    def find_events(self, keys: Sequence[EventKey]) -> dict[EventKey, str]:
        """Payload hashes of the already-recorded events among `keys`."""
        ...

    def lock_positions(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Position]:
        """Current positions for `keys`, locked against other writers until commit."""
        ...

    def load_reservations(self, ids: Iterable[str]) -> dict[str, Reservation]: ...

    def due_reservations(self, now_us: int, limit: int) -> list[Reservation]:
        """Open reservations still holding stock whose expiry is at or before `now_us`."""
        ...

    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal: ...

    def append(self, entries: Sequence[Entry], raws: Sequence[bytes], recorded_us: int) -> None:
        """Record accepted events; `raws` are the events as sent (canonical JSON)."""
        ...

    def save_positions(self, positions: Iterable[Position], now_us: int) -> None: ...

    def save_reservations(self, reservations: Iterable[Reservation], now_us: int) -> None: ...

    def park(self, exceptions: Sequence[NewException], now_us: int) -> None: ...

    def count_events(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        """Add (source, type, status) -> events to the ingest counters."""
        ...

    def resolve_exceptions(self, keys: Sequence[EventKey], now_us: int) -> None:
        """Close open mapping exceptions of events that have now been accepted."""
        ...

    def touch_locations(self, seen: Mapping[str, str], now_us: int) -> None:
        """Record that these locations (-> the source that spoke for them) are alive."""
        ...

    def enqueue(self, messages: Sequence[OutboxMessage], now_us: int) -> None: ...

    def prune_change_feed(self, before_us: int) -> int:
        """Drop change-feed rows created before `before_us`; returns how many."""
        ...

    def channel_values(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChannelState]:
        """Per (channel, sku): last availability queued and the sum behind it (locked)."""
        ...

    def save_channel_values(
        self, values: Mapping[tuple[str, str], ChannelState], now_us: int
    ) -> None: ...

    def read_positions(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Position]:
        """Positions read without a lock (missing ones are absent)."""
        ...

    def enqueue_deliveries(self, rows: Sequence[NewDelivery], now_us: int) -> None: ...

    def liveness(self) -> dict[str, int]: ...

    def location_status(self) -> dict[str, bool]:
        """Location -> stale, as last decided by the freshness check."""
        ...

    def set_location_status(self, changes: Mapping[str, bool], now_us: int) -> None: ...

    def skus_at(self, location: str) -> list[str]: ...

    def reservation_requests(self, ids: Iterable[str]) -> dict[str, ReservationRequest]:
        """The API requests already recorded for these reservation ids."""
        ...

    def save_reservation_requests(
        self, requests: Sequence[ReservationRequest], now_us: int
    ) -> None: ...
    def prices_for_skus(self, skus: Sequence[str]) -> list[PriceEntry]:
        """Every stored price entry of these SKUs, locked against concurrent imports."""
        ...

    def save_prices(self, entries: Sequence[PriceEntry], now_us: int) -> None:
        """Upsert by natural key (book, SKU, scope, start)."""
        ...

    def promotions_by_id(self, ids: Sequence[str]) -> dict[str, Promotion]: ...

    def save_promotions(self, promotions: Sequence[Promotion], now_us: int) -> None:
        """Upsert by promotion id; the SKU list is replaced."""

    # documents: tickets, orders, settlements
    def find_tickets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        """Payload hashes of the tickets already accepted among (source, ticket_number)."""
        ...

    def load_orders(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
        """(payload hash, state) of the orders among (channel, order_id), locked."""
        ...

    def load_document_states(
        self, kind: str, ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        """(payload hash, state) of the returns or transfers among `ids`, locked."""
        ...

    def save_document_states(self, states: Sequence[NewDocumentState], now_us: int) -> None:
        """Insert new returns and transfers, or update the state of known ones."""
        ...

    def save_tickets(self, tickets: Sequence[NewTicket], now_us: int) -> None: ...

    def save_orders(self, orders: Sequence[NewOrderState], now_us: int) -> None: ...

    def unsettled_days(self) -> list[tuple[str, date]]:
        """(store, business date) with tickets waiting for their daily settlement."""
        ...

    def tickets_to_settle(
        self, store: str, business_date: date
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """(source, ticket_number, totals) of that day's tickets not yet settled."""
        ...

    def next_settlement_seq(self, store: str, business_date: date) -> int: ...

    def save_settlement(
        self,
        store: str,
        business_date: date,
        seq: int,
        tickets: Sequence[tuple[str, str]],
        document: dict[str, Any],
        now_us: int,
    ) -> None:
        """Record the settlement and mark its tickets settled by it."""
        ...


@dataclass(frozen=True, slots=True)
class InboxItem:
    """A notification acknowledged to its platform and waiting for a read from it."""

    id: int
    connector: str
    key: str
    payload: Any
    attempts: int
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class OpenFeed:
    """A listings feed Amazon accepted and has not finished processing."""

    batch_key: str
    feed_id: str
    #: (idempotency key, seller SKU) per message; message id = position + 1.
    lines: list[tuple[str, str]]
    submitted_us: int


class ConnectorState(Protocol):
    """What platform connectors keep in the hub's database."""

    def xrefs_for_codes(self, source: str, kind: str, codes: Sequence[str]) -> dict[str, list[str]]:
        """Enterprise code -> the source's own codes for it (cross references read backwards)."""
        ...

    def inbox_add(self, connector: str, key: str, payload: Any, now_us: int) -> bool:
        """Keep a notification for later; False if (connector, key) is already kept."""
        ...

    def inbox_due(self, now_us: int, limit: int) -> list[InboxItem]: ...

    def inbox_done(self, item_id: int) -> None: ...

    def inbox_retry(self, item_id: int, next_attempt_us: int, error: str) -> None: ...

    def inbox_pending(self, connector: str | None = None) -> list[InboxItem]: ...

    def feed_submitted(
        self, target: str, batch_key: str, feed_id: str, lines: list[tuple[str, str]], now_us: int
    ) -> None: ...

    def open_feeds(self, target: str) -> list[OpenFeed]: ...

    def feed_finished(self, target: str, batch_key: str) -> None: ...


class Store(ConnectorState, Protocol):
    """Durable state: ledger, positions, reservations, master data, exceptions, outbox, keys."""

    #: "sqlite" or "postgres".
    dialect: str

    def migrate(self) -> None: ...

    def close(self) -> None: ...

    def transaction(self) -> AbstractContextManager[IngestTransaction]: ...

    # reads
    def position(self, sku: str, location: str) -> Position | None: ...

    def positions_for_sku(self, sku: str) -> list[Position]: ...

    def event(self, source: str, event_id: str) -> StoredEvent | None: ...

    def history(self, sku: str, location: str, limit: int) -> list[StoredEvent]: ...

    def events_as_of(self, sku: str, location: str, as_of_us: int) -> list[Event]:
        """Every event that moves (sku, location) and occurred at or before `as_of_us`,
        with what the ledger fold reads."""
        ...

    def reservation(self, reservation_id: str) -> ReservationRecord | None: ...

    def exceptions(
        self,
        *,
        status: str | None = None,
        reason: str | None = None,
        source: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[ExceptionRecord]: ...

    def exception(self, exception_id: int) -> ExceptionRecord | None: ...

    def set_exception_status(
        self,
        exception_id: int,
        status: str,
        note: str | None,
        now_us: int,
        resolution: str | None = None,
    ) -> None:
        """Close (or reopen) an exception; a closed one records when and how."""
        ...

    # exception triage
    def triage_exceptions(
        self, where: ExceptionFilter, *, after_id: int = 0, limit: int = 100
    ) -> list[ExceptionRecord]: ...

    def assign_exception(self, exception_id: int, assignee: str | None, now_us: int) -> None: ...

    def escalate_exception(self, exception_id: int, now_us: int) -> int:
        """Raise the escalation level by one; returns the new level."""
        ...

    def add_exception_notes(self, notes: Sequence[tuple[int, str, str, str]], now_us: int) -> None:
        """Append (exception id, kind, author, text) to the exceptions' threads."""
        ...

    def exception_notes(self, exception_id: int) -> list[ExceptionNote]: ...

    def mark_overdue(self, cutoffs: Mapping[str, int], now_us: int) -> list[ExceptionRecord]:
        """Open exceptions created before their reason's cutoff and not yet marked overdue:
        mark them (with an `overdue` note) and return them."""
        ...

    def exception_alerts(self, limit: int) -> list[ExceptionNote]:
        """The newest `overdue` entries of every exception's thread, newest first."""
        ...

    def open_exceptions_before(self, cutoffs: Mapping[str, int]) -> dict[str, int]:
        """Reason -> open exceptions created before that reason's cutoff."""
        ...

    def resolution_times(self, since_us: int, limit: int) -> list[tuple[str, str, int]]:
        """(reason, resolution, resolved_us - created_us) of exceptions closed since."""
        ...

    # configuration history
    def config_history(
        self, kind: str, key: str | None = None, *, limit: int = 100, before_version: int = 0
    ) -> list[HistoryEntry]:
        """Newest first; `before_version` pages on (0: from the newest)."""
        ...

    def config_version(self, kind: str, key: str, version: int) -> HistoryEntry | None: ...

    def outbox_depth(self) -> int: ...

    def open_exceptions_by_reason(self) -> dict[str, int]: ...

    def open_exceptions_summary(self) -> dict[str, tuple[int, int]]:
        """Reason -> (open exceptions, the oldest one's created_us)."""
        ...

    def open_exceptions_by_age(
        self, now_us: int, bands_us: Sequence[int]
    ) -> dict[tuple[str, int], int]:
        """(reason, age band index) -> open exceptions."""
        ...

    # --- observability -------------------------------------------------------------------
    def event_counts(self) -> dict[tuple[str, str, str], int]:
        """(source, type, status) -> events ingested since the database was created."""
        ...

    def delivery_counters(
        self,
    ) -> tuple[dict[tuple[str, str, str], int], dict[tuple[str, str], tuple[list[int], int]]]:
        """Attempts by (target, kind, outcome); latency buckets and sum per (target, kind)."""
        ...

    def sla_compliance(
        self, workflow: str, since_us: int, now_us: int, target_us: int
    ) -> Compliance: ...

    def sla_breaches(self) -> dict[str, int]:
        """Workflow -> since when (µs) it has been in breach."""
        ...

    def queue_alerts(self, alerts: Sequence[NewDelivery], now_us: int) -> None:
        """Queue alert deliveries to alert targets, outside any other write."""
        ...

    def open_sla_breach(
        self,
        workflow: str,
        detail: str,
        report: dict[str, Any],
        alerts: Sequence[NewDelivery],
        now_us: int,
    ) -> bool: ...

    def close_sla_breach(
        self, workflow: str, note: str, alerts: Sequence[NewDelivery], now_us: int
    ) -> bool: ...

    def ledger_changes(self, after: int | None, limit: int) -> LedgerChanges:
        """SKUs moved by transactions committed after change-feed id `after` (None: only
        the current last id)."""
        ...

    def ticket(self, source: str, ticket_number: str) -> TicketRecord | None: ...

    def order(self, channel: str, order_id: str) -> OrderRecord | None: ...

    def document_state(self, kind: str, document_id: str) -> DocumentStateRecord | None:
        """A return ("return") or a transfer order ("transfer") as last saved."""
        ...

    def save_warehouse_snapshot(self, rows: Sequence[SnapshotRow], now_us: int) -> int:
        """Keep a warehouse's stock report; the rows new to the store (a report sent
        again adds none)."""
        ...

    def latest_warehouse_snapshot(self, source: str) -> list[SnapshotRow]:
        """The rows of a partner's latest report (by its time, then by arrival), by SKU
        and location; empty when it reported nothing."""
        ...

    def settlements(
        self, store: str | None = None, business_date: str | None = None
    ) -> list[SettlementRecord]: ...

    # master data
    def master_version(self) -> int: ...

    def master_data(self) -> MasterData: ...

    def upsert_items(self, items: Sequence[Item], now_us: int) -> None: ...

    def upsert_locations(self, locations: Sequence[Location], now_us: int) -> None: ...

    def upsert_xrefs(
        self, xrefs: Sequence[Xref], now_us: int, change: ConfigChange | None = None
    ) -> None: ...

    def safety_stock(self, sku: str) -> Decimal: ...

    # prices and promotions
    def prices_for_sku(self, sku: str) -> list[PriceEntry]: ...

    def promotions_for_sku(self, sku: str) -> list[Promotion]: ...

    # freshness and channels
    def record_heartbeats(self, seen: Mapping[str, str], now_us: int) -> None: ...

    def liveness(self) -> dict[str, tuple[int, str | None]]:
        """Location -> (last seen, in µs since the epoch; the source that last spoke)."""
        ...

    def put_channel(
        self, name: str, config: dict[str, Any], now_us: int, change: ConfigChange | None = None
    ) -> None: ...

    def channels(self) -> dict[str, dict[str, Any]]: ...

    # delivery
    def put_target(
        self, name: str, config: dict[str, Any], now_us: int, change: ConfigChange | None = None
    ) -> None: ...

    def targets(self) -> dict[str, tuple[dict[str, Any], bool]]:
        """Target -> (configuration, paused)."""
        ...

    def set_target_paused(self, name: str, paused: bool, now_us: int) -> bool: ...

    def target_backlog(self) -> dict[str, tuple[int, int | None, int]]: ...

    def target_stats(self) -> dict[str, tuple[int, int | None, int, int]]:
        """Target -> (backlog, oldest pending created_us, dead letters, pushes coalesced)."""
        ...

    def delivered_push_latencies(self, since_us: int, limit: int) -> list[tuple[str, int]]:
        """(target, delivered_us - created_us) of the availability pushes delivered at or
        after `since_us`, newest first, at most `limit`."""
        ...

    def claim_deliveries(
        self, target: str, now_us: int, lease_us: int, limit: int
    ) -> list[Delivery]: ...

    def finish_delivery(
        self,
        delivery: Delivery,
        *,
        state: str,
        status: int | None,
        error: str | None,
        duration_ms: float,
        next_attempt_us: int | None,
        now_us: int,
    ) -> str: ...

    def finish_deliveries(self, done: Sequence[Finished], now_us: int) -> list[str]: ...

    def finish_and_claim(
        self, done: Sequence[Finished], now_us: int, target: str, lease_us: int, limit: int
    ) -> tuple[list[str], list[Delivery]]:
        """`finish_deliveries` then `claim_deliveries`, in one transaction."""
        ...

    def deliveries(
        self,
        *,
        target: str | None = None,
        kind: str | None = None,
        state: str | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[Delivery]: ...

    def delivery(self, delivery_id: int) -> Delivery | None: ...

    def attempts(self, delivery_id: int) -> list[dict[str, Any]]: ...

    # traces
    def events_by_correlation(self, correlation_id: str, limit: int) -> list[StoredEvent]:
        """Events carrying this correlation id, oldest recorded first."""
        ...

    def deliveries_by_correlation(self, correlation_id: str, limit: int) -> list[Delivery]:
        """Deliveries queued for events of this correlation id, oldest first."""
        ...

    def attempts_of(self, delivery_ids: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """`attempts` of several deliveries at once (delivery id -> attempts in order)."""
        ...

    def requeue(self, ids: Sequence[int], now_us: int) -> int: ...

    def dead_letter_ids(
        self, target: str | None, since_us: int | None, until_us: int | None
    ) -> list[int]: ...

    # API keys
    def add_api_key(self, key: NewApiKey, now_us: int) -> ApiKeyRecord: ...

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None: ...

    def api_keys(self) -> list[ApiKeyRecord]: ...

    def revoke_api_key(self, key_id: int, now_us: int) -> bool: ...

    # reconciliation
    def open_drift(self, system: str) -> dict[tuple[str, str], int]:
        """(system SKU, system location) -> first seen, of differences still open."""
        ...

    def in_flight_keys(self, target: str, kind: str) -> set[str]:
        """Keys of the deliveries of `kind` pending or being sent to `target`."""
        ...

    def save_reconciliation(
        self,
        run: NewRun,
        differences: Sequence[Difference],
        matched: Sequence[tuple[str, str]],
        now_us: int,
    ) -> int: ...

    def reconciliation_runs(self, system: str | None, limit: int) -> list[RunRecord]: ...

    def reconciliation_run(self, run_id: int) -> RunRecord | None: ...

    def latest_reconciliations(self) -> list[RunRecord]: ...

    def reconciliation_lines(self, run_id: int) -> list[Difference]: ...

    # Audit log
    def add_audit(self, entry: AuditEntry) -> None: ...

    def audit_entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        """Entries in id order, filtered; `after_id` pages on."""
        ...
