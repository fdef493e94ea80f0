"""Prices and promotions: import from the ERP, publish ahead of time, check, watch for drift.

An import validates each row alone (bad rows are reported by row and field, good ones are
stored), then, in one transaction, upserts what changed and queues a `price` delivery per
change and target: the channel's target for channel prices, the configured pricing target
for store prices, all of them for estate-wide ones. A delivery waits until
`pricing.publish_lead_seconds` before the start; one starting sooner goes at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol, TypeVar

import orjson
from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from ..config import PricingSettings
from ..domain.errors import NotFound, Reason, StockbridgeError
from ..domain.mapping import MasterData
from ..domain.model import to_micros
from ..domain.pricing import (
    Place,
    PriceEntry,
    PriceInForce,
    Promotion,
    Scope,
    ScopeKind,
    money_text,
    price_in_force,
    round_money,
)
from .ingest import MasterCache
from .master import ImportFileError, RowError, csv_rows
from .ports import Clock, IngestTransaction, NewDelivery, NewException, Store

#: Price deliveries go after pushes that take a channel to zero, with those that lower it.
PRICE_PRIORITY = 1


class PricingKind(StrEnum):
    PRICES = "prices"
    PROMOTIONS = "promotions"


class InvalidPriceQuery(StockbridgeError):
    """A price check that cannot be answered as asked (both a location and a channel)."""


class NoPriceInForce(NotFound):
    def __init__(self, sku: str, place: Place, at: datetime) -> None:
        StockbridgeError.__init__(
            self, f"no price in force for SKU {sku!r} at {place.label} at {at.isoformat()}"
        )
        self.what = "price"
        self.key = sku


# --- rows as imported ------------------------------------------------------------------------
def _split(value: Any) -> Any:
    """CSV cells hold lists as `S1;S2`."""
    if isinstance(value, str):
        return [part.strip() for part in value.split(";") if part.strip()]
    return value


class _Row(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    locations: list[str] | None = Field(None, min_length=1)
    channels: list[str] | None = Field(None, min_length=1)
    start: AwareDatetime
    end: AwareDatetime | None = None

    @field_validator("locations", "channels", mode="before")
    @classmethod
    def _lists(cls, value: Any) -> Any:
        return _split(value)

    @model_validator(mode="after")
    def _window_and_scope(self) -> _Row:
        if self.end is not None and self.end <= self.start:
            raise ValueError("end must be after start")
        if self.locations and self.channels:
            raise ValueError("a row applies to locations or to channels, not both")
        for code in (*(self.locations or ()), *(self.channels or ())):
            if "," in code:
                raise ValueError(f"{code!r}: codes must not contain commas")
        return self

    def scope(self) -> Scope:
        if self.locations:
            return Scope.of(ScopeKind.LOCATION, self.locations)
        if self.channels:
            return Scope.of(ScopeKind.CHANNEL, self.channels)
        return Scope()

    def window(self) -> tuple[datetime, datetime | None]:
        return self.start.astimezone(UTC), self.end.astimezone(UTC) if self.end else None


_CURRENCY = r"^[A-Z]{3}$"


class PriceRow(_Row):
    book: str = Field("base", min_length=1, max_length=200)
    sku: str = Field(min_length=1, max_length=200)
    amount: Decimal = Field(ge=0, le=Decimal(10**9))
    currency: str = Field(pattern=_CURRENCY)

    @model_validator(mode="after")
    def _minor_unit(self) -> PriceRow:
        if self.amount != round_money(self.amount, self.currency):
            raise ValueError(f"amount {self.amount} has more decimals than {self.currency} has")
        return self

    def to_domain(self) -> PriceEntry:
        start, end = self.window()
        return PriceEntry(self.book, self.sku, self.amount, self.currency, self.scope(), start, end)


class PromotionRow(_Row):
    id: str = Field(min_length=1, max_length=200)
    skus: list[str] = Field(min_length=1)
    price: Decimal | None = Field(None, ge=0, le=Decimal(10**9))
    currency: str | None = Field(None, pattern=_CURRENCY)
    percent_off: Decimal | None = Field(None, gt=0, le=100)
    description: str | None = None

    @field_validator("skus", mode="before")
    @classmethod
    def _sku_list(cls, value: Any) -> Any:
        return _split(value)

    @model_validator(mode="after")
    def _one_offer(self) -> PromotionRow:
        if (self.price is None) == (self.percent_off is None):
            raise ValueError("give either price (with currency) or percent_off")
        if self.price is not None:
            if self.currency is None:
                raise ValueError("a promotional price needs a currency")
            if self.price != round_money(self.price, self.currency):
                raise ValueError(f"price {self.price} has more decimals than {self.currency} has")
        if self.percent_off is not None and self.percent_off != self.percent_off.quantize(
            Decimal("0.000001")
        ):
            raise ValueError("percent_off has more than six decimal places")
        return self

    def to_domain(self) -> Promotion:
        start, end = self.window()
        return Promotion(
            id=self.id,
            skus=frozenset(self.skus),
            scope=self.scope(),
            start=start,
            end=end,
            price=self.price,
            currency=self.currency if self.price is not None else None,
            percent_off=self.percent_off,
            description=self.description,
        )


class ObservationRow(BaseModel):
    """A price a POS or channel shows, reported back for the drift check."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    source: str = Field(min_length=1, max_length=200)
    sku: str = Field(min_length=1, max_length=200)
    location: str | None = None
    channel: str | None = None
    price: Decimal = Field(ge=0)
    currency: str = Field(pattern=_CURRENCY)
    observed_at: AwareDatetime

    @model_validator(mode="after")
    def _one_place(self) -> ObservationRow:
        if (self.location is None) == (self.channel is None):
            raise ValueError("give either location or channel")
        return self


