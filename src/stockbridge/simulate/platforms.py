"""The simulated platforms both integration modes talk to: sales channels and the ERP.

A channel shows its own last-known availability and takes orders against it; it limits
the calls it accepts (429 with Retry-After past its rate). The ERP keeps a stock book
from the postings it receives, is down during its outage windows, and now and then times
out *after* applying a call, as real ones do. What each receives is counted for the report.
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field
from decimal import Decimal

import orjson

from ..delivery.bucket import TokenBucket
from .scenarios import Window


@dataclass(frozen=True, slots=True)
class Limits:
    """A platform's documented rate limit and how many SKUs one call may carry."""

    rate_per_second: float
    burst: float
    items_per_call: int


#: The storefront takes bulk inventory updates; marketplaces one listing per call.
STOREFRONT_LIMITS = Limits(rate_per_second=4.0, burst=40.0, items_per_call=100)
MARKETPLACE_LIMITS = Limits(rate_per_second=5.0, burst=10.0, items_per_call=1)
ERP_LIMITS = Limits(rate_per_second=25.0, burst=50.0, items_per_call=1)


class RateLimited(Exception):
    """The platform answered 429; try again after `retry_after` seconds."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"429, retry after {retry_after} s")
        self.retry_after = retry_after


class _Metered:
    """Calls counted against a platform's rate limit."""

    calls: int
    throttled: int
    bucket: TokenBucket

    def admit(self, now: float) -> None:
        """Count a call; raise RateLimited when it is over the platform's limit."""
        self.calls += 1
        wait = self.bucket.take(now)
        if wait > 0:
            self.throttled += 1
            raise RateLimited(max(1.0, round(wait)))


@dataclass
class Channel(_Metered):
    """A storefront or marketplace account, as its shoppers see it."""

    name: str
    limits: Limits
    #: SKU -> units shown; a platform simulator's own inventory when one serves the
    #: channel (simulate/commerce.py).
    shown: MutableMapping[str, int] = field(default_factory=dict)
    #: Per-store stock shown for click-and-collect (the status quo's storefront only;
    #: with Stockbridge the storefront asks the hub at checkout).
    shown_at_store: dict[tuple[str, str], int] = field(default_factory=dict)
    calls: int = 0
    throttled: int = 0
    bucket: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.limits.rate_per_second, self.limits.burst)


@dataclass
class Erp(_Metered):
    """The ERP: a stock book fed by postings, keyed by the source document."""

    outages: tuple[Window, ...]
    timeout_rate: float
    rng: random.Random
    limits: Limits = ERP_LIMITS
    calls: int = 0
    throttled: int = 0
    posted: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    #: Idempotency keys already answered (honoured for callers that send one).
    answered: set[str] = field(default_factory=set)
    #: Document -> the `X-Correlation-Id` and `traceparent` it was first posted with, as
    #: an ERP keeps the caller's reference on the document (what a trace is matched by).
    references: dict[str, tuple[str | None, str | None]] = field(default_factory=dict)
    delays: list[float] = field(default_factory=list)
    bucket: TokenBucket = field(init=False)

    def __post_init__(self) -> None:
        self.bucket = TokenBucket(self.limits.rate_per_second, self.limits.burst)

    def up(self, hour: float) -> bool:
        return not any(w.contains(hour) for w in self.outages)

    def post(self, document: str, occurred: float, now: float) -> None:
        """Apply one movement's posting (a second one for the same document is a
        duplicate posting: the ERP's books are wrong by it)."""
        self.posted[document] += 1
        if self.posted[document] == 1:
            self.delays.append(now - occurred)

    def times_out(self) -> bool:
        return self.rng.random() < self.timeout_rate

    @property
    def duplicate_postings(self) -> int:
        return sum(n - 1 for n in self.posted.values() if n > 1)


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: dict[str, object]
    #: The platform applied the call but its answer is lost on the way back.
    timed_out: bool = False


class Platforms:
    """The platforms' HTTP side, whatever carries it (an in-process transport in the
    simulator, a local server in the live demo): one path per platform, webhook bodies
    as the hub's generic target sends them."""

    def __init__(
        self,
        channels: dict[str, Channel],
        erp: Erp,
        now: Callable[[], float],
        occurred: Callable[[str], float],
        on_shown: Callable[[str, str, float], None] | None = None,
    ) -> None:
        self.channels = channels
        self.erp = erp
        self.now = now
        #: ISO time from a payload -> seconds on the caller's clock.
        self.occurred = occurred
        #: Called with (channel, sku, computed at) for every value a channel takes.
        self.on_shown = on_shown

    def handle(self, name: str, headers: Mapping[str, str], body: bytes) -> Answer:
        now = self.now()
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            return Answer(400, {}, {"error": "body is not JSON"})
        try:
            if name == "erp":
                return self._erp(headers, data, now)
            channel = self.channels.get(name)
            if channel is None:
                return Answer(404, {}, {"error": f"no platform {name!r}"})
            channel.admit(now)
        except RateLimited as e:
            return Answer(429, {"Retry-After": str(int(e.retry_after))}, {"error": "throttled"})
        items = data["items"] if data.get("type") == "availability_batch" else [data]
        for item in items:
            sku = str(item["sku"])
            channel.shown[sku] = int(Decimal(str(item["available"])))
            if self.on_shown is not None:
                self.on_shown(name, sku, self.occurred(str(item["computed_at"])))
        return Answer(200, {}, {"ok": True})

    def _erp(self, headers: Mapping[str, str], data: dict[str, object], now: float) -> Answer:
        self.erp.admit(now)
        if not self.erp.up(now / 3600):
            return Answer(503, {}, {"error": "ERP in maintenance"})
        key = headers.get("idempotency-key", "")
        document = str(data.get("document_number", key))
        if key not in self.erp.answered:
            self.erp.answered.add(key)
            self.erp.references.setdefault(
                document, (headers.get("x-correlation-id"), headers.get("traceparent"))
            )
            self.erp.post(document, self.occurred(str(data["occurred_at"])), now)
        return Answer(200, {}, {"posted": document}, timed_out=self.erp.times_out())
