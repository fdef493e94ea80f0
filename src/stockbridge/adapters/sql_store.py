"""The store over SQL, shared by the SQLite and PostgreSQL adapters.

Both dialects accept the same statements here (row values, ON CONFLICT upserts, partial
indexes); the adapters differ in connecting, locking and placeholders. Statements are
written with `?` and translated once per dialect.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import date
from decimal import Decimal
from typing import Any

import orjson

from ..app.ports import (
    ApiKeyRecord,
    AuditEntry,
    ChannelState,
    DocumentStateRecord,
    ExceptionRecord,
    LedgerChanges,
    NewApiKey,
    NewDelivery,
    NewDocumentState,
    NewException,
    NewOrderState,
    NewTicket,
    OrderRecord,
    OutboxMessage,
    ReservationRecord,
    ReservationRequest,
    SettlementRecord,
    SnapshotRow,
    StoredEvent,
    TicketRecord,
)
from ..domain.correlation import event_correlation_id, event_of_correlation_id
from ..domain.ledger import Entry, PositionKey
from ..domain.mapping import MasterData
from ..domain.model import (
    Event,
    EventKey,
    EventType,
    Item,
    Location,
    LocationKind,
    Position,
    Reservation,
    ReservationState,
    Xref,
    XrefKind,
    from_micros,
    to_micros,
)
from ..domain.pricing import PriceEntry, Promotion, Scope
from .connector_store import ConnectorStoreMixin
from .delivery_store import DeliveryStoreMixin, enqueue_deliveries
from .observability_store import ObservabilityStoreMixin, count_events
from .quantities import qty, qty_or_none, units, units_or_none
from .reconciliation_store import ReconciliationStoreMixin
from .triage_store import EXCEPTION_COLUMNS, TriageStoreMixin, exception_record

_CHUNK = 400  # keys per IN (VALUES ...) list: well under either database's parameter limit


#: Document kind -> (table, key column) of returns and transfer orders.
DOCUMENT_TABLES = {"return": ("returns", "return_id"), "transfer": ("transfers", "transfer_id")}


def to_json(value: Any) -> str:
    """JSON text of a payload as received; the standard library takes integers orjson can't."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return json.dumps(value, default=str)


def _chunks(seq: Sequence[Any], size: int = _CHUNK) -> Iterator[Sequence[Any]]:
    for i in range(0, len(seq), size):
        yield seq[i : i + size]


LIVENESS_UPSERT = (
    "INSERT INTO location_liveness (location, last_seen_us, last_source) VALUES (?,?,?) "
    "ON CONFLICT (location) DO UPDATE SET last_seen_us = excluded.last_seen_us, "
    "last_source = excluded.last_source "
    "WHERE excluded.last_seen_us > location_liveness.last_seen_us"
)
_EVENT_COLUMNS = (
    "seq, source, event_id, type, sku, location, counterparty_location, quantity, on_hand_delta,"
    " occurred_us, recorded_us, reservation_id, expires_us, condition, reference, reason,"
    " correlation_id, raw"
)
_FOLD_COLUMNS = (
    "source, event_id, type, sku, location, counterparty_location, quantity, occurred_us,"
    " reservation_id, expires_us, condition"
)
_POSITION_COLUMNS = (
    "sku, location, on_hand, non_sellable, reserved, in_transit, count_us, count_source,"
    " count_event_id"
)
_POSITION_COLUMNS_P = ", ".join("p." + c.strip() for c in _POSITION_COLUMNS.split(","))
_RESERVATION_COLUMNS = (
    "reservation_id, state, sku, location, quantity, expires_us, reserve_us, reserve_source,"
    " reserve_event_id, holding"
)
_REQUEST_COLUMNS = "reservation_id, request_hash, channel, request"


_PRICE_COLUMNS = "book, sku, scope, start_us, end_us, amount, currency"
_PROMOTION_COLUMNS = "id, scope, start_us, end_us, price, currency, percent_off, description"


def _price_entry(row: Sequence[Any]) -> PriceEntry:
    book, sku, scope, start_us, end_us, amount, currency = row
    return PriceEntry(
        book,
        sku,
        qty(amount),
        currency,
        Scope.parse(scope),
        from_micros(start_us),
        from_micros(end_us) if end_us is not None else None,
    )


def _price_row(e: PriceEntry, now_us: int) -> tuple[Any, ...]:
    return (
        e.book,
        e.sku,
        e.scope.key,
        to_micros(e.start),
        to_micros(e.end) if e.end is not None else None,
        units(e.amount),
        e.currency,
        now_us,
    )


def _promotion(row: Sequence[Any], skus: Iterable[str]) -> Promotion:
    pid, scope, start_us, end_us, price, currency, percent_off, description = row
    return Promotion(
        id=pid,
        skus=frozenset(skus),
        scope=Scope.parse(scope),
        start=from_micros(start_us),
        end=from_micros(end_us) if end_us is not None else None,
        price=qty(price) if price is not None else None,
        currency=currency,
        percent_off=qty(percent_off) if percent_off is not None else None,
        description=description,
    )


def _promotion_row(p: Promotion, now_us: int) -> tuple[Any, ...]:
    return (
        p.id,
        p.scope.key,
        to_micros(p.start),
        to_micros(p.end) if p.end is not None else None,
        units(p.price) if p.price is not None else None,
        p.currency,
        units(p.percent_off) if p.percent_off is not None else None,
        p.description,
        now_us,
    )


def _position(row: Sequence[Any]) -> Position:
    sku, location, on_hand, non_sellable, reserved, in_transit, c_us, c_src, c_id = row
    return Position(
        sku,
        location,
        qty(on_hand),
        qty(non_sellable),
        qty(reserved),
        qty(in_transit),
        (c_us, c_src, c_id) if c_us is not None else None,
    )


def _reservation(row: Sequence[Any]) -> Reservation:
    rid, state, sku, location, quantity, expires_us, r_us, r_src, r_id, holding = row
    return Reservation(
        rid,
        ReservationState(state),
        sku,
        location,
        qty(quantity),
        expires_us,
        (r_us, r_src, r_id) if r_us is not None else None,
        bool(holding),
    )


def _request(row: Sequence[Any]) -> ReservationRequest:
    return ReservationRequest(row[0], row[1], row[2], orjson.loads(row[3]))


def _stored_event(row: Sequence[Any]) -> StoredEvent:
    return StoredEvent(
        seq=row[0],
        source=row[1],
        event_id=row[2],
        type=row[3],
        sku=row[4],
        location=row[5],
        counterparty_location=row[6],
        quantity=qty(row[7]),
        on_hand_delta=qty(row[8]),
        occurred_us=row[9],
        recorded_us=row[10],
        reservation_id=row[11],
        expires_us=row[12],
        condition=row[13],
        reference=row[14],
        reason=row[15],
        # Stored only when the source sent one; otherwise derived from the key.
        correlation_id=row[16] or event_correlation_id(row[1], row[2]),
        raw=orjson.loads(row[17]),
    )


