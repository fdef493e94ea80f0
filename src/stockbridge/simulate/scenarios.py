"""The named scenarios: presets of an estate and its trading day, after the seed stories.

Pure data. Rates are per hour at the day's average; the hour-of-day curve and promotions
shape them. Every figure here is a knob `stockbridge simulate` can override.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Window:
    """A stretch of the day, in hours after opening."""

    start_hour: float
    end_hour: float

    def contains(self, hour: float) -> bool:
        return self.start_hour <= hour < self.end_hour


@dataclass(frozen=True, slots=True)
class Promotion:
    """Demand multiplied on some channels for a while (a price promotion, a flash sale)."""

    window: Window
    multiplier: float
    #: Any of "store", "web", "marketplace".
    channels: tuple[str, ...] = ("store", "web", "marketplace")


@dataclass(frozen=True, slots=True)
class Scenario:
    name: str
    summary: str
    stores: int
    skus: int
    hours: float = 12.0
    #: Local hour the trading day starts at.
    open_hour: int = 9
    dcs: int = 2
    marketplaces: int = 1
    #: Units sold over the counter per store per hour, all SKUs together.
    store_sales_per_hour: float = 6.0
    web_orders_per_hour: float = 120.0
    marketplace_orders_per_hour: float = 80.0
    #: Share of web orders collected in a store (the rest ship from a DC or a store).
    click_and_collect_share: float = 0.35
    #: Share of store sales brought back later in the day.
    return_rate: float = 0.06
    #: Units per SKU a store holds at opening (drawn between these).
    store_stock: tuple[int, int] = (0, 6)
    dc_stock: tuple[int, int] = (10, 60)
    promotions: tuple[Promotion, ...] = ()
    #: The status quo's cadence (the seeds: store files every 15 minutes, the storefront
    #: refreshed every 15 and marketplaces every 30).
    store_batch_minutes: float = 15.0
    web_refresh_minutes: float = 15.0
    marketplace_refresh_minutes: float = 30.0
    #: Order lines the status quo's ERP imports per minute; peaks queue behind it.
    erp_import_lines_per_minute: float = 4000.0
    #: ERP unreachable (maintenance, outage).
    erp_outages: tuple[Window, ...] = ()
    #: Share of ERP calls that time out after the ERP has already applied them.
    erp_timeout_rate: float = 0.002
    #: Share of stores that lose their network once in the day, and for how long.
    store_outage_share: float = 0.03
    store_outage_minutes: tuple[int, int] = (20, 90)
    #: Share of store uploads sent twice (a POS that retries a file or a request).
    duplicate_upload_rate: float = 0.01
    #: Extra delay of store batches in the status quo at peak (regional POS, middleware).
    peak_batch_delay_minutes: float = 0.0
    peak: Window = Window(3.0, 8.0)
    #: Units a shelf loses unseen per store per day (theft, damage, miscounts).
    shrink_per_store: float = 1.0
    #: Cycle counts per store per day (one SKU each).
    counts_per_store: float = 2.0
    #: The scripted 14:03 / 14:04 / 14:10 story of the first seed.
    scripted_last_unit: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, **changes: Any) -> Scenario:
        """A copy with some knobs set (None leaves a knob as the preset has it)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario(
            name="last-unit",
            summary=(
                "400 stores and a storefront: the last unit sold in a store at 14:03, a "
                "pickup order for it at 14:04, two units returned elsewhere at 14:10."
            ),
            stores=400,
            skus=40,
            open_hour=9,
            hours=10,
            scripted_last_unit=True,
        ),
        Scenario(
            name="weekend-promo",
            summary=(
                "300 stores sending 15-minute batches; a weekend promotion triples online "
                "demand in the afternoon."
            ),
            stores=300,
            skus=50,
            hours=12,
            web_orders_per_hour=150,
            promotions=(
                Promotion(Window(4.0, 8.0), 3.0, ("web", "marketplace")),
                Promotion(Window(4.0, 8.0), 1.5, ("store",)),
            ),
        ),
        Scenario(
            name="marketplace-peak",
            summary=(
                "250 stores on regional POS, two marketplaces; at peak the batch pipeline "
                "runs more than an hour late."
            ),
            stores=250,
            skus=50,
            hours=12,
            marketplaces=2,
            marketplace_orders_per_hour=160,
            peak_batch_delay_minutes=65,
            erp_import_lines_per_minute=400,
        ),
        Scenario(
            name="bopis-dc",
            summary=(
                "Two DCs with a WMS, click-and-collect from stores, and a price promotion "
                "across every channel at midday."
            ),
            stores=120,
            skus=60,
            hours=12,
            click_and_collect_share=0.6,
            web_orders_per_hour=220,
            dc_stock=(5, 30),
            promotions=(Promotion(Window(3.0, 6.0), 2.5),),
        ),
        Scenario(
            name="erp-outage",
            summary=(
                "180 stores at Black-Friday volumes; the ERP is down for 40 minutes at the peak."
            ),
            stores=180,
            skus=50,
            hours=12,
            store_sales_per_hour=14,
            web_orders_per_hour=400,
            marketplace_orders_per_hour=200,
            erp_outages=(Window(5.0, 5.0 + 40 / 60),),
            promotions=(Promotion(Window(3.0, 9.0), 2.0),),
        ),
    )
}


def scenario(name: str) -> Scenario:
    try:
        return SCENARIOS[name]
    except KeyError:
        raise ValueError(
            f"unknown scenario {name!r}; known: {', '.join(sorted(SCENARIOS))}"
        ) from None
