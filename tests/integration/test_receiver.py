"""The webhook test receiver itself, over real HTTP: dedupe, signatures, faults, waiting."""

from __future__ import annotations

import hashlib
import hmac
import json
import random
import socket
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from .receiver import Outcome, Receiver

SECRET = "whsec_test"


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def http(receiver: Receiver) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=receiver.url, timeout=5) as c:
        yield c


def post(
    http: httpx.Client,
    key: str | None,
    body: Any = None,
    path: str = "/hooks/stock",
    **headers: str,
) -> httpx.Response:
    """POST `body` (default: a small stock message) as JSON with an idempotency key."""
    if key is not None:
        headers["Idempotency-Key"] = key
    payload = body if body is not None else {"sku": "MUG", "available": 3}
    return http.post(path, json=payload, headers=headers)


def hmac_header(secret: str, raw: bytes) -> str:
    # Written out here rather than taken from receiver.sign, so the check is independent.
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


def refuses_connections(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(2)
        try:
            s.connect(("127.0.0.1", port))
        except ConnectionRefusedError:
            return True
    return False


# --- dedupe -------------------------------------------------------------------------------
def test_the_first_body_per_key_is_applied_and_repeats_are_counted(
    receiver: Receiver, http: httpx.Client
) -> None:
    # Given two deliveries, the first sent twice (the second time with another body)
    first = post(http, "k1", {"n": 1}, **{"X-Correlation-Id": "corr-1"})
    again = post(http, "k1", {"n": 1})
    changed = post(http, "k1", {"n": 99})
    other = post(http, "k2", {"n": 2}, path="/hooks/price")
    # Then every one is answered 200, repeats marked as replays
    assert [r.status_code for r in (first, again, changed, other)] == [200] * 4
    assert first.json() == {"status": "applied"}
    assert again.json() == {"status": "duplicate"}
    assert again.headers["Idempotent-Replayed"] == "true"
    # And each key is applied once, with its first body, in order
    assert receiver.applied_keys() == ["k1", "k2"]
    assert [r.body for r in receiver.applied] == [{"n": 1}, {"n": 2}]
    assert receiver.duplicates == 2
    assert receiver.requests == 4
    # And the repeat with another body is reported as a conflict
    assert [c.body for c in receiver.conflicts] == [{"n": 99}]
    # And what was applied keeps its path, headers and correlation id
    k1 = receiver.received("k1")
    assert k1 is not None
    assert (k1.path, k1.correlation_id) == ("/hooks/stock", "corr-1")
    assert k1.headers["idempotency-key"] == "k1"
    assert json.loads(k1.raw) == {"n": 1}
    assert receiver.bodies_for("/hooks/price") == [{"n": 2}]


def test_concurrent_repeats_of_one_key_are_applied_once(
    receiver: Receiver, http: httpx.Client
) -> None:
    # When eight threads deliver the same key at once
    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(lambda _: post(http, "same").status_code, range(8)))
    # Then all succeed, and it is applied exactly once
    assert codes == [200] * 8
    assert receiver.applied_keys() == ["same"]
    assert receiver.duplicates == 7


def test_malformed_requests_are_refused_and_counted(receiver: Receiver, http: httpx.Client) -> None:
    # When requests lack a key, use another method, another media type, or broken JSON
    no_key = post(http, None)
    get = http.get("/hooks/stock", headers={"Idempotency-Key": "g"})
    text = http.post(
        "/hooks/stock",
        content=b"hi",
        headers={"Idempotency-Key": "t", "Content-Type": "text/plain"},
    )
    broken = http.post(
        "/hooks/stock",
        content=b"{nope",
        headers={"Idempotency-Key": "b", "Content-Type": "application/json"},
    )
    # Then each gets its status, nothing is applied, and all are counted
    assert [r.status_code for r in (no_key, get, text, broken)] == [400, 405, 415, 400]
    assert get.headers["Allow"] == "POST"
    assert receiver.applied == []
    assert receiver.requests == 4
    assert {a.outcome for a in receiver.attempts} == {Outcome.INVALID}