def _row_errors(number: int, error: ValidationError) -> list[RowError]:
    return [
        RowError(number, ".".join(str(p) for p in e["loc"]) or "$", e["msg"])
        for e in error.errors()
    ]


def _scope_errors(number: int, scope: Scope, md: MasterData, channels: set[str]) -> list[RowError]:
    known: Collection[str]
    if scope.kind is ScopeKind.LOCATION:
        known, what = md.locations.keys(), "location"
    elif scope.kind is ScopeKind.CHANNEL:
        known, what = channels, "channel"
    else:
        return []
    field_name = f"{what}s"
    return [
        RowError(number, field_name, f"unknown {what} {code!r}")
        for code in sorted(scope.codes)
        if code not in known
    ]


# --- the import report -----------------------------------------------------------------------
@dataclass(slots=True)
class PriceImportReport:
    kind: PricingKind
    received: int = 0
    #: Each stored row: its number, natural key and `created`, `updated` or `unchanged`.
    imported: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    #: Deliveries queued for POS and channels.
    published: int = 0

    def count(self, status: str) -> int:
        return sum(1 for row in self.imported if row["status"] == status)

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "received": self.received,
            "upserted": self.count("created") + self.count("updated"),
            "unchanged": self.count("unchanged"),
            "rejected": len({e.row for e in self.errors}),
            "published": self.published,
            "imported": self.imported,
            "errors": [{"row": e.row, "field": e.field, "message": e.message} for e in self.errors],
        }


# --- publication -----------------------------------------------------------------------------
def targets_for(
    scope: Scope, channel_target: Mapping[str, str], location_targets: Mapping[str, str]
) -> list[str]:
    """The targets that must hear of a price in `scope`, each once.

    A channel's own target for channel prices; a store's pricing target (or the `*` one)
    for store prices; every one of them for estate-wide prices.
    """
    if scope.kind is ScopeKind.ALL:
        found = set(channel_target.values()) | set(location_targets.values())
    elif scope.kind is ScopeKind.CHANNEL:
        found = {channel_target[c] for c in scope.codes if c in channel_target}
    else:
        found = set()
        for code in scope.codes:
            target = location_targets.get(code, location_targets.get("*"))
            if target is not None:
                found.add(target)
    return sorted(found)


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(UTC).isoformat() if at is not None else None


def _scope_doc(scope: Scope) -> dict[str, Any]:
    if scope.kind is ScopeKind.ALL:
        return {"kind": "all"}
    return {"kind": scope.kind.value, "codes": sorted(scope.codes)}


