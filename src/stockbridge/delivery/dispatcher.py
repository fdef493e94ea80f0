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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx

from ..app.ports import Clock, Delivery, Store
from ..app.targets import TargetIn
from ..connectors.webhook import SendResult, WebhookTarget
from ..domain.model import to_micros
from .bucket import TokenBucket
from .circuit import CircuitBreaker
from .policy import RetryPolicy, Verdict, classify, next_delay

log = logging.getLogger(__name__)


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
    ) -> None:
        self.store = store
        self.clock = clock
        self.poll_interval = poll_interval
        self.lease_us = int(lease_seconds * 1_000_000)
        self.rng = rng or random.Random()
        self.transport = transport
        self.monotonic = monotonic
        self.targets: dict[str, TargetState] = {}
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        # Notified after every recorded attempt: lets callers wait for progress.
        self._progress = threading.Condition()

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
        """Block until `predicate()` holds, re-checked after every recorded attempt."""
        with self._progress:
            return self._progress.wait_for(predicate, timeout=timeout)

    def _run(self) -> None:
        asyncio.run(self._main())

    # --- the loop ------------------------------------------------------------------------
    async def _main(self) -> None:
        async with httpx.AsyncClient(transport=self.transport) as client:
            workers: dict[str, asyncio.Task[None]] = {}
            while not self._stop.is_set():
                try:
                    configured = await asyncio.to_thread(self.store.targets)
                except Exception:
                    log.exception("cannot read targets")
                    configured = {}
                for name, (raw, paused) in configured.items():
                    config = TargetIn.model_validate(raw)
                    state = self.targets.get(name)
                    if state is None:
                        state = self.targets[name] = TargetState.of(name, config, paused)
                    else:
                        state.reconfigure(config, paused)
                    if name not in workers or workers[name].done():
                        workers[name] = asyncio.create_task(
                            self._work(state, WebhookTarget(name, config, client))
                        )
                await asyncio.sleep(min(0.5, self.poll_interval * 10))
            for task in workers.values():
                task.cancel()
            await asyncio.gather(*workers.values(), return_exceptions=True)

    async def _work(self, st: TargetState, target: WebhookTarget) -> None:
        while not self._stop.is_set():
            target.config = st.config
            if st.paused:
                await asyncio.sleep(self.poll_interval)
                continue
            wait = st.breaker.retry_in(self.monotonic())
            if wait > 0:
                await asyncio.sleep(min(wait, 1.0))
                continue
            half_open = st.breaker.state.value == "half_open"
            limit = 1 if half_open else st.config.concurrency
            now_us = to_micros(self.clock.now())
            try:
                rows = await asyncio.to_thread(
                    self.store.claim_deliveries, st.name, now_us, self.lease_us, limit
                )
            except Exception:
                log.exception("claiming deliveries for %s failed", st.name)
                await asyncio.sleep(self.poll_interval)
                continue
            if not rows:
                await asyncio.sleep(self.poll_interval)
                continue
            sends = []
            for delivery in rows:
                await self._take_token(st)
                if not st.breaker.allow(self.monotonic()):
                    # Opened meanwhile: give the rest back without spending an attempt.
                    sends.append(self._give_back(delivery))
                    continue
                sends.append(self._send(st, target, delivery))
            await asyncio.gather(*sends)

    async def _take_token(self, st: TargetState) -> None:
        while True:
            wait = st.bucket.take(self.monotonic())
            if wait <= 0:
                return
            await asyncio.sleep(min(wait, 1.0))

    async def _give_back(self, delivery: Delivery) -> None:
        await asyncio.to_thread(
            self.store.finish_delivery,
            delivery,
            state="pending",
            status=None,
            error="circuit open",
            duration_ms=0.0,
            next_attempt_us=None,
            now_us=to_micros(self.clock.now()),
        )

    async def _send(self, st: TargetState, target: WebhookTarget, delivery: Delivery) -> None:
        st.in_flight += 1
        try:
            result = await target.send(delivery)
        except Exception as e:
            log.exception("sending delivery %s to %s failed", delivery.id, st.name)
            result = SendResult(None, {}, f"{type(e).__name__}: {e}", 0.0)
        finally:
            st.in_flight -= 1
        await asyncio.to_thread(self._record, st, delivery, result)

    def _record(self, st: TargetState, delivery: Delivery, result: SendResult) -> None:
        now = self.clock.now()
        now_us = to_micros(now)
        outcome = classify(result.status, result.error, result.headers, now.timestamp())
        mono = self.monotonic()
        if outcome.retry_after:
            st.bucket.block_until(mono + outcome.retry_after)
        next_us: int | None = None
        if outcome.verdict is Verdict.DELIVERED:
            st.breaker.record_success(mono)
            st.sent += 1
            state = "delivered"
        elif outcome.verdict is Verdict.REJECTED:
            st.breaker.record_success(mono)  # the target answered; the request is at fault
            st.failed += 1
            state = "rejected"
        else:
            if result.status == 429:
                # Throttling: the target is healthy and answered; the bucket waits instead.
                st.breaker.record_success(mono)
            else:
                st.breaker.record_failure(mono)
            st.failed += 1
            delay = next_delay(st.policy, delivery.attempts + 1, outcome, self.rng)
            if delay is None:
                state = "dead"
            else:
                state = "pending"
                next_us = now_us + int(delay * 1_000_000)
        if state != "delivered":
            st.last_error = outcome.reason
        stored = self.store.finish_delivery(
            delivery,
            state=state,
            status=result.status,
            error=None if state == "delivered" else outcome.reason,
            duration_ms=result.duration_ms,
            next_attempt_us=next_us,
            now_us=now_us,
        )
        if stored in ("dead", "rejected"):
            log.warning("delivery %s to %s is %s: %s", delivery.id, st.name, stored, outcome.reason)
        with self._progress:
            self._progress.notify_all()
