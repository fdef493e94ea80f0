"""A local Amazon SP-API for tests and demos: LWA tokens, Listings Items, Feeds, Orders,
and a relay that POSTs ORDER_CHANGE notifications to the hub.

Shapes, status codes and error bodies follow the documented API (connectors.md §2); the
token bucket of each operation is the documented one. `python -m` is not needed:
`stockbridge sim amazon --port 8003` serves it.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import random
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl

import httpx
import orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

from .feeds import FEED_TYPE
from .sim_state import (
    ACCESS_DENIED,
    INVALID_INPUT,
    QUOTA_EXCEEDED,
    RATES,
    SERVICE_UNAVAILABLE,
    URL_LIFETIME,
    AmazonState,
    Faults,
    iso,
)

#: Where the simulator serves presigned feed documents (Amazon uses S3 URLs).
DOCUMENTS = "/sim-documents"


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(
        orjson.dumps(body),
        status_code=status,
        media_type="application/json",
        headers={"x-amzn-RequestId": str(uuid.uuid4()), **(headers or {})},
    )


def _errors(
    status: int, *errors: dict[str, str], headers: dict[str, str] | None = None
) -> Response:
    return _json(status, {"errors": list(errors)}, headers)


def _rate(operation: str) -> dict[str, str]:
    return {"x-amzn-RateLimit-Limit": str(RATES[operation][0])}


def _not_found(what: str) -> Response:
    return _errors(404, {"code": "NOT_FOUND", "message": what, "details": ""})


def _here(request: Request) -> str:
    """The simulator's own base URL, with the prefix it is mounted under, if any (the
    demo serves it under one on the platforms port)."""
    prefix = str(request.scope.get("root_path", "")).rstrip("/")
    return str(request.base_url).rstrip("/") + prefix


def create_app(state: AmazonState, faults: Faults | None = None) -> FastAPI:
    """The simulated SP-API over `state` (its faults replaced by `faults` if given)."""
    if faults is not None:
        state.faults = faults
    app = FastAPI(title="Amazon SP-API simulator", docs_url=None, redoc_url=None)

    def guard(request: Request, operation: str) -> Response | None:
        """Outage, access token and rate limit, in that order, as SP-API checks them."""
        if state.faults.outage:
            return _errors(503, SERVICE_UNAVAILABLE)
        refused = state.check_token(request.headers.get("x-amz-access-token"))
        if refused is not None:
            return _errors(403, refused)
        if not state.admit(operation):
            return _errors(429, QUOTA_EXCEEDED, headers=_rate(operation))
        return None

    async def body_of(request: Request) -> Any:
        try:
            return orjson.loads(await request.body())
        except orjson.JSONDecodeError:
            return None

    # --- Login with Amazon ---------------------------------------------------------------
    @app.post("/auth/o2/token")
    async def token(request: Request) -> Response:
        # application/x-www-form-urlencoded, read without a multipart parser
        form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
        status, body = state.grant(form)
        return Response(orjson.dumps(body), status_code=status, media_type="application/json")

    # --- Listings Items 2021-08-01 -------------------------------------------------------
    @app.patch("/listings/2021-08-01/items/{seller_id}/{sku:path}")
    async def patch_listing(seller_id: str, sku: str, request: Request) -> Response:
        refused = guard(request, "patchListingsItem")
        if refused is not None:
            return refused
        if not request.query_params.get("marketplaceIds"):
            return _errors(400, INVALID_INPUT, headers=_rate("patchListingsItem"))
        if seller_id != state.seller_id:
            return _errors(403, ACCESS_DENIED)
        status, body = state.patch(sku, await body_of(request))
        return _json(status, body, _rate("patchListingsItem"))

    @app.get("/listings/2021-08-01/items/{seller_id}/{sku:path}")
    async def get_listing(seller_id: str, sku: str, request: Request) -> Response:
        refused = guard(request, "getListingsItem")
        if refused is not None:
            return refused
        listing = state.listings.get(sku) if seller_id == state.seller_id else None
        if listing is None:
            return _not_found(f"SKU '{sku}' not found in marketplace {state.marketplace_id}")
        body = {
            "sku": sku,
            "fulfillmentAvailability": [
                {"fulfillmentChannelCode": code, "quantity": qty}
                for code, qty in sorted(listing.items())
            ],
        }
        return _json(200, body, _rate("getListingsItem"))

    # --- Feeds 2021-06-30 ----------------------------------------------------------------
    @app.post("/feeds/2021-06-30/documents")
    async def create_feed_document(request: Request) -> Response:
        refused = guard(request, "createFeedDocument")
        if refused is not None:
            return refused
        body = await body_of(request)
        if not isinstance(body, dict) or not isinstance(body.get("contentType"), str):
            return _errors(400, INVALID_INPUT)
        doc = state.new_document()
        url = f"{_here(request)}{DOCUMENTS}/{doc.document_id}"
        return _json(201, {"feedDocumentId": doc.document_id, "url": url})

    @app.post("/feeds/2021-06-30/feeds")
    async def create_feed(request: Request) -> Response:
        refused = guard(request, "createFeed")
        if refused is not None:
            return refused
        body = await body_of(request)
        if not isinstance(body, dict) or body.get("feedType") != FEED_TYPE:
            return _errors(400, INVALID_INPUT)
        markets = body.get("marketplaceIds")
        doc = state.documents.get(str(body.get("inputFeedDocumentId")))
        if not isinstance(markets, list) or not 1 <= len(markets) <= 25 or doc is None:
            return _errors(400, INVALID_INPUT)
        feed = state.new_feed([str(m) for m in markets], doc.document_id)
        return _json(202, {"feedId": feed.feed_id})

    @app.get("/feeds/2021-06-30/feeds/{feed_id}")
    async def get_feed(feed_id: str, request: Request) -> Response:
        refused = guard(request, "getFeed")
        if refused is not None:
            return refused
        feed = state.feeds.get(feed_id)
        if feed is None:
            return _not_found(f"Feed {feed_id} not found")
        state.advance_feed(feed)
        body: dict[str, Any] = {
            "feedId": feed.feed_id,
            "feedType": FEED_TYPE,
            "marketplaceIds": feed.marketplace_ids,
            "createdTime": iso(feed.created_time),
            "processingStatus": feed.status,
        }
        if feed.result_document_id is not None:
            body["resultFeedDocumentId"] = feed.result_document_id
        return _json(200, body)

    @app.get("/feeds/2021-06-30/documents/{document_id}")
    async def get_feed_document(document_id: str, request: Request) -> Response:
        refused = guard(request, "getFeedDocument")
        if refused is not None:
            return refused
        doc = state.documents.get(document_id)
        if doc is None:
            return _not_found(f"Feed document {document_id} not found")
        body = {
            "feedDocumentId": document_id,
            "url": f"{_here(request)}{DOCUMENTS}/{document_id}",
        }
        if state.faults.gzip_reports:
            body["compressionAlgorithm"] = "GZIP"
        return _json(200, body)

    # The presigned URLs (S3 in production): no access token, a five-minute life.
    @app.put(DOCUMENTS + "/{document_id}")
    async def upload(document_id: str, request: Request) -> Response:
        doc = state.documents.get(document_id)
        if doc is None:
            return Response(b"NoSuchKey", status_code=404)
        if state.clock.now() - doc.created_at > URL_LIFETIME:
            return Response(b"Request has expired", status_code=403)
        doc.content = await request.body()
        return Response(status_code=200)

    @app.get(DOCUMENTS + "/{document_id}")
    async def download(document_id: str) -> Response:
        doc = state.documents.get(document_id)
        if doc is None or doc.content is None:
            return Response(b"NoSuchKey", status_code=404)
        content = gzip.compress(doc.content) if state.faults.gzip_reports else doc.content
        return Response(content, media_type="application/json")

    # --- Orders v0 -----------------------------------------------------------------------
    @app.get("/orders/v0/orders")
    async def get_orders(request: Request) -> Response:
        refused = guard(request, "getOrders")
        if refused is not None:
            return refused
        q = request.query_params
        after = q.get("LastUpdatedAfter")
        if not q.get("MarketplaceIds") or not after:
            return _errors(400, INVALID_INPUT)
        markets = set(q["MarketplaceIds"].split(","))
        listed = sorted(
            (
                o
                for o in state.orders.values()
                if o.marketplace_id in markets and iso(o.updated) > after
            ),
            key=lambda o: (o.updated, o.order_id),
        )
        size = min(int(q.get("MaxResultsPerPage") or 100), 100)
        start = int(q.get("NextToken") or 0)
        page = listed[start : start + size]
        payload: dict[str, Any] = {
            "Orders": [state.order_json(o) for o in page],
            "LastUpdatedBefore": iso(state.clock.utc()),
        }
        if start + size < len(listed):
            payload["NextToken"] = str(start + size)
        return _json(200, {"payload": payload}, _rate("getOrders"))

    @app.get("/orders/v0/orders/{order_id}/orderItems")
    async def get_order_items(order_id: str, request: Request) -> Response:
        refused = guard(request, "getOrderItems")
        if refused is not None:
            return refused
        order = state.orders.get(order_id)
        if order is None:
            return _not_found(f"Order {order_id} not found")
        return _json(200, {"payload": state.items_json(order)}, _rate("getOrderItems"))

    # --- for operators: what the simulated account holds ---------------------------------
    @app.get("/_sim/listings")
    async def listings() -> Response:
        return _json(200, {"sellerId": state.seller_id, "listings": state.listings})

    return app


class NotificationRelay:
    """What a small SQS (or EventBridge) consumer does in production: POST each ORDER_CHANGE
    notification to the hub, signed with HMAC-SHA256 of the raw body.

    A notification the hub did not take (no answer, or not 2xx) stays queued for the next
    `deliver`, as an SQS message not deleted comes back after its visibility timeout.
    """

    def __init__(
        self,
        state: AmazonState,
        url: str,
        secret: str,
        header: str = "X-Stockbridge-Relay-Signature",
        rng: random.Random | None = None,
    ) -> None:
        self.state = state
        self.url = url
        self.secret = secret
        self.header = header
        self.rng = rng or random.Random(0)
        self.statuses: list[int | None] = []

    def sign(self, body: bytes) -> str:
        return "sha256=" + hmac.new(self.secret.encode(), body, hashlib.sha256).hexdigest()

    def deliver(
        self,
        client: httpx.Client,
        *,
        duplicate: float = 0.0,
        reorder: bool = False,
        tamper: Callable[[bytes], bytes] | None = None,
    ) -> list[int | None]:
        """POST every queued notification; `duplicate` is the chance each is sent twice,
        `reorder` shuffles them, `tamper` changes a body after it was signed."""
        queued, self.state.outbox = self.state.outbox, []
        sends = [n for n in queued for _ in range(2 if self.rng.random() < duplicate else 1)]
        if reorder:
            self.rng.shuffle(sends)
        statuses: list[int | None] = []
        failed: list[dict[str, Any]] = []
        for notification in sends:
            body = orjson.dumps(notification)
            headers = {"Content-Type": "application/json", self.header: self.sign(body)}
            if tamper is not None:
                body = tamper(body)
            try:
                status: int | None = client.post(
                    self.url, content=body, headers=headers
                ).status_code
            except httpx.HTTPError:
                status = None
            statuses.append(status)
            refused = status is None or not 200 <= status < 300
            if refused and tamper is None and notification not in failed:
                failed.append(notification)
        self.state.outbox = failed + self.state.outbox
        self.statuses += statuses
        return statuses


def demo_state(seed: int) -> AmazonState:
    """A seller account for `stockbridge sim amazon`: any SKU patched gets a listing."""
    return AmazonState(rng=random.Random(seed), strict_skus=False)


def serve(host: str, port: int, seed: int) -> None:
    """Serve the simulator until interrupted (`stockbridge sim amazon`)."""
    import uvicorn

    state = demo_state(seed)
    print(
        f"Amazon SP-API simulator on http://{host}:{port} "
        f"(seller {state.seller_id}, marketplace {state.marketplace_id})\n"
        f"  LWA token URL: http://{host}:{port}/auth/o2/token\n"
        f"  client id {state.client_id}, client secret {state.client_secret}, "
        f"refresh token {state.refresh_token}",
        flush=True,
    )
    uvicorn.run(create_app(state), host=host, port=port, log_level="warning")
