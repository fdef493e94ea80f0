"""The composition root: settings -> adapters -> services. The only place that wires."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from ..adapters.sql_store import SqlStore
from ..config import ReturnSettings, Settings, TicketSettings
from ..delivery.dispatcher import Dispatcher
from ..domain.returns import Disposition, InspectionRule
from ..domain.tickets import parse_clock_time
from ..tracing import Tracing
from .audit import AuditLog
from .canaries import CanaryService
from .channels import ChannelService
from .clock import SystemClock
from .connector_inbox import ConnectorInbox
from .connectors import ConnectorService, load_connectors
from .dashboard import DashboardService
from .deliveries import DeliveryService
from .documents import DocumentResult, TicketPolicy
from .exceptions import ExceptionService
from .history import HistoryService
from .ingest import AnyDocument, BatchResult, IngestService, MasterCache
from .keys import KeyService
from .limits import RateLimiter
from .master import MasterDataService
from .monitor import Monitor
from .ports import Clock, Store
from .pricing import PricingService
from .progress import Progress
from .queries import PositionQueries
from .read_cache import PositionCache
from .reconciliation import ReconciliationService
from .reconciliation_schedule import ReconciliationSchedule
from .reservations import Command, Outcome, ReservationService
from .returns import ReturnPolicy
from .slas import SlaService
from .trace import TraceQueries
from .transfers import TransferPolicy
from .triage import OverdueWatch, TriageService, sla_of
from .writer import GroupCommitWriter
from .writer_process import ProcessWriter

Writer = GroupCommitWriter | ProcessWriter


def ticket_policy(settings: TicketSettings) -> TicketPolicy:
    return TicketPolicy(
        mode=settings.mode,
        settle_after=parse_clock_time(settings.settle_after),
        settle_after_by_store={
            store: parse_clock_time(at) for store, at in settings.settle_after_by_store.items()
        },
    )


def return_policy(settings: ReturnSettings) -> ReturnPolicy:
    return ReturnPolicy(
        tuple(
            InspectionRule(r.condition, Disposition(r.outcome), r.category, r.reason)
            for r in settings.rules
        )
    )


def open_store(url: str) -> SqlStore:
    """A SQLite path or sqlite:/// URL, or a postgresql:// URL -> a migrated store."""
    store: SqlStore
    if url.startswith(("postgresql://", "postgres://")):
        from ..adapters.postgres import PostgresStore

        store = PostgresStore(url)
    else:
        from ..adapters.sqlite import SqliteStore

        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        store = SqliteStore(path)
    store.migrate()
    return store


@dataclass
class Hub:
    settings: Settings
    store: Store
    clock: Clock
    ingest: IngestService
    writer: Writer
    master_data: MasterDataService
    keys: KeyService
    audit: AuditLog
    limits: RateLimiter
    exceptions: ExceptionService
    positions: PositionQueries
    channels: ChannelService
    deliveries: DeliveryService
    reservations: ReservationService
    pricing: PricingService
    dashboard: DashboardService
    dispatcher: Dispatcher | None
    connectors: ConnectorService
    traces: TraceQueries
    tracing: Tracing
    triage: TriageService
    history: HistoryService
    overdue_watch: OverdueWatch
    slas: SlaService
    canaries: CanaryService
    monitor: Monitor
    inbox: ConnectorInbox
    reconciliation: ReconciliationService
    reconciliation_schedule: ReconciliationSchedule
    #: Given by the dispatcher, the connector inbox and the monitor after each unit of work.
    progress: Progress
    _running: bool = False

    def submit(self, raws: Sequence[Any]) -> BatchResult:
        """Ingest through the group-commit writer when it runs, directly otherwise."""
        if self._running:
            return self.writer.submit(raws).result()
        return self.ingest.ingest(raws)

    def submit_command(self, command: Command) -> Future[Outcome]:
        """A reservation command through the group-commit writer when it runs, directly
        otherwise; either way decided in the ingest transaction."""
        if self._running:
            return self.writer.submit_command(command)
        done: Future[Outcome] = Future()
        try:
            done.set_result(self.ingest.execute(command))
        except Exception as e:
            done.set_exception(e)
        return done

    def submit_document(self, command: AnyDocument) -> DocumentResult:
        """Apply a document command (ticket, order, return, transfer) through the writer
        when it runs."""
        if self._running:
            return self.writer.submit_document(command).result()
        return self.ingest.apply_documents([command])[0]

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds, re-checked after each unit of the background
        workers' work; False if it still does not after `timeout` seconds."""
        return self.progress.wait_until(predicate, timeout)

    def start(self) -> None:
        self.writer.start()
        if self.dispatcher is not None:
            self.dispatcher.start()
        self.overdue_watch.start()
        self._running = True
        self.monitor.start()
        if self.connectors.connectors:
            self.inbox.start()
        self.reconciliation_schedule.start()

    def stop(self) -> None:
        self.reconciliation_schedule.stop()
        self.inbox.stop()
        self.monitor.stop()
        self._running = False
        self.overdue_watch.stop()
        if self.dispatcher is not None:
            self.dispatcher.stop()
        self.writer.stop()

    def declare(self) -> None:
        """Store the targets and channels the configuration file declares."""
        self.deliveries.declare(self.settings.targets)
        self.channels.declare(self.settings.channels)
        self.pricing.check_targets()

    def close(self) -> None:
        self.stop()
        self.tracing.shutdown()
        self.store.close()


