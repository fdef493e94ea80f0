"""Reservations as a checked command (click-and-collect, ship-from-store).

A `reserve` event posted to /v1/events is a fact: the ledger applies it whatever the
stock. A reservation asked for here is a command: it is checked against what the ledger
knows and, if it fits, recorded as a `reserve` event, in the ingest transaction that
checked it (DESIGN §7). The group-commit writer decides the commands of a transaction one
after another on the same working positions, so two requests for the last unit cannot
both succeed. Fulfil and release are recorded as `fulfil` and `release` events.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson

from ..domain.availability import ChannelPolicy, channel_availability
from ..domain.errors import NotFound
from ..domain.intake import InvalidEvent, parse_event
from ..domain.ledger import Entry, LedgerBatch, PositionKey
from ..domain.mapping import MasterData, to_base_units
from ..domain.model import (
    ZERO,
    Event,
    EventKey,
    EventType,
    Item,
    Reservation,
    ReservationState,
    from_micros,
    to_micros,
)
from ..domain.reservations import Short, decide_at_location, decide_for_channel
from .ports import Clock, ReservationRequest, Store
from .routing import plain

#: The source of the events a reservation request records, unless the caller names one.
DEFAULT_SOURCE = "reservations"


@dataclass(frozen=True, slots=True)
class Reserve:
    """Hold `quantity` of `sku` at a location, or for a channel at a location it picks."""

    reservation_id: str
    sku: str
    quantity: Decimal
    location: str | None = None
    channel: str | None = None
    uom: str | None = None
    expires_us: int | None = None
    source: str = DEFAULT_SOURCE
    reference: str | None = None
    correlation_id: str | None = None

    def request(self) -> dict[str, Any]:
        """The request in a normal form: what a repeat under the same id must match."""
        return {
            "reservation_id": self.reservation_id,
            "sku": self.sku,
            "location": self.location,
            "channel": self.channel,
            "quantity": plain(self.quantity),
            "uom": self.uom,
            "expires_at": (
                from_micros(self.expires_us).isoformat() if self.expires_us is not None else None
            ),
            "source": self.source,
            "reference": self.reference,
            "correlation_id": self.correlation_id,
        }

    def request_hash(self) -> str:
        canonical = orjson.dumps(self.request(), option=orjson.OPT_SORT_KEYS)
        return hashlib.blake2b(canonical, digest_size=16).hexdigest()


@dataclass(frozen=True, slots=True)
class Close:
    """Fulfil (ship or hand over) or release a whole open reservation."""

    reservation_id: str
    action: EventType  # FULFIL or RELEASE
    #: If given, must be the reservation's quantity: the ledger closes reservations whole.
    quantity: Decimal | None = None
    reference: str | None = None
    correlation_id: str | None = None


Command = Reserve | Close


class Verdict(StrEnum):
    CREATED = "created"  # held and recorded
    EXISTING = "existing"  # the same request again: the reservation it made
    CLOSED = "closed"  # fulfilled or released
    SHORT = "short"  # not enough available
    CONFLICT = "conflict"  # the id is taken by another request or by events
    TERMINAL = "terminal"  # already released, fulfilled or expired
    NOT_FOUND = "not_found"
    INVALID = "invalid"  # a field that cannot be mapped or accepted (`field` names it)


@dataclass(frozen=True, slots=True)
class ReservationView:
    reservation_id: str
    state: ReservationState
    sku: str | None
    location: str | None
    quantity: Decimal
    expires_us: int | None
    source: str | None
    channel: str | None

    @classmethod
    def of(cls, res: Reservation, request: ReservationRequest | None) -> ReservationView:
        return cls(
            res.reservation_id,
            res.state,
            res.sku,
            res.location,
            res.quantity,
            res.expires_us,
            res.reserve_order[1] if res.reserve_order is not None else None,
            request.channel if request is not None else None,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """The answer to one command, decided and committed in the ingest transaction."""

    verdict: Verdict
    reservation_id: str
    reservation: ReservationView | None = None
    #: What is left to reserve where the request was checked (after a hold, or now).
    available: Decimal | None = None
    requested: Decimal | None = None
    detail: str | None = None
    field: str | None = None


#: For `isinstance`: a reservation command rather than a batch of events.
COMMANDS = (Reserve, Close)


@dataclass(frozen=True, slots=True)
class _Mapped:
    """A reserve request in enterprise codes and base units."""

    item: Item
    quantity: Decimal
    location: str | None
    policy: ChannelPolicy | None

    def position_keys(self) -> list[PositionKey]:
        if self.policy is not None:
            return [(self.item.sku, loc) for loc in self.policy.locations]
        assert self.location is not None
        return [(self.item.sku, self.location)]


def _invalid(rid: str, name: str, detail: str) -> Outcome:
    return Outcome(Verdict.INVALID, rid, detail=detail, field=name)


def _conflict(rid: str, detail: str) -> Outcome:
    return Outcome(Verdict.CONFLICT, rid, detail=detail)


def _map(c: Reserve, md: MasterData, channels: Mapping[str, ChannelPolicy]) -> _Mapped | Outcome:
    rid = c.reservation_id
    sku = md.sku_for(c.source, c.sku)
    item = md.items.get(sku) if sku is not None else None
    if item is None:
        return _invalid(rid, "sku", f"no item or cross reference for {c.sku!r}")
    factor = item.factor(c.uom)
    if factor is None:
        known = ", ".join([item.base_uom, *item.conversions])
        return _invalid(rid, "uom", f"unit {c.uom!r} unknown for {item.sku} (known: {known})")
    quantity = to_base_units(c.quantity, factor)
    if quantity is None:
        return _invalid(rid, "quantity", f"{c.quantity} cannot be held in {item.base_uom}")
    if c.channel is not None:
        policy = channels.get(c.channel)
        if policy is None:
            return _invalid(rid, "channel", f"unknown channel {c.channel!r}")
        return _Mapped(item, quantity, None, policy)
    assert c.location is not None
    location = md.location_for(c.source, c.location)
    if location is None:
        return _invalid(rid, "location", f"no location or cross reference for {c.location!r}")
    return _Mapped(item, quantity, location, None)


def _event(raw: dict[str, Any]) -> tuple[Event, bytes] | InvalidEvent:
    """An event the hub records itself, checked by the same intake rules as any other."""
    parsed = parse_event({k: v for k, v in raw.items() if v is not None})
    if isinstance(parsed, InvalidEvent):
        return parsed
    event = Event(
        key=parsed.key,
        type=parsed.type,
        sku=parsed.sku,
        location=parsed.location,
        quantity=parsed.quantity,
        occurred_us=parsed.occurred_us,
        payload_hash=parsed.payload_hash,
        reservation_id=parsed.reservation_id,
        expires_us=parsed.expires_us,
        reference=parsed.reference,
        correlation_id=parsed.correlation_id,
    )
    return event, parsed.canonical


@dataclass(slots=True)
class CommandBatch:
    """The reservation commands of one ingest transaction.

    The caller loads and locks what `reservation_ids` and `position_keys` name, applies the
    transaction's events, then `run`s the commands in order on the same ledger batch: each
    one sees the holds of those before it. `entries`, `raws` and `new_requests` are then
    what to record.
    """

    commands: Sequence[Command]
    master: MasterData
    channels: Mapping[str, ChannelPolicy]
    outcomes: list[Outcome | None] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    raws: list[bytes] = field(default_factory=list)
    new_requests: list[ReservationRequest] = field(default_factory=list)
    _mapped: dict[int, _Mapped] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outcomes = [None] * len(self.commands)
        for i, c in enumerate(self.commands):
            if isinstance(c, Reserve):
                mapped = _map(c, self.master, self.channels)
                if isinstance(mapped, Outcome):
                    self.outcomes[i] = mapped
                else:
                    self._mapped[i] = mapped

    def reservation_ids(self) -> set[str]:
        return {c.reservation_id for c in self.commands}

    def needs_freshness(self) -> bool:
        return any(m.policy is not None for m in self._mapped.values())

    def position_keys(self, reservations: Mapping[str, Reservation]) -> set[PositionKey]:
        keys = {k for m in self._mapped.values() for k in m.position_keys()}
        for c in self.commands:
            res = reservations.get(c.reservation_id)
            if res is not None and res.sku is not None and res.location is not None:
                keys.add((res.sku, res.location))
        return keys

    def event_keys(self, reservations: Mapping[str, Reservation]) -> list[EventKey]:
        keys = []
        for c in self.commands:
            if isinstance(c, Reserve):
                keys.append(EventKey(c.source, c.reservation_id))
            else:
                keys.append(_close_key(c, reservations.get(c.reservation_id)))
        return keys

    def run(
        self,
        ledger: LedgerBatch,
        requests: dict[str, ReservationRequest],
        recorded: set[EventKey],
        stale: frozenset[str],
        now_us: int,
    ) -> list[Outcome]:
        for i, c in enumerate(self.commands):
            if self.outcomes[i] is not None:
                continue
            if isinstance(c, Reserve):
                outcome = self._reserve(c, self._mapped[i], ledger, requests, recorded, stale)
            else:
                outcome = self._close(c, ledger, requests, recorded)
            self.outcomes[i] = outcome
        return [o for o in self.outcomes if o is not None]

    def _record(
        self,
        ledger: LedgerBatch,
        recorded: set[EventKey],
        key: EventKey,
        raw: dict[str, Any],
        rid: str,
    ) -> Outcome | None:
        """Apply one reservation event to the batch and claim its key; an invalid one is a 422."""
        built = _event(raw)
        if isinstance(built, InvalidEvent):
            return _invalid(rid, built.field, f"{built.field} {built.message}")
        event, canonical = built
        self.entries.append(ledger.apply(event))
        self.raws.append(canonical)
        recorded.add(key)
        return None

    def _reserve(
        self,
        c: Reserve,
        m: _Mapped,
        ledger: LedgerBatch,
        requests: dict[str, ReservationRequest],
        recorded: set[EventKey],
        stale: frozenset[str],
    ) -> Outcome:
        rid = c.reservation_id
        asked = requests.get(rid)
        res = ledger.reservations.get(rid)
        if asked is not None:
            if asked.request_hash != c.request_hash() or res is None:
                return _conflict(rid, f"reservation {rid!r} was asked for with another request")
            view = ReservationView.of(res, asked)
            return Outcome(Verdict.EXISTING, rid, view, _left(m, res.location, ledger, stale))
        if res is not None:
            return _conflict(
                rid, f"reservation {rid!r} is already recorded by events ({res.state.value})"
            )
        key = EventKey(c.source, rid)
        if key in recorded:
            return _conflict(rid, f"event {key} is already recorded")

        sku = m.item.sku
        if m.policy is not None:
            here = [ledger.positions[k] for k in m.position_keys() if k in ledger.positions]
            decision = decide_for_channel(m.policy, sku, m.item, here, stale, m.quantity)
        else:
            assert m.location is not None
            position = ledger.positions.get((sku, m.location))
            decision = decide_at_location(m.location, position, m.item.safety_stock, m.quantity)
        if isinstance(decision, Short):
            return Outcome(
                Verdict.SHORT,
                rid,
                available=decision.available,
                requested=decision.requested,
                detail=decision.detail,
            )
        expires_at = from_micros(c.expires_us).isoformat() if c.expires_us is not None else None
        raw = _reservation_event(
            key,
            EventType.RESERVE,
            sku,
            decision.location,
            m.quantity,
            ledger.now_us,
            rid,
            c,
            expires_at=expires_at,
        )
        failed = self._record(ledger, recorded, key, raw, rid)
        if failed is not None:
            return failed
        request = ReservationRequest(
            rid, c.request_hash(), m.policy.name if m.policy else None, c.request()
        )
        requests[rid] = request
        self.new_requests.append(request)
        view = ReservationView.of(ledger.reservations[rid], request)
        return Outcome(Verdict.CREATED, rid, view, _left(m, decision.location, ledger, stale))

    def _close(
        self,
        c: Close,
        ledger: LedgerBatch,
        requests: dict[str, ReservationRequest],
        recorded: set[EventKey],
    ) -> Outcome:
        rid = c.reservation_id
        res = ledger.reservations.get(rid)
        if res is None:
            return Outcome(Verdict.NOT_FOUND, rid, detail=f"no reservation {rid!r}")
        # Past its expiry but not yet swept: it holds nothing any more.
        ledger.expire(res)
        view = ReservationView.of(res, requests.get(rid))
        if res.state is not ReservationState.OPEN or res.sku is None or res.location is None:
            return Outcome(
                Verdict.TERMINAL, rid, view, detail=f"reservation {rid!r} is {res.state.value}"
            )
        if c.quantity is not None and c.quantity != res.quantity:
            return _invalid(
                rid,
                "quantity",
                f"a reservation is {c.action.value}ed whole: {res.quantity}, not {c.quantity}",
            )
        key = _close_key(c, res)
        if key in recorded:
            return _conflict(rid, f"event {key} is already recorded")
        raw = _reservation_event(
            key, c.action, res.sku, res.location, res.quantity, ledger.now_us, rid, c
        )
        failed = self._record(ledger, recorded, key, raw, rid)
        if failed is not None:
            return failed
        position = ledger.positions[(res.sku, res.location)]
        item = self.master.items.get(res.sku)
        left = position.available(item.safety_stock if item is not None else ZERO)
        return Outcome(Verdict.CLOSED, rid, ReservationView.of(res, requests.get(rid)), left)


def _reservation_event(
    key: EventKey,
    type_: EventType,
    sku: str,
    location: str,
    quantity: Decimal,
    now_us: int,
    rid: str,
    c: Reserve | Close,
    **extra: Any,
) -> dict[str, Any]:
    """The raw event a reserve, fulfil or release command records, as a source would send it."""
    return {
        "event_id": key.event_id,
        "source": key.source,
        "type": type_.value,
        "sku": sku,
        "location": location,
        "quantity": plain(quantity),
        "occurred_at": from_micros(now_us).isoformat(),
        "reservation_id": rid,
        **extra,
        "reference": c.reference,
        "correlation_id": c.correlation_id,
    }


def _close_key(c: Close, res: Reservation | None) -> EventKey:
    """The fulfil or release event goes under the source of the reserve it closes."""
    source = res.reserve_order[1] if res is not None and res.reserve_order else DEFAULT_SOURCE
    return EventKey(source, f"{c.reservation_id}:{c.action.value}")


def _left(m: _Mapped, location: str | None, ledger: LedgerBatch, stale: frozenset[str]) -> Decimal:
    """What is left to reserve where the request was checked: the channel, or the position."""
    sku = m.item.sku
    if m.policy is not None:
        here = [ledger.positions[k] for k in m.position_keys() if k in ledger.positions]
        return channel_availability(m.policy, sku, m.item, here, stale).available
    position = ledger.positions.get((sku, location)) if location is not None else None
    return position.available(m.item.safety_stock) if position is not None else ZERO


class ReservationService:
    """Reservation commands through the ingest writer, and reads of reservations."""

    def __init__(self, store: Store, clock: Clock, submit: Callable[[Command], Future[Any]]):
        self.store = store
        self.clock = clock
        self._submit = submit

    def reserve(self, command: Reserve) -> Future[Outcome]:
        if command.expires_us is not None and command.expires_us <= to_micros(self.clock.now()):
            done: Future[Outcome] = Future()
            done.set_result(_invalid(command.reservation_id, "expires_at", "must be in the future"))
            return done
        return self._submit(command)

    def close(self, command: Close) -> Future[Outcome]:
        return self._submit(command)

    def get(self, reservation_id: str) -> ReservationView:
        record = self.store.reservation(reservation_id)
        if record is None:
            raise NotFound("reservation", reservation_id)
        return ReservationView.of(record.reservation, record.request)
