"""What a bound API key may touch: its sources, locations and channels (docs/security.md).

A store's key is bound to its own source and location so that a stolen or misconfigured
key cannot post another store's sales or read another channel's stock. An empty list
leaves that dimension unbound. Pure: the callers pass what a request names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

DIMENSIONS = ("sources", "locations", "channels")


@dataclass(frozen=True, slots=True)
class Refusal:
    """One thing a request names that its key is not bound to."""

    dimension: str  # "source", "location" or "channel"
    value: str
    #: Where in the request it was named: "events[3].location", "path.channel"...
    where: str

    def as_dict(self) -> dict[str, str]:
        return {self.dimension: self.value, "field": self.where}


@dataclass(frozen=True, slots=True)
class Binding:
    sources: frozenset[str] = frozenset()
    locations: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()

    @classmethod
    def of(cls, data: Mapping[str, Iterable[str]] | None) -> Binding:
        data = data or {}
        return cls(*(frozenset(data.get(d, ())) for d in DIMENSIONS))

    def as_dict(self) -> dict[str, list[str]]:
        return {d: sorted(getattr(self, d)) for d in DIMENSIONS if getattr(self, d)}

    @property
    def bound(self) -> bool:
        return bool(self.sources or self.locations or self.channels)

    def refuse(self, dimension: str, value: object, where: str) -> Refusal | None:
        """A refusal when `value` is outside the bound `dimension` (singular name)."""
        allowed: frozenset[str] = getattr(self, dimension + "s")
        if not allowed or (isinstance(value, str) and value in allowed):
            return None
        return Refusal(dimension, str(value), where)


def refused_events(binding: Binding, raws: Sequence[Any]) -> list[Refusal]:
    """Every source and location of a batch of raw events outside the key's binding.

    Events are judged as sent, before mapping: a key is bound to the codes its system
    uses. An event without a source or location (malformed) is left to ingest to refuse.
    """
    if not (binding.sources or binding.locations):
        return []
    found: list[Refusal] = []
    for i, raw in enumerate(raws):
        if not isinstance(raw, Mapping):
            continue
        for dimension in ("source", "location"):
            if raw.get(dimension) is None:
                continue
            refusal = binding.refuse(dimension, raw[dimension], f"events[{i}].{dimension}")
            if refusal is not None:
                found.append(refusal)
    return found


def refused_names(binding: Binding, named: Mapping[str, tuple[str, object]]) -> list[Refusal]:
    """Refusals for single names a request carries: {where: (dimension, value)}."""
    found = []
    for where, (dimension, value) in named.items():
        if value is None:
            continue
        refusal = binding.refuse(dimension, value, where)
        if refusal is not None:
            found.append(refusal)
    return found


#: A key bound to nothing: it may name any source, location or channel.
UNBOUND = Binding()
