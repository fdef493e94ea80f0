"""Settings of an Amazon target (`[targets.NAME] kind = "amazon"`, its `platform` table)
and of an Amazon inbound connector (`[connectors.NAME] kind = "amazon"`).

Credentials are never settings: the settings name the environment variables holding them,
read when a request needs them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, ValidationInfo, field_validator

from ..mapping import MappingSource, mapping_source

#: Login with Amazon's token endpoint (the refresh-token grant).
DEFAULT_TOKEN_URL = "https://api.amazon.com/auth/o2/token"
#: The merchant-fulfilled channel of `fulfillment_availability`.
MERCHANT_CHANNEL = "DEFAULT"


@dataclass(frozen=True, slots=True)
class LwaCredentials:
    client_id: str
    client_secret: str
    refresh_token: str
    token_url: str


class LwaSettings(BaseModel):
    """Where Login with Amazon credentials come from: environment variable names."""

    model_config = ConfigDict(extra="forbid")
    lwa_client_id_env: str = Field(min_length=1)
    lwa_client_secret_env: str = Field(min_length=1)
    lwa_refresh_token_env: str = Field(min_length=1)
    lwa_token_url: str = Field(DEFAULT_TOKEN_URL, pattern=r"^https?://")

    def credentials(self, env: Mapping[str, str]) -> LwaCredentials:
        """The credentials from `env`.

        Raises ValueError("<key>: ...") naming the setting whose variable is missing.
        """
        values = {}
        for key in ("lwa_client_id_env", "lwa_client_secret_env", "lwa_refresh_token_env"):
            name = getattr(self, key)
            value = env.get(name)
            if not value:
                raise ValueError(f"{key}: environment variable {name} is not set")
            values[key] = value
        return LwaCredentials(
            values["lwa_client_id_env"],
            values["lwa_client_secret_env"],
            values["lwa_refresh_token_env"],
            self.lwa_token_url,
        )


class AmazonTargetSettings(LwaSettings):
    """The `platform` table of an Amazon target."""

    #: Delivery knobs an Amazon target gets unless it sets them: patchListingsItem's
    #: documented token bucket, 5 requests per second with a burst of 5.
    delivery_defaults: ClassVar[dict[str, float]] = {"rate_per_second": 5.0, "burst": 5.0}

    seller_id: str = Field(min_length=1)
    marketplace_ids: list[str] = Field(min_length=1, max_length=25)
    #: Enterprise SKU -> seller SKU, with mapping = "settings"; a SKU not listed is sent
    #: as it is.
    skus: dict[str, str] = Field(default_factory=dict)
    product_type: str = Field("PRODUCT", min_length=1)
    fulfillment_channel_code: str = Field(MERCHANT_CHANNEL, min_length=1)
    #: A batch of at least this many pushes goes as one JSON_LISTINGS_FEED.
    feed_threshold: int = Field(50, ge=2, le=25_000)
    #: getFeed calls within one attempt before answering "not done yet, try later".
    feed_polls: int = Field(2, ge=1, le=15)
    issue_locale: str = "en_US"
    #: Where SKUs find their seller SKUs: the hub's cross references of kind `item`
    #: (`xrefs`, the default) or `skus` (`settings`, implied when it is set). Either way
    #: a SKU without one is sent as it is.
    mapping: MappingSource | None = Field(None, validate_default=True)
    #: The cross references' source; the target's name when unset.
    xref_source: str | None = Field(None, min_length=1)

    def seller_sku(self, sku: str) -> str:
        """The seller SKU of `sku` by the explicit map (mapping = "settings")."""
        return self.skus.get(sku, sku)

    @field_validator("mapping")
    @classmethod
    def _mapping(cls, value: str | None, info: ValidationInfo) -> str:
        explicit = {"skus": info.data.get("skus", {})}
        return mapping_source(value, explicit, settings_need_a_map=False)


class AmazonInboundSettings(LwaSettings):
    """A `[connectors.NAME] kind = "amazon"` table.

    The LWA keys and `url` are only needed to poll getOrders; a connector that only
    receives relayed notifications may leave them out.
    """

    kind: str = "amazon"
    #: Environment variable holding the relay's HMAC-SHA256 key.
    secret_env: str = Field(min_length=1)
    signature_header: str = "X-Stockbridge-Relay-Signature"
    #: The hub location merchant-fulfilled orders ship from (a code or a cross reference
    #: of this connector's source).
    location: str = Field(min_length=1)
    #: Only this seller's notifications are read, when set.
    seller_id: str | None = None
    url: str | None = Field(None, pattern=r"^https?://")
    marketplace_ids: list[str] = Field(default_factory=list, max_length=50)
    lwa_client_id_env: str = ""
    lwa_client_secret_env: str = ""
    lwa_refresh_token_env: str = ""

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> AmazonInboundSettings:
        """Validated settings; raises ValueError("key: message") naming the first bad key."""
        try:
            return cls.model_validate(dict(raw))
        except ValidationError as e:
            err = e.errors()[0]
            key = ".".join(str(p) for p in err["loc"]) or "settings"
            raise ValueError(f"{key}: {err['msg']}") from None
