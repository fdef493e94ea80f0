"""`/metrics` for Prometheus: ingest, delivery, freshness, exceptions and SLAs.

Read at scrape time. Counters that several processes add to (events ingested by the
writer process, attempts and latency recorded by every dispatcher) are kept in the
database by the transactions that do the work, so any process's scrape is complete.
Circuit state and the position cache are this process's own. Labels are bounded:
sources, event types, statuses, targets, delivery kinds, locations, reasons,
workflows and declared reconciliation systems; never a SKU, an order or an event id.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from fastapi.responses import PlainTextResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector

from ..app.bootstrap import Hub
from ..domain.model import to_micros
from ..domain.slas import LATENCY_BUCKETS

CIRCUIT_STATES = ("closed", "open", "half_open")
#: Open exceptions are counted by age band: up to an hour, up to a day, older.
EXCEPTION_AGE_BANDS = (("1h", 3600), ("24h", 86_400))


def _gauge(name: str, doc: str, *labels: str) -> GaugeMetricFamily:
    return GaugeMetricFamily(name, doc, labels=list(labels))


def _counter(name: str, doc: str, *labels: str) -> CounterMetricFamily:
    return CounterMetricFamily(name, doc, labels=list(labels))


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield from self._ingest()
        yield from self._outbox()
        yield from self._attempts()
        yield from self._locations()
        yield from self._exceptions()
        yield from self._slas()
        yield from self._reconciliation()

    def _ingest(self) -> Iterator[Metric]:
        events = _counter(
            "stockbridge_events",
            "Events submitted to ingest, by source, type and outcome "
            "(accepted, duplicate, exception).",
            "source",
            "type",
            "status",
        )
        for (source, type_, status), n in sorted(self.hub.store.event_counts().items()):
            events.add_metric([source, type_, status], n)
        yield events
        yield CounterMetricFamily(
            "stockbridge_group_commits",
            "Ingest transactions committed by this process's writer.",
            value=self.hub.writer.commits,
        )
        stats = self.hub.positions.cache.stats
        cache = _counter(
            "stockbridge_position_cache_lookups", "Position cache lookups by outcome.", "outcome"
        )
        cache.add_metric(["hit"], stats.hits)
        cache.add_metric(["miss"], stats.misses)
        yield cache
        yield CounterMetricFamily(
            "stockbridge_position_cache_invalidations",
            "SKUs dropped from the position cache because the ledger moved them.",
            value=stats.invalidations,
        )

    def _outbox(self) -> Iterator[Metric]:
        depth = _gauge(
            "stockbridge_outbox_depth", "Deliveries waiting to be sent (or in flight).", "target"
        )
        oldest = _gauge(
            "stockbridge_outbox_oldest_age_seconds",
            "Age of the oldest delivery waiting to be sent.",
            "target",
        )
        dead = _gauge(
            "stockbridge_dead_letters",
            "Deliveries that exhausted their retries and wait for a replay.",
            "target",
        )
        coalesced = _counter(
            "stockbridge_pushes_coalesced",
            "Availability pushes replaced by a newer value before they were sent.",
            "target",
        )
        paused = _gauge("stockbridge_target_paused", "1 while a target is paused.", "target")
        circuit = _gauge(
            "stockbridge_circuit_state",
            "1 for the circuit breaker's current state (dispatcher in this process).",
            "target",
            "state",
        )
        for t in self.hub.deliveries.targets():
            name = t["name"]
            depth.add_metric([name], t["backlog"])
            oldest.add_metric([name], t["oldest_age_seconds"] or 0.0)
            dead.add_metric([name], t["dead_letters"])
            coalesced.add_metric([name], t["pushes_saved"])
            paused.add_metric([name], 1.0 if t["paused"] else 0.0)
            state = t["circuit"].get("state")
            if state in CIRCUIT_STATES:
                for s in CIRCUIT_STATES:
                    circuit.add_metric([name, s], 1.0 if s == state else 0.0)
        yield from (depth, oldest, dead, coalesced, paused, circuit)

    def _attempts(self) -> Iterator[Metric]:
        outcomes, latency = self.hub.store.delivery_counters()
        attempts = _counter(
            "stockbridge_delivery_attempts",
            "Delivery attempts by target, kind and outcome (delivered, retry, dead, rejected).",
            "target",
            "kind",
            "outcome",
        )
        for (target, kind, outcome), n in sorted(outcomes.items()):
            attempts.add_metric([target, kind, outcome], n)
        yield attempts
        histogram = HistogramMetricFamily(
            "stockbridge_propagation_latency_seconds",
            "From the cause occurring at its source to the target accepting the delivery.",
            labels=["target", "kind"],
        )
        for (target, kind), (counts, sum_us) in sorted(latency.items()):
            buckets, running = [], 0
            for bound, n in zip((*LATENCY_BUCKETS, float("inf")), counts, strict=True):
                running += n
                buckets.append(("+Inf" if bound == float("inf") else str(bound), running))
            histogram.add_metric([target, kind], buckets, sum_us / 1e6)
        yield histogram

    def _locations(self) -> Iterator[Metric]:
        now_us = to_micros(self.hub.clock.now())
        silent = _gauge(
            "stockbridge_location_silent_seconds",
            "Time since a location's last event or heartbeat (absent: never heard from).",
            "location",
        )
        stale_by = _gauge(
            "stockbridge_location_stale",
            "1 while a location is past its freshness SLA.",
            "location",
        )
        stale = 0
        for f in self.hub.channels.freshness():
            if f.last_seen_us is not None:
                silent.add_metric([f.location], max(0, now_us - f.last_seen_us) / 1e6)
            stale_by.add_metric([f.location], 1.0 if f.stale else 0.0)
            stale += f.stale
        yield from (silent, stale_by)
        yield GaugeMetricFamily(
            "stockbridge_locations_stale", "Locations silent past their freshness SLA.", value=stale
        )

    def _exceptions(self) -> Iterator[Metric]:
        now_us = to_micros(self.hub.clock.now())
        by_reason = _gauge(
            "stockbridge_exceptions_open", "Business exceptions waiting, by reason.", "reason"
        )
        oldest = _gauge(
            "stockbridge_exceptions_oldest_age_seconds",
            "Age of the oldest open exception, by reason.",
            "reason",
        )
        for reason, (count, first_us) in sorted(self.hub.store.open_exceptions_summary().items()):
            by_reason.add_metric([reason], count)
            oldest.add_metric([reason], max(0, now_us - first_us) / 1e6)
        by_age = _gauge(
            "stockbridge_exceptions_open_by_age",
            "Open exceptions by reason and age band (up to 1h, up to 24h, older).",
            "reason",
            "age",
        )
        names = [name for name, _ in EXCEPTION_AGE_BANDS] + ["older"]
        bands = [seconds * 1_000_000 for _, seconds in EXCEPTION_AGE_BANDS]
        for (reason, band), n in sorted(
            self.hub.store.open_exceptions_by_age(now_us, bands).items()
        ):
            by_age.add_metric([reason, names[band]], n)
        overdue = _gauge(
            "stockbridge_exceptions_overdue",
            "Business exceptions open past their reason's SLA, by reason.",
            "reason",
        )
        for reason, count in sorted(self.hub.triage.overdue_counts(self.hub.clock.now()).items()):
            overdue.add_metric([reason], count)
        yield from (by_reason, oldest, by_age, overdue)

    def _slas(self) -> Iterator[Metric]:
        ratio = _gauge(
            "stockbridge_sla_compliance_ratio",
            "Deliveries within target over those judged in the window (1 when none).",
            "workflow",
        )
        objective = _gauge("stockbridge_sla_objective_ratio", "The SLA's objective.", "workflow")
        target = _gauge("stockbridge_sla_target_seconds", "The SLA's latency target.", "workflow")
        judged = _gauge(
            "stockbridge_sla_deliveries",
            "Deliveries in the SLA window by outcome (met, missed, waiting).",
            "workflow",
            "outcome",
        )
        breached = _gauge(
            "stockbridge_sla_breached", "1 while a breach episode is open.", "workflow"
        )
        for s in self.hub.slas.report():
            w, c = s.objective.workflow, s.compliance
            ratio.add_metric([w], 1.0 if c.ratio is None else c.ratio)
            objective.add_metric([w], s.objective.objective)
            target.add_metric([w], s.objective.target_seconds)
            for outcome, n in (("met", c.met), ("missed", c.missed), ("waiting", c.waiting)):
                judged.add_metric([w, outcome], n)
            breached.add_metric([w], 0.0 if s.breached_since_us is None else 1.0)
        yield from (ratio, objective, target, judged, breached)

    def _reconciliation(self) -> Iterator[Metric]:
        """The latest run of each declared system (labels: system names from the file)."""
        units = _gauge(
            "stockbridge_reconciliation_drift_units",
            "Sum of the absolute differences found by the system's latest reconciliation.",
            "system",
        )
        value = _gauge(
            "stockbridge_reconciliation_drift_value",
            "Value at unit cost of the differences of the system's latest reconciliation.",
            "system",
        )
        lines = _gauge(
            "stockbridge_reconciliation_differing_lines",
            "Lines that differed at the system's latest reconciliation.",
            "system",
        )
        oldest = _gauge(
            "stockbridge_reconciliation_oldest_difference_age_seconds",
            "How long the longest-standing difference of the latest run had differed then.",
            "system",
        )
        last = _gauge(
            "stockbridge_reconciliation_last_run_timestamp_seconds",
            "When the system was last reconciled (Unix time).",
            "system",
        )
        declared = self.hub.reconciliation.systems
        for run in self.hub.store.latest_reconciliations():
            if run.system not in declared:
                continue  # a system since removed from the file: keep labels bounded
            units.add_metric([run.system], float(run.drift_units))
            value.add_metric([run.system], float(run.drift_value))
            lines.add_metric([run.system], run.differing)
            age = run.created_us - run.oldest_us if run.oldest_us is not None else 0
            oldest.add_metric([run.system], age / 1e6)
            last.add_metric([run.system], run.created_us / 1e6)
        yield from (units, value, lines, oldest, last)


def router(hub: Hub) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    routes = APIRouter(tags=["operations"])

    @routes.get(
        "/metrics",
        summary="Prometheus metrics",
        response_class=PlainTextResponse,
        responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
    )
    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return routes
