"""The operations dashboard's read model: store freshness, delivery backlog, exceptions
waiting and propagation latency, gathered in one answer (DESIGN §9).

Read-only. Stock and channel figures are not repeated here: the dashboard asks the
positions and availability endpoints for the SKUs an operator picks.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any

from ..domain.latency import LatencySummary, summarise
from ..domain.model import from_micros, to_micros
from .channels import ChannelService
from .deliveries import DeliveryService
from .ingest import MasterCache
from .ports import Clock, Store

#: Pushes delivered within this many seconds make the latency figures.
LATENCY_WINDOW_SECONDS = 900
#: At most this many of the most recent pushes are read for them.
LATENCY_SAMPLES = 1000


def _seconds(us: int) -> float:
    return us / 1e6


def latency_view(s: LatencySummary | None) -> dict[str, Any]:
    return {
        "pushes": s.samples if s else 0,
        "p50_seconds": _seconds(s.p50_us) if s else None,
        "p99_seconds": _seconds(s.p99_us) if s else None,
        "max_seconds": _seconds(s.max_us) if s else None,
    }


class DashboardService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        master: MasterCache,
        channels: ChannelService,
        deliveries: DeliveryService,
        *,
        latency_window_seconds: float = LATENCY_WINDOW_SECONDS,
        latency_samples: int = LATENCY_SAMPLES,
    ) -> None:
        self.store = store
        self.clock = clock
        self.master = master
        self.channels = channels
        self.deliveries = deliveries
        self.latency_window_seconds = latency_window_seconds
        self.latency_samples = latency_samples

    def summary(self) -> dict[str, Any]:
        now = self.clock.now()
        now_us = to_micros(now)
        return {
            "generated_at": now,
            "locations": self.locations(now_us),
            "deliveries": self.targets(),
            "exceptions": self.exceptions(now_us),
            "propagation": self.propagation(now_us),
        }

    def locations(self, now_us: int) -> dict[str, Any]:
        """Each location's last sign of life: `reporting` within its freshness SLA,
        `stale` past it (or never heard from), `unmonitored` when it has no SLA."""
        known = self.master.get().locations
        rows = []
        for f in self.channels.freshness():
            location = known.get(f.location)
            state = "unmonitored" if f.sla_seconds is None else "stale" if f.stale else "reporting"
            seen = f.last_seen_us
            rows.append(
                {
                    "location": f.location,
                    "name": location.name if location else None,
                    "kind": location.kind.value if location else None,
                    "state": state,
                    "freshness_sla_seconds": f.sla_seconds,
                    "last_seen_at": from_micros(seen) if seen is not None else None,
                    "silent_seconds": _seconds(max(0, now_us - seen)) if seen is not None else None,
                    "last_source": f.last_source,
                }
            )
        states = Counter(r["state"] for r in rows)
        return {
            "total": len(rows),
            "reporting": states["reporting"],
            "stale": states["stale"],
            "unmonitored": states["unmonitored"],
            "locations": rows,
        }

    def targets(self) -> dict[str, Any]:
        """Per target: what waits, since when, what died, and whether it can be sent."""
        rows = [
            {
                "name": t["name"],
                "paused": t["paused"],
                "backlog": t["backlog"],
                "oldest_age_seconds": t["oldest_age_seconds"],
                "dead_letters": t["dead_letters"],
                "circuit": t["circuit"].get("state", "unknown"),
            }
            for t in self.deliveries.targets()
        ]
        return {
            "backlog": sum(r["backlog"] for r in rows),
            "dead_letters": sum(r["dead_letters"] for r in rows),
            "targets": rows,
        }

    def exceptions(self, now_us: int) -> dict[str, Any]:
        """Open business exceptions by reason, most numerous first, with the oldest's age."""
        by_reason = sorted(
            self.store.open_exceptions_summary().items(), key=lambda kv: (-kv[1][0], kv[0])
        )
        return {
            "open": sum(count for _, (count, _) in by_reason),
            "by_reason": [
                {
                    "reason": reason,
                    "count": count,
                    "oldest_age_seconds": _seconds(max(0, now_us - oldest)),
                }
                for reason, (count, oldest) in by_reason
            ],
        }

    def propagation(self, now_us: int) -> dict[str, Any]:
        """Queued-to-delivered time of the availability pushes delivered lately."""
        since_us = now_us - int(self.latency_window_seconds * 1_000_000)
        samples = self.store.delivered_push_latencies(since_us, self.latency_samples)
        per_target: defaultdict[str, list[int]] = defaultdict(list)
        for target, us in samples:
            per_target[target].append(us)
        return {
            "window_seconds": self.latency_window_seconds,
            **latency_view(summarise(us for _, us in samples)),
            "targets": [
                {"target": name, **latency_view(summarise(values))}
                for name, values in sorted(per_target.items())
            ],
        }

    def skus(self, query: str | None, limit: int) -> list[dict[str, Any]]:
        """Known SKUs whose code, GTIN or description holds `query` (any case), by code."""
        items = self.master.get().items
        needle = (query or "").strip().casefold()
        found: list[dict[str, Any]] = []
        for sku in sorted(items):
            item = items[sku]
            text = f"{sku}\n{item.gtin or ''}\n{item.description or ''}".casefold()
            if needle in text:
                found.append({"sku": sku, "description": item.description})
                if len(found) >= limit:
                    break
        return found