def _version(document: Mapping[str, Any]) -> str:
    """A short digest of a document: same content, same idempotency key on every retry and
    re-import; a corrected price gets a new key, so a receiver never drops it as a replay."""
    return hashlib.sha256(orjson.dumps(document, option=orjson.OPT_SORT_KEYS)).hexdigest()[:12]


def price_document(e: PriceEntry) -> dict[str, Any]:
    return {
        "type": "price",
        "kind": "price",
        "book": e.book,
        "sku": e.sku,
        "scope": _scope_doc(e.scope),
        "price": money_text(e.amount, e.currency),
        "currency": e.currency,
        "start": _iso(e.start),
        "end": _iso(e.end),
        "promotion": None,
    }


def promotion_document(p: Promotion, sku: str) -> dict[str, Any]:
    fixed = None if p.price is None or p.currency is None else money_text(p.price, p.currency)
    return {
        "type": "price",
        "kind": "price",
        "book": None,
        "sku": sku,
        "scope": _scope_doc(p.scope),
        # A fixed promotional price; a percentage off applies to the base price in force.
        "price": fixed,
        "currency": p.currency if fixed is not None else None,
        "start": _iso(p.start),
        "end": _iso(p.end),
        "promotion": {
            "id": p.id,
            "percent_off": format(p.percent_off.normalize(), "f") if p.percent_off else None,
            "description": p.description,
        },
    }


@dataclass(frozen=True, slots=True)
class Publication:
    """What a price change is sent as: its key (a newer version replaces a pending one),
    its body and its window."""

    key: str
    document: dict[str, Any]
    start: datetime
    end: datetime | None


_D = TypeVar("_D", covariant=True)


class _ToDomain(Protocol[_D]):
    def to_domain(self) -> _D: ...


def _validated(
    report: PriceImportReport,
    rows: Iterable[tuple[int, Any]],
    validate: Callable[[Any], _ToDomain[_D]],
) -> Iterator[tuple[int, _D]]:
    """The numbered rows that validate, as domain values.

    Every row counts as received; each invalid one is reported by row and field.
    """
    for number, raw in rows:
        report.received += 1
        try:
            value = validate(raw).to_domain()
        except ValidationError as e:
            report.errors.extend(_row_errors(number, e))
            continue
        yield number, value


def price_publication(e: PriceEntry) -> Publication:
    key = f"price:{e.book}:{e.sku}:{e.scope.key}:{_iso(e.start)}"
    return Publication(key, price_document(e), e.start, e.end)


def promotion_publications(p: Promotion) -> list[Publication]:
    return [
        Publication(f"promotion:{p.id}:{sku}", promotion_document(p, sku), p.start, p.end)
        for sku in sorted(p.skus)
    ]


def plan_publication(
    items: Iterable[tuple[Publication, Sequence[str]]], now: datetime, lead: timedelta
) -> list[NewDelivery]:
    """One `price` delivery per publication and target, due `lead` before its start.

    A publication whose window is already over is not sent: nothing would show it.
    """
    now_us = to_micros(now)
    out: list[NewDelivery] = []
    for pub, targets in items:
        if pub.end is not None and pub.end <= now:
            continue
        due_us = to_micros(pub.start - lead)
        version = _version(pub.document)
        for target in targets:
            out.append(
                NewDelivery(
                    target=target,
                    kind="price",
                    key=pub.key,
                    idempotency_key=f"{pub.key}:{version}",
                    payload={**pub.document, "version": version},
                    priority=PRICE_PRIORITY,
                    causes=[pub.key],
                    not_before_us=due_us if due_us > now_us else None,
                )
            )
    return out


# --- the service -----------------------------------------------------------------------------
def _status(before: object | None, after: object) -> str:
    if before is None:
        return "created"
    return "unchanged" if before == after else "updated"


def _digest(*parts: object) -> str:
    return hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).hexdigest()