def bootstrap(
    settings: Settings,
    *,
    store: Store | None = None,
    clock: Clock | None = None,
    tracing: Tracing | None = None,
) -> Hub:
    """Wire a hub. An injected store or clock (tests, simulation) keeps the writer in this
    process, where they live; an injected tracing (tests) replaces the configured one."""
    if store is not None or clock is not None:
        settings = settings.with_overrides(**{"ingest.writer": "thread"})
    clock = clock or SystemClock()
    store = store or open_store(settings.database.url)
    master = MasterCache(store)
    cache = PositionCache(store, max_skus=settings.server.position_cache_skus)
    tickets = ticket_policy(settings.tickets)
    returns = return_policy(settings.returns)
    transfers = TransferPolicy(settings.transfers.short_receipt)
    tracing = tracing or Tracing.from_settings(settings.tracing)
    ingest = IngestService(
        store,
        clock,
        master,
        change_feed_retention_seconds=settings.ingest.change_feed_retention_seconds,
        tickets=tickets,
        returns=returns,
        transfers=transfers,
        tracing=tracing,
    )
    writer: Writer
    if settings.ingest.writer == "process":
        writer = ProcessWriter(
            settings.database.url,
            max_events=settings.ingest.group_commit_max_events,
            expiry_interval=settings.ingest.expiry_interval_seconds,
            change_feed_retention=settings.ingest.change_feed_retention_seconds,
            tickets=tickets,
            returns=returns,
            transfers=transfers,
            tracing=settings.tracing,
        )
    else:
        writer = GroupCommitWriter(
            ingest,
            max_events=settings.ingest.group_commit_max_events,
            expiry_interval=settings.ingest.expiry_interval_seconds,
        )
    progress = Progress()
    dispatcher = (
        Dispatcher(
            store,
            clock,
            poll_interval=settings.delivery.poll_interval_seconds,
            lease_seconds=settings.delivery.lease_seconds,
            tracing=tracing,
            progress=progress,
        )
        if settings.delivery.enabled
        else None
    )
    channels = ChannelService(store, clock, master, cache)
    deliveries = DeliveryService(store, clock, dispatcher)
    master_data = MasterDataService(store, clock)
    exceptions = ExceptionService(
        store,
        clock,
        lambda raws: hub.submit(raws),
        lambda command: hub.submit_document(command),
    )
    triage = TriageService(store, clock, exceptions, master_data, sla_of(settings.exceptions))
    audit = AuditLog(store, clock)
    slas = SlaService(store, clock, settings.slas)
    canaries = CanaryService(store, clock, master, settings.canaries, lambda raws: hub.submit(raws))
    monitor = Monitor(
        slas,
        settings.slas.evaluate_interval_seconds,
        canaries if settings.canaries.enabled else None,
        settings.canaries.interval_seconds,
        progress=progress,
    )
    connectors = ConnectorService(
        load_connectors(settings.connectors, os.environ),
        lambda raws: hub.submit(raws),
        lambda command: hub.submit_command(command),
        store.latest_warehouse_snapshot,
        settings.edi.get("partners", {}),
        state=store,
        clock=clock,
    )
    reconciliation = ReconciliationService(
        store,
        clock,
        master,
        channels,
        settings.reconciliation.systems,
        lambda raws: hub.submit(raws),
    )
    intervals = {
        name: system.interval_seconds
        for name, system in settings.reconciliation.systems.items()
        if system.interval_seconds is not None and system.kind != "file"
    }
    hub = Hub(
        settings=settings,
        store=store,
        clock=clock,
        ingest=ingest,
        writer=writer,
        master_data=master_data,
        keys=KeyService(store, clock, settings.bootstrap_key, audit),
        audit=audit,
        limits=RateLimiter(
            clock, settings.server.key_rate_per_second, settings.server.key_rate_burst
        ),
        exceptions=exceptions,
        positions=PositionQueries(store, master, cache),
        channels=channels,
        deliveries=deliveries,
        reservations=ReservationService(store, clock, lambda c: hub.submit_command(c)),
        pricing=PricingService(store, clock, master, settings.pricing),
        dashboard=DashboardService(store, clock, master, channels, deliveries),
        dispatcher=dispatcher,
        connectors=connectors,
        traces=TraceQueries(store),
        tracing=tracing,
        triage=triage,
        history=HistoryService(store, master_data, channels, deliveries),
        overdue_watch=OverdueWatch(
            triage, settings.exceptions.overdue_check_seconds, slas.alert_overdue
        ),
        slas=slas,
        canaries=canaries,
        monitor=monitor,
        inbox=ConnectorInbox(connectors, store, clock, progress=progress),
        progress=progress,
        reconciliation=reconciliation,
        reconciliation_schedule=ReconciliationSchedule(intervals, reconciliation.pull),
    )
    return hub
