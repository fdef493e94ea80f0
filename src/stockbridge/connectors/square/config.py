"""Settings of the Square connectors: the delivery target's `platform` table and the
inbound connector's `[connectors.NAME]` table.

Credentials are never settings: each names the environment variable that holds it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..mapping import MappingSource, mapping_source

#: Square-Version sent when none is configured (an API version of late 2024; any dated
#: version the seller's application supports may be set instead).
DEFAULT_SQUARE_VERSION = "2024-11-20"
DEFAULT_API_URL = "https://connect.squareup.com"
#: Changes per BatchChangeInventory call: 100 in Square's SDK documentation (unconfirmed
#: for current versions, hence a setting).
DEFAULT_MAX_CHANGES = 100
#: How old an `occurred_at` Square accepts, in hours.
DEFAULT_WINDOW_HOURS = 24.0

_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
_VERSION = r"^\d{4}-\d{2}-\d{2}$"


class SquareTargetSettings(BaseModel):
    """`platform` of a target with `kind = "square"`; `url` is the API base URL."""

    model_config = ConfigDict(extra="forbid")
    #: Environment variable holding the access token (Bearer), INVENTORY_WRITE scope.
    access_token_env: str = Field(pattern=_ENV_NAME)
    square_version: str = Field(DEFAULT_SQUARE_VERSION, pattern=_VERSION)
    #: Channel -> Square location id: where a channel's availability is counted.
    channels: dict[str, str] = Field(default_factory=dict)
    #: Enterprise location -> Square location id: where postings are booked. Movements at
    #: other locations are not Square's stock and are acknowledged without a call.
    locations: dict[str, str] = Field(default_factory=dict)
    #: Enterprise SKU -> catalog object id of its ITEM_VARIATION.
    catalog: dict[str, str] = Field(default_factory=dict)
    #: Sources whose movements Square already holds (its own sales and refunds, received
    #: by a Square inbound connector): their postings are acknowledged without a call so
    #: that they are not booked twice.
    skip_sources: list[str] = Field(default_factory=list)
    max_changes_per_request: int = Field(DEFAULT_MAX_CHANGES, ge=1, le=1000)
    occurred_at_window_hours: float = Field(DEFAULT_WINDOW_HOURS, gt=0)

    #: Where SKUs find their catalog objects and hub locations their Square locations: the
    #: hub's cross references (`xrefs`, the default; kinds item and location) or `catalog`
    #: and `locations` (`settings`, implied when either is set).
    mapping: MappingSource | None = Field(None, validate_default=True)
    #: The cross references' source; the target's name when unset.
    xref_source: str | None = Field(None, min_length=1)

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str | None, info: ValidationInfo) -> str:
        explicit = {k: info.data.get(k, {}) for k in ("catalog", "locations")}
        source = mapping_source(value, explicit)
        if source == "settings" and not explicit["catalog"]:
            raise ValueError('mapping = "settings" needs catalog (SKU -> catalog object id)')
        return source

    @model_validator(mode="after")
    def _somewhere_to_write(self) -> SquareTargetSettings:
        if not self.channels and not self.locations and self.mapping == "settings":
            raise ValueError("channels or locations must map at least one Square location")
        return self

    @property
    def catalog_hint(self) -> str:
        """Where a missing catalog object is added."""
        if self.mapping == "settings":
            return "platform.catalog"
        return "add a cross reference of kind item with PUT /v1/xrefs"


class SquareInboundSettings(BaseModel):
    """`[connectors.NAME]` with `kind = "square"`."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(pattern=r"^square$")
    #: Environment variable holding the subscription's signature key.
    signature_key_env: str = Field(pattern=_ENV_NAME)
    #: The subscription's notification URL exactly as registered with Square (the public
    #: URL of /v1/webhooks/NAME): it is part of what Square signs.
    notification_url: str = Field(pattern=r"^https?://")
    #: Environment variable holding the access token used to read orders (ORDERS_READ).
    access_token_env: str = Field(pattern=_ENV_NAME)
    api_url: str = Field(DEFAULT_API_URL, pattern=r"^https?://")
    square_version: str = Field(DEFAULT_SQUARE_VERSION, pattern=_VERSION)
    #: The order read, done by the inbox after Square has had its answer.
    timeout_seconds: float = Field(5.0, gt=0, le=60)
    #: With mapping = "settings": catalog object id -> SKU, Square location id -> location.
    catalog: dict[str, str] = Field(default_factory=dict)
    locations: dict[str, str] = Field(default_factory=dict)
    #: Where Square's ids find the hub's codes: the hub's cross references with source =
    #: this connector's name (`xrefs`, the default) or the maps above (`settings`).
    mapping: MappingSource | None = Field(None, validate_default=True)

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str | None, info: ValidationInfo) -> str:
        explicit = {k: info.data.get(k, {}) for k in ("catalog", "locations")}
        return mapping_source(value, explicit)


def validate(model: type[BaseModel], raw: Mapping[str, Any]) -> Any:
    """`model` validated from `raw`; ValueError("key: message") naming the first bad key."""
    try:
        return model.model_validate(dict(raw))
    except ValidationError as e:
        err = e.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        raise ValueError(f"{key}: {err['msg']}") from None


def secret(env: Mapping[str, str], key: str, variable: str) -> str:
    """The value of environment variable `variable`; ValueError naming `key` if unset."""
    value = env.get(variable)
    if not value:
        raise ValueError(f"{key}: environment variable {variable} is not set")
    return value