class PricingService:
    def __init__(
        self, store: Store, clock: Clock, master: MasterCache, settings: PricingSettings
    ) -> None:
        self.store = store
        self.clock = clock
        self.master = master
        self.settings = settings

    # --- configuration -----------------------------------------------------------------
    def check_targets(self) -> None:
        """Every configured store pricing target must exist (checked when serve starts)."""
        known = self.store.targets()
        missing = sorted(
            f"pricing.location_targets.{loc}: unknown target {t!r}"
            for loc, t in self.settings.location_targets.items()
            if t not in known
        )
        if missing:
            raise StockbridgeError("; ".join(missing))

    def _route(self) -> tuple[Mapping[str, str], dict[str, str]]:
        self.master.get()  # reloads routing when channels or targets changed
        known = self.store.targets()
        locations = {loc: t for loc, t in self.settings.location_targets.items() if t in known}
        return self.master.routing.channel_target, locations

    def _publish(
        self,
        tx: IngestTransaction,
        publications: Iterable[tuple[Publication, Scope]],
        routes: tuple[Mapping[str, str], Mapping[str, str]],
        now: datetime,
    ) -> int:
        """Queue what an import changed to the targets of its scope; how many deliveries."""
        channel_target, location_targets = routes
        deliveries = plan_publication(
            (
                (pub, targets_for(scope, channel_target, location_targets))
                for pub, scope in publications
            ),
            now,
            timedelta(seconds=self.settings.publish_lead_seconds),
        )
        tx.enqueue_deliveries(deliveries, to_micros(now))
        return len(deliveries)

    # --- import --------------------------------------------------------------------------
    def import_prices(self, rows: Iterable[tuple[int, Any]]) -> PriceImportReport:
        """Validate numbered rows, upsert the valid ones and publish what changed."""
        report = PriceImportReport(PricingKind.PRICES)
        md, channels = self.master.get(), set(self.store.channels())
        valid: dict[tuple[str, str, str, int], tuple[int, PriceEntry]] = {}
        for number, entry in _validated(report, rows, PriceRow.model_validate):
            problems = _scope_errors(number, entry.scope, md, channels)
            if entry.sku not in md.items:
                problems.insert(0, RowError(number, "sku", f"unknown SKU {entry.sku!r}"))
            if problems:
                report.errors.extend(problems)
                continue
            valid[entry.key] = (number, entry)  # a later row for the same key wins
        routes = self._route()
        now = self.clock.now()
        now_us = to_micros(now)
        with self.store.transaction() as tx:
            stored = {e.key: e for e in tx.prices_for_skus([e.sku for _, e in valid.values()])}
            changed: list[PriceEntry] = []
            for number, entry in sorted(valid.values(), key=lambda v: v[0]):
                status = _status(stored.get(entry.key), entry)
                book, sku, scope, _ = entry.key
                report.imported.append(
                    {
                        "row": number,
                        "book": book,
                        "sku": sku,
                        "scope": scope,
                        "start": _iso(entry.start),
                        "status": status,
                    }
                )
                if status != "unchanged":
                    changed.append(entry)
            tx.save_prices(changed, now_us)
            published = self._publish(
                tx, ((price_publication(e), e.scope) for e in changed), routes, now
            )
        report.published = published
        return report

    def import_promotions(self, rows: Iterable[tuple[int, Any]]) -> PriceImportReport:
        report = PriceImportReport(PricingKind.PROMOTIONS)
        md, channels = self.master.get(), set(self.store.channels())
        valid: dict[str, tuple[int, Promotion]] = {}
        for number, promotion in _validated(report, rows, PromotionRow.model_validate):
            problems = _scope_errors(number, promotion.scope, md, channels)
            problems[:0] = [
                RowError(number, "skus", f"unknown SKU {sku!r}")
                for sku in sorted(promotion.skus)
                if sku not in md.items
            ]
            if problems:
                report.errors.extend(problems)
                continue
            valid[promotion.id] = (number, promotion)
        routes = self._route()
        now = self.clock.now()
        now_us = to_micros(now)
        with self.store.transaction() as tx:
            stored = tx.promotions_by_id(list(valid))
            changed: list[Promotion] = []
            for number, promotion in sorted(valid.values(), key=lambda v: v[0]):
                status = _status(stored.get(promotion.id), promotion)
                report.imported.append(
                    {
                        "row": number,
                        "id": promotion.id,
                        "skus": sorted(promotion.skus),
                        "scope": promotion.scope.key,
                        "start": _iso(promotion.start),
                        "status": status,
                    }
                )
                if status != "unchanged":
                    changed.append(promotion)
            tx.save_promotions(changed, now_us)
            publications = ((pub, p.scope) for p in changed for pub in promotion_publications(p))
            published = self._publish(tx, publications, routes, now)
        report.published = published
        return report

    def import_list(self, kind: PricingKind, rows: Sequence[Any]) -> PriceImportReport:
        if kind is PricingKind.PRICES:
            return self.import_prices(enumerate(rows))
        return self.import_promotions(enumerate(rows))

    def import_file(
        self, path: str | Path, kind: PricingKind | None = None
    ) -> list[PriceImportReport]:
        """A CSV file (one kind) or a JSON file (a list, or an object with `prices` and/or
        `promotions` lists). The kind comes from `kind`, else the file name."""
        p = Path(path)
        kind = kind or _kind_from_name(p)
        text = p.read_text(encoding="utf-8-sig")
        if p.suffix.lower() == ".csv":
            if kind is None:
                raise ImportFileError(
                    f"cannot tell what {p.name} holds; name it prices/promotions or pass --kind"
                )
            numbered = csv_rows(text)
            if kind is PricingKind.PRICES:
                return [self.import_prices(numbered)]
            return [self.import_promotions(numbered)]
        try:
            data = orjson.loads(text)
        except orjson.JSONDecodeError as e:
            raise ImportFileError(f"{p} is not valid JSON: {e}") from None
        if isinstance(data, list) and kind is not None:
            return [self.import_list(kind, data)]
        if isinstance(data, dict):
            kinds = [k for k in PricingKind if kind in (None, k) and k.value in data]
            if kinds and all(isinstance(data[k.value], list) for k in kinds):
                return [self.import_list(k, data[k.value]) for k in kinds]
        raise ImportFileError(
            f"{p} must hold an object with a 'prices' or 'promotions' list"
            + ("" if kind is None else f", or a list of {kind.value}")
        )

    # --- price check ---------------------------------------------------------------------
    def check(
        self,
        sku: str,
        *,
        location: str | None = None,
        channel: str | None = None,
        at: datetime | None = None,
    ) -> PriceInForce:
        """The price in force for a SKU (or its GTIN) at a location, a channel or the
        estate; raises NotFound for an unknown SKU, place or when no price covers it."""
        md = self.master.get()
        known = sku if sku in md.items else md.by_gtin.get(sku)
        if known is None:
            raise NotFound("SKU", sku)
        place = self._place(md, location, channel)
        when = at or self.clock.now()
        found = price_in_force(
            known,
            place,
            when,
            self.store.prices_for_sku(known),
            self.store.promotions_for_sku(known),
        )
        if found is None:
            raise NoPriceInForce(known, place, when)
        return found

    def _place(self, md: MasterData, location: str | None, channel: str | None) -> Place:
        if location is not None and channel is not None:
            raise InvalidPriceQuery("ask for a location or a channel, not both")
        if location is not None:
            if location not in md.locations:
                raise NotFound("location", location)
            return Place.location(location)
        if channel is not None:
            if channel not in self.store.channels():
                raise NotFound("channel", channel)
            return Place.channel(channel)
        return Place()

    # --- observations --------------------------------------------------------------------
    def observe(self, observations: Sequence[Any]) -> list[dict[str, Any]]:
        """Compare prices shown by POS and channels with the price in force when they
        were seen; each mismatch is parked as a `price_mismatch` exception."""
        md = self.master.get()
        channels = set(self.store.channels())
        results: list[dict[str, Any]] = []
        parked: list[tuple[int, NewException]] = []
        books: dict[str, tuple[list[PriceEntry], list[Promotion]]] = {}
        for index, raw in enumerate(observations):
            try:
                obs = ObservationRow.model_validate(raw)
            except ValidationError as e:
                results.append(
                    {
                        "index": index,
                        "status": "invalid",
                        "errors": [
                            {"field": err.field, "message": err.message}
                            for err in _row_errors(index, e)
                        ],
                    }
                )
                continue
            result: dict[str, Any] = {"index": index, "source": obs.source, "sku": obs.sku}
            results.append(result)
            sku = md.sku_for(obs.source, obs.sku)
            if sku is None:
                result["status"] = "unknown_sku"
                continue
            result["sku"] = sku
            if obs.location is not None:
                code = md.location_for(obs.source, obs.location)
                if code is None:
                    result.update(location=obs.location, status="unknown_location")
                    continue
                place = Place.location(code)
                result["location"] = code
            else:
                assert obs.channel is not None
                if obs.channel not in channels:
                    result.update(channel=obs.channel, status="unknown_channel")
                    continue
                place = Place.channel(obs.channel)
                result["channel"] = obs.channel
            if sku not in books:
                books[sku] = (self.store.prices_for_sku(sku), self.store.promotions_for_sku(sku))
            expected = price_in_force(sku, place, obs.observed_at, *books[sku])
            observed = {"price": format(obs.price, "f"), "currency": obs.currency}
            result["observed"] = observed
            if expected is None:
                result["status"] = "no_price"
                continue
            result["expected"] = price_view(expected)
            if obs.currency == expected.currency and obs.price == expected.final:
                result["status"] = "match"
                continue
            result["status"] = "mismatch"
            shown = f"{observed['price']} {obs.currency}"
            due = f"{money_text(expected.final, expected.currency)} {expected.currency}"
            promo = f" (promotion {expected.promotion.id})" if expected.promotion else ""
            parked.append(
                (
                    index,
                    NewException(
                        reason=Reason.PRICE_MISMATCH,
                        detail=(
                            f"{obs.source} shows {sku} at {shown} at {place.label} "
                            f"on {_iso(obs.observed_at)}; the price in force is {due}{promo}"
                        ),
                        payload={
                            "observation": raw,
                            "expected": result["expected"],
                            "observed": observed,
                        },
                        source=obs.source,
                        event_id=f"price:{sku}:{place.kind.value}:{place.code}",
                        # The same wrong price seen again counts once more, not twice.
                        payload_hash=_digest(shown, due, _iso(expected.effective_from)),
                        field="price",
                    ),
                )
            )
        if parked:
            with self.store.transaction() as tx:
                tx.park([x for _, x in parked], to_micros(self.clock.now()))
            for index, x in parked:
                found = self.store.exceptions(
                    status="open", reason=x.reason.value, source=x.source, event_id=x.event_id
                )
                if found:
                    results[index]["exception_id"] = found[-1].id
        return results


