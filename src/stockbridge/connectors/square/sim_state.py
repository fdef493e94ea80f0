"""The simulated Square seller: catalog, locations, inventory, orders and refunds.

Inventory is kept as Square computes it: per catalog object, location and state, the
latest physical count by `occurred_at` plus the adjustments that occurred after it
(changes may arrive out of order). BatchChangeInventory is validated whole before
anything is applied, answers with Square's error envelope, and replays its first answer
for a repeated idempotency key (the same key with another body is IDEMPOTENCY_KEY_REUSED).
"""

from __future__ import annotations

import hashlib
import random
import string
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import orjson

from .protocol import (
    IN_STOCK,
    MAX_IDEMPOTENCY_KEY,
    READ_ONLY_STATES,
    STATES,
    error,
    parse_quantity,
    parse_time,
    quantity_text,
    rfc3339,
)

#: States whose quantities Square no longer tracks (not reported as counts).
_UNTRACKED = frozenset({"NONE", "SOLD"})


class SimClock:
    """The real clock, plus however far a test has moved it on."""

    def __init__(self, start: datetime | None = None) -> None:
        self._offset = timedelta(0) if start is None else start - datetime.now(UTC)

    def now(self) -> datetime:
        return datetime.now(UTC) + self._offset

    def advance(self, seconds: float) -> None:
        self._offset += timedelta(seconds=seconds)


@dataclass(slots=True)
class _Change:
    at: datetime
    seq: int
    kind: str  # PHYSICAL_COUNT or ADJUSTMENT
    state: str | None  # counted state
    from_state: str | None
    to_state: str | None
    quantity: Decimal


@dataclass
class Answer:
    """A status and a JSON body."""

    status: int
    body: dict[str, Any]


def _bad(*errors: dict[str, str]) -> Answer:
    return Answer(400, {"errors": list(errors)})


def new_id(rng: random.Random, length: int = 24) -> str:
    return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(length))


