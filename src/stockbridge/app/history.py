"""Configuration history: every version of a cross reference, channel or target, and a
rollback that re-applies an earlier version through the same path as any change (so it
is validated, reloads the caches, and is itself recorded with who asked for it)."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from ..domain.errors import NotFound, StockbridgeError
from .channels import ChannelService
from .deliveries import DeliveryService
from .master import MasterDataService, MasterKind
from .ports import ConfigChange, HistoryEntry, Store


class HistoryKind(StrEnum):
    XREF = "xref"
    CHANNEL = "channel"
    TARGET = "target"


class CannotRollback(StockbridgeError):
    """A version that cannot be re-applied as it stands."""

    def __init__(self, entry: HistoryEntry, why: str) -> None:
        super().__init__(why)
        self.entry = entry


def public(kind: str, config: dict[str, Any] | None) -> dict[str, Any] | None:
    """A version as shown: a target's signing secret never leaves the hub."""
    if config is None or kind != HistoryKind.TARGET or not config.get("secret"):
        return config
    return {**config, "secret": "***"}


def changes(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    """What a version changed, field by field (`share: 1.0 -> 0.5`), for people to read."""
    if after is None:
        return ["deleted"]
    old = before or {}
    return [
        f"{name}: {old[name]!r} -> {after.get(name)!r}"
        if name in old
        else f"{name}: {after[name]!r}"
        for name in sorted(set(old) | set(after))
        if old.get(name) != after.get(name)
    ]


class HistoryService:
    def __init__(
        self,
        store: Store,
        master_data: MasterDataService,
        channels: ChannelService,
        deliveries: DeliveryService,
    ) -> None:
        self.store = store
        self.master_data = master_data
        self.channels = channels
        self.deliveries = deliveries

    def entries(
        self, kind: HistoryKind, key: str | None = None, limit: int = 100, before_version: int = 0
    ) -> list[HistoryEntry]:
        """Newest first: one entity's versions, or the latest changes of a kind."""
        found = self.store.config_history(
            kind.value, key, limit=limit, before_version=before_version
        )
        if key is not None and not found and before_version == 0:
            raise NotFound(f"{kind.value} history", key)
        return found

    def rollback(self, kind: HistoryKind, key: str, version: int, actor: str) -> HistoryEntry:
        """Re-apply `version` of an entity as a new version recorded as a rollback."""
        entry = self.store.config_version(kind.value, key, version)
        if entry is None:
            raise NotFound(f"{kind.value} version", f"{key}@{version}")
        if entry.after is None:
            raise CannotRollback(entry, f"version {version} of {key} deleted it: nothing to apply")
        change = ConfigChange(actor, rollback_of=version)
        if kind is HistoryKind.CHANNEL:
            self.channels.put(key, entry.after, change)
        elif kind is HistoryKind.TARGET:
            self.deliveries.put_target(key, entry.after, change)
        else:
            report = self.master_data.import_list(MasterKind.XREFS, [entry.after], change)
            if report.errors:
                raise CannotRollback(entry, report.errors[0].message)
        return self.store.config_history(kind.value, key, limit=1)[0]
