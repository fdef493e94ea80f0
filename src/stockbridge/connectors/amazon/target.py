"""The Amazon delivery target: a channel's availability as listings quantities.

One push is one `patchListingsItem` (a JSON Patch `merge` of the merchant-fulfilled
quantity). A batch of fewer than `feed_threshold` pushes goes patch by patch within the
documented token bucket; a larger one goes as one JSON_LISTINGS_FEED, followed across
attempts until Amazon has processed it, whose report refuses messages one by one.

The target never waits on its own: pushes its bucket cannot take yet are handed back
unsent with the wait, Amazon's throttling becomes a 429 with Retry-After, a feed still in
processing a 429 without one, and the dispatcher decides when to come back.
"""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import os
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from weakref import WeakKeyDictionary

import httpx
import orjson

from ...app.ports import ConnectorState, Delivery
from ...app.targets import TargetIn
from ...delivery.bucket import TokenBucket
from ...delivery.policy import RETRYABLE_4XX
from ...domain.model import to_micros
from ..mapping import Ambiguous, Unmapped, externals
from ..webhook import SendResult
from .config import AmazonTargetSettings, LwaCredentials
from .feeds import API as FEEDS
from .feeds import CONTENT_TYPE, FEED_TYPE, FINISHED, feed_document, message_errors
from .listings import (
    error_text,
    is_token_refusal,
    listing_path,
    patch_body,
    quantity,
    retry_after,
    submission_refusal,
)
from .lwa import LwaTokens, TokenError

#: Idempotency keys of pushes already applied by a batch that was cut short, kept so the
#: batch's next attempt does not patch them again.
APPLIED_KEPT = 10_000
#: Feeds followed at once per target; the oldest is forgotten beyond this.
FEEDS_KEPT = 200


@dataclass
class FeedJob:
    """A feed being submitted or processed for one batch, kept between its attempts (and,
    once Amazon has accepted it, in the hub's database across restarts)."""

    key: str
    #: (idempotency key, seller SKU) per message, message id = position + 1.
    lines: list[tuple[str, str]]
    document: bytes
    document_id: str | None = None
    upload_url: str | None = None
    uploaded: bool = False
    feed_id: str | None = None


@dataclass
class Session:
    """What outlives one target object: the dispatcher may build a target per round."""

    tokens: LwaTokens
    bucket: TokenBucket
    applied: OrderedDict[str, None] = field(default_factory=OrderedDict)
    feeds: OrderedDict[str, FeedJob] = field(default_factory=OrderedDict)
    patches: int = 0
    feeds_created: int = 0
    #: Feeds in processing read back from the hub's database (once per session).
    resumed: bool = False


# Keyed by the HTTP client the dispatcher keeps for its lifetime, so a session ends with
# it; within a client, by target name.
_SESSIONS: WeakKeyDictionary[httpx.AsyncClient, dict[str, Session]] = WeakKeyDictionary()


def session_of(
    client: httpx.AsyncClient, name: str, config: TargetIn, clock: Callable[[], float]
) -> Session:
    sessions = _SESSIONS.setdefault(client, {})
    session = sessions.get(name)
    if session is None:
        session = sessions[name] = Session(
            LwaTokens(clock), TokenBucket(config.rate_per_second, config.burst)
        )
    return session


def batch_key(deliveries: list[Delivery]) -> str:
    """The same for every attempt at the same set of pushes."""
    keys = "\n".join(sorted(d.idempotency_key for d in deliveries))
    return hashlib.sha256(keys.encode()).hexdigest()


class Stop(Exception):
    """An attempt ends early with this result."""

    def __init__(self, result: SendResult) -> None:
        super().__init__(result.error)
        self.result = result


def _elapsed(started: float) -> float:
    return (time.perf_counter() - started) * 1000


