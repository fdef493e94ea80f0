"""Settings of a Shopify delivery target (`platform`) and inbound connector ([connectors.NAME]).

Credentials are never settings: the settings name the environment variables that hold
them, read when the target or connector is built.
"""

from __future__ import annotations

from typing import Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator

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
    location_id: str
    #: Enterprise SKU -> Shopify inventory item (gid or number).
    inventory_items: dict[str, str] = Field(default_factory=dict)
    reason: Reason = "correction"
    #: Re-reads and resends after CHANGE_FROM_QUANTITY_STALE within one attempt.
    max_stale_retries: int = Field(2, ge=0, le=10)

    @field_validator("location_id", mode="before")
    @classmethod
    def _location(cls, value: object) -> str:
        if not isinstance(value, str | int):
            raise ValueError("must be a Shopify location id")
        return as_gid(value, "Location")

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

    @field_validator("default_location_id", mode="before")
    @classmethod
    def _location(cls, value: object) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str | int):
            raise ValueError("must be a Shopify location id")
        return as_gid(value, "Location")
