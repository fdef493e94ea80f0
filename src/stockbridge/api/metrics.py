"""`/metrics` for Prometheus: delivery backlog, coalescing, circuits, exceptions, caches.

Read at scrape time from the database (so figures written by the writer process and by
other hub processes are included) and from this process's dispatcher and caches. Labels
are bounded: targets, reasons and circuit states, never a SKU or an event id.
"""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from ..app.bootstrap import Hub

CIRCUIT_STATES = ("closed", "open", "half_open")


class HubCollector(Collector):
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        yield from self._targets()
        yield from self._ingest()
        exceptions = GaugeMetricFamily(
            "stockbridge_exceptions_open",
            "Business exceptions waiting for someone, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(self.hub.store.open_exceptions_by_reason().items()):
            exceptions.add_metric([reason], count)
        yield exceptions
        overdue = GaugeMetricFamily(
            "stockbridge_exceptions_overdue",
            "Business exceptions open past their reason's SLA, by reason.",
            labels=["reason"],
        )
        for reason, count in sorted(self.hub.triage.overdue_counts(self.hub.clock.now()).items()):
            overdue.add_metric([reason], count)
        yield overdue

    def _targets(self) -> Iterator[Metric]:
        backlog = GaugeMetricFamily(
            "stockbridge_target_backlog", "Deliveries waiting to be sent.", labels=["target"]
        )
        oldest = GaugeMetricFamily(
            "stockbridge_target_oldest_pending_age_seconds",
            "Age of the oldest delivery waiting to be sent.",
            labels=["target"],
        )
        dead = GaugeMetricFamily(
            "stockbridge_target_dead_letters",
            "Deliveries that exhausted their retries and wait for a replay.",
            labels=["target"],
        )
        saved = CounterMetricFamily(
            "stockbridge_target_pushes_coalesced",
            "Availability pushes replaced by a newer value before they were sent.",
            labels=["target"],
        )
        paused = GaugeMetricFamily(
            "stockbridge_target_paused", "1 while a target is paused.", labels=["target"]
        )
        circuit = GaugeMetricFamily(
            "stockbridge_target_circuit_state",
            "1 for the circuit breaker's current state (dispatcher in this process).",
            labels=["target", "state"],
        )
        sent = CounterMetricFamily(
            "stockbridge_target_sent",
            "Deliveries sent with success by this process's dispatcher.",
            labels=["target"],
        )
        failed = CounterMetricFamily(
            "stockbridge_target_failed_attempts",
            "Delivery attempts that failed, in this process's dispatcher.",
            labels=["target"],
        )
        for t in self.hub.deliveries.targets():
            name = t["name"]
            backlog.add_metric([name], t["backlog"])
            oldest.add_metric([name], t["oldest_age_seconds"] or 0.0)
            dead.add_metric([name], t["dead_letters"])
            saved.add_metric([name], t["pushes_saved"])
            paused.add_metric([name], 1.0 if t["paused"] else 0.0)
            sent.add_metric([name], t["sent"])
            failed.add_metric([name], t["failed"])
            state = t["circuit"].get("state")
            if state in CIRCUIT_STATES:
                for s in CIRCUIT_STATES:
                    circuit.add_metric([name, s], 1.0 if s == state else 0.0)
        yield from (backlog, oldest, dead, saved, paused, circuit, sent, failed)

    def _ingest(self) -> Iterator[Metric]:
        yield CounterMetricFamily(
            "stockbridge_group_commits",
            "Ingest transactions committed by this process's writer.",
            value=self.hub.writer.commits,
        )
        stats = self.hub.positions.cache.stats
        cache = CounterMetricFamily(
            "stockbridge_position_cache_lookups",
            "Position cache lookups by outcome.",
            labels=["outcome"],
        )
        cache.add_metric(["hit"], stats.hits)
        cache.add_metric(["miss"], stats.misses)
        yield cache
        yield CounterMetricFamily(
            "stockbridge_position_cache_invalidations",
            "SKUs dropped from the position cache because the ledger moved them.",
            value=stats.invalidations,
        )
        stale = sum(1 for f in self.hub.channels.freshness() if f.stale)
        yield GaugeMetricFamily(
            "stockbridge_locations_stale",
            "Locations silent past their freshness SLA.",
            value=stale,
        )


def router(hub: Hub) -> APIRouter:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HubCollector(hub))
    routes = APIRouter(tags=["operations"])

    @routes.get("/metrics", summary="Prometheus metrics", include_in_schema=True)
    def metrics(request: Request) -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return routes
