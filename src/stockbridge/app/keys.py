"""API keys: created once and shown once, stored as SHA-256 hashes, bound to scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..domain.model import to_micros
from .ports import ApiKeyRecord, Clock, Store


class Scope(StrEnum):
    EVENTS_WRITE = "events:write"
    POSITIONS_READ = "positions:read"
    #: Upload snapshots and start reconciliation runs (reading reports: positions:read).
    RECONCILE = "reconcile"
    ADMIN = "admin"


KEY_PREFIX = "sbk_"


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a stored key or the bootstrap key from the environment."""

    name: str
    scopes: frozenset[str]

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN.value in self.scopes or scope.value in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyService:
    def __init__(self, store: Store, clock: Clock, bootstrap_key: str | None = None) -> None:
        self.store = store
        self.clock = clock
        self._bootstrap_hash = hash_key(bootstrap_key) if bootstrap_key else None

    def create(self, name: str, scopes: Sequence[str]) -> tuple[str, ApiKeyRecord]:
        """A new key (returned once, in clear) and its stored record."""
        unknown = [s for s in scopes if s not in {x.value for x in Scope}]
        if unknown or not scopes:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(s.value for s in Scope)}"
            )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = self.store.add_api_key(
            name,
            hash_key(key),
            key[: len(KEY_PREFIX) + 6],
            sorted(set(scopes)),
            to_micros(self.clock.now()),
        )
        return key, record

    def authenticate(self, presented: str) -> Principal | None:
        digest = hash_key(presented)
        # Compare digests in constant time: a timing difference must not reveal a prefix.
        if self._bootstrap_hash and hmac.compare_digest(digest, self._bootstrap_hash):
            return Principal("bootstrap", frozenset({Scope.ADMIN.value}))
        record = self.store.api_key_by_hash(digest)
        if record is None or record.revoked_us is not None:
            return None
        return Principal(record.name, frozenset(record.scopes))
