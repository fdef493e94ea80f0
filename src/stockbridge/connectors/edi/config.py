"""Trading partners ([edi.partners.NAME]) and the x12 delivery target's settings."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ...config import ConfigError
from .x12 import Delimiters, Party

_ID = Field(min_length=1, max_length=15, pattern=r"^[A-Za-z0-9 ._-]+$")
_QUALIFIER = Field(min_length=2, max_length=2, pattern=r"^[A-Z0-9]{2}$")


class PartnerSettings(BaseModel):
    """One 3PL warehouse: who is who in the envelope, where files go, what documents mean.

    `sender_*` is the hub (the depositor): it sends 940 and 943 and receives the rest.
    `receiver_*` is the warehouse. An inbound file must come from the receiver to the
    sender, or it is refused.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    sender_id: str = _ID
    sender_qualifier: str = _QUALIFIER
    receiver_id: str = _ID
    receiver_qualifier: str = _QUALIFIER
    version: Literal["004010", "005010"] = "004010"
    #: Files the warehouse drops for the hub; the hub's files for the warehouse (940, 943,
    #: 997); applied files; refused files.
    inbound: Path
    outbound: Path
    archive: Path
    error: Path
    #: Control numbers, interchanges seen and sent, order references; default: a `state`
    #: folder next to the inbound one.
    state: Path | None = None
    #: The hub's location code of this warehouse.
    location: str = Field(min_length=1)
    #: 846 inventory advice: kept as observations for reconciliation, or applied as counts.
    inventory_846: Literal["observations", "counts"] = "observations"
    #: Product/Service ID qualifier the hub writes its item codes with (W01, W04).
    item_qualifier: str = Field("SK", min_length=2, max_length=2, pattern=r"^[A-Z0-9]{2}$")
    #: Enterprise SKU -> the warehouse's item code, where they differ.
    items: dict[str, str] = Field(default_factory=dict)
    #: Element separator, component separator, segment terminator of the files written.
    delimiters: str = Field("*>~", min_length=3, max_length=3)
    #: Hours an outbound interchange may wait for its 997 before it is an exception.
    ack_hours: float = Field(2.0, gt=0)
    #: X12 dates and times carry no zone: the warehouse's time zone.
    timezone: str = "UTC"
    #: ISA15 "T" on files written (test data).
    test: bool = False

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r}") from None
        return value

    @field_validator("delimiters")
    @classmethod
    def _distinct(cls, value: str) -> str:
        if len(set(value)) != 3 or any(c.isalnum() or c == " " for c in value):
            raise ValueError("three different characters, none a letter, digit or space")
        return value

    @property
    def state_folder(self) -> Path:
        return self.state if self.state is not None else self.inbound.parent / "state"

    @property
    def hub(self) -> Party:
        return Party(self.sender_qualifier, self.sender_id)

    @property
    def warehouse(self) -> Party:
        return Party(self.receiver_qualifier, self.receiver_id)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    def x12_delimiters(self) -> Delimiters:
        element, component, segment = self.delimiters[0], self.delimiters[1], self.delimiters[2]
        # From 00403 on ISA11 is the repetition separator.
        repetition = "^" if self.version >= "005010" and "^" not in self.delimiters else None
        return Delimiters(element, component, segment, repetition)

    def item_code(self, sku: str) -> str:
        return self.items.get(sku, sku)

    def sku_of(self, code: str) -> str | None:
        """The enterprise SKU of a warehouse item code listed in `items`."""
        return next((sku for sku, c in self.items.items() if c == code), None)


class EdiSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    partners: dict[str, PartnerSettings] = Field(default_factory=dict)


class X12TargetSettings(BaseModel):
    """The `platform` table of an x12 target: which partner's outbound folder it writes to.

    A target is built from its own settings only, so it names the configuration file that
    holds the partner (usually the hub's own stockbridge.toml).
    """

    model_config = ConfigDict(extra="forbid", frozen=True)
    partner: str = Field(min_length=1)
    config: Path


def _describe(error: ValidationError, prefix: str) -> str:
    return "; ".join(
        f"{prefix}{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors()
    )


def load_partners(edi: Mapping[str, Any]) -> dict[str, PartnerSettings]:
    """The partners of an [edi] section; ConfigError naming the key otherwise."""
    try:
        return dict(EdiSettings.model_validate(edi).partners)
    except ValidationError as e:
        raise ConfigError(_describe(e, "edi.")) from None


def partner_from_file(path: Path, name: str) -> PartnerSettings:
    """One partner read from a configuration file's [edi.partners.NAME] table."""
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as e:
        raise ConfigError(f"platform.config: cannot read {path}: {e}") from None
    partners = load_partners(data.get("edi", {}))
    if name not in partners:
        raise ConfigError(f"platform.partner: no [edi.partners.{name}] in {path}")
    return partners[name]
