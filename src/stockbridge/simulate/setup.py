"""Declaring an estate in a hub: its items, locations, channels, targets and opening stock.

Shared by the simulator (platforms reached through an in-process transport) and the live
demo (platforms served on a local port): only where the targets point differs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from ..app.bootstrap import Hub
from ..app.master import MasterKind
from .estate import Estate
from .platforms import ERP_LIMITS, MARKETPLACE_LIMITS, STOREFRONT_LIMITS, Limits


def target(limits: Limits, url: str, **extra: Any) -> dict[str, Any]:
    """A webhook target set to the platform's documented limits."""
    return {
        "url": url,
        "rate_per_second": limits.rate_per_second,
        "burst": limits.burst,
        "batch_size": limits.items_per_call,
        "concurrency": 4,
        "timeout_seconds": 10,
        "retry": {"base_seconds": 2, "max_seconds": 300, "max_attempts": 25},
        "circuit": {"failure_threshold": 5, "cooldown_seconds": 30},
        **extra,
    }


def declare_master_data(hub: Hub, estate: Estate, freshness_sla_seconds: float) -> None:
    md = hub.master_data
    md.import_rows(
        MasterKind.ITEMS,
        enumerate(({"sku": s, "category": estate.category[s]} for s in estate.skus), 1),
    )
    kinds = [(s, "store") for s in estate.stores] + [(d, "dc") for d in estate.dcs]
    md.import_rows(
        MasterKind.LOCATIONS,
        enumerate(
            (
                {"code": code, "kind": kind, "freshness_sla_seconds": freshness_sla_seconds}
                for code, kind in kinds
            ),
            1,
        ),
    )


def declare_channels(
    hub: Hub, policies: dict[str, dict[str, Any]], url: Callable[[str], str]
) -> None:
    """Each channel pushes to a target of its own, set to its platform's limits."""
    for name, body in policies.items():
        limits = STOREFRONT_LIMITS if name == "web" else MARKETPLACE_LIMITS
        hub.deliveries.put_target(name, target(limits, url(name)))
        hub.channels.put(name, {**body, "target": name})


def declare_erp(hub: Hub, url: str) -> None:
    hub.deliveries.put_target("erp", target(ERP_LIMITS, url, postings=True))


def opening_counts(estate: Estate, at: datetime, prefix: str = "") -> list[dict[str, Any]]:
    """Each location's count of each SKU before the doors open."""
    return [
        {
            "event_id": f"{prefix}opening-{sku}-{loc}",
            "source": "pos" if loc in estate.stores else "wms",
            "type": "count",
            "sku": sku,
            "location": loc,
            "quantity": units,
            "occurred_at": at.isoformat(),
        }
        for (sku, loc), units in estate.opening.items()
    ]