# --- signatures ---------------------------------------------------------------------------
def test_the_signature_is_checked_when_a_secret_is_set() -> None:
    with Receiver(secret=SECRET) as receiver, httpx.Client(base_url=receiver.url) as http:
        raw = json.dumps({"sku": "MUG", "available": 3}).encode()

        def send(key: str, content: bytes, signature: str | bytes | None) -> int:
            headers = [(b"Idempotency-Key", key.encode()), (b"Content-Type", b"application/json")]
            if signature is not None:
                value = signature if isinstance(signature, bytes) else signature.encode()
                headers.append((b"X-Stockbridge-Signature", value))
            return http.post("/hooks/stock", content=content, headers=headers).status_code

        # When signed well, with another secret, over another body, not at all, or badly
        good = send("good", raw, hmac_header(SECRET, raw))
        wrong_secret = send("w", raw, hmac_header("other", raw))
        tampered = send("t", raw + b" ", hmac_header(SECRET, raw))
        missing = send("m", raw, None)
        garbage = send("g", raw, b"sha256=zz\xe9")  # not ASCII
        # Then only the good one is accepted and applied
        assert [good, wrong_secret, tampered, missing, garbage] == [200, 401, 401, 401, 401]
        assert receiver.applied_keys() == ["good"]
        assert receiver.requests == 5


def test_without_a_secret_no_signature_is_needed(http: httpx.Client) -> None:
    assert post(http, "k").status_code == 200


# --- down / up ----------------------------------------------------------------------------
def test_down_refuses_connections_and_up_listens_again_on_the_same_port(
    receiver: Receiver, http: httpx.Client
) -> None:
    # Given a delivery over a kept-alive connection
    port = receiver.port
    assert post(http, "before").status_code == 200
    # When the receiver goes down
    receiver.down()
    # Then new connections are refused, and the kept-alive one is gone too
    assert not receiver.is_up
    assert refuses_connections(port)
    with pytest.raises(httpx.ConnectError):
        post(http, "while-down")
    # When it comes back up
    receiver.up()
    # Then it listens on the same port and the same client gets through
    assert receiver.port == port
    assert receiver.url == f"http://127.0.0.1:{port}"
    assert post(http, "after").status_code == 200
    assert receiver.applied_keys() == ["before", "after"]


def test_healthy_brings_a_down_receiver_back(receiver: Receiver, http: httpx.Client) -> None:
    receiver.down()
    receiver.rate_limit()
    receiver.healthy()
    assert receiver.is_up
    assert post(http, "k").status_code == 200


def test_the_context_manager_stops_listening_on_exit() -> None:
    with Receiver() as receiver, httpx.Client(base_url=receiver.url) as http:
        port = receiver.port
        assert post(http, "k").status_code == 200
    assert refuses_connections(port)


# --- error rate, rate limit, reject, slow -------------------------------------------------
def test_error_rate_fails_the_requests_its_seeded_rng_picks() -> None:
    # Given a receiver failing half the requests, seeded
    with Receiver(seed=7) as receiver, httpx.Client(base_url=receiver.url) as http:
        receiver.error_rate(0.5, status=502)
        # When twenty distinct deliveries arrive
        codes = [post(http, f"k{i}").status_code for i in range(20)]
    # Then the failures are exactly those random.Random(seed) picks, and are not applied
    rng = random.Random(7)
    assert codes == [502 if rng.random() < 0.5 else 200 for _ in range(20)]
    assert 200 in codes and 502 in codes
    assert receiver.applied_keys() == [f"k{i}" for i, c in enumerate(codes) if c == 200]
    assert receiver.requests == 20