@dataclass
class SimState:
    clock: SimClock = field(default_factory=SimClock)
    seed: int = 0
    merchant_id: str = "SIMMERCHANT01"
    #: Bearer token required on API calls (None: any token).
    access_token: str | None = None
    locations: set[str] = field(default_factory=set)
    catalog: set[str] = field(default_factory=set)
    max_changes: int = 100
    window: timedelta = timedelta(hours=24)
    changes: dict[tuple[str, str], list[_Change]] = field(default_factory=dict)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)
    refunds: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: idempotency key -> (hash of the request, the answer given).
    idempotency: dict[str, tuple[str, Answer]] = field(default_factory=dict)
    rng: random.Random = field(init=False)
    _seq: int = 0

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    # --- inventory --------------------------------------------------------------------
    def quantity(self, catalog_id: str, location: str, state: str = IN_STOCK) -> Decimal:
        """The calculated count: latest physical count, then the adjustments after it."""
        history = self.changes.get((catalog_id, location), [])
        counts = [c for c in history if c.kind == "PHYSICAL_COUNT" and c.state == state]
        anchor = max(counts, key=lambda c: (c.at, c.seq)) if counts else None
        total = anchor.quantity if anchor else Decimal(0)
        for c in history:
            if c.kind != "ADJUSTMENT" or (anchor and (c.at, c.seq) <= (anchor.at, anchor.seq)):
                continue
            if c.to_state == state:
                total += c.quantity
            if c.from_state == state:
                total -= c.quantity
        return total

    def count(self, catalog_id: str, location: str, state: str = IN_STOCK) -> dict[str, Any]:
        return {
            "catalog_object_id": catalog_id,
            "catalog_object_type": "ITEM_VARIATION",
            "state": state,
            "location_id": location,
            "quantity": quantity_text(self.quantity(catalog_id, location, state)),
            "calculated_at": rfc3339(self.clock.now()),
        }

    def counts(
        self,
        catalog_ids: list[str] | None = None,
        locations: list[str] | None = None,
        states: list[str] | None = None,
    ) -> list[dict[str, Any]]:
        out = []
        for catalog_id, location in sorted(self.changes):
            if catalog_ids and catalog_id not in catalog_ids:
                continue
            if locations and location not in locations:
                continue
            seen = {
                s
                for c in self.changes[(catalog_id, location)]
                for s in (c.state, c.from_state, c.to_state)
                if s is not None and s not in _UNTRACKED
            }
            out += [
                self.count(catalog_id, location, s)
                for s in sorted(seen)
                if not states or s in states
            ]
        return out

    def _record(self, catalog_id: str, location: str, change: _Change) -> None:
        self.changes.setdefault((catalog_id, location), []).append(change)

    def _next(self) -> int:
        self._seq += 1
        return self._seq

    def adjust(
        self, catalog_id: str, location: str, from_state: str, to_state: str, quantity: Decimal
    ) -> None:
        """Square's own booking (a sale or a return at the register), now."""
        change = _Change(
            self.clock.now(), self._next(), "ADJUSTMENT", None, from_state, to_state, quantity
        )
        self._record(catalog_id, location, change)

    # --- BatchChangeInventory -----------------------------------------------------------
    def batch_change(self, body: Any) -> Answer:
        if not isinstance(body, dict):
            return _bad(
                error("INVALID_REQUEST_ERROR", "EXPECTED_JSON_BODY", "Expected a JSON object.")
            )
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            return _bad(
                error(
                    "INVALID_REQUEST_ERROR",
                    "MISSING_REQUIRED_PARAMETER",
                    "Field must be set",
                    "idempotency_key",
                )
            )
        if len(key) > MAX_IDEMPOTENCY_KEY:
            return _bad(
                error(
                    "INVALID_REQUEST_ERROR",
                    "VALUE_TOO_LONG",
                    f"Field must not be greater than {MAX_IDEMPOTENCY_KEY} length",
                    "idempotency_key",
                )
            )
        digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
        stored = self.idempotency.get(key)
        if stored is not None:
            if stored[0] == digest:
                return stored[1]
            return _bad(
                error(
                    "INVALID_REQUEST_ERROR",
                    "IDEMPOTENCY_KEY_REUSED",
                    "The provided idempotency key has already been used.",
                    "idempotency_key",
                )
            )
        changes = body.get("changes")
        if not isinstance(changes, list) or not changes:
            return _bad(
                error("INVALID_REQUEST_ERROR", "ARRAY_EMPTY", "Array must not be empty", "changes")
            )
        if len(changes) > self.max_changes:
            return _bad(
                error(
                    "INVALID_REQUEST_ERROR",
                    "ARRAY_LENGTH_TOO_LONG",
                    f"Array must not have more than {self.max_changes} elements",
                    "changes",
                )
            )
        now = self.clock.now()
        parsed: list[tuple[str, str, _Change]] = []
        errors: list[dict[str, str]] = []
        for i, raw in enumerate(changes):
            result = self._parse_change(i, raw, now)
            if isinstance(result, list):
                errors += result
            else:
                parsed.append(result)
        if errors:
            return Answer(400, {"errors": errors})
        touched: list[tuple[str, str]] = []
        for catalog_id, location, change in parsed:
            self._record(catalog_id, location, change)
            if (catalog_id, location) not in touched:
                touched.append((catalog_id, location))
        answer = Answer(
            200,
            {
                "counts": [self.count(c, loc) for c, loc in touched],
                "changes": changes,
            },
        )
        self.idempotency[key] = (digest, answer)
        return answer

    def _parse_change(
        self, i: int, raw: Any, now: datetime
    ) -> tuple[str, str, _Change] | list[dict[str, str]]:
        where = f"changes[{i}]"
        kind = raw.get("type") if isinstance(raw, dict) else None
        if kind not in ("PHYSICAL_COUNT", "ADJUSTMENT"):
            return [
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_ENUM_VALUE",
                    f"Expected type to be one of PHYSICAL_COUNT, ADJUSTMENT; got {kind!r}.",
                    f"{where}.type",
                )
            ]
        assert isinstance(raw, dict)
        name = "physical_count" if kind == "PHYSICAL_COUNT" else "adjustment"
        where = f"{where}.{name}"
        obj = raw.get(name)
        if not isinstance(obj, dict):
            return [
                error(
                    "INVALID_REQUEST_ERROR",
                    "MISSING_REQUIRED_PARAMETER",
                    "Field must be set",
                    where,
                )
            ]
        errors = []
        catalog_id, location = obj.get("catalog_object_id"), obj.get("location_id")
        if catalog_id not in self.catalog:
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    f"Catalog object {catalog_id!r} is not an item variation of this seller.",
                    f"{where}.catalog_object_id",
                )
            )
        if location not in self.locations:
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    f"Location {location!r} is not a location of this seller.",
                    f"{where}.location_id",
                )
            )
        states = (
            [("state", obj.get("state"))]
            if kind == "PHYSICAL_COUNT"
            else [("from_state", obj.get("from_state")), ("to_state", obj.get("to_state"))]
        )
        for attr, state in states:
            if state not in STATES or state in READ_ONLY_STATES:
                errors.append(
                    error(
                        "INVALID_REQUEST_ERROR",
                        "INVALID_ENUM_VALUE",
                        f"Inventory state {state!r} cannot be written through the API.",
                        f"{where}.{attr}",
                    )
                )
        quantity = parse_quantity(obj.get("quantity"))
        if quantity is None or quantity < 0 or (kind == "ADJUSTMENT" and quantity == 0):
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    "Quantity must be a non-negative decimal with at most 5 decimal places.",
                    f"{where}.quantity",
                )
            )
        at = parse_time(obj.get("occurred_at"))
        if at is None:
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_TIME",
                    "occurred_at must be an RFC 3339 timestamp.",
                    f"{where}.occurred_at",
                )
            )
        elif at < now - self.window:
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    "occurred_at must not be more than 24 hours in the past.",
                    f"{where}.occurred_at",
                )
            )
        elif at > now:
            errors.append(
                error(
                    "INVALID_REQUEST_ERROR",
                    "INVALID_VALUE",
                    "occurred_at must not be in the future.",
                    f"{where}.occurred_at",
                )
            )
        if errors:
            return errors
        assert isinstance(catalog_id, str) and isinstance(location, str)
        assert quantity is not None and at is not None
        change = _Change(
            at,
            self._next(),
            kind,
            obj.get("state"),
            obj.get("from_state"),
            obj.get("to_state"),
            quantity,
        )
        return catalog_id, location, change

    # --- the register: sales and refunds -------------------------------------------------
    def sale(
        self, location: str, lines: list[tuple[str, Decimal]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """A completed sale at the register: the order, its payment, and stock taken."""
        now = rfc3339(self.clock.now())
        order_id = new_id(self.rng, 29)
        items = [
            {
                "uid": new_id(self.rng, 22),
                "catalog_object_id": catalog_id,
                "catalog_version": 1,
                "quantity": quantity_text(quantity),
                "item_type": "ITEM",
            }
            for catalog_id, quantity in lines
        ]
        order = {
            "id": order_id,
            "location_id": location,
            "line_items": items,
            "state": "COMPLETED",
            "version": 2,
            "created_at": now,
            "updated_at": now,
            "closed_at": now,
        }
        payment = {
            "id": new_id(self.rng, 29),
            "order_id": order_id,
            "location_id": location,
            "status": "COMPLETED",
            "source_type": "CASH",
            "created_at": now,
            "updated_at": now,
        }
        self.orders[order_id] = order
        for catalog_id, quantity in lines:
            self.adjust(catalog_id, location, IN_STOCK, "SOLD", quantity)
        return order, payment

    def refund(
        self, order_id: str, lines: list[tuple[str, Decimal]]
    ) -> tuple[dict[str, Any], dict[str, Any]]:
        """An itemized refund: a return order naming the sold lines, and the refund."""
        sold = self.orders[order_id]
        by_uid = {li["uid"]: li for li in sold["line_items"]}
        now = rfc3339(self.clock.now())
        return_id = new_id(self.rng, 29)
        returned = [
            {
                "uid": new_id(self.rng, 22),
                "source_line_item_uid": uid,
                "catalog_object_id": by_uid[uid]["catalog_object_id"],
                "quantity": quantity_text(quantity),
                "item_type": "ITEM",
            }
            for uid, quantity in lines
        ]
        order = {
            "id": return_id,
            "location_id": sold["location_id"],
            "returns": [
                {
                    "uid": new_id(self.rng, 22),
                    "source_order_id": order_id,
                    "return_line_items": returned,
                }
            ],
            "state": "COMPLETED",
            "version": 1,
            "created_at": now,
            "updated_at": now,
            "closed_at": now,
        }
        refund = {
            "id": new_id(self.rng, 29) + "_" + new_id(self.rng, 40),
            "status": "PENDING",
            "location_id": sold["location_id"],
            "order_id": return_id,
            "payment_id": new_id(self.rng, 29),
            "amount_money": {"amount": 0, "currency": "USD"},
            "created_at": now,
            "updated_at": now,
            "version": 1,
        }
        self.orders[return_id] = order
        self.refunds[refund["id"]] = refund
        for line in returned:
            self.adjust(
                line["catalog_object_id"],
                sold["location_id"],
                "NONE",
                IN_STOCK,
                Decimal(line["quantity"]),
            )
        return order, refund
