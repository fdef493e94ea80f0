"""Settings: read once from TOML (and a few environment variables), validated at start.

Every section rejects unknown keys, and errors name the key, so a typo in
`stockbridge.toml` stops the start instead of being silently ignored.
"""

from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from .connectors.files.config import FilesSettings
from .domain.errors import StockbridgeError
from .domain.reconciliation import Measure, Policy

DEFAULT_DATABASE = "stockbridge.db"
BOOTSTRAP_KEY_ENV = "STOCKBRIDGE_BOOTSTRAP_KEY"
DATABASE_ENV = "STOCKBRIDGE_DATABASE"


class ConfigError(StockbridgeError):
    """The configuration is invalid; the message names each bad key."""


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ServerSettings(_Section):
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    #: Largest request body accepted, in bytes (413 past it, on any route).
    max_body_bytes: int = Field(4_000_000, ge=1024)
    #: Requests per second each API key may make, unless the key has a rate of its own
    #: (`stockbridge keys create --rate`); 0: unlimited. Past it: 429 with Retry-After.
    key_rate_per_second: float = Field(0.0, ge=0)
    #: Requests a key may make at once above its rate, after a quiet spell.
    key_rate_burst: int = Field(100, ge=1)
    #: SKUs whose positions the server keeps in memory for reads (least recently used go).
    position_cache_skus: int = Field(50_000, ge=1)


class DatabaseSettings(_Section):
    #: A SQLite file path (or sqlite:///path) or a postgresql:// URL.
    url: str = DEFAULT_DATABASE


class IngestSettings(_Section):
    max_events_per_request: int = Field(1000, ge=1, le=10_000)
    #: Most events one group commit takes from the waiting requests.
    group_commit_max_events: int = Field(20_000, ge=1)
    #: How often reservations past their expiry are released when no events arrive.
    expiry_interval_seconds: float = Field(1.0, gt=0)
    #: How long the ledger's change feed (positions_changed rows) is kept for read caches.
    change_feed_retention_seconds: float = Field(600.0, gt=0)
    #: "process": the ingest transaction runs in a child process with a core of its own
    #: (the default for `serve`); "thread": in the server process.
    writer: Literal["process", "thread"] = "process"


class DeliverySettings(_Section):
    #: Run the dispatcher in the server process.
    enabled: bool = True
    #: How often an idle target looks for due deliveries.
    poll_interval_seconds: float = Field(0.05, gt=0)
    #: How long a claimed delivery stays with one dispatcher before another may resend it.
    lease_seconds: float = Field(60.0, gt=0)


class PricingSettings(_Section):
    #: How long before a price or promotion takes effect it is sent to POS and channels;
    #: one that starts sooner (or already started) is sent at once.
    publish_lead_seconds: float = Field(3600.0, ge=0)
    #: Location code -> the target that receives that store's prices (its POS, or the
    #: store systems hub). "*" is the target for every location not listed.
    location_targets: dict[str, str] = Field(default_factory=dict)


_CLOCK_TIME = r"^([01]\d|2[0-3]):[0-5]\d$"


