"""The audit log: who changed keys, mappings, channels and targets, who replayed or paused
what, and which requests were refused for reaching past their key's binding."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from ..domain.model import to_micros
from .ports import AuditEntry, Clock, Store


class Outcome(StrEnum):
    OK = "ok"
    REFUSED = "refused"


#: The actor of commands run on the server's own command line.
CLI_ACTOR = "cli"


class AuditLog:
    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def record(
        self,
        actor: str,
        action: str,
        subject: tuple[str, str],
        detail: Mapping[str, Any] | None = None,
        outcome: Outcome = Outcome.OK,
    ) -> AuditEntry:
        """Keep one entry: `subject` is (kind, key), e.g. ("target", "shopify-eu")."""
        entry = AuditEntry(
            at_us=to_micros(self.clock.now()),
            actor=actor,
            action=action,
            subject_kind=subject[0],
            subject_key=subject[1],
            outcome=outcome.value,
            detail=dict(detail or {}),
        )
        self.store.add_audit(entry)
        return entry
