"""Settings of a Shopify delivery target (`platform`) and inbound connector ([connectors.NAME]).

Credentials are never settings: the settings name the environment variables that hold
them, read when the target or connector is built.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from ..mapping import MappingSource, mapping_source
from .ids import as_gid

ApiVersion = Literal["2026-04", "2026-01"]

Reason = Literal[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
]
#: `reason` values inventorySetQuantities accepts (2026-04).
REASONS: tuple[str, ...] = get_args(Reason)
_ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


class ShopifyTargetSettings(BaseModel):
    """A channel's availability pushed to one Shopify location."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    api_version: ApiVersion = "2026-04"
    #: Environment variable holding the Admin API access token (X-Shopify-Access-Token).
    access_token_env: str = Field(pattern=_ENV_NAME)
    #: The Shopify location this channel's quantities are set at (gid or number).
    location_id: str | None = None
    #: Enterprise SKU -> Shopify inventory item (gid or number), with mapping = "settings".
    inventory_items: dict[str, str] = Field(default_factory=dict)
    reason: Reason = "correction"
    #: Re-reads and resends after CHANGE_FROM_QUANTITY_STALE within one attempt.
    max_stale_retries: int = Field(2, ge=0, le=10)
    #: With mapping = "xrefs": the hub location whose cross reference names the Shopify
    #: location (instead of `location_id`).
    location: str | None = Field(None, min_length=1, validate_default=True)
    #: Where SKUs (and `location`) find their Shopify ids: the hub's cross references
    #: (`xrefs`, the default) or `inventory_items` (`settings`, implied when it is set).
    mapping: MappingSource | None = Field(None, validate_default=True)
    #: The cross references' source; the target's name when unset.
    xref_source: str | None = Field(None, min_length=1)

    @field_validator("location_id", mode="before")
    @classmethod
    def _location_id(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise ValueError("must be a Shopify location id")
        return as_gid(value, "Location")

    @field_validator("location")
    @classmethod
    def _somewhere(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None and info.data.get("location_id") is None:
            raise ValueError(
                "required: the Shopify location_id, or the hub location whose cross "
                "reference names it"
            )
        return value

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str | None, info: ValidationInfo) -> str:
        source = mapping_source(value, {"inventory_items": info.data.get("inventory_items", {})})
        if source == "settings" and info.data.get("location_id") is None:
            raise ValueError('mapping = "settings" needs location_id (a Shopify location id)')
        return source

    @field_validator("inventory_items", mode="before")
    @classmethod
    def _items(cls, value: object) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValueError("must map SKUs to Shopify inventory item ids")
        out = {}
        for sku, item in value.items():
            if not isinstance(item, str | int):
                raise ValueError(f"{sku}: must be a Shopify inventory item id")
            try:
                out[str(sku)] = as_gid(item, "InventoryItem")
            except ValueError as e:
                raise ValueError(f"{sku}: {e}") from None
        return out


class ShopifyInboundSettings(BaseModel):
    """[connectors.NAME] with kind = "shopify": the store's webhooks."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    kind: Literal["shopify"]
    #: Environment variable holding the app's client secret (signs every webhook).
    secret_env: str = Field(pattern=_ENV_NAME)
    api_version: ApiVersion = "2026-04"
    #: Where an order is reserved when it names no location (gid or number).
    default_location_id: str | None = None
    #: What identifies an order line's item: its variant (`gid://shopify/ProductVariant/N`,
    #: mapped by cross references) or the line's `sku` (an enterprise SKU or a cross reference).
    item_key: Literal["variant_id", "sku"] = "variant_id"
    #: Also accept the newer Events deliveries (`Shopify-Hmac-Sha256`, no `X-` prefix).
    accept_events_header: bool = False
    #: With mapping = "settings": Shopify variant (or, with item_key = "sku", the line's
    #: sku) -> enterprise SKU, and Shopify location -> hub location.
    variants: dict[str, str] = Field(default_factory=dict)
    locations: dict[str, str] = Field(default_factory=dict)
    #: Where variants and locations find their hub codes: the hub's cross references with
    #: source = this connector's name (`xrefs`, the default) or the maps above (`settings`).
    mapping: MappingSource | None = Field(None, validate_default=True)

    @field_validator("variants", mode="before")
    @classmethod
    def _variants(cls, value: object) -> dict[str, str]:
        return _gid_keys(value, "ProductVariant", keep_plain=True)

    @field_validator("locations", mode="before")
    @classmethod
    def _locations(cls, value: object) -> dict[str, str]:
        return _gid_keys(value, "Location")

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str | None, info: ValidationInfo) -> str:
        return mapping_source(
            value,
            {
                "variants": info.data.get("variants", {}),
                "locations": info.data.get("locations", {}),
            },
        )

    @field_validator("default_location_id", mode="before")
    @classmethod
    def _location(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise ValueError("must be a Shopify location id")
        return as_gid(value, "Location")


def _gid_keys(value: object, kind: str, keep_plain: bool = False) -> dict[str, str]:
    """A map keyed by Shopify ids (numbers or gids), keyed by gids; `keep_plain` keeps keys
    that are not ids (a line's own sku)."""
    if not isinstance(value, dict):
        raise ValueError(f"must map Shopify {kind} ids to hub codes")
    out = {}
    for key, code in value.items():
        if not isinstance(code, str) or not code:
            raise ValueError(f"{key}: must be a hub code")
        try:
            out[as_gid(key, kind)] = code
        except ValueError:
            if not keep_plain:
                raise ValueError(f"{key}: not a Shopify {kind} id") from None
            out[str(key)] = code
    return out