class TicketSettings(_Section):
    """How store tickets reach the ERP (docs/workflows.md)."""

    #: "per_ticket": one ERP document per ticket; "daily_settlement": one summary per
    #: store and business day, posted once the day is closed.
    mode: Literal["per_ticket", "daily_settlement"] = "per_ticket"
    #: Store-local time (HH:MM) after which a business day is closed and settled.
    settle_after: str = Field("23:30", pattern=_CLOCK_TIME)
    #: Per-store closing times (store code -> HH:MM), overriding `settle_after`.
    settle_after_by_store: dict[str, str] = Field(default_factory=dict)

    @field_validator("settle_after_by_store")
    @classmethod
    def _times(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for store, at in value.items():
            if not re.match(_CLOCK_TIME, at):
                raise ValueError(f"{store}: {at!r} is not a time of day as HH:MM")
        return value


class InspectionRuleSettings(_Section):
    """One inspection rule: units returned in `condition` (of `category`, when given) go
    to `outcome`; `condition = "*"` matches any condition."""

    condition: str = Field(min_length=1)
    category: str | None = Field(None, min_length=1)
    outcome: Literal["sellable", "non_sellable", "write_off"]
    #: Why units are kept aside or written off (damaged, vendor_return...).
    reason: str | None = Field(None, min_length=1)


class ReturnSettings(_Section):
    """Inspection rules for customer returns (docs/workflows.md)."""

    #: The most specific rule wins (condition and category, then condition, then category,
    #: then "*"); ties go to the first listed. Without a match: `sellable` goes back to
    #: sellable stock, any other condition is kept non-sellable.
    rules: list[InspectionRuleSettings] = Field(default_factory=list)


class TransferSettings(_Section):
    """Transfer orders between locations (docs/workflows.md)."""

    #: Closing a transfer with shipped units not received: "write_off" takes them out of
    #: transit at the receiving location; "keep_in_transit" leaves them for a late receipt.
    short_receipt: Literal["write_off", "keep_in_transit"] = "write_off"


class ReconciliationSystemSettings(_Section):
    """One system reconciled against the ledger (docs/reconciliation.md)."""

    #: Where its snapshots come from: pulled through a target's settings (Shopify
    #: inventory levels, Square counts, Odoo quants), read from the last 846 of an EDI
    #: partner, or only uploaded ("file").
    kind: Literal["shopify", "square", "odoo", "edi", "file"] = "file"
    policy: Policy
    #: The hub figure its quantities are compared with.
    measure: Measure = Measure.ON_HAND
    #: The channel whose available-to-sell the system shows (measure "channel", push_ours).
    channel: str | None = None
    #: The delivery target that talks to the system: pulled through (shopify), and whose
    #: pending deliveries explain a difference as in flight.
    target: str | None = None
    #: The EDI trading partner whose 846 is the snapshot (kind "edi").
    partner: str | None = None
    #: The cross-reference source naming the system's codes; default: the system's name.
    xref_source: str | None = None
    #: Run on this interval in the server; none: only when asked (API, CLI).
    interval_seconds: float | None = Field(None, gt=0)

    @model_validator(mode="after")
    def _consistent(self) -> ReconciliationSystemSettings:
        if self.measure is Measure.CHANNEL and self.channel is None:
            raise ValueError("measure 'channel' needs 'channel'")
        if self.policy is Policy.PUSH_OURS and self.measure is not Measure.CHANNEL:
            raise ValueError("policy 'push_ours' needs measure 'channel' and its 'channel'")
        if self.policy is Policy.ACCEPT_THEIRS and self.measure is not Measure.ON_HAND:
            raise ValueError("policy 'accept_theirs' posts counts: it needs measure 'on_hand'")
        if self.kind in ("shopify", "square", "odoo") and self.target is None:
            raise ValueError(f"kind {self.kind!r} needs 'target' (the target to read through)")
        if self.kind == "edi" and self.partner is None:
            raise ValueError("kind 'edi' needs 'partner'")
        return self


class ReconciliationSettings(_Section):
    #: Systems by name ([reconciliation.systems.NAME]).
    systems: dict[str, ReconciliationSystemSettings] = Field(default_factory=dict)


class ExceptionSettings(_Section):
    """The business exception queue: how long an exception may wait for someone."""

    #: An open exception older than this is overdue: marked, counted and alerted once.
    sla_hours: float = Field(24.0, gt=0)
    #: Per reason code (e.g. unknown_sku = 4), overriding `sla_hours`.
    sla_hours_by_reason: dict[str, float] = Field(default_factory=dict)
    #: How often the serving hub looks for exceptions gone past their SLA.
    overdue_check_seconds: float = Field(60.0, gt=0)

    @field_validator("sla_hours_by_reason")
    @classmethod
    def _known_reasons(cls, value: dict[str, float]) -> dict[str, float]:
        from .domain.errors import Reason

        for reason, hours in value.items():
            if reason not in Reason.__members__.values():
                known = ", ".join(sorted(r.value for r in Reason))
                raise ValueError(f"{reason!r} is not a reason code (one of {known})")
            if hours <= 0:
                raise ValueError(f"{reason}: the SLA must be more than 0 hours")
        return value


class SlaSettings(_Section):
    """One workflow's service level: `objective` of its deliveries within `target_seconds`
    of the cause occurring, over the last `window_seconds` (docs/observability.md)."""

    enabled: bool = True
    target_seconds: float = Field(gt=0)
    objective: float = Field(0.99, gt=0, le=1)
    window_seconds: float = Field(3600.0, gt=0)
    #: Fewer deliveries judged in the window than this never raise a breach.
    min_samples: int = Field(10, ge=1)


class SlasSettings(_Section):
    """Service levels per workflow, checked every `evaluate_interval_seconds`."""

    evaluate_interval_seconds: float = Field(15.0, gt=0)
    store_sale_to_channel: SlaSettings = SlaSettings(target_seconds=60)
    reservation_to_channel: SlaSettings = SlaSettings(target_seconds=30)
    return_to_erp: SlaSettings = SlaSettings(target_seconds=900)
    ticket_to_erp: SlaSettings = SlaSettings(target_seconds=900)
    order_to_erp: SlaSettings = SlaSettings(target_seconds=300)
    canary: SlaSettings = SlaSettings(target_seconds=60, min_samples=3)


class CanarySettings(_Section):
    """Synthetic transactions: a canary stock count per channel, through the real path."""

    enabled: bool = False
    interval_seconds: float = Field(60.0, ge=1)
    #: The reserved item the canaries move; created in master data when missing. Each
    #: channel platform should hold it as a hidden, unsellable product.
    sku: str = Field("STOCKBRIDGE-CANARY", min_length=1)
    #: Channel -> the feeding location its canary counts at (default: the first of the
    #: channel's locations in alphabetical order).
    locations: dict[str, str] = Field(default_factory=dict)


class LoggingSettings(_Section):
    level: str = Field("info", pattern="^(debug|info|warning|error)$")
    json_logs: bool = Field(True, alias="json")


class TracingSettings(_Section):
    """OpenTelemetry spans of requests, ingest transactions and deliveries; off by default."""

    enabled: bool = False
    #: OTLP over HTTP (protobuf) traces endpoint, e.g. http://collector:4318/v1/traces.
    otlp_endpoint: str = Field("http://127.0.0.1:4318/v1/traces", pattern=r"^https?://")
    service_name: str = Field("stockbridge", min_length=1)
    #: Share of traces recorded (a caller's sampled traceparent is always followed).
    sample_ratio: float = Field(1.0, ge=0, le=1)


class Settings(_Section):
    server: ServerSettings = ServerSettings()
    database: DatabaseSettings = DatabaseSettings()
    ingest: IngestSettings = IngestSettings()
    logging: LoggingSettings = LoggingSettings()
    delivery: DeliverySettings = DeliverySettings()
    pricing: PricingSettings = PricingSettings()
    tickets: TicketSettings = TicketSettings()
    returns: ReturnSettings = ReturnSettings()
    transfers: TransferSettings = TransferSettings()
    reconciliation: ReconciliationSettings = ReconciliationSettings()
    tracing: TracingSettings = TracingSettings()
    exceptions: ExceptionSettings = ExceptionSettings()
    slas: SlasSettings = SlasSettings()
    canaries: CanarySettings = CanarySettings()
    #: Channels declared in the file ([channels.NAME]); validated and stored at start.
    channels: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Delivery targets declared in the file ([targets.NAME]).
    targets: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Inbound platform connectors ([connectors.NAME]): webhooks the hub receives.
    connectors: dict[str, dict[str, Any]] = Field(default_factory=dict)
    #: Watched folders of CSV drops ([files.sources.NAME]), taken by `stockbridge files`.
    files: FilesSettings = FilesSettings()
    #: EDI trading partners ([edi.partners.NAME]); validated by the EDI connector.
    edi: dict[str, Any] = Field(default_factory=dict)
    bootstrap_key: str | None = Field(None, exclude=True, repr=False)

    def with_overrides(self, **changes: Any) -> Settings:
        """A copy with dotted overrides applied, e.g. {"server.port": 9000}."""
        data = self.model_dump(by_alias=True)
        data["bootstrap_key"] = self.bootstrap_key
        for dotted, value in changes.items():
            if value is None:
                continue
            section, _, key = dotted.partition(".")
            if key:
                data.setdefault(section, {})[key] = value
            else:
                data[section] = value
        return load_settings_from(data)


def _describe(error: ValidationError, origin: str) -> str:
    lines = [f"invalid configuration in {origin}:"]
    for e in error.errors():
        where = ".".join(str(p) for p in e["loc"])
        lines.append(f"  {where}: {e['msg']}")
    return "\n".join(lines)


def load_settings_from(data: dict[str, Any], origin: str = "settings") -> Settings:
    try:
        return Settings.model_validate(data)
    except ValidationError as e:
        raise ConfigError(_describe(e, origin)) from None


def load_settings(path: str | Path | None = None, env: dict[str, str] | None = None) -> Settings:
    """Settings from a TOML file (optional) and the STOCKBRIDGE_ environment."""
    env = dict(os.environ) if env is None else env
    data: dict[str, Any] = {}
    origin = "defaults"
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ConfigError(f"configuration file not found: {p}")
        try:
            data = tomllib.loads(p.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ConfigError(f"{p} is not valid TOML: {e}") from None
        origin = str(p)
    if env.get(DATABASE_ENV):
        data.setdefault("database", {})["url"] = env[DATABASE_ENV]
    if env.get(BOOTSTRAP_KEY_ENV):
        data["bootstrap_key"] = env[BOOTSTRAP_KEY_ENV]
    return load_settings_from(data, origin)
