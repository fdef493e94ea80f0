"""The dispatcher: claim due deliveries per target, send, record, reschedule or dead-letter.

Runs its own event loop in a thread. Each target has a worker that respects the target's
pause flag, circuit breaker and token bucket; deliveries are claimed from the store by
state with a lease, so a dispatcher killed mid-flight loses nothing: its leases run out
and the deliveries are sent again under the same idempotency key.

Retry times are taken from the hub's Clock; rate and circuit timing from the monotonic
clock, because they are about the target's real seconds.
"""

from __future__ import annotations

import asyncio
import logging
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx
import structlog
from opentelemetry.trace import SpanKind

from ..app.ports import Clock, Delivery, Finished, Store
from ..app.progress import Progress
from ..app.targets import TargetIn
from ..connectors.registry import Target, build_target
from ..connectors.webhook import SendResult
from ..domain.model import to_micros
from ..tracing import Tracing
from .bucket import TokenBucket
from .circuit import CircuitBreaker
from .policy import RetryPolicy, Verdict, classify, next_delay
from .trace_headers import TracedTransport, sending

log = logging.getLogger(__name__)

#: Requests per connection in one round.
ROUND_PER_CONNECTION = 4
#: Most deliveries one round claims and records (one transaction each way).
MAX_ROUND = 2000


@dataclass
class TargetState:
    name: str
    config: TargetIn
    paused: bool
    bucket: TokenBucket
    breaker: CircuitBreaker
    policy: RetryPolicy
    sent: int = 0
    failed: int = 0
    in_flight: int = 0
    last_error: str | None = None

    @classmethod
    def of(cls, name: str, config: TargetIn, paused: bool) -> TargetState:
        return cls(
            name,
            config,
            paused,
            TokenBucket(config.rate_per_second, config.burst),
            CircuitBreaker(config.circuit.failure_threshold, config.circuit.cooldown_seconds),
            _policy(config),
        )

    def reconfigure(self, config: TargetIn, paused: bool) -> None:
        if config != self.config:
            self.bucket.set_rate(config.rate_per_second, config.burst)
            self.breaker.failure_threshold = config.circuit.failure_threshold
            self.breaker.cooldown_seconds = config.circuit.cooldown_seconds
            self.policy = _policy(config)
            self.config = config
        self.paused = paused


def _policy(config: TargetIn) -> RetryPolicy:
    return RetryPolicy(
        config.retry.base_seconds, config.retry.max_seconds, config.retry.max_attempts
    )


def _requests(rows: list[Delivery], batch_size: int) -> list[list[Delivery]]:
    """Claimed deliveries grouped into requests: postings alone, pushes by `batch_size`."""
    groups: list[list[Delivery]] = [[d] for d in rows if d.kind != "availability"]
    pushes = [d for d in rows if d.kind == "availability"]
    groups += [pushes[i : i + batch_size] for i in range(0, len(pushes), batch_size)]
    return groups


@dataclass
class StepResult:
    """What a stepped round did, and when stepping again can do more."""

    claimed: int = 0
    #: Due work was left for lack of tokens or round size: step again soon.
    more: bool = False
    #: Earliest retry or circuit probe scheduled (µs since the epoch), if any.
    next_us: int | None = None
    #: Deliveries the platforms took in this round (the simulator measures latency by them).
    delivered: list[Delivery] = field(default_factory=list)

    def wake(self, at_us: int) -> None:
        self.next_us = at_us if self.next_us is None else min(self.next_us, at_us)


def delivery_context(target: str, group: Sequence[Delivery]) -> dict[str, Any]:
    """What log records of one send carry: the target, the delivery ids, the events that
    caused them and the correlation ids those events came with (DESIGN §9)."""
    correlation: set[str] = set()
    for d in group:
        if isinstance(d.payload, dict):
            one = d.payload.get("correlation_id")
            correlation.update([one] if isinstance(one, str) else [])
            many = d.payload.get("correlation_ids")
            correlation.update(c for c in many or () if isinstance(c, str))
    context: dict[str, Any] = {
        "target": target,
        "delivery_id": group[0].id if len(group) == 1 else [d.id for d in group],
        "causes": [c for d in group for c in d.causes][:10],
    }
    if correlation:
        context["correlation_id"] = (
            sorted(correlation)[0] if len(correlation) == 1 else sorted(correlation)
        )
    return context