def _kind_from_name(path: Path) -> PricingKind | None:
    stem = path.stem.lower()
    if "promo" in stem:
        return PricingKind.PROMOTIONS
    if "price" in stem:
        return PricingKind.PRICES
    return None


def price_view(p: PriceInForce) -> dict[str, Any]:
    """A price check's answer: base, promotion, final price and its window."""
    base = p.base
    promotion = p.promotion
    return {
        "sku": p.sku,
        "location": p.place.code if p.place.kind is ScopeKind.LOCATION else None,
        "channel": p.place.code if p.place.kind is ScopeKind.CHANNEL else None,
        "at": _iso(p.at),
        "price": money_text(p.final, p.currency),
        "currency": p.currency,
        "base": {
            "book": base.book,
            "price": money_text(base.amount, base.currency),
            "scope": base.scope.key,
            "start": _iso(base.start),
            "end": _iso(base.end),
        },
        "promotion": None
        if promotion is None
        else {
            "id": promotion.id,
            "price": money_text(promotion.price, promotion.currency)
            if promotion.price is not None and promotion.currency is not None
            else None,
            "percent_off": format(promotion.percent_off.normalize(), "f")
            if promotion.percent_off is not None
            else None,
            "description": promotion.description,
            "start": _iso(promotion.start),
            "end": _iso(promotion.end),
        },
        "effective_from": _iso(p.effective_from),
        "effective_until": _iso(p.effective_until),
    }