_API_KEY_COLUMNS = (
    "id, name, prefix, scopes, created_us, revoked_us, bindings, rate_per_second, rate_burst"
)


def _api_key(row: Sequence[Any]) -> ApiKeyRecord:
    return ApiKeyRecord(
        row[0],
        row[1],
        row[2],
        tuple(row[3].split()),
        row[4],
        row[5],
        orjson.loads(row[6]),
        row[7],
        row[8],
    )


def _audit(row: Sequence[Any]) -> AuditEntry:
    return AuditEntry(row[1], row[2], row[3], row[4], row[5], row[6], orjson.loads(row[7]), row[0])


class SqlIngestTransaction:
    """The ingest transaction's reads and writes over one open cursor."""

    def __init__(self, store: SqlStore, cursor: Any) -> None:
        self._store = store
        self._cur = cursor
        self._sql = store.sql
        self._locked: set[PositionKey] = set()

    def _rows(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        self._cur.execute(self._sql(statement), params)
        return list(self._cur.fetchall())

    def _pairs(
        self, select: str, join_on: str, pairs: Sequence[tuple[str, str]], tail: str = ""
    ) -> list[Any]:
        """Rows of a table matched against a list of key pairs, in one statement.

        `join_on` uses `{a}` and `{b}` for the two key parts. Row-value IN lists make
        SQLite scan the table; joining a parameter list probes the index instead.
        """
        if not pairs:
            return []
        source, a, b, params = self._store.pair_list(pairs)
        return self._rows(f"{select} FROM {source} JOIN {join_on.format(a=a, b=b)}{tail}", params)

    def find_events(self, keys: Sequence[EventKey]) -> dict[EventKey, str]:
        rows = self._pairs(
            "SELECT e.source, e.event_id, e.payload_hash",
            "events e ON e.source = {a} AND e.event_id = {b}",
            [(k.source, k.event_id) for k in keys],
        )
        return {EventKey(source, event_id): payload_hash for source, event_id, payload_hash in rows}

    def lock_positions(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Position]:
        # Sorted: a deterministic lock order keeps concurrent writers free of deadlocks.
        ordered = sorted(set(keys))
        self._locked.update(ordered)
        self._store.prepare_position_locks(self._cur, ordered)
        rows = self._pairs(
            f"SELECT {_POSITION_COLUMNS_P}",
            "positions p ON p.sku = {a} AND p.location = {b}",
            ordered,
            f" ORDER BY p.sku, p.location{self._store.lock_clause.format(table='p')}",
        )
        found: dict[PositionKey, Position] = {}
        for row in rows:
            pos = _position(row)
            found[(pos.sku, pos.location)] = pos
        return found

    def load_reservations(self, ids: Iterable[str]) -> dict[str, Reservation]:
        found: dict[str, Reservation] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = self._rows(
                f"SELECT {_RESERVATION_COLUMNS} FROM reservations "
                f"WHERE reservation_id IN ({','.join('?' * len(chunk))}) "
                f"ORDER BY reservation_id{self._store.lock_clause.format(table='reservations')}",
                list(chunk),
            )
            for row in rows:
                res = _reservation(row)
                found[res.reservation_id] = res
        return found

    def due_reservations(self, now_us: int, limit: int) -> list[Reservation]:
        rows = self._rows(
            f"SELECT {_RESERVATION_COLUMNS} FROM reservations "
            "WHERE holding = 1 AND expires_us <= ? ORDER BY expires_us LIMIT ?",
            (now_us, limit),
        )
        return [_reservation(r) for r in rows]

    def on_hand_deltas_after(self, sku: str, location: str, after_us: int) -> Decimal:
        rows = self._rows(
            "SELECT COALESCE(SUM(on_hand_delta), 0) FROM events "
            "WHERE sku = ? AND location = ? AND occurred_us > ?",
            (sku, location, after_us),
        )
        return qty(rows[0][0])

    def append(self, entries: Sequence[Entry], raws: Sequence[bytes], recorded_us: int) -> None:
        rows = []
        for entry, raw in zip(entries, raws, strict=True):
            e = entry.event
            rows.append(
                (
                    e.key.source,
                    e.key.event_id,
                    e.payload_hash,
                    e.type.value,
                    e.sku,
                    e.location,
                    e.counterparty_location,
                    units(e.quantity),
                    units(entry.on_hand_delta),
                    e.occurred_us,
                    recorded_us,
                    e.reservation_id,
                    e.expires_us,
                    e.condition,
                    e.reference,
                    e.reason,
                    e.correlation_id,
                    raw.decode(),
                )
            )
        if rows:
            self._cur.executemany(
                self._sql(
                    "INSERT INTO events (source, event_id, payload_hash, type, sku, location,"
                    " counterparty_location, quantity, on_hand_delta, occurred_us, recorded_us,"
                    " reservation_id, expires_us, condition, reference, reason, correlation_id,"
                    " raw) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
                ),
                rows,
            )

    def save_positions(self, positions: Iterable[Position], now_us: int) -> None:
        rows = []
        saved: set[PositionKey] = set()
        for p in positions:
            saved.add((p.sku, p.location))
            anchor = p.count_order or (None, None, None)
            rows.append(
                (
                    p.sku,
                    p.location,
                    units(p.on_hand),
                    units(p.non_sellable),
                    units(p.reserved),
                    units(p.in_transit),
                    *anchor,
                    now_us,
                )
            )
        if rows:
            self._cur.executemany(
                self._sql(
                    f"INSERT INTO positions ({_POSITION_COLUMNS}, updated_us) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?) ON CONFLICT (sku, location) DO UPDATE SET "
                    "on_hand = excluded.on_hand, non_sellable = excluded.non_sellable, "
                    "reserved = excluded.reserved, in_transit = excluded.in_transit, "
                    "count_us = excluded.count_us, count_source = excluded.count_source, "
                    "count_event_id = excluded.count_event_id, updated_us = excluded.updated_us"
                ),
                rows,
            )
        self._store.discard_unused_locks(self._cur, self._locked - saved)

    def save_reservations(self, reservations: Iterable[Reservation], now_us: int) -> None:
        rows = []
        for r in reservations:
            anchor = r.reserve_order or (None, None, None)
            rows.append(
                (
                    r.reservation_id,
                    r.state.value,
                    r.sku,
                    r.location,
                    units(r.quantity),
                    r.expires_us,
                    *anchor,
                    int(r.holding),
                    now_us,
                )
            )
        if rows:
            self._cur.executemany(
                self._sql(
                    f"INSERT INTO reservations ({_RESERVATION_COLUMNS}, updated_us) "
                    "VALUES (?,?,?,?,?,?,?,?,?,?,?) ON CONFLICT (reservation_id) DO UPDATE SET "
                    "state = excluded.state, sku = excluded.sku, location = excluded.location, "
                    "quantity = excluded.quantity, expires_us = excluded.expires_us, "
                    "reserve_us = excluded.reserve_us, reserve_source = excluded.reserve_source, "
                    "reserve_event_id = excluded.reserve_event_id, holding = excluded.holding, "
                    "updated_us = excluded.updated_us"
                ),
                rows,
            )

    def park(self, exceptions: Sequence[NewException], now_us: int) -> None:
        rows = [
            (
                x.source,
                x.event_id,
                x.payload_hash,
                x.reason.value,
                x.field,
                x.detail,
                to_json(x.payload),
                now_us,
                now_us,
            )
            for x in exceptions
        ]
        if rows:
            # The same event parked again for the same reason counts as one more occurrence.
            self._cur.executemany(
                self._sql(
                    "INSERT INTO exceptions (source, event_id, payload_hash, reason, field, "
                    "detail, payload, status, occurrences, created_us, updated_us) "
                    "VALUES (?,?,?,?,?,?,?,'open',1,?,?) "
                    "ON CONFLICT (source, event_id, payload_hash, reason) WHERE status = 'open' "
                    "DO UPDATE SET occurrences = exceptions.occurrences + 1, "
                    "detail = excluded.detail, updated_us = excluded.updated_us"
                ),
                rows,
            )

    def count_events(self, counts: Mapping[tuple[str, str, str], int]) -> None:
        count_events(self._cur, self._sql, counts)

    def resolve_exceptions(self, keys: Sequence[EventKey], now_us: int) -> None:
        if not keys or not self._rows(
            "SELECT 1 FROM exceptions WHERE status = 'open' AND event_id IS NOT NULL LIMIT 1"
        ):
            return
        self._cur.executemany(
            self._sql(
                "UPDATE exceptions SET status = 'resolved', note = 'accepted', updated_us = ?, "
                "resolved_us = ?, resolution = 'accepted' "
                "WHERE status = 'open' AND source = ? AND event_id = ? "
                "AND reason <> 'conflicting_duplicate'"
            ),
            [(now_us, now_us, k.source, k.event_id) for k in keys],
        )

    def touch_locations(self, seen: Mapping[str, str], now_us: int) -> None:
        if seen:
            self._cur.executemany(
                self._sql(LIVENESS_UPSERT),
                [(loc, now_us, source) for loc, source in sorted(seen.items())],
            )

    # --- delivery planning inside the ingest transaction ---------------------------------
    def channel_values(
        self, pairs: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], ChannelState]:
        # Locked (PostgreSQL) after the positions, in sorted order: two writers moving
        # different locations of one SKU move its channel sums one after the other.
        rows = self._pairs(
            "SELECT v.channel, v.sku, v.value, v.total, v.basis",
            "channel_values v ON v.channel = {a} AND v.sku = {b}",
            sorted(set(pairs)),
            f" ORDER BY v.channel, v.sku{self._store.lock_clause.format(table='v')}",
        )
        return {
            (r[0], r[1]): ChannelState(qty(r[2]), None if r[3] is None else qty(r[3]), r[4])
            for r in rows
        }

    def save_channel_values(
        self, values: Mapping[tuple[str, str], ChannelState], now_us: int
    ) -> None:
        if values:
            self._cur.executemany(
                self._sql(
                    "INSERT INTO channel_values (channel, sku, value, total, basis, updated_us) "
                    "VALUES (?,?,?,?,?,?) ON CONFLICT (channel, sku) DO UPDATE SET "
                    "value = excluded.value, total = excluded.total, basis = excluded.basis, "
                    "updated_us = excluded.updated_us"
                ),
                [
                    (
                        c,
                        s,
                        units(v.value),
                        None if v.total is None else units(v.total),
                        v.basis,
                        now_us,
                    )
                    for (c, s), v in sorted(values.items())
                ],
            )

    def read_positions(self, keys: Iterable[PositionKey]) -> dict[PositionKey, Position]:
        rows = self._pairs(
            f"SELECT {_POSITION_COLUMNS_P}",
            "positions p ON p.sku = {a} AND p.location = {b}",
            sorted(set(keys)),
        )
        found = (_position(row) for row in rows)
        return {(p.sku, p.location): p for p in found}

    def enqueue_deliveries(self, rows: Sequence[NewDelivery], now_us: int) -> None:
        enqueue_deliveries(self._cur, self._sql, rows, now_us)

    def liveness(self) -> dict[str, int]:
        return {
            r[0]: r[1] for r in self._rows("SELECT location, last_seen_us FROM location_liveness")
        }

    def location_status(self) -> dict[str, bool]:
        return {r[0]: bool(r[1]) for r in self._rows("SELECT location, stale FROM location_status")}

    def set_location_status(self, changes: Mapping[str, bool], now_us: int) -> None:
        self._cur.executemany(
            self._sql(
                "INSERT INTO location_status (location, stale, updated_us) VALUES (?,?,?) "
                "ON CONFLICT (location) DO UPDATE SET stale = excluded.stale, "
                "updated_us = excluded.updated_us"
            ),
            [(loc, int(stale), now_us) for loc, stale in sorted(changes.items())],
        )

    def skus_at(self, location: str) -> list[str]:
        return [
            r[0]
            for r in self._rows(
                "SELECT sku FROM positions WHERE location = ? ORDER BY sku", (location,)
            )
        ]

    def reservation_requests(self, ids: Iterable[str]) -> dict[str, ReservationRequest]:
        found: dict[str, ReservationRequest] = {}
        for chunk in _chunks(sorted(set(ids))):
            rows = self._rows(
                f"SELECT {_REQUEST_COLUMNS} FROM reservation_requests "
                f"WHERE reservation_id IN ({','.join('?' * len(chunk))})",
                list(chunk),
            )
            for row in rows:
                found[row[0]] = _request(row)
        return found

    def save_reservation_requests(
        self, requests: Sequence[ReservationRequest], now_us: int
    ) -> None:
        if requests:
            self._cur.executemany(
                self._sql(
                    f"INSERT INTO reservation_requests ({_REQUEST_COLUMNS}, created_us) "
                    "VALUES (?,?,?,?,?)"
                ),
                [
                    (r.reservation_id, r.request_hash, r.channel, to_json(r.request), now_us)
                    for r in requests
                ],
            )

    # --- prices and promotions -------------------------------------------------------------
    def prices_for_skus(self, skus: Sequence[str]) -> list[PriceEntry]:
        found: list[PriceEntry] = []
        for chunk in _chunks(sorted(set(skus))):
            rows = self._rows(
                f"SELECT {_PRICE_COLUMNS} FROM prices WHERE sku IN ({','.join('?' * len(chunk))})"
                " ORDER BY sku, book, scope, start_us"
                f"{self._store.lock_clause.format(table='prices')}",
                list(chunk),
            )
            found.extend(_price_entry(r) for r in rows)
        return found

    def save_prices(self, entries: Sequence[PriceEntry], now_us: int) -> None:
        if entries:
            self._cur.executemany(
                self._sql(
                    f"INSERT INTO prices ({_PRICE_COLUMNS}, updated_us) VALUES (?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (book, sku, scope, start_us) DO UPDATE SET "
                    "end_us = excluded.end_us, amount = excluded.amount, "
                    "currency = excluded.currency, updated_us = excluded.updated_us"
                ),
                [_price_row(e, now_us) for e in entries],
            )

    def promotions_by_id(self, ids: Sequence[str]) -> dict[str, Promotion]:
        found: dict[str, Promotion] = {}
        for chunk in _chunks(sorted(set(ids))):
            marks = ",".join("?" * len(chunk))
            skus: dict[str, list[str]] = {}
            for pid, sku in self._rows(
                f"SELECT promotion_id, sku FROM promotion_skus WHERE promotion_id IN ({marks})",
                list(chunk),
            ):
                skus.setdefault(pid, []).append(sku)
            for row in self._rows(
                f"SELECT {_PROMOTION_COLUMNS} FROM promotions WHERE id IN ({marks}) ORDER BY id"
                f"{self._store.lock_clause.format(table='promotions')}",
                list(chunk),
            ):
                found[row[0]] = _promotion(row, skus.get(row[0], ()))
        return found

    def save_promotions(self, promotions: Sequence[Promotion], now_us: int) -> None:
        if not promotions:
            return
        self._cur.executemany(
            self._sql(
                f"INSERT INTO promotions ({_PROMOTION_COLUMNS}, updated_us) "
                "VALUES (?,?,?,?,?,?,?,?,?) ON CONFLICT (id) DO UPDATE SET "
                "scope = excluded.scope, start_us = excluded.start_us, end_us = excluded.end_us, "
                "price = excluded.price, currency = excluded.currency, "
                "percent_off = excluded.percent_off, description = excluded.description, "
                "updated_us = excluded.updated_us"
            ),
            [_promotion_row(p, now_us) for p in promotions],
        )
        self._cur.executemany(
            self._sql("DELETE FROM promotion_skus WHERE promotion_id = ?"),
            [(p.id,) for p in promotions],
        )
        self._cur.executemany(
            self._sql("INSERT INTO promotion_skus (sku, promotion_id) VALUES (?,?)"),
            [(sku, p.id) for p in promotions for sku in sorted(p.skus)],
        )

    # --- documents: tickets, orders, daily settlements -----------------------------------
    def find_tickets(self, keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
        rows = self._pairs(
            "SELECT t.source, t.ticket_number, t.payload_hash",
            "tickets t ON t.source = {a} AND t.ticket_number = {b}",
            keys,
        )
        return {(r[0], r[1]): r[2] for r in rows}

    def load_orders(
        self, keys: Sequence[tuple[str, str]]
    ) -> dict[tuple[str, str], tuple[str, dict[str, Any]]]:
        rows = self._pairs(
            "SELECT o.channel, o.order_id, o.payload_hash, o.state",
            "orders o ON o.channel = {a} AND o.order_id = {b}",
            keys,
            f" ORDER BY o.channel, o.order_id{self._store.lock_clause.format(table='o')}",
        )
        return {(r[0], r[1]): (r[2], orjson.loads(r[3])) for r in rows}

    def load_document_states(
        self, kind: str, ids: Sequence[str]
    ) -> dict[str, tuple[str, dict[str, Any]]]:
        table, key = DOCUMENT_TABLES[kind]
        out: dict[str, tuple[str, dict[str, Any]]] = {}
        for chunk in _chunks(sorted(set(ids))):
            marks = ",".join("?" * len(chunk))
            rows = self._rows(
                f"SELECT {key}, payload_hash, state FROM {table} WHERE {key} IN ({marks}) "
                f"ORDER BY {key}{self._store.lock_clause.format(table=table)}",
                list(chunk),
            )
            out.update((r[0], (r[1], orjson.loads(r[2]))) for r in rows)
        return out

    def save_document_states(self, states: Sequence[NewDocumentState], now_us: int) -> None:
        for kind, (table, key) in DOCUMENT_TABLES.items():
            # Later steps (grading, shipments, receipts, close) change the state only.
            rows = [
                ((s.document_id,), s.payload_hash, s.status, s.state, s.received)
                for s in states
                if s.kind == kind
            ]
            self._upsert_states(table, (key,), rows, now_us)

    def _upsert_states(
        self,
        table: str,
        keys: Sequence[str],
        rows: Sequence[tuple[tuple[str, ...], str, str, dict[str, Any], Any]],
        now_us: int,
    ) -> None:
        """Insert stateful documents (key values, hash, status, state, received) by key.

        A document already stored keeps its hash, received body and creation time: only its
        status, state and update time change.
        """
        if not rows:
            return
        columns = ", ".join(keys)
        marks = ",".join("?" * (len(keys) + 6))
        self._cur.executemany(
            self._sql(
                f"INSERT INTO {table} ({columns}, payload_hash, status, state, received, "
                f"created_us, updated_us) VALUES ({marks}) "
                f"ON CONFLICT ({columns}) DO UPDATE SET status = excluded.status, "
                "state = excluded.state, updated_us = excluded.updated_us"
            ),
            [
                (
                    *key,
                    payload_hash,
                    status,
                    orjson.dumps(state).decode(),
                    to_json(received),
                    now_us,
                    now_us,
                )
                for key, payload_hash, status, state, received in rows
            ],
        )

    def save_tickets(self, tickets: Sequence[NewTicket], now_us: int) -> None:
        if tickets:
            self._cur.executemany(
                self._sql(
                    "INSERT INTO tickets (source, ticket_number, payload_hash, status, location, "
                    "business_date, posting, settlement_seq, totals, document, received, "
                    "created_us, updated_us) VALUES (?,?,?,'accepted',?,?,?,NULL,?,?,?,?,?)"
                ),
                [
                    (
                        t.source,
                        t.ticket_number,
                        t.payload_hash,
                        t.location,
                        t.business_date.isoformat(),
                        t.posting,
                        orjson.dumps(t.totals).decode(),
                        orjson.dumps(t.document).decode(),
                        to_json(t.received),
                        now_us,
                        now_us,
                    )
                    for t in tickets
                ],
            )

    def save_orders(self, orders: Sequence[NewOrderState], now_us: int) -> None:
        # An order's later steps (shipments, cancellations) change its state only.
        rows = [
            ((o.channel, o.order_id), o.payload_hash, o.status, o.state, o.received) for o in orders
        ]
        self._upsert_states("orders", ("channel", "order_id"), rows, now_us)

    def unsettled_days(self) -> list[tuple[str, date]]:
        rows = self._rows(
            "SELECT DISTINCT location, business_date FROM tickets "
            "WHERE posting = 'settlement' AND settlement_seq IS NULL "
            "ORDER BY business_date, location"
        )
        return [(r[0], date.fromisoformat(r[1])) for r in rows]

    def tickets_to_settle(
        self, store: str, business_date: date
    ) -> list[tuple[str, str, dict[str, Any]]]:
        rows = self._rows(
            "SELECT source, ticket_number, totals FROM tickets WHERE location = ? "
            "AND business_date = ? AND posting = 'settlement' AND settlement_seq IS NULL "
            f"ORDER BY source, ticket_number{self._store.lock_clause.format(table='tickets')}",
            (store, business_date.isoformat()),
        )
        return [(r[0], r[1], orjson.loads(r[2])) for r in rows]

    def next_settlement_seq(self, store: str, business_date: date) -> int:
        rows = self._rows(
            "SELECT COALESCE(MAX(seq), 0) FROM settlements WHERE store = ? AND business_date = ?",
            (store, business_date.isoformat()),
        )
        return int(rows[0][0]) + 1

    def save_settlement(
        self,
        store: str,
        business_date: date,
        seq: int,
        tickets: Sequence[tuple[str, str]],
        document: dict[str, Any],
        now_us: int,
    ) -> None:
        day = business_date.isoformat()
        self._cur.execute(
            self._sql(
                "INSERT INTO settlements (store, business_date, seq, state, ticket_count, "
                "document, created_us) VALUES (?,?,?,'queued',?,?,?)"
            ),
            (store, day, seq, len(tickets), orjson.dumps(document).decode(), now_us),
        )
        self._cur.executemany(
            self._sql(
                "UPDATE tickets SET settlement_seq = ?, updated_us = ? "
                "WHERE source = ? AND ticket_number = ?"
            ),
            [(seq, now_us, source, number) for source, number in tickets],
        )

    def enqueue(self, messages: Sequence[OutboxMessage], now_us: int) -> None:
        if messages:
            # Readers tail these rows by id (the change feed), so ids must become visible
            # in the order they were handed out.
            self._store.serialise_change_feed(self._cur)
            self._cur.executemany(
                self._sql(
                    "INSERT INTO outbox (kind, key, payload, state, created_us, available_us) "
                    "VALUES (?,?,?,'pending',?,?)"
                ),
                [
                    (m.kind, m.key, orjson.dumps(m.payload).decode(), now_us, now_us)
                    for m in messages
                ],
            )

    def prune_change_feed(self, before_us: int) -> int:
        """Drop change-feed rows created before `before_us`; returns how many went.

        The newest row always stays: SQLite hands out max(id) + 1, and an emptied table
        would give readers ids they have already passed.
        """
        rows = self._rows(
            "SELECT MAX(id), COUNT(*) FROM outbox WHERE created_us < ? "
            "AND id < (SELECT MAX(id) FROM outbox)",
            (before_us,),
        )
        through, count = rows[0]
        if not count:
            return 0
        self._cur.execute(self._sql("DELETE FROM outbox WHERE id <= ?"), (through,))
        self._cur.execute(
            self._sql(
                "UPDATE meta SET value = ? WHERE name = 'outbox_pruned_through' AND value < ?"
            ),
            (through, through),
        )
        return int(count)


class SqlStore(
    DeliveryStoreMixin,
    TriageStoreMixin,
    ObservabilityStoreMixin,
    ConnectorStoreMixin,
    ReconciliationStoreMixin,
):
    """Shared SQL store. Subclasses connect and say how their dialect locks and binds.

    One write connection, serialised by a lock (SQLite has one writer anyway; on
    PostgreSQL row locks order writers of other processes). Reads use a connection per
    thread so they never wait behind a write transaction.
    """

    dialect = "sql"
    lock_clause = ""

    def serialise_change_feed(self, cursor: Any) -> None:
        """Make change-feed ids visible in id order (one writer at a time: nothing to do)."""

    def __init__(self) -> None:
        self._write_lock = threading.Lock()
        self._local = threading.local()
        self._all_readers: list[Any] = []
        self._write_conn: Any = None
        self._sql_cache: dict[str, str] = {}
        self._lease_checks: dict[str, int] = {}  # target -> when its leases were looked at

    # --- dialect hooks -------------------------------------------------------------
    def connect(self) -> Any:
        raise NotImplementedError

    def translate(self, statement: str) -> str:
        return statement

    def begin(self, conn: Any) -> Any:
        """Start a write transaction; returns a cursor."""
        raise NotImplementedError

    def commit(self, conn: Any) -> None:
        conn.commit()

    def rollback(self, conn: Any) -> None:
        conn.rollback()

    def prepare_position_locks(self, cursor: Any, keys: Sequence[PositionKey]) -> None:
        """Make sure rows exist for every key so they can be locked (PostgreSQL)."""

    def discard_unused_locks(self, cursor: Any, keys: set[PositionKey]) -> None:
        """Remove rows `prepare_position_locks` created that nothing ended up using."""

    def pair_list(self, pairs: Sequence[tuple[str, str]]) -> tuple[str, str, str, list[Any]]:
        """A row source for a parameter list of pairs: (FROM item, expr a, expr b, params)."""
        raise NotImplementedError

    def migrate(self) -> None:
        raise NotImplementedError

    # --- plumbing --------------------------------------------------------------------
    def sql(self, statement: str) -> str:
        translated = self._sql_cache.get(statement)
        if translated is None:
            translated = self._sql_cache[statement] = self.translate(statement)
        return translated

    def _writer(self) -> Any:
        if self._write_conn is None:
            self._write_conn = self.connect()
        return self._write_conn

    def _reader(self) -> Any:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self.connect()
            self._all_readers.append(conn)
        return conn

    def read(self, statement: str, params: Sequence[Any] = ()) -> list[Any]:
        conn = self._reader()
        cur = conn.cursor()
        try:
            cur.execute(self.sql(statement), params)
            rows = list(cur.fetchall())
        finally:
            cur.close()
            self.end_read(conn)
        return rows

    def end_read(self, conn: Any) -> None:
        """Close the read snapshot so a long-lived reader does not pin old versions."""

    @contextmanager
    def _write(self) -> Iterator[Any]:
        with self._write_lock:
            conn = self._writer()
            cur = self.begin(conn)
            try:
                yield cur
                self.commit(conn)
            except BaseException:
                self.rollback(conn)
                raise
            finally:
                cur.close()

    def write(self, statement: str, params: Sequence[Any] = ()) -> None:
        with self._write() as cur:
            cur.execute(self.sql(statement), params)

    def write_config(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        """Write master data or routing configuration and bump the version that tells every
        process's caches (master data, channels, targets) to reload."""
        if rows:
            with self._write() as cur:
                cur.executemany(self.sql(statement), rows)
                cur.execute(
                    self.sql("UPDATE meta SET value = value + 1 WHERE name = ?"),
                    ("master_version",),
                )

    @contextmanager
    def transaction(self) -> Iterator[SqlIngestTransaction]:
        with self._write() as cur:
            yield SqlIngestTransaction(self, cur)

    def close(self) -> None:
        with self._write_lock:
            if self._write_conn is not None:
                self._write_conn.close()
                self._write_conn = None
        for conn in self._all_readers:
            with suppress(Exception):
                conn.close()
        self._all_readers.clear()
        self._local = threading.local()

    # --- reads -----------------------------------------------------------------------
    def position(self, sku: str, location: str) -> Position | None:
        rows = self.read(
            f"SELECT {_POSITION_COLUMNS} FROM positions WHERE sku = ? AND location = ?",
            (sku, location),
        )
        return _position(rows[0]) if rows else None

    def positions_for_sku(self, sku: str) -> list[Position]:
        rows = self.read(
            f"SELECT {_POSITION_COLUMNS} FROM positions WHERE sku = ? ORDER BY location", (sku,)
        )
        return [_position(r) for r in rows]

    def event(self, source: str, event_id: str) -> StoredEvent | None:
        rows = self.read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE source = ? AND event_id = ?",
            (source, event_id),
        )
        return _stored_event(rows[0]) if rows else None

    def events_by_correlation(self, correlation_id: str, limit: int) -> list[StoredEvent]:
        """Events carrying this correlation id: sent with it (the partial index of 0013),
        or, for an id derived from an event's key, that event if it was sent without one."""
        rows = self.read(
            f"SELECT {_EVENT_COLUMNS} FROM events WHERE correlation_id = ? ORDER BY seq LIMIT ?",
            (correlation_id, limit),
        )
        key = event_of_correlation_id(correlation_id)
        if key is not None:
            rows += self.read(
                f"SELECT {_EVENT_COLUMNS} FROM events WHERE source = ? AND event_id = ? "
                "AND correlation_id IS NULL",
                key,
            )
            rows.sort(key=lambda r: r[0])
        return [_stored_event(r) for r in rows[:limit]]

    def history(self, sku: str, location: str, limit: int) -> list[StoredEvent]:
        rows = self.read(
            f"SELECT {_EVENT_COLUMNS} FROM ("
            f" SELECT {_EVENT_COLUMNS} FROM events WHERE sku = ? AND location = ?"
            " UNION ALL"
            f" SELECT {_EVENT_COLUMNS} FROM events WHERE sku = ? AND counterparty_location = ?"
            "  AND type = 'transfer_out'"
            ") AS h ORDER BY occurred_us DESC, source DESC, event_id DESC LIMIT ?",
            (sku, location, sku, location, limit),
        )
        return [_stored_event(r) for r in rows]

    def events_as_of(self, sku: str, location: str, as_of_us: int) -> list[Event]:
        # Every event that can move (sku, location): its own, transfers shipped to it, and
        # the closing events of reservations made here recorded elsewhere. Only the
        # columns the fold reads: no payloads to parse.
        rows = self.read(
            f"SELECT {_FOLD_COLUMNS} FROM events WHERE sku = ? AND location = ? "
            "AND occurred_us <= ?"
            f" UNION ALL SELECT {_FOLD_COLUMNS} FROM events WHERE sku = ? "
            "AND counterparty_location = ? AND location <> counterparty_location "
            "AND type = 'transfer_out' AND occurred_us <= ?"
            f" UNION ALL SELECT {_FOLD_COLUMNS} FROM events WHERE occurred_us <= ? "
            "AND NOT (sku = ? AND location = ?) AND reservation_id IN (SELECT reservation_id "
            "FROM events WHERE sku = ? AND location = ? AND type = 'reserve' "
            "AND occurred_us <= ?)",
            (*(sku, location, as_of_us) * 2, as_of_us, *(sku, location) * 2, as_of_us),
        )
        return [
            Event(
                key=EventKey(r[0], r[1]),
                type=EventType(r[2]),
                sku=r[3],
                location=r[4],
                quantity=qty(r[6]),
                occurred_us=r[7],
                payload_hash="",
                reservation_id=r[8],
                expires_us=r[9],
                condition=r[10],
                counterparty_location=r[5],
            )
            for r in rows
        ]

    def reservation(self, reservation_id: str) -> ReservationRecord | None:
        rows = self.read(
            f"SELECT {_RESERVATION_COLUMNS} FROM reservations WHERE reservation_id = ?",
            (reservation_id,),
        )
        if not rows:
            return None
        asked = self.read(
            f"SELECT {_REQUEST_COLUMNS} FROM reservation_requests WHERE reservation_id = ?",
            (reservation_id,),
        )
        return ReservationRecord(_reservation(rows[0]), _request(asked[0]) if asked else None)

    def exceptions(
        self,
        *,
        status: str | None = None,
        reason: str | None = None,
        source: str | None = None,
        event_id: str | None = None,
        limit: int = 100,
        after_id: int = 0,
    ) -> list[ExceptionRecord]:
        where: list[str] = ["id > ?"]
        params: list[Any] = [after_id]
        for column, value in (
            ("status", status),
            ("reason", reason),
            ("source", source),
            ("event_id", event_id),
        ):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.read(
            f"SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE {' AND '.join(where)} "
            "ORDER BY id LIMIT ?",
            [*params, limit],
        )
        return [exception_record(r) for r in rows]

    def exception(self, exception_id: int) -> ExceptionRecord | None:
        rows = self.read(
            f"SELECT {EXCEPTION_COLUMNS} FROM exceptions WHERE id = ?", (exception_id,)
        )
        return exception_record(rows[0]) if rows else None

    def ledger_changes(self, after: int | None, limit: int) -> LedgerChanges:
        pruned = self.read("SELECT value FROM meta WHERE name = 'outbox_pruned_through'")
        pruned_through = int(pruned[0][0])
        if after is None:
            last = self.read("SELECT MAX(id) FROM outbox")[0][0]
            return LedgerChanges(int(last or 0), pruned_through, (), complete=True)
        rows = self.read(
            "SELECT id, payload FROM outbox WHERE id > ? AND kind = 'positions_changed' "
            "ORDER BY id LIMIT ?",
            (after, limit),
        )
        skus = {sku for _, payload in rows for sku, _ in orjson.loads(payload)["positions"]}
        last = int(rows[-1][0]) if rows else after
        return LedgerChanges(last, pruned_through, tuple(sorted(skus)), len(rows) < limit)

    def open_exceptions_by_reason(self) -> dict[str, int]:
        rows = self.read(
            "SELECT reason, COUNT(*) FROM exceptions WHERE status = 'open' GROUP BY reason"
        )
        return {r[0]: int(r[1]) for r in rows}

    def open_exceptions_summary(self) -> dict[str, tuple[int, int]]:
        rows = self.read(
            "SELECT reason, COUNT(*), MIN(created_us) FROM exceptions WHERE status = 'open' "
            "GROUP BY reason"
        )
        return {r[0]: (int(r[1]), int(r[2])) for r in rows}

    def outbox_depth(self) -> int:
        return int(self.read("SELECT COUNT(*) FROM outbox WHERE state = 'pending'")[0][0])

    # --- documents -------------------------------------------------------------------
    def ticket(self, source: str, ticket_number: str) -> TicketRecord | None:
        rows = self.read(
            "SELECT source, ticket_number, payload_hash, status, location, business_date, "
            "posting, settlement_seq, totals, document, received, created_us, updated_us "
            "FROM tickets WHERE source = ? AND ticket_number = ?",
            (source, ticket_number),
        )
        if not rows:
            return None
        r = rows[0]
        return TicketRecord(
            r[0],
            r[1],
            r[2],
            r[3],
            r[4],
            r[5],
            r[6],
            r[7],
            orjson.loads(r[8]),
            orjson.loads(r[9]),
            orjson.loads(r[10]),
            r[11],
            r[12],
        )

    def order(self, channel: str, order_id: str) -> OrderRecord | None:
        row = self._state_row("orders", ("channel", "order_id"), (channel, order_id))
        return OrderRecord(*row) if row is not None else None

    def document_state(self, kind: str, document_id: str) -> DocumentStateRecord | None:
        table, key = DOCUMENT_TABLES[kind]
        row = self._state_row(table, (key,), (document_id,))
        return DocumentStateRecord(kind, *row) if row is not None else None

    def _state_row(
        self, table: str, keys: Sequence[str], values: Sequence[str]
    ) -> list[Any] | None:
        """A stateful document's row: key values, hash, status, state, received, times."""
        columns = ", ".join(keys)
        rows = self.read(
            f"SELECT {columns}, payload_hash, status, state, received, created_us, updated_us "
            f"FROM {table} WHERE " + " AND ".join(f"{k} = ?" for k in keys),
            values,
        )
        if not rows:
            return None
        row = list(rows[0])
        state, received = len(keys) + 2, len(keys) + 3
        row[state], row[received] = orjson.loads(row[state]), orjson.loads(row[received])
        return row

    def settlements(
        self, store: str | None = None, business_date: str | None = None
    ) -> list[SettlementRecord]:
        where: list[str] = ["1 = 1"]
        params: list[Any] = []
        for column, value in (("store", store), ("business_date", business_date)):
            if value is not None:
                where.append(f"{column} = ?")
                params.append(value)
        rows = self.read(
            "SELECT store, business_date, seq, state, ticket_count, document, created_us "
            f"FROM settlements WHERE {' AND '.join(where)} ORDER BY business_date, store, seq",
            params,
        )
        return [
            SettlementRecord(r[0], r[1], r[2], r[3], r[4], orjson.loads(r[5]), r[6]) for r in rows
        ]

    # --- master data -----------------------------------------------------------------
    def master_version(self) -> int:
        return int(self.read("SELECT value FROM meta WHERE name = 'master_version'")[0][0])

    def master_data(self) -> MasterData:
        items = [
            Item(
                sku=r[0],
                gtin=r[1],
                base_uom=r[2],
                category=r[3],
                conversions={k: Decimal(v) for k, v in orjson.loads(r[4]).items()},
                safety_stock=qty(r[5]),
                description=r[6],
                unit_cost=qty_or_none(r[7]),
            )
            for r in self.read(
                "SELECT sku, gtin, base_uom, category, conversions, safety_stock, description, "
                "unit_cost FROM items"
            )
        ]
        locations = [
            Location(r[0], LocationKind(r[1]), r[2], r[3], r[4])
            for r in self.read(
                "SELECT code, kind, timezone, name, freshness_sla_seconds FROM locations"
            )
        ]
        xrefs = [
            Xref(r[0], XrefKind(r[1]), r[2], r[3])
            for r in self.read("SELECT source, kind, external_code, code FROM xrefs")
        ]
        return MasterData.of(items, locations, xrefs)

    def upsert_items(self, items: Sequence[Item], now_us: int) -> None:
        self.write_config(
            "INSERT INTO items (sku, gtin, base_uom, category, conversions, safety_stock, "
            "description, unit_cost, updated_us) VALUES (?,?,?,?,?,?,?,?,?) "
            "ON CONFLICT (sku) DO UPDATE SET "
            "gtin = excluded.gtin, base_uom = excluded.base_uom, category = excluded.category, "
            "conversions = excluded.conversions, safety_stock = excluded.safety_stock, "
            "description = excluded.description, unit_cost = excluded.unit_cost, "
            "updated_us = excluded.updated_us",
            [
                (
                    i.sku,
                    i.gtin,
                    i.base_uom,
                    i.category,
                    orjson.dumps({k: str(v) for k, v in i.conversions.items()}).decode(),
                    units(i.safety_stock),
                    i.description,
                    units_or_none(i.unit_cost),
                    now_us,
                )
                for i in items
            ],
        )

    def upsert_locations(self, locations: Sequence[Location], now_us: int) -> None:
        self.write_config(
            "INSERT INTO locations (code, kind, timezone, name, freshness_sla_seconds, updated_us) "
            "VALUES (?,?,?,?,?,?) ON CONFLICT (code) DO UPDATE SET kind = excluded.kind, "
            "timezone = excluded.timezone, name = excluded.name, "
            "freshness_sla_seconds = excluded.freshness_sla_seconds, "
            "updated_us = excluded.updated_us",
            [
                (
                    loc.code,
                    loc.kind.value,
                    loc.timezone,
                    loc.name,
                    loc.freshness_sla_seconds,
                    now_us,
                )
                for loc in locations
            ],
        )

    def safety_stock(self, sku: str) -> Decimal:
        rows = self.read("SELECT safety_stock FROM items WHERE sku = ?", (sku,))
        return qty(rows[0][0]) if rows else Decimal(0)

    # --- prices and promotions ------------------------------------------------------
    def prices_for_sku(self, sku: str) -> list[PriceEntry]:
        rows = self.read(
            f"SELECT {_PRICE_COLUMNS} FROM prices WHERE sku = ? ORDER BY book, scope, start_us",
            (sku,),
        )
        return [_price_entry(r) for r in rows]

    def promotions_for_sku(self, sku: str) -> list[Promotion]:
        rows = self.read(
            f"SELECT {', '.join('p.' + c for c in _PROMOTION_COLUMNS.split(', '))} "
            "FROM promotions p JOIN promotion_skus s ON s.promotion_id = p.id "
            "WHERE s.sku = ? ORDER BY p.id",
            (sku,),
        )
        if not rows:
            return []
        skus: dict[str, list[str]] = {}
        marks = ",".join("?" * len(rows))
        for pid, other in self.read(
            f"SELECT promotion_id, sku FROM promotion_skus WHERE promotion_id IN ({marks})",
            [r[0] for r in rows],
        ):
            skus.setdefault(pid, []).append(other)
        return [_promotion(r, skus.get(r[0], ())) for r in rows]

    # --- freshness and channels ----------------------------------------------------
    def record_heartbeats(self, seen: Mapping[str, str], now_us: int) -> None:
        with self._write() as cur:
            cur.executemany(
                self.sql(LIVENESS_UPSERT),
                [(loc, now_us, source) for loc, source in sorted(seen.items())],
            )

    def liveness(self) -> dict[str, tuple[int, str | None]]:
        rows = self.read("SELECT location, last_seen_us, last_source FROM location_liveness")
        return {r[0]: (r[1], r[2]) for r in rows}

    def channels(self) -> dict[str, dict[str, Any]]:
        rows = self.read("SELECT name, config FROM channels ORDER BY name")
        return {r[0]: orjson.loads(r[1]) for r in rows}

    # --- warehouse snapshots (EDI 846) ------------------------------------------------
    def save_warehouse_snapshot(self, rows: Sequence[SnapshotRow], now_us: int) -> int:
        if not rows:
            return 0
        # Counted per report (an index range), before and after, in the same transaction.
        reports = sorted({(r.source, r.reference) for r in rows})
        count = self.sql(
            "SELECT COUNT(*) FROM warehouse_snapshots WHERE source = ? AND reference = ?"
        )

        def stored(cur: Any) -> int:
            total = 0
            for report in reports:
                cur.execute(count, report)
                total += int(cur.fetchone()[0])
            return total

        with self._write() as cur:
            before = stored(cur)
            cur.executemany(
                self.sql(
                    "INSERT INTO warehouse_snapshots (source, reference, sku, location, "
                    "quantity, quantities, items, as_of_us, recorded_us) "
                    "VALUES (?,?,?,?,?,?,?,?,?) "
                    "ON CONFLICT (source, reference, sku, location) DO NOTHING"
                ),
                [
                    (
                        r.source,
                        r.reference,
                        r.sku,
                        r.location,
                        units(r.quantity),
                        orjson.dumps({k: str(v) for k, v in r.quantities.items()}).decode(),
                        orjson.dumps(dict(r.items)).decode(),
                        r.as_of_us,
                        now_us,
                    )
                    for r in rows
                ],
            )
            return stored(cur) - before

    def latest_warehouse_snapshot(self, source: str) -> list[SnapshotRow]:
        latest = self.read(
            "SELECT reference FROM warehouse_snapshots WHERE source = ? "
            "ORDER BY as_of_us DESC, recorded_us DESC, reference DESC LIMIT 1",
            (source,),
        )
        if not latest:
            return []
        rows = self.read(
            "SELECT source, reference, sku, location, quantity, quantities, items, as_of_us, "
            "recorded_us FROM warehouse_snapshots WHERE source = ? AND reference = ? "
            "ORDER BY sku, location",
            (source, latest[0][0]),
        )
        return [
            SnapshotRow(
                r[0],
                r[1],
                r[2],
                r[3],
                qty(r[4]),
                {k: Decimal(v) for k, v in orjson.loads(r[5]).items()},
                orjson.loads(r[6]),
                r[7],
                r[8],
            )
            for r in rows
        ]

    # --- API keys --------------------------------------------------------------------
    def add_api_key(self, key: NewApiKey, now_us: int) -> ApiKeyRecord:
        self.write(
            "INSERT INTO api_keys (name, key_hash, prefix, scopes, created_us, bindings, "
            "rate_per_second, rate_burst) VALUES (?,?,?,?,?,?,?,?)",
            (
                key.name,
                key.key_hash,
                key.prefix,
                " ".join(key.scopes),
                now_us,
                orjson.dumps(key.bindings).decode(),
                key.rate_per_second,
                key.rate_burst,
            ),
        )
        record = self.api_key_by_hash(key.key_hash)
        assert record is not None
        return record

    def api_key_by_hash(self, key_hash: str) -> ApiKeyRecord | None:
        rows = self.read(
            f"SELECT {_API_KEY_COLUMNS} FROM api_keys WHERE key_hash = ?",
            (key_hash,),
        )
        return _api_key(rows[0]) if rows else None

    def api_keys(self) -> list[ApiKeyRecord]:
        rows = self.read(f"SELECT {_API_KEY_COLUMNS} FROM api_keys ORDER BY id")
        return [_api_key(r) for r in rows]

    def revoke_api_key(self, key_id: int, now_us: int) -> bool:
        self.write(
            "UPDATE api_keys SET revoked_us = ? WHERE id = ? AND revoked_us IS NULL",
            (now_us, key_id),
        )
        rows = self.read("SELECT revoked_us FROM api_keys WHERE id = ?", (key_id,))
        return bool(rows) and rows[0][0] is not None

    # --- audit log -------------------------------------------------------------------
    def add_audit(self, entry: AuditEntry) -> None:
        self.write(
            "INSERT INTO audit_log (at_us, actor, action, subject_kind, subject_key, outcome, "
            "detail) VALUES (?,?,?,?,?,?,?)",
            (
                entry.at_us,
                entry.actor,
                entry.action,
                entry.subject_kind,
                entry.subject_key,
                entry.outcome,
                orjson.dumps(entry.detail).decode(),
            ),
        )

    def audit_entries(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since_us: int | None = None,
        until_us: int | None = None,
        after_id: int = 0,
        limit: int = 100,
    ) -> list[AuditEntry]:
        where: list[str] = ["id > ?"]
        params: list[Any] = [after_id]
        for clause, value in (
            ("actor = ?", actor),
            ("action = ?", action),
            ("at_us >= ?", since_us),
            ("at_us < ?", until_us),
        ):
            if value is not None:
                where.append(clause)
                params.append(value)
        rows = self.read(
            "SELECT id, at_us, actor, action, subject_kind, subject_key, outcome, detail "
            f"FROM audit_log WHERE {' AND '.join(where)} ORDER BY id LIMIT ?",
            (*params, limit),
        )
        return [_audit(r) for r in rows]


def migration_files(dialect: str) -> list[tuple[int, str]]:
    """(version, sql) for each migration shipped for `dialect`, in order."""
    from importlib.resources import files

    folder = files("stockbridge.adapters.sql").joinpath(dialect)
    found = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            found.append((int(entry.name.split("_", 1)[0]), entry.read_text()))
    return sorted(found)


Factory = Callable[[], SqlStore]