class AmazonTarget:
    #: Reads cross references and keeps feeds in processing in the hub's database, and
    #: paces its patches on the dispatcher's clock.
    uses_state = True
    uses_monotonic = True

    def __init__(
        self,
        name: str,
        config: TargetIn,
        client: httpx.AsyncClient,
        *,
        state: ConnectorState | None = None,
        env: Mapping[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.config = config
        self.client = client
        self.state = state
        self.env = os.environ if env is None else env
        self.clock = monotonic
        self.session = session_of(client, name, config, self.clock)

    @property
    def settings(self) -> AmazonTargetSettings:
        return AmazonTargetSettings.model_validate(self.config.platform)

    # --- the Target protocol -----------------------------------------------------------
    async def send(self, delivery: Delivery) -> SendResult:
        started = time.perf_counter()
        if delivery.kind != "availability":
            return SendResult(
                422, {}, "an Amazon target takes availability pushes only", _elapsed(started)
            )
        settings = self.settings
        sku = self._seller_skus(settings, [delivery])[str(delivery.payload["sku"])]
        if isinstance(sku, Unmapped):
            return SendResult(422, {}, str(sku), _elapsed(started))
        try:
            status, headers, error = await self._patch(settings, delivery, sku)
        except Stop as stop:
            return stop.result
        return SendResult(status, headers, error, _elapsed(started))

    async def send_batch(self, deliveries: list[Delivery]) -> SendResult:
        started = time.perf_counter()
        settings = self.settings
        skus = self._seller_skus(settings, deliveries)
        rejected = {
            d.id: str(why)
            for d in deliveries
            if isinstance(why := skus[str(d.payload["sku"])], Unmapped)
        }
        sendable = [d for d in deliveries if d.id not in rejected]
        mapped = {sku: seller for sku, seller in skus.items() if isinstance(seller, str)}
        try:
            if not sendable:
                result = SendResult(200, {}, None, _elapsed(started))
            elif len(sendable) >= settings.feed_threshold:
                result = await self._feed(settings, sendable, mapped, started)
            else:
                result = await self._patches(settings, sendable, mapped, started)
        except Stop as stop:
            result = stop.result
        if not rejected:
            return result
        if not sendable:
            return SendResult(422, {}, next(iter(rejected.values())), result.duration_ms, rejected)
        return SendResult(
            result.status,
            result.headers,
            result.error,
            result.duration_ms,
            {**rejected, **result.rejected},
        )

    # --- mapping -------------------------------------------------------------------------
    def _seller_skus(
        self, settings: AmazonTargetSettings, deliveries: list[Delivery]
    ) -> dict[str, str | Unmapped]:
        """SKU -> seller SKU (the SKU itself when nothing maps it), or why it is ambiguous."""
        skus = sorted({str(d.payload["sku"]) for d in deliveries})
        if settings.mapping == "settings":
            return {sku: settings.seller_sku(sku) for sku in skus}
        found = externals(self.state, settings.xref_source or self.name, "item", skus)
        # A SKU no cross reference maps is sent as it is; one mapped twice is refused.
        return {
            sku: seller if isinstance(seller, str | Ambiguous) else sku
            for sku, seller in found.items()
        }

    # --- HTTP with the access token ------------------------------------------------------
    def _url(self, path: str) -> str:
        return self.config.address.rstrip("/") + path

    def _fail(self, error: str, status: int | None = None) -> Stop:
        return Stop(SendResult(status, {}, error, 0.0))

    async def _token(self, creds: LwaCredentials) -> str:
        try:
            token = await self.session.tokens.get(self.client, creds, self.config.timeout_seconds)
        except TokenError as e:
            # Refused credentials are a configuration fault: retried (and the circuit
            # opens) rather than refusing every push as a business error.
            raise self._fail(e.reason) from None
        return token

    async def _call(
        self, settings: AmazonTargetSettings, method: str, path: str, **kwargs: Any
    ) -> httpx.Response:
        """One SP-API call; a 403 about the access token gets one refresh and one retry."""
        try:
            creds = settings.credentials(self.env)
        except ValueError as e:
            raise self._fail(f"platform.{e}") from None
        response = await self._send(method, path, await self._token(creds), **kwargs)
        if response.status_code == 403 and is_token_refusal(403, _json(response)):
            self.session.tokens.invalidate(response.request.headers["x-amz-access-token"])
            response = await self._send(method, path, await self._token(creds), **kwargs)
        return response

    async def _send(self, method: str, path: str, token: str, **kwargs: Any) -> httpx.Response:
        headers = {"x-amz-access-token": token, "Accept": "application/json"}
        try:
            return await self.client.request(
                method,
                self._url(path),
                headers=headers,
                timeout=self.config.timeout_seconds,
                **kwargs,
            )
        except httpx.TimeoutException:
            raise self._fail("timeout") from None
        except httpx.HTTPError as e:
            raise self._fail(f"{type(e).__name__}: {e}") from None

    async def _plain(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """A call to a presigned document URL: no access token goes there."""
        try:
            return await self.client.request(
                method, url, timeout=self.config.timeout_seconds, **kwargs
            )
        except httpx.TimeoutException:
            raise self._fail("timeout") from None
        except httpx.HTTPError as e:
            raise self._fail(f"{type(e).__name__}: {e}") from None

    # --- one patch -----------------------------------------------------------------------
    async def _patch(
        self, settings: AmazonTargetSettings, delivery: Delivery, sku: str
    ) -> tuple[int, dict[str, str], str | None]:
        """Status, headers and error of the patch of one push (a refusal as 422)."""
        units = quantity(delivery.payload.get("available"))
        self.session.patches += 1
        response = await self._call(
            settings,
            "PATCH",
            listing_path(settings.seller_id, sku),
            params={
                "marketplaceIds": ",".join(settings.marketplace_ids),
                "issueLocale": settings.issue_locale,
            },
            json=patch_body(settings.product_type, settings.fulfillment_channel_code, units),
        )
        return _judge(response, sku)

    async def _patches(
        self,
        settings: AmazonTargetSettings,
        deliveries: list[Delivery],
        sellers: dict[str, str],
        started: float,
    ) -> SendResult:
        """A small batch, patch by patch within the rate budget; cut short when spent."""
        session = self.session
        session.bucket.set_rate(self.config.rate_per_second, self.config.burst)
        rejected: dict[int, str] = {}
        done = 0
        for d in deliveries:
            if d.idempotency_key in session.applied:
                done += 1
                continue
            wait = session.bucket.take(self.clock())
            if wait > 0:
                # The rest wait for the budget unsent; what was applied is delivered.
                held = deliveries[deliveries.index(d) :]
                return SendResult(
                    200,
                    {},
                    None,
                    _elapsed(started),
                    rejected,
                    deferred=frozenset(x.id for x in held),
                    deferred_seconds=wait,
                )
            status, headers, error = await self._patch(settings, d, sellers[str(d.payload["sku"])])
            if 200 <= status < 300:
                _remember(session.applied, d.idempotency_key)
                done += 1
            elif 400 <= status < 500 and status not in RETRYABLE_4XX:
                rejected[d.id] = error or f"HTTP {status}"
            else:
                if status == 429:
                    session.bucket.block_until(
                        self.clock() + float(headers.get("Retry-After", "0"))
                    )
                return SendResult(status, headers, error, _elapsed(started), rejected)
        return SendResult(200, {}, None, _elapsed(started), rejected)

    # --- a listings feed -----------------------------------------------------------------
    async def _resume(self) -> None:
        """Once per session: the feeds Amazon was processing when the hub last stopped,
        so their batches poll them instead of submitting again."""
        session = self.session
        if session.resumed or self.state is None:
            return
        session.resumed = True
        for feed in await asyncio.to_thread(self.state.open_feeds, self.name):
            if feed.batch_key not in session.feeds:
                session.feeds[feed.batch_key] = FeedJob(
                    feed.batch_key, feed.lines, b"", uploaded=True, feed_id=feed.feed_id
                )

    def _job(
        self, settings: AmazonTargetSettings, deliveries: list[Delivery], sellers: dict[str, str]
    ) -> FeedJob:
        key = batch_key(deliveries)
        feeds = self.session.feeds
        job = feeds.get(key)
        if job is None:
            ordered = sorted(deliveries, key=lambda d: d.id)
            lines = [
                (
                    d.idempotency_key,
                    sellers[str(d.payload["sku"])],
                    quantity(d.payload.get("available")),
                )
                for d in ordered
            ]
            document = feed_document(
                settings.seller_id,
                settings.product_type,
                settings.fulfillment_channel_code,
                [(sku, units) for _, sku, units in lines],
                settings.issue_locale,
            )
            job = feeds[key] = FeedJob(
                key, [(k, sku) for k, sku, _ in lines], orjson.dumps(document)
            )
            while len(feeds) > FEEDS_KEPT:
                feeds.popitem(last=False)
        return job

    async def _forget(self, deliveries: list[Delivery]) -> None:
        key = batch_key(deliveries)
        job = self.session.feeds.pop(key, None)
        if job is not None and job.feed_id is not None and self.state is not None:
            await asyncio.to_thread(self.state.feed_finished, self.name, key)

    async def _feed(
        self,
        settings: AmazonTargetSettings,
        deliveries: list[Delivery],
        sellers: dict[str, str],
        started: float,
    ) -> SendResult:
        await self._resume()
        job = self._job(settings, deliveries, sellers)
        try:
            await self._submit(settings, job)
            assert job.feed_id is not None
            feed: dict[str, Any] = {}
            for _ in range(settings.feed_polls):
                response = await self._call(settings, "GET", f"{FEEDS}/feeds/{job.feed_id}")
                feed = _expect(response, 200, "getFeed")
                if feed.get("processingStatus") in FINISHED:
                    break
            status = feed.get("processingStatus")
            if status not in FINISHED:
                # No Retry-After: the retry comes after the dispatcher's backoff, and the
                # target's other pushes are not held back meanwhile.
                return SendResult(
                    429,
                    {},
                    f"feed {job.feed_id} is {status}; asked again on the next attempt",
                    _elapsed(started),
                )
            report = await self._report(settings, feed)
        except Stop as stop:
            if stop.result.status is not None and _final(stop.result.status):
                await self._forget(deliveries)
            r = stop.result
            return SendResult(r.status, r.headers, r.error, _elapsed(started), r.rejected)
        await self._forget(deliveries)
        if status != "DONE":
            detail = "; ".join(message_errors(report).values()) or "no report"
            return SendResult(
                502, {}, f"feed {job.feed_id} ended {status}: {detail}", _elapsed(started)
            )
        by_key = {d.idempotency_key: d.id for d in deliveries}
        rejected = {
            by_key[job.lines[message_id - 1][0]]: f"{job.lines[message_id - 1][1]}: {why}"
            for message_id, why in message_errors(report).items()
            if 1 <= message_id <= len(job.lines)
        }
        return SendResult(200, {}, None, _elapsed(started), rejected)

    async def _submit(self, settings: AmazonTargetSettings, job: FeedJob) -> None:
        """createFeedDocument, upload and createFeed, each step once across attempts."""
        if job.feed_id is not None:
            return
        if job.document_id is None:
            response = await self._call(
                settings, "POST", f"{FEEDS}/documents", json={"contentType": CONTENT_TYPE}
            )
            created = _expect(response, 201, "createFeedDocument")
            job.document_id, job.upload_url = created["feedDocumentId"], created["url"]
            job.uploaded = False
        if not job.uploaded:
            assert job.upload_url is not None
            response = await self._plain(
                "PUT", job.upload_url, content=job.document, headers={"Content-Type": CONTENT_TYPE}
            )
            if not response.is_success:
                # The presigned URL may have expired: start again with a new document.
                job.document_id = job.upload_url = None
                raise self._fail(f"feed document upload answered {response.status_code}")
            job.uploaded = True
        response = await self._call(
            settings,
            "POST",
            f"{FEEDS}/feeds",
            json={
                "feedType": FEED_TYPE,
                "marketplaceIds": settings.marketplace_ids,
                "inputFeedDocumentId": job.document_id,
            },
        )
        job.feed_id = str(_expect(response, 202, "createFeed")["feedId"])
        self.session.feeds_created += 1
        if self.state is not None:
            # From here the feed is Amazon's: a restart polls it rather than sending again.
            await asyncio.to_thread(
                self.state.feed_submitted,
                self.name,
                job.key,
                job.feed_id,
                job.lines,
                to_micros(datetime.now(UTC)),
            )

    async def _report(self, settings: AmazonTargetSettings, feed: Mapping[str, Any]) -> Any:
        document_id = feed.get("resultFeedDocumentId")
        if not document_id:
            return {}
        response = await self._call(settings, "GET", f"{FEEDS}/documents/{document_id}")
        doc = _expect(response, 200, "getFeedDocument")
        download = await self._plain("GET", doc["url"])
        if not download.is_success:
            raise self._fail(f"processing report download answered {download.status_code}")
        content = download.content
        if doc.get("compressionAlgorithm") == "GZIP":
            content = gzip.decompress(content)
        try:
            return orjson.loads(content)
        except orjson.JSONDecodeError as e:
            raise self._fail(f"processing report is not JSON: {e}") from None


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _headers(response: httpx.Response) -> dict[str, str]:
    headers = dict(response.headers)
    if response.status_code == 429 and "retry-after" not in headers:
        after = retry_after(headers)
        if after is not None:
            headers["Retry-After"] = after
    return headers


def _judge(response: httpx.Response, sku: str) -> tuple[int, dict[str, str], str | None]:
    body = _json(response)
    headers = _headers(response)
    if response.status_code == 200:
        refusal = submission_refusal(body)
        if refusal is not None:
            return 422, headers, f"{sku}: {refusal}"
        return 200, headers, None
    text = error_text(body) or response.text[:500]
    return response.status_code, headers, f"{sku}: {text}"


def _expect(response: httpx.Response, status: int, operation: str) -> dict[str, Any]:
    """The JSON body of a call that must answer `status`; otherwise the attempt stops."""
    body = _json(response)
    if response.status_code == status and isinstance(body, dict):
        return body
    text = error_text(body) or response.text[:500]
    raise Stop(SendResult(response.status_code, _headers(response), f"{operation}: {text}", 0.0))


def _final(status: int) -> bool:
    """A refusal that will not change on retry: the feed job is dropped."""
    return 400 <= status < 500 and status not in RETRYABLE_4XX


def _remember(applied: OrderedDict[str, None], key: str) -> None:
    applied[key] = None
    applied.move_to_end(key)
    while len(applied) > APPLIED_KEPT:
        applied.popitem(last=False)
