"""Delivery targets: where availability pushes and ERP postings go, and how to reach them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator


class RetryIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    base_seconds: float = Field(0.5, gt=0)
    max_seconds: float = Field(300.0, gt=0)
    #: Attempts before a delivery becomes a dead letter (the retry budget).
    max_attempts: int = Field(10, ge=1)


class CircuitIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    failure_threshold: int = Field(5, ge=1)
    cooldown_seconds: float = Field(30.0, gt=0)


#: Targets that write files rather than call an address.
FILE_KINDS = ("x12", "csv")


class TargetIn(BaseModel):
    """A delivery target: a generic webhook (JSON over HTTP POST) or a platform's own API
    (Shopify, Amazon SP-API, Square), whose settings go in `platform`."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["webhook", "shopify", "amazon", "square", "odoo", "x12", "csv"] = "webhook"
    url: str | None = Field(
        None,
        pattern=r"^https?://",
        description=(
            "Where deliveries are POSTed (webhook), or the platform API's base URL; "
            "file targets (x12, csv) have none."
        ),
    )
    #: A platform target's own settings (API version, credentials by environment
    #: variable, locations); validated by the platform's connector.
    platform: dict[str, Any] = Field(default_factory=dict)
    secret: str | None = Field(None, description="HMAC-SHA256 key for the signature header.")
    #: Requests per second the platform allows (0: unlimited) and the burst it tolerates.
    rate_per_second: float = Field(10.0, ge=0)
    burst: float = Field(10.0, gt=0)
    timeout_seconds: float = Field(10.0, gt=0)
    #: Requests in flight at once.
    concurrency: int = Field(4, ge=1, le=64)
    #: Whether this target receives ERP postings (inventory and sales movements).
    postings: bool = False
    #: Whether it also receives reservation holds and releases at its locations, as a
    #: warehouse that ships them does; unset: yes for x12 (3PL) targets, no otherwise.
    reservations: bool | None = None
    #: Whether this target receives SLA breach and recovery alerts (`alert` deliveries,
    #: JSON bodies of type `sla_breach` / `sla_recovered`); webhook targets only.
    alerts: bool = False
    #: Availability pushes per request: above 1 they go as one `availability_batch` body,
    #: as platforms' bulk inventory endpoints take them. Postings always go one by one.
    batch_size: int = Field(1, ge=1, le=250)
    signature_header: str = "X-Stockbridge-Signature"
    idempotency_header: str = "Idempotency-Key"
    retry: RetryIn = RetryIn()
    circuit: CircuitIn = CircuitIn()

    @model_validator(mode="after")
    def _platform_settings(self) -> TargetIn:
        if self.url is None and self.kind not in FILE_KINDS:
            raise ValueError(f"url: a {self.kind} target needs the address it sends to")
        if self.alerts and self.kind != "webhook":
            raise ValueError("alerts: only a webhook target receives alerts")
        if self.kind == "webhook":
            if self.platform:
                raise ValueError("platform settings are for platform targets, not webhooks")
            return self
        from ..connectors.registry import target_settings

        try:
            model = target_settings(self.kind)
        except ImportError as e:
            raise ValueError(f"the {self.kind} connector is not available: {e}") from None
        try:
            model.model_validate(self.platform)
        except ValidationError as e:
            problems = "; ".join(
                f"platform.{'.'.join(str(p) for p in err['loc'])}: {err['msg']}"
                for err in e.errors()
            )
            raise ValueError(problems) from None
        # A platform's documented rate limits, unless the target sets its own.
        for key, value in getattr(model, "delivery_defaults", {}).items():
            if key not in self.model_fields_set:
                setattr(self, key, value)
        return self

    @property
    def address(self) -> str:
        """The url of a target that calls one (every kind but the file targets)."""
        if self.url is None:
            raise ValueError(f"a {self.kind} target has no url")
        return self.url

    def public(self) -> dict[str, object]:
        """The configuration as shown by the API: the secret is never echoed."""
        data = self.model_dump(mode="json")
        data["secret"] = "***" if self.secret else None
        return data


def unset_credentials(target: TargetIn, env: Mapping[str, str]) -> list[tuple[str, str]]:
    """(key, why) for each `platform.*_env` setting naming a variable `env` lacks."""
    missing = []
    for key, value in sorted(target.platform.items()):
        if key.endswith("_env") and isinstance(value, str) and not env.get(value):
            missing.append((f"platform.{key}", f"environment variable {value} is not set"))
    return missing