class Dispatcher:
    def __init__(
        self,
        store: Store,
        clock: Clock,
        *,
        poll_interval: float = 0.05,
        lease_seconds: float = 60.0,
        rng: random.Random | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        tracing: Tracing | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.store = store
        self.tracing = tracing or Tracing()
        self.clock = clock
        self.poll_interval = poll_interval
        self.lease_us = int(lease_seconds * 1_000_000)
        self.rng = rng or random.Random()
        self.transport = transport
        self.monotonic = monotonic
        self.targets: dict[str, TargetState] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Notified after every recorded round: lets callers wait for what it delivered.
        self.progress = progress or Progress()

    # --- lifecycle ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="dispatcher", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join(timeout=30)
            self._thread = None

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Per target: circuit, rate, in flight, sent and failed counts (for the API)."""
        return {
            name: {
                "circuit": st.breaker.snapshot(),
                "in_flight": st.in_flight,
                "sent": st.sent,
                "failed": st.failed,
                "last_error": st.last_error,
            }
            for name, st in self.targets.items()
        }

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until `predicate()` holds, re-checked after every recorded round."""
        return self.progress.wait_until(predicate, timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    # --- the loop ------------------------------------------------------------------------
    async def _main(self) -> None:
        # Every connector's calls go through it: correlation headers and a span each.
        transport = TracedTransport(self.transport or httpx.AsyncHTTPTransport(), self.tracing)
        async with httpx.AsyncClient(transport=transport) as client:
            workers: dict[str, asyncio.Task[None]] = {}
            while not self._stop.is_set():
                try:
                    configured = await asyncio.to_thread(self.store.targets)
                except Exception:
                    log.exception("cannot read targets")
                    configured = {}
                for state in self._configure(configured):
                    name = state.name
                    if name not in workers or workers[name].done():
                        workers[name] = asyncio.create_task(
                            self._work(
                                state,
                                build_target(
                                    name,
                                    state.config,
                                    client,
                                    self.store,
                                    self.monotonic,
                                    self.clock.now,
                                ),
                            )
                        )
                await asyncio.sleep(min(0.5, self.poll_interval * 10))
            for task in workers.values():
                task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)

    def _configure(self, configured: dict[str, tuple[dict[str, Any], bool]]) -> list[TargetState]:
        """Target states brought up to date with the stored configuration."""
        states = []
        for name, (raw, paused) in configured.items():
            config = TargetIn.model_validate(raw)
            state = self.targets.get(name)
            if state is None:
                state = self.targets[name] = TargetState.of(name, config, paused)
            else:
                state.reconfigure(config, paused)
            states.append(state)
        return states

    def _round_limit(self, st: TargetState) -> int:
        # A round claims a few requests' worth per connection (a bulk request carries up
        # to batch_size pushes) and records them together.
        if st.breaker.state.value == "half_open":
            return 1
        return min(MAX_ROUND, st.config.concurrency * ROUND_PER_CONNECTION * st.config.batch_size)

    # --- stepped mode (simulation) ---------------------------------------------------------
    async def step(self, client: httpx.AsyncClient) -> StepResult:
        """One round for every target at the clock's present, never waiting.

        The simulator's way of running the dispatcher on virtual time: the same claim,
        coalescing, priority, bucket, circuit, retry and dead-letter code, but a target
        takes only the requests its bucket allows now and the rest wait for a later step.
        Store calls run inline.
        """
        result = StepResult()
        for st in self._configure(self.store.targets()):
            mono = self.monotonic()
            if st.paused:
                continue
            wait = st.breaker.retry_in(mono)
            if wait > 0:
                result.wake(to_micros(self.clock.now()) + int(wait * 1_000_000))
                continue
            requests = st.bucket.ready(mono)
            if requests <= 0:
                result.more = True
                continue
            limit = min(self._round_limit(st), requests * st.config.batch_size)
            now_us = to_micros(self.clock.now())
            rows = self.store.claim_deliveries(st.name, now_us, self.lease_us, limit)
            if not rows:
                continue
            result.claimed += len(rows)
            result.more = result.more or len(rows) == limit
            target = build_target(
                st.name, st.config, client, self.store, self.monotonic, self.clock.now
            )
            gate = asyncio.Semaphore(st.config.concurrency)
            finished: list[Finished] = []
            for group in _requests(rows, st.config.batch_size):
                # The circuit is asked in `_attempt` (asking grants a half-open probe).
                if st.bucket.ready(self.monotonic()) <= 0:
                    finished += [
                        Finished(d, "pending", None, None, 0.0, None, sent=False) for d in group
                    ]
                    result.more = True
                    continue
                finished += await self._attempt(st, target, group, gate)
            for f in finished:
                if f.state == "pending" and f.next_attempt_us is not None:
                    result.wake(f.next_attempt_us)
                elif f.state == "pending":
                    result.more = True
            stored = self.store.finish_deliveries(finished, to_micros(self.clock.now()))
            result.delivered += [
                f.delivery
                for f, state in zip(finished, stored, strict=True)
                if state == "delivered"
            ]
        return result

    async def _work(self, st: TargetState, target: Target) -> None:
        # Deliveries claimed in the transaction that recorded the previous round.
        carried: list[Delivery] = []
        while not self._stop.is_set():
            target.config = st.config
            wait = st.breaker.retry_in(self.monotonic())
            if st.paused or wait > 0:
                if carried:
                    await self._give_back(carried)
                    carried = []
                await asyncio.sleep(min(wait, 1.0) if wait > 0 else self.poll_interval)
                continue
            limit = self._round_limit(st)
            rows, carried = carried, []
            if not rows:
                try:
                    rows = await asyncio.to_thread(
                        self.store.claim_deliveries,
                        st.name,
                        to_micros(self.clock.now()),
                        self.lease_us,
                        limit,
                    )
                except Exception:
                    log.exception("claiming deliveries for %s failed", st.name)
                    await asyncio.sleep(self.poll_interval)
                    continue
            if not rows:
                await asyncio.sleep(self.poll_interval)
                continue
            gate = asyncio.Semaphore(st.config.concurrency)
            groups = _requests(rows, st.config.batch_size)
            results = await asyncio.gather(*(self._attempt(st, target, g, gate) for g in groups))
            finished = [f for group in results for f in group]
            # A healthy target gets its next round claimed with this one's record.
            go_on = not self._stop.is_set() and st.breaker.state.value == "closed"
            try:
                if go_on:
                    stored, carried = await asyncio.to_thread(
                        self.store.finish_and_claim,
                        finished,
                        to_micros(self.clock.now()),
                        st.name,
                        self.lease_us,
                        limit,
                    )
                else:
                    stored = await asyncio.to_thread(
                        self.store.finish_deliveries, finished, to_micros(self.clock.now())
                    )
            except Exception:
                log.exception("recording deliveries for %s failed", st.name)
                continue
            for f, state in zip(finished, stored, strict=True):
                if state in ("dead", "rejected"):
                    log.warning(
                        "delivery %s to %s is %s: %s", f.delivery.id, st.name, state, f.error
                    )
            self.progress.notify()
        if carried:
            await self._give_back(carried)

    async def _give_back(self, rows: list[Delivery]) -> None:
        """Claimed but not sent (paused, circuit open, stopping): back to the queue now."""
        unsent = [Finished(d, "pending", None, None, 0.0, None, sent=False) for d in rows]
        try:
            await asyncio.to_thread(
                self.store.finish_deliveries, unsent, to_micros(self.clock.now())
            )
        except Exception:  # their leases run out and the next claim takes them
            log.exception("returning %d claimed deliveries failed", len(rows))

    async def _take_token(self, st: TargetState) -> None:
        while True:
            wait = st.bucket.take(self.monotonic())
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))

    async def _attempt(
        self,
        st: TargetState,
        target: Target,
        group: list[Delivery],
        gate: asyncio.Semaphore,
    ) -> list[Finished]:
        """One request: a single delivery, or several availability pushes together, with
        the target, the deliveries and their correlation ids in the log context."""
        with structlog.contextvars.bound_contextvars(**delivery_context(st.name, group)):
            finished = await self._send(st, target, group, gate)
            first = finished[0]
            if first.state != "delivered":
                log.warning(
                    "delivery attempt failed",
                    extra={"state": first.state, "status": first.status, "error": first.error},
                )
            return finished

    async def _send(
        self,
        st: TargetState,
        target: Target,
        group: list[Delivery],
        gate: asyncio.Semaphore,
    ) -> list[Finished]:
        async with gate:
            await self._take_token(st)
            if not st.breaker.allow(self.monotonic()):
                # Opened meanwhile: back to the queue until the circuit lets calls through.
                return [
                    Finished(d, "pending", None, "circuit open", 0.0, None, sent=False)
                    for d in group
                ]
            st.in_flight += 1
            try:
                result = await self._request(st, target, group)
            finally:
                st.in_flight -= 1
        first = self._judge(st, group[0], result)
        # Every item of a batch shares its request's fate and retry delay; an item whose
        # own retry budget is spent becomes a dead letter. An item the platform refused on
        # its own (a batch's per-item user error) goes to the exception queue alone. Items
        # the target held back to stay within budget go back unsent, due when it refills.
        out = []
        if result.deferred:
            st.bucket.block_until(self.monotonic() + result.deferred_seconds)
            due_us = to_micros(self.clock.now()) + int(result.deferred_seconds * 1_000_000)
        for d in group:
            if d.id in result.deferred:
                out.append(Finished(d, "pending", None, "paced", 0.0, due_us, sent=False))
                continue
            refused = result.rejected.get(d.id)
            if refused is not None:
                out.append(
                    Finished(d, "rejected", result.status, refused, result.duration_ms, None)
                )
                continue
            if d is group[0]:
                out.append(first)
                continue
            spent = first.state == "pending" and d.attempts + 1 >= st.policy.max_attempts
            out.append(
                Finished(
                    d,
                    "dead" if spent else first.state,
                    first.status,
                    first.error,
                    first.duration_ms,
                    None if spent else first.next_attempt_us,
                )
            )
        return out

    async def _request(self, st: TargetState, target: Target, group: list[Delivery]) -> SendResult:
        """One request, in a span linked to the ingest spans that queued its deliveries,
        with the correlation id on its log lines and outbound headers."""
        with (
            sending(group) as current,
            structlog.contextvars.bound_contextvars(
                correlation_id=current.correlation_id, delivery_id=current.delivery_ref
            ),
            self.tracing.span(
                f"deliver {st.name}",
                kind=SpanKind.PRODUCER,
                links=self.tracing.links([d.traceparent for d in group]),
                attributes={
                    "stockbridge.target": st.name,
                    "stockbridge.delivery_ids": [d.id for d in group],
                    "stockbridge.kind": group[0].kind,
                    "stockbridge.correlation_id": current.correlation_id or "",
                },
            ) as span,
        ):
            try:
                if len(group) == 1:
                    result = await target.send(group[0])
                else:
                    result = await target.send_batch(group)
            except Exception as e:  # a failed attempt, never a lost delivery
                log.exception("sending %s to %s failed", [d.id for d in group], st.name)
                result = SendResult(None, {}, f"{type(e).__name__}: {e}", 0.0)
            if result.status is not None:
                span.set_attribute("http.response.status_code", result.status)
            return result

    def _judge(self, st: TargetState, delivery: Delivery, result: SendResult) -> Finished:
        """What an attempt's result means: the state to store, and when to try again."""
        now = self.clock.now()
        outcome = classify(result.status, result.error, result.headers, now.timestamp())
        mono = self.monotonic()
        if outcome.retry_after:
            st.bucket.block_until(mono + outcome.retry_after)
        next_us: int | None = None
        if outcome.verdict is Verdict.DELIVERED:
            st.breaker.record_success(mono)
            st.sent += 1
            return Finished(delivery, "delivered", result.status, None, result.duration_ms, None)
        st.failed += 1
        st.last_error = outcome.reason
        if outcome.verdict is Verdict.REJECTED:
            st.breaker.record_success(mono)  # the target answered; the request is at fault
            return Finished(
                delivery, "rejected", result.status, outcome.reason, result.duration_ms, None
            )
        if result.status == 429:
            # Throttling: the target is healthy and answered; the bucket waits instead.
            st.breaker.record_success(mono)
        else:
            st.breaker.record_failure(mono)
        delay = next_delay(st.policy, delivery.attempts + 1, outcome, self.rng)
        if delay is None:
            return Finished(
                delivery, "dead", result.status, outcome.reason, result.duration_ms, None
            )
        next_us = to_micros(now) + int(delay * 1_000_000)
        return Finished(
            delivery, "pending", result.status, outcome.reason, result.duration_ms, next_us
        )
