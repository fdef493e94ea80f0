"""Channels: their policies (config and API), available-to-sell and location freshness."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from ..domain.availability import ChannelAvailability, channel_availability, stale_locations
from ..domain.errors import NotFound, StockbridgeError
from ..domain.model import from_micros, to_micros
from .ingest import MasterCache
from .ports import DECLARED, Clock, ConfigChange, Store
from .read_cache import PositionCache
from .routing import ChannelIn


class InvalidChannel(StockbridgeError):
    """A channel definition that cannot be accepted; `problems` names each field."""

    def __init__(self, name: str, problems: list[dict[str, str]]) -> None:
        super().__init__(
            f"channel {name!r} is invalid: "
            + "; ".join(f"{p['field']}: {p['message']}" for p in problems)
        )
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Freshness:
    location: str
    sla_seconds: float | None
    last_seen_us: int | None
    last_source: str | None
    stale: bool


class ChannelService:
    def __init__(
        self, store: Store, clock: Clock, master: MasterCache, positions: PositionCache
    ) -> None:
        self.store = store
        self.clock = clock
        self.master = master
        self.positions = positions
        # Last-seen instants as last read. They only ever grow, so a location fresh in this
        # snapshot is fresh; only one that looks stale needs a new read to be sure.
        self._liveness: dict[str, int] | None = None

    def put(self, name: str, body: Any, change: ConfigChange | None = None) -> ChannelIn:
        """Validate and store a channel; every feeding location must exist. The change is
        kept in the channel's history under `change`'s actor."""
        try:
            channel = ChannelIn.model_validate(body)
        except ValidationError as e:
            raise InvalidChannel(
                name,
                [
                    {"field": ".".join(str(p) for p in err["loc"]) or "$", "message": err["msg"]}
                    for err in e.errors()
                ],
            ) from None
        known = self.master.get().locations
        problems = [
            {"field": f"locations.{code}", "message": "unknown location"}
            for code in channel.locations
            if code not in known
        ]
        if channel.target is not None and channel.target not in self.store.targets():
            problems.append({"field": "target", "message": f"unknown target {channel.target!r}"})
        if problems:
            raise InvalidChannel(name, problems)
        self.store.put_channel(
            name, channel.model_dump(mode="json"), to_micros(self.clock.now()), change
        )
        return channel

    def declare(self, channels: Mapping[str, Any]) -> None:
        """Channels from the configuration file, stored at start."""
        for name, body in channels.items():
            self.put(name, body, DECLARED)

    def all(self) -> dict[str, ChannelIn]:
        self.master.get()
        return dict(self.master.channels)

    def get(self, name: str) -> ChannelIn:
        self.master.get()
        channel = self.master.channels.get(name)
        if channel is None:
            raise NotFound("channel", name)
        return channel

    def freshness(self) -> list[Freshness]:
        md = self.master.get()
        seen = self.store.liveness()
        now_us = to_micros(self.clock.now())
        slas = {code: loc.freshness_sla_seconds for code, loc in md.locations.items()}
        stale = stale_locations({k: v[0] for k, v in seen.items()}, slas, now_us)
        return [
            Freshness(
                code,
                slas[code],
                seen.get(code, (None, None))[0],
                seen.get(code, (None, None))[1],
                code in stale,
            )
            for code in sorted(md.locations)
        ]

    def availability(self, name: str, sku: str) -> ChannelAvailability:
        channel = self.get(name)
        md = self.master.get()
        if sku not in md.items:
            raise NotFound("SKU", sku)
        return channel_availability(
            channel.policy(name), sku, md.items[sku], self.positions.positions(sku), self._stale()
        )

    def stale(self) -> frozenset[str]:
        """Locations past their freshness SLA now."""
        return self._stale()

    def _stale(self) -> frozenset[str]:
        locations = self.master.get().locations
        slas = {code: loc.freshness_sla_seconds for code, loc in locations.items()}
        now_us = to_micros(self.clock.now())
        seen = self._liveness
        if seen is None or stale_locations(seen, slas, now_us):
            seen = self._liveness = {k: v[0] for k, v in self.store.liveness().items()}
        return stale_locations(seen, slas, now_us)

    def heartbeats(self, beats: Sequence[Any]) -> list[dict[str, Any]]:
        """Record liveness reported without events; each beat answered on its own."""
        md = self.master.get()
        results: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        for beat in beats:
            source = beat.get("source") if isinstance(beat, dict) else None
            code = beat.get("location") if isinstance(beat, dict) else None
            if not isinstance(source, str) or not isinstance(code, str):
                results.append(
                    {
                        "status": "invalid",
                        "detail": "a heartbeat needs 'source' and 'location' strings",
                    }
                )
                continue
            location = md.location_for(source, code)
            if location is None:
                results.append({"source": source, "location": code, "status": "unknown_location"})
                continue
            seen[location] = source
            results.append({"source": source, "location": location, "status": "recorded"})
        self.store.record_heartbeats(seen, to_micros(self.clock.now()))
        return results


def freshness_view(f: Freshness) -> dict[str, Any]:
    return {
        "location": f.location,
        "freshness_sla_seconds": f.sla_seconds,
        "last_seen_at": from_micros(f.last_seen_us) if f.last_seen_us is not None else None,
        "last_source": f.last_source,
        "stale": f.stale,
    }
