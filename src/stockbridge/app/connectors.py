"""Inbound connectors ([connectors.NAME]): platforms that send the hub their webhooks.

Each message is verified on its raw body before anything is parsed, translated by the
platform's connector into canonical events and reservation commands, and applied through
the writer like any other input: the ledger deduplicates events on their keys and
reservations are idempotent on their ids, so a platform's retries and duplicate
deliveries change nothing twice.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

import orjson

from ..config import ConfigError
from ..connectors.registry import Inbound, Translation, UnknownConnector, inbound_class
from ..domain.errors import NotFound, StockbridgeError
from ..domain.model import from_micros, to_micros
from .ingest import BatchResult
from .ports import Clock, ConnectorState, SnapshotRow
from .reservations import Command, Outcome
from .routing import plain

log = logging.getLogger(__name__)

#: Platform-reported facts kept per connector for reconciliation (newest last).
OBSERVATIONS_KEPT = 10_000


class Unverified(StockbridgeError):
    """The signature over the raw body is missing or wrong: nothing was read."""


class BadPayload(StockbridgeError):
    pass


@dataclass
class Received:
    connector: str
    events: dict[str, int] = field(default_factory=dict)
    commands: list[dict[str, Any]] = field(default_factory=list)
    observations: int = 0
    #: Reads from the platform kept in the inbox, done after this answer.
    deferred: int = 0


def load_connectors(
    settings: Mapping[str, Mapping[str, Any]], env: Mapping[str, str]
) -> dict[str, Inbound]:
    """Build every declared connector; errors name the key (connectors.NAME.key)."""
    built: dict[str, Inbound] = {}
    for name, raw in settings.items():
        kind = raw.get("kind")
        if not isinstance(kind, str):
            raise ConfigError(f"connectors.{name}.kind: required (shopify, amazon or square)")
        try:
            cls = inbound_class(kind)
        except UnknownConnector as e:
            raise ConfigError(f"connectors.{name}.kind: {e}") from None
        try:
            built[name] = cls.from_settings(name, raw, env)
        except ValueError as e:
            raise ConfigError(f"connectors.{name}.{e}") from None
    return built


class ConnectorService:
    def __init__(
        self,
        connectors: Mapping[str, Inbound],
        submit: Callable[[Sequence[Any]], BatchResult],
        submit_command: Callable[[Command], Future[Outcome]],
        snapshots: Callable[[str], list[SnapshotRow]] | None = None,
        partners: Iterable[str] = (),
        *,
        state: ConnectorState | None = None,
        clock: Clock | None = None,
    ) -> None:
        self.connectors = dict(connectors)
        #: EDI trading partners: their observations are their latest 846 snapshot.
        self.partners = frozenset(partners)
        self.snapshots = snapshots
        self.submit = submit
        self.submit_command = submit_command
        self.state = state
        self.clock = clock
        #: Called after a message left reads in the inbox (wakes the inbox worker).
        self.on_deferred: Callable[[], None] = lambda: None
        self._observed: dict[str, deque[dict[str, Any]]] = {
            name: deque(maxlen=OBSERVATIONS_KEPT) for name in self.connectors
        }

    def add(self, name: str, raw: Mapping[str, Any], env: Mapping[str, str]) -> None:
        """Declare one more connector, validated as a `[connectors.NAME]` table is, for a
        process that embeds the hub (the demo) and learns its platforms' addresses only
        after the hub is built. Before `Hub.start`, so that the inbox runs."""
        if name in self.connectors:
            raise ConfigError(f"connectors.{name}: already declared")
        self.connectors[name] = load_connectors({name: raw}, env)[name]
        self._observed[name] = deque(maxlen=OBSERVATIONS_KEPT)

    def receive(self, name: str, headers: Mapping[str, str], body: bytes, url: str) -> Received:
        inbound = self.connectors.get(name)
        if inbound is None:
            raise NotFound("connector", name)
        if not inbound.verify(headers, body, url):
            log.warning("connector %s: a message with a bad signature was refused", name)
            raise Unverified(f"the signature of this message to {name!r} does not verify")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError as e:
            raise BadPayload(f"the body is not JSON: {e}") from None
        translation = inbound.translate(headers, payload)
        received = self.apply(name, translation)
        if translation.deferred:
            if self.state is None or self.clock is None:
                raise RuntimeError(f"connector {name} defers reads but the hub has no inbox")
            now_us = to_micros(self.clock.now())
            for key, what in translation.deferred:
                self.state.inbox_add(name, key, what, now_us)
            received.deferred = len(translation.deferred)
            self.on_deferred()
        return received

    def apply(self, name: str, translation: Translation) -> Received:
        """Record what a translated message means: events, commands, observations."""
        received = Received(name, observations=len(translation.observations))
        if translation.events:
            received.events = self.submit(translation.events).totals()
        for command in translation.commands:
            outcome = self.submit_command(command).result()
            received.commands.append(
                {"reservation_id": outcome.reservation_id, "verdict": outcome.verdict.value}
            )
        self._observed[name].extend(translation.observations)
        return received

    def observations(self, name: str) -> list[dict[str, Any]]:
        """What a platform reported of its own stock: a webhook connector's recent
        observations, or a trading partner's latest inventory snapshot (EDI 846)."""
        if name in self.connectors:
            return list(self._observed[name])
        if name in self.partners and self.snapshots is not None:
            return [_snapshot_row(r) for r in self.snapshots(name)]
        raise NotFound("connector", name)


def _snapshot_row(row: SnapshotRow) -> dict[str, Any]:
    return {
        "kind": "inventory_snapshot",
        "reference": row.reference,
        "as_of": from_micros(row.as_of_us).isoformat(),
        "sku": row.sku,
        "location": row.location,
        "quantity": plain(row.quantity),
        "quantities": {k: plain(v) for k, v in row.quantities.items()},
        "items": dict(row.items),
        "recorded_at": from_micros(row.recorded_us).isoformat(),
    }
