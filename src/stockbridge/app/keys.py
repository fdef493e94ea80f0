"""API keys: created once and shown once, stored as SHA-256 hashes, bound to scopes."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from ..domain.access import UNBOUND, Binding
from ..domain.model import to_micros
from .audit import CLI_ACTOR, AuditLog
from .ports import ApiKeyRecord, Clock, NewApiKey, Store


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
    binding: Binding = UNBOUND
    #: (requests per second, burst) of this key; None: the server's default.
    rate: tuple[float, int] | None = None
    key_id: int | None = None

    @property
    def identity(self) -> str:
        """What rate buckets and logs know the caller by: names need not be unique."""
        return f"key#{self.key_id}" if self.key_id is not None else self.name

    def allows(self, scope: Scope) -> bool:
        return Scope.ADMIN.value in self.scopes or scope.value in self.scopes


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


class KeyService:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        bootstrap_key: str | None = None,
        audit: AuditLog | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.audit = audit or AuditLog(store, clock)
        self._bootstrap_hash = hash_key(bootstrap_key) if bootstrap_key else None

    def create(
        self,
        name: str,
        scopes: Sequence[str],
        *,
        binding: Binding = UNBOUND,
        rate: tuple[float, int] | None = None,
        actor: str = CLI_ACTOR,
    ) -> tuple[str, ApiKeyRecord]:
        """A new key (returned once, in clear) and its stored record.

        Raises ValueError for an unknown scope or a rate that is not positive.
        """
        unknown = [s for s in scopes if s not in {x.value for x in Scope}]
        if unknown or not scopes:
            raise ValueError(
                f"unknown scope(s) {', '.join(unknown) or '(none given)'}; "
                f"choose from {', '.join(s.value for s in Scope)}"
            )
        if rate is not None and not (rate[0] > 0 and rate[1] >= 1):
            raise ValueError("a key's rate must be > 0 requests/s with a burst of at least 1")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        record = self.store.add_api_key(
            NewApiKey(
                name=name,
                key_hash=hash_key(key),
                prefix=key[: len(KEY_PREFIX) + 6],
                scopes=sorted(set(scopes)),
                bindings=binding.as_dict(),
                rate_per_second=rate[0] if rate else None,
                rate_burst=rate[1] if rate else None,
            ),
            to_micros(self.clock.now()),
        )
        detail: dict[str, object] = {"name": name, "scopes": list(record.scopes)}
        detail.update(binding.as_dict())
        if rate:
            detail["rate"] = {"per_second": rate[0], "burst": rate[1]}
        self.audit.record(actor, "key.create", ("api_key", str(record.id)), detail)
        return key, record

    def revoke(self, key_id: int, *, actor: str = CLI_ACTOR) -> bool:
        done = self.store.revoke_api_key(key_id, to_micros(self.clock.now()))
        if done:
            self.audit.record(actor, "key.revoke", ("api_key", str(key_id)))
        return done

    def authenticate(self, presented: str) -> Principal | None:
        digest = hash_key(presented)
        # Compare digests in constant time: a timing difference must not reveal a prefix.
        if self._bootstrap_hash and hmac.compare_digest(digest, self._bootstrap_hash):
            return Principal("bootstrap", frozenset({Scope.ADMIN.value}))
        record = self.store.api_key_by_hash(digest)
        if record is None or record.revoked_us is not None:
            return None
        rate = None
        if record.rate_per_second is not None and record.rate_burst is not None:
            rate = (record.rate_per_second, record.rate_burst)
        return Principal(
            record.name,
            frozenset(record.scopes),
            Binding.of(record.bindings),
            rate,
            record.id,
        )