def test_rate_limit_answers_with_retry_after_for_the_given_number_of_requests(
    receiver: Receiver, http: httpx.Client
) -> None:
    # Given a limit on the next two requests
    receiver.rate_limit(retry_after=1, times=2)
    # When the same delivery is tried three times
    responses = [post(http, "k") for _ in range(3)]
    # Then two are limited with Retry-After and not applied; the third is applied
    assert [r.status_code for r in responses] == [429, 429, 200]
    assert [r.headers.get("Retry-After") for r in responses[:2]] == ["1", "1"]
    assert receiver.applied_keys() == ["k"]
    assert receiver.statuses() == [429, 429, 200]


def test_rate_limit_without_times_lasts_until_cleared(
    receiver: Receiver, http: httpx.Client
) -> None:
    receiver.rate_limit(status=503, retry_after=0.5)
    assert [post(http, "k").headers["Retry-After"] for _ in range(3)] == ["0.5"] * 3
    receiver.rate_limit(retry_after="Wed, 21 Oct 2026 07:28:00 GMT", times=1)
    assert post(http, "k").headers["Retry-After"] == "Wed, 21 Oct 2026 07:28:00 GMT"
    receiver.rate_limit(retry_after=None, times=1)
    limited = post(http, "k")
    assert limited.status_code == 429
    assert "Retry-After" not in limited.headers
    receiver.healthy()
    assert post(http, "k").status_code == 200
    assert receiver.applied_keys() == ["k"]


def test_reject_refuses_the_content_without_applying_it(
    receiver: Receiver, http: httpx.Client
) -> None:
    # Given one business rejection with a body of its own, then one with the defaults
    receiver.reject(status=400, body={"code": "unknown_sku"}, times=1)
    custom = post(http, "k1")
    receiver.reject(times=1)
    default = post(http, "k2")
    # Then both are refused and nothing is applied
    assert (custom.status_code, custom.json()) == (400, {"code": "unknown_sku"})
    assert (default.status_code, default.json()) == (422, {"error": "rejected"})
    assert receiver.applied == []
    # And once the rejections are used up, a retry of a rejected key is applied
    assert post(http, "k1").status_code == 200
    assert receiver.applied_keys() == ["k1"]


def test_a_slow_answer_is_applied_so_the_retry_is_a_duplicate(
    receiver: Receiver, http: httpx.Client
) -> None:
    # Given a receiver slower than the client's patience
    receiver.slow(0.5)
    with pytest.raises(httpx.ReadTimeout):
        http.post("/hooks/stock", json={"n": 1}, headers={"Idempotency-Key": "k"}, timeout=0.05)
    # Then the request was applied all the same
    assert [r.key for r in receiver.wait_applied(1, timeout=2)] == ["k"]
    # And the client's retry, once the receiver is quick again, is absorbed as a duplicate
    receiver.healthy()
    retry = post(http, "k", {"n": 1})
    assert retry.json() == {"status": "duplicate"}
    assert (len(receiver.applied), receiver.duplicates) == (1, 1)


# --- waiting ------------------------------------------------------------------------------
def test_wait_for_returns_once_the_predicate_holds(receiver: Receiver, http: httpx.Client) -> None:
    # When deliveries are made from other threads
    with ThreadPoolExecutor(3) as pool:
        futures = [pool.submit(post, http, key) for key in ("a", "b", "a")]
        # Then the test thread can wait for them without sleeping
        receiver.wait_for(lambda r: r.requests == 3 and r.duplicates == 1, timeout=5)
        assert sorted(receiver.applied_keys()) == ["a", "b"]
        assert receiver.wait_applied(2, timeout=5)[0].key in {"a", "b"}
        assert [f.result().status_code for f in futures] == [200] * 3


def test_wait_for_raises_with_a_summary_on_timeout(receiver: Receiver, http: httpx.Client) -> None:
    post(http, "k")
    with pytest.raises(AssertionError, match=r"waiting for 2 applied.*requests=1 applied=1"):
        receiver.wait_applied(2, timeout=0.1)
    with pytest.raises(AssertionError, match=r"timed out after 0\.05 s"):
        receiver.wait_for(lambda r: r.duplicates > 0, timeout=0.05)
