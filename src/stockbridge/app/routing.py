"""Routing: which channels and targets the ingest transaction queues deliveries for.

Channel and target definitions are validated here; `plan_pushes` and `plan_postings`
decide, inside the ingest transaction, which deliveries its changes cause.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from ..domain.availability import ChannelPolicy, StaleRule, channel_value, contribution
from ..domain.ledger import Entry, PositionKey
from ..domain.mapping import MasterData
from ..domain.model import ZERO, EventType, Position, from_micros
from ..domain.slas import CANARY_SOURCE, Workflow, push_workflow
from .ports import ChannelState, NewDelivery
from .targets import TargetIn

#: Event types that become ERP postings (reservations are the hub's own business).
POSTED = frozenset(
    {
        EventType.SALE,
        EventType.RETURN,
        EventType.RECEIPT,
        EventType.TRANSFER_OUT,
        EventType.TRANSFER_IN,
        EventType.ADJUSTMENT,
        EventType.COUNT,
        EventType.FULFIL,
        EventType.STATUS_CHANGE,
    }
)
MAX_CAUSES = 20


def plain(quantity: Decimal) -> str:
    """A quantity as a plain decimal string: "10", "2.5", never "1E+1"."""
    text = format(quantity.normalize(), "f")
    return text if text != "-0" else "0"


class StaleIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rule: StaleRule = StaleRule.ZERO
    extra_buffer: Decimal = Field(Decimal(0), ge=0)


class SafetyStockIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sku: dict[str, Decimal] = Field(default_factory=dict)
    category: dict[str, Decimal] = Field(default_factory=dict)


class ChannelIn(BaseModel):
    """A channel: the locations that feed it and how much of their stock it may show."""

    model_config = ConfigDict(extra="forbid")
    #: Feeding location code -> buffer kept back from this channel at that location.
    locations: dict[str, Decimal] = Field(min_length=1)
    safety_stock: SafetyStockIn = SafetyStockIn()
    share: Decimal | None = Field(None, gt=0, le=1)
    cap: Decimal | None = Field(None, ge=0)
    stale: StaleIn = StaleIn()
    #: The target that receives this channel's availability pushes, if any.
    target: str | None = None

    @model_validator(mode="after")
    def _buffers_not_negative(self) -> ChannelIn:
        for code, buffer in self.locations.items():
            if buffer < 0:
                raise ValueError(f"buffer for {code} must not be negative")
        return self

    def policy(self, name: str) -> ChannelPolicy:
        return ChannelPolicy(
            name=name,
            locations=dict(self.locations),
            safety_stock_by_sku=dict(self.safety_stock.sku),
            safety_stock_by_category=dict(self.safety_stock.category),
            share=self.share,
            cap=self.cap,
            stale_rule=self.stale.rule,
            stale_extra_buffer=self.stale.extra_buffer,
        )


@dataclass(frozen=True, slots=True)
class Routing:
    """Channels that push somewhere, and the targets that take postings."""

    channels: dict[str, ChannelPolicy] = field(default_factory=dict)
    channel_target: dict[str, str] = field(default_factory=dict)
    posting_targets: tuple[str, ...] = ()
    #: Posting targets that also take reservation holds and releases (a 3PL ships them).
    reservation_targets: tuple[str, ...] = ()

    def channel_locations(self) -> set[str]:
        return {loc for p in self.channels.values() for loc in p.locations}


def load_routing(channels: Mapping[str, Any], targets: Mapping[str, tuple[Any, bool]]) -> Routing:
    parsed = {name: TargetIn.model_validate(cfg) for name, (cfg, _) in targets.items()}
    policies: dict[str, ChannelPolicy] = {}
    channel_target: dict[str, str] = {}
    for name, cfg in channels.items():
        channel = ChannelIn.model_validate(cfg)
        if channel.target and channel.target in parsed:
            policies[name] = channel.policy(name)
            channel_target[name] = channel.target
    postings = tuple(sorted(n for n, t in parsed.items() if t.postings))
    holds = tuple(n for n in postings if _takes_reservations(parsed[n]))
    return Routing(policies, channel_target, postings, holds)


#: Target kinds that take reservation holds unless told otherwise: a 3PL ships them.
RESERVATION_KINDS = frozenset({"x12"})


def _takes_reservations(target: TargetIn) -> bool:
    if target.reservations is not None:
        return target.reservations
    return target.kind in RESERVATION_KINDS


@dataclass(frozen=True, slots=True)
class ChannelInputs:
    """What `plan_pushes` reads: positions after the transaction, the available of the
    moved ones before it, and which locations count as stale."""

    positions: Mapping[PositionKey, Position]
    #: Available-to-sell before the transaction of each moved position; None: sums are
    #: recomputed from every feeding location (freshness changes, first sight of a SKU).
    before: Mapping[PositionKey, Decimal] | None
    moved: Iterable[PositionKey]
    #: Locations the freshness check has marked stale: the basis of the stored sums.
    stale: frozenset[str]
    #: Stale locations that spoke in this transaction: pushed as fresh already.
    reporting: frozenset[str] = frozenset()


def _available(
    positions: Mapping[PositionKey, Position], sku: str, location: str, safety: Decimal
) -> Decimal:
    here = positions.get((sku, location))
    return here.available(safety) if here is not None else ZERO


def trusted(state: ChannelState | None, basis: int) -> bool:
    return state is not None and state.total is not None and state.basis == basis


def positions_needed(
    routing: Routing,
    pairs: Iterable[tuple[str, str]],
    states: Mapping[tuple[str, str], ChannelState],
    basis: int,
    reporting: frozenset[str],
) -> set[PositionKey]:
    """Positions beyond the moved ones that the pushes need: every feeding location of a
    pair without a trusted sum, and the reporting stale locations of the others."""
    keys: set[PositionKey] = set()
    for channel, sku in pairs:
        policy = routing.channels[channel]
        if trusted(states.get((channel, sku)), basis):
            keys.update((sku, loc) for loc in reporting if loc in policy.locations)
        else:
            keys.update((sku, loc) for loc in policy.locations)
    return keys


def plan_pushes(
    routing: Routing,
    pairs: Iterable[tuple[str, str]],
    inputs: ChannelInputs,
    master: MasterData,
    states: Mapping[tuple[str, str], ChannelState],
    basis: int,
    causes: Sequence[Entry],
    now_us: int,
) -> tuple[list[NewDelivery], dict[tuple[str, str], ChannelState]]:
    """Availability pushes for (channel, sku) pairs whose value changed since last queued,
    and the state to keep for every pair.

    Priority 0 takes a channel to zero, 1 lowers it, 2 raises it: oversell risk first.
    """
    deliveries: list[NewDelivery] = []
    kept: dict[tuple[str, str], ChannelState] = {}
    by_sku: dict[str, list[Entry]] = {}
    for entry in causes:
        by_sku.setdefault(entry.event.sku, []).append(entry)
    computed_at = from_micros(now_us).isoformat()  # the same instant for every push
    moved: dict[str, list[str]] = {}
    for sku, loc in inputs.moved:
        moved.setdefault(sku, []).append(loc)
    positions = inputs.positions
    for channel, sku in sorted(set(pairs)):
        policy = routing.channels[channel]
        item = master.items.get(sku)
        safety = item.safety_stock if item is not None else ZERO

        state = states.get((channel, sku))
        if inputs.before is not None and trusted(state, basis):
            assert state is not None and state.total is not None
            total = state.total
            for loc in moved.get(sku, ()):
                if loc in policy.locations:
                    stale = loc in inputs.stale
                    was = inputs.before.get((sku, loc), ZERO)
                    total += contribution(
                        policy, loc, _available(positions, sku, loc, safety), stale
                    ) - contribution(policy, loc, was, stale)
        else:
            total = ZERO
            for loc in policy.locations:
                total += contribution(
                    policy, loc, _available(positions, sku, loc, safety), loc in inputs.stale
                )
        # Stale locations heard from in this transaction count as fresh already; the
        # freshness check makes it so for every SKU at its next run.
        pushed_total = total
        for loc in inputs.reporting:
            if loc in policy.locations:
                here = _available(positions, sku, loc, safety)
                pushed_total += contribution(policy, loc, here, False) - contribution(
                    policy, loc, here, True
                )
        value, _, _ = channel_value(policy, sku, item, pushed_total)
        before = state.value if state is not None else None
        kept[(channel, sku)] = ChannelState(value, total, basis)
        if before is not None and before == value:
            continue
        priority = 0 if value == 0 else 1 if before is not None and (value < before) else 2
        events = by_sku.get(sku, [])[:MAX_CAUSES]
        deliveries.append(
            availability_push(
                routing.channel_target[channel],
                channel,
                sku,
                value,
                priority,
                events,
                now_us,
                computed_at,
            )
        )
    return deliveries, kept


#: Reservation events that reach the targets taking holds (a 3PL ships or cancels them).
HOLDS = frozenset({EventType.RESERVE, EventType.RELEASE})


def availability_push(
    target: str,
    channel: str,
    sku: str,
    value: Decimal,
    priority: int,
    events: Sequence[Entry],
    now_us: int,
    computed_at: str | None = None,
) -> NewDelivery:
    """One availability push of `value` for (channel, sku), naming the events behind it
    (none for a correction that no event caused, such as a reconciliation's)."""
    facts = [e.event for e in events]
    correlations = tuple(sorted({e.correlation for e in facts}))
    keys = [f"{e.key.source}/{e.key.event_id}" for e in facts]
    return NewDelivery(
        target=target,
        kind="availability",
        key=f"{channel}/{sku}",
        idempotency_key=f"availability:{channel}:{sku}:{now_us}",
        payload={
            "type": "availability",
            "channel": channel,
            "sku": sku,
            "available": plain(value),
            "computed_at": computed_at or from_micros(now_us).isoformat(),
            # The events behind this value (the first ones when there are many).
            "events": keys,
            "correlation_ids": list(correlations),
        },
        priority=priority,
        causes=list(keys),
        correlation_ids=correlations,
        workflow=push_workflow((e.key.source, e.type) for e in facts),
        occurred_us=min((e.occurred_us for e in facts), default=None),
    )


def plan_postings(routing: Routing, entries: Sequence[Entry]) -> list[NewDelivery]:
    """One posting per movement event and posting target, in the order they were accepted;
    reservation holds and releases only to the targets that take them."""
    if not routing.posting_targets:
        return []
    out: list[NewDelivery] = []
    for entry in entries:
        e = entry.event
        # Canaries prove the path to the channels; the ERP never sees them.
        if e.key.source == CANARY_SOURCE:
            continue
        if e.type in POSTED:
            targets = routing.posting_targets
        elif e.type in HOLDS and routing.reservation_targets:
            targets = routing.reservation_targets
        else:
            continue
        document = {
            "type": "posting",
            "movement": e.type.value,
            "document_number": f"{e.key.source}:{e.key.event_id}",
            "source": e.key.source,
            "event_id": e.key.event_id,
            "sku": e.sku,
            "location": e.location,
            "quantity": plain(e.quantity),
            "occurred_at": from_micros(e.occurred_us).isoformat(),
            "counterparty_location": e.counterparty_location,
            "condition": e.condition,
            "reference": e.reference,
            "reason": e.reason,
            "correlation_id": e.correlation,
            "reservation_id": e.reservation_id,
        }
        for target in targets:
            out.append(
                NewDelivery(
                    target=target,
                    kind="posting",
                    key=f"{e.sku}/{e.location}",
                    # The ERP's external document number: a retried post cannot post twice.
                    idempotency_key=f"{e.key.source}:{e.key.event_id}",
                    payload=document,
                    priority=2,
                    causes=[str(e.key)],
                    correlation_ids=(e.correlation,),
                    workflow=Workflow.RETURN_TO_ERP if e.type is EventType.RETURN else None,
                    occurred_us=e.occurred_us,
                )
            )
    return out
