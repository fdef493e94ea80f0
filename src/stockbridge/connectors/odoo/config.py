"""The `platform` settings of an Odoo target, and the credentials they name."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


class CounterpartsIn(BaseModel):
    """Odoo `stock.location` ids of the partner and transit locations; each one left out
    is looked up once by its `usage` (supplier, customer, transit)."""

    model_config = ConfigDict(extra="forbid")
    supplier: int | None = Field(None, ge=1)
    customer: int | None = Field(None, ge=1)
    transit: int | None = Field(None, ge=1)


class PickingTypesIn(BaseModel):
    """Odoo `stock.picking.type` ids per operation; each one left out is looked up once
    by its `code` (incoming, outgoing, internal)."""

    model_config = ConfigDict(extra="forbid")
    incoming: int | None = Field(None, ge=1)
    outgoing: int | None = Field(None, ge=1)
    internal: int | None = Field(None, ge=1)


class OdooTargetSettings(BaseModel):
    """How to reach one Odoo database and how our codes map onto its records."""

    model_config = ConfigDict(extra="forbid")
    #: "json2": `POST /json/2/<model>/<method>` with an API key (Odoo 19+);
    #: "jsonrpc": `POST /jsonrpc` `execute_kw` with login and password (older versions).
    protocol: Literal["json2", "jsonrpc"] = "json2"
    #: The database: the `X-Odoo-Database` header (json2, optional) or `execute_kw`'s db.
    database: str | None = Field(None, min_length=1)
    #: Environment variable holding the API key (json2).
    api_key_env: str | None = Field(None, min_length=1)
    #: The user (jsonrpc) and the variable holding its password or API key.
    login: str | None = Field(None, min_length=1)
    password_env: str | None = Field(None, min_length=1)
    #: The company documents are filed in (`allowed_company_ids` in every call's context).
    company_id: int | None = Field(None, ge=1)
    #: Enterprise location code -> Odoo `stock.location` id (an internal location, e.g.
    #: a warehouse's stock location). Every location postings name must be here.
    locations: dict[str, int] = Field(default_factory=dict)
    #: Enterprise SKU -> Odoo `product.product` id; a SKU not listed is looked up by the
    #: product's `default_code` (Internal Reference).
    products: dict[str, int] = Field(default_factory=dict)
    counterparts: CounterpartsIn = CounterpartsIn()
    picking_types: PickingTypesIn = PickingTypesIn()
    #: The customer (`res.partner` id) of store sales, credit notes and channel orders.
    partner_id: int = Field(ge=1)
    #: The sales journal (`account.journal` id) of invoices and credit notes; Odoo's
    #: default sales journal when left out.
    journal_id: int | None = Field(None, ge=1)
    #: Pulls: price lists whose items are promotions rather than price books.
    promotion_pricelists: list[int] = Field(default_factory=list)
    #: Pulls: Odoo unit name -> our unit code (others are upper-cased).
    units: dict[str, str] = Field(default_factory=lambda: {"Units": "EA", "kg": "KG"})
    #: Pulls: the currency of product list prices (the company's).
    currency: str = Field("EUR", pattern=r"^[A-Z]{3}$")

    @model_validator(mode="after")
    def _credentials(self) -> OdooTargetSettings:
        if self.protocol == "json2" and not self.api_key_env:
            raise ValueError("api_key_env is required with protocol json2")
        if self.protocol == "jsonrpc":
            missing = [k for k in ("database", "login", "password_env") if not getattr(self, k)]
            if missing:
                raise ValueError(f"{', '.join(missing)} required with protocol jsonrpc")
        return self

    def secret(self, env: Mapping[str, str]) -> str:
        """The API key or password from the environment; raises ValueError naming the key."""
        key = "api_key_env" if self.protocol == "json2" else "password_env"
        variable = getattr(self, key)
        value = env.get(variable)
        if not value:
            raise ValueError(f"platform.{key}: environment variable {variable} is not set")
        return str(value)
