"""A webhook target for integration tests: real HTTP on 127.0.0.1, with faults on demand.

`Receiver` stands in for a platform that the delivery engine POSTs JSON to. It checks what
a careful platform checks (an `Idempotency-Key`, an HMAC signature when it has a secret, a
JSON body), applies each key's first body once and answers later ones as duplicates, and
can be told at any moment, from the test thread, to misbehave: go down (stop listening,
drop open connections) and come back on the same port, fail at random with a seeded RNG,
rate-limit with `Retry-After`, answer slowly, or reject the business content.

Every request, whatever its fate, wakes `wait_for`, so tests wait for what they expect
instead of sleeping. Built on the standard library's `ThreadingHTTPServer` (no new
dependency); the server speaks HTTP/1.1 with keep-alive, like a real platform.

A request goes through these stages, in this order; the first that answers wins:

1. down: the connection is closed without an answer (only reachable on a connection that
   was accepted just before `down()`; new connections are refused by the kernel);
2. `error_rate`: the status, with the configured probability (an edge failure);
3. `rate_limit`: the status and `Retry-After` (a gateway in front of the platform);
4. validation: 405 for a method other than POST, 400/411/413 for a body whose length is
   malformed, missing or too large, 401 for a missing or wrong signature (when a secret is
   set), 400 for a missing `Idempotency-Key`, 415 for a content type other than JSON,
   400 for a body that is not JSON;
5. dedupe: a key already applied answers 200 (`Idempotent-Replayed: true`), counted in
   `duplicates`, not applied again;
6. `reject`: the business rejection (a key that was rejected is not remembered: once the
   rejection is lifted, a retry with that key is applied);
7. apply: recorded in `applied`, 200.

`slow` delays every answer, after the decision: an applied request is applied first, then
answered late, so a client that times out and retries sends a duplicate that the
idempotency key absorbs (as with a real platform that was slow, not failing).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import random
import socket
import socketserver
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
MAX_BODY = 10 * 1024 * 1024
SIGNATURE_HEADER = "X-Stockbridge-Signature"
#: How often the accept loop checks for `down()`/`stop()`; bounds their latency.
POLL_INTERVAL = 0.02
#: How long `up()` keeps trying to bind the old port (it may linger briefly).
JOIN_TIMEOUT = 5.0


def sign(secret: str, raw: bytes) -> str:
    """The `X-Stockbridge-Signature` value for `raw`: `sha256=<hex HMAC-SHA256>`."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class Outcome(StrEnum):
    """What the receiver did with one request."""

    APPLIED = "applied"
    DUPLICATE = "duplicate"
    DROPPED = "dropped"  # down: connection closed without an answer
    ERROR = "error"  # error_rate
    RATE_LIMITED = "rate_limited"
    REJECTED = "rejected"
    UNAUTHORIZED = "unauthorized"
    INVALID = "invalid"  # 400/405/411/413/415


@dataclass(frozen=True)
class Received:
    """One applied request: the first body seen for its idempotency key.

    `headers` has lower-case names. `received_at` is `time.monotonic()` when the request
    was decided.
    """

    key: str
    body: Any
    raw: bytes
    headers: dict[str, str]
    path: str
    correlation_id: str | None
    received_at: float


@dataclass(frozen=True)
class Attempt:
    """One request, whatever its outcome; `status` is None when it was dropped."""

    method: str
    path: str
    key: str | None
    correlation_id: str | None
    status: int | None
    outcome: Outcome
    at: float


@dataclass(frozen=True)
class _Answer:
    status: int | None  # None: close the connection without answering
    outcome: Outcome
    body: Any
    headers: dict[str, str]


@dataclass
class _Repeat:
    """A fault that answers `status` for the next `times` requests (all, if None)."""

    status: int
    body: Any
    headers: dict[str, str]
    times: int | None

    def take(self) -> bool:
        if self.times is None:
            return True
        if self.times <= 0:
            return False
        self.times -= 1
        return True


def _retry_after(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


class Receiver:
    """A fault-injecting webhook target on 127.0.0.1; see the module docstring.

    All methods and properties are safe to call from any thread while the server runs.
    """

    def __init__(self, secret: str | None = None, seed: int = 0) -> None:
        self.secret = secret
        self._rng = random.Random(seed)
        # One re-entrant lock for all state, so a `wait_for` predicate may read properties.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        # Serialises start/down/up/stop; never held by request threads.
        self._lifecycle = threading.Lock()
        self._closing = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None
        self._started = False
        self._stopped = False
        self._down = False
        self._connections: set[socket.socket] = set()
        self._applied: list[Received] = []
        self._by_key: dict[str, Received] = {}
        self._conflicts: list[Received] = []
        self._attempts: list[Attempt] = []
        self._duplicates = 0
        self._error_p = 0.0
        self._error_status = 503
        self._rate_limit: _Repeat | None = None
        self._reject: _Repeat | None = None
        self._delay = 0.0

    # --- lifecycle ------------------------------------------------------------------------
    def start(self) -> Receiver:
        """Bind a free port on 127.0.0.1 and serve in a daemon thread.

        Raises RuntimeError if already started.
        """
        with self._lifecycle:
            if self._started:
                raise RuntimeError("Receiver already started")
            self._started = True
            self._listen(0)
        return self

    def stop(self) -> None:
        """Stop listening, drop open connections, wake slow answers. Idempotent."""
        with self._lifecycle:
            self._closing.set()
            self._stopped = True
            with self._lock:
                self._down = True
                self._changed.notify_all()
            self._close()

    def down(self) -> None:
        """Stop listening (new connections are refused) and drop open connections.

        Requests that were already decided keep their effect, but their answer may be
        lost, as when a real platform crashes. Raises RuntimeError if never started.
        """
        with self._lifecycle:
            self._require_started()
            with self._lock:
                self._down = True
                self._changed.notify_all()
            self._close()

    def up(self) -> None:
        """Listen again on the same port. No-op if already up.

        Raises RuntimeError if stopped, or if the port cannot be bound again (another
        process took it).
        """
        with self._lifecycle:
            self._require_started()
            if self._stopped:
                raise RuntimeError("Receiver stopped; it cannot come up again")
            if self._server is not None:
                return
            self._listen(self.port)
            with self._lock:
                self._down = False
                self._changed.notify_all()

    def __enter__(self) -> Receiver:
        return self if self._started else self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """The port, fixed for the receiver's life. Raises RuntimeError before `start()`."""
        if self._port is None:
            raise RuntimeError("Receiver not started")
        return self._port

    @property
    def url(self) -> str:
        """`http://127.0.0.1:PORT`. Raises RuntimeError before `start()`."""
        return f"http://{HOST}:{self.port}"

    @property
    def is_up(self) -> bool:
        with self._lock:
            return self._started and not self._down

    def _require_started(self) -> None:
        if not self._started:
            raise RuntimeError("Receiver not started")

    def _listen(self, port: int) -> None:
        # The server sets SO_REUSEADDR, so the port of a listener just closed by down()
        # can be bound again at once; failing here means another process took it.
        try:
            server = _Server((HOST, port), _Handler, self)
        except OSError as e:
            raise RuntimeError(f"Receiver cannot listen on {HOST}:{port}: {e}") from e
        self._port = server.server_address[1]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": POLL_INTERVAL},
            name=f"receiver-{self._port}",
            daemon=True,
        )
        self._thread.start()

    def _close(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()  # returns once the accept loop has stopped
            server.server_close()  # closes the listening socket: connections are refused
        if thread is not None:
            thread.join(timeout=JOIN_TIMEOUT)
        with self._lock:
            connections = list(self._connections)
        for conn in connections:
            # Wakes handler threads blocked on an idle keep-alive connection.
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # --- faults ---------------------------------------------------------------------------
    def error_rate(self, p: float, status: int = 503) -> None:
        """Fail each request with `status` with probability `p` (0 turns it off).

        Draws come from `random.Random(seed)`, one per request that reaches this stage
        while `p > 0`, so a given seed and request order always fail the same requests.
        Raises ValueError if `p` is outside [0, 1].
        """
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"error_rate p must be in [0, 1], got {p}")
        with self._lock:
            self._error_p, self._error_status = p, status

    def rate_limit(
        self, status: int = 429, retry_after: float | str | None = 1, times: int | None = None
    ) -> None:
        """Answer the next `times` requests (all, while set, if None) with `status`.

        `Retry-After` is `retry_after` as given if a string (an HTTP date, say), whole
        seconds as an integer, a fraction as a decimal ("0.5", handy for fast tests);
        None sends no header.
        """
        headers = {} if retry_after is None else {"Retry-After": _retry_after(retry_after)}
        body = {"error": "rate_limited"}
        with self._lock:
            self._rate_limit = _Repeat(status, body, headers, times)

    def slow(self, seconds: float) -> None:
        """Delay every answer by `seconds` (0 turns it off); the decision is made first."""
        if seconds < 0:
            raise ValueError(f"slow seconds must be >= 0, got {seconds}")
        with self._lock:
            self._delay = seconds

    def reject(
        self, status: int = 422, body: dict[str, Any] | None = None, times: int | None = None
    ) -> None:
        """Reject the next `times` new requests (all, while set, if None): not applied."""
        answer = body if body is not None else {"error": "rejected"}
        with self._lock:
            self._reject = _Repeat(status, answer, {}, times)

    def healthy(self) -> None:
        """Clear every fault, and come back up if down (and not stopped)."""
        with self._lock:
            self._error_p = 0.0
            self._rate_limit = self._reject = None
            self._delay = 0.0
        if self._started and not self._stopped:
            self.up()

    # --- what was received ----------------------------------------------------------------
    @property
    def applied(self) -> list[Received]:
        """Applied requests, in order of application (a copy)."""
        with self._lock:
            return list(self._applied)

    @property
    def duplicates(self) -> int:
        """Requests answered 200 without being applied, because their key was applied."""
        with self._lock:
            return self._duplicates

    @property
    def conflicts(self) -> list[Received]:
        """Duplicates whose body differs from the applied one (a sender bug, usually)."""
        with self._lock:
            return list(self._conflicts)

    @property
    def requests(self) -> int:
        """Every request that reached the server, including failed and dropped ones."""
        with self._lock:
            return len(self._attempts)

    @property
    def attempts(self) -> list[Attempt]:
        """Every request, in order of decision (a copy)."""
        with self._lock:
            return list(self._attempts)

    def statuses(self) -> list[int | None]:
        """The status of every request so far, in order (None: dropped)."""
        with self._lock:
            return [a.status for a in self._attempts]

    def applied_keys(self) -> list[str]:
        with self._lock:
            return [r.key for r in self._applied]

    def bodies_for(self, path: str) -> list[Any]:
        """Applied bodies POSTed to `path` (without query string), in order."""
        with self._lock:
            return [r.body for r in self._applied if r.path == path]

    def received(self, key: str) -> Received | None:
        """The applied request for `key`, if any."""
        with self._lock:
            return self._by_key.get(key)

    # --- waiting --------------------------------------------------------------------------
    def wait_for(
        self, predicate: Callable[[Receiver], bool], timeout: float = 30, message: str = ""
    ) -> None:
        """Block until `predicate(self)` is true; it is checked after every request.

        Raises AssertionError, with `message` and a summary of what was received, if it is
        still false after `timeout` seconds.
        """
        with self._changed:
            if self._changed.wait_for(lambda: predicate(self), timeout=timeout):
                return
            name = message or getattr(predicate, "__qualname__", repr(predicate))
            raise AssertionError(f"timed out after {timeout} s waiting for {name}; {self}")

    def wait_applied(self, n: int, timeout: float = 30) -> list[Received]:
        """Block until at least `n` requests are applied; return the applied list.

        Raises AssertionError after `timeout` seconds.
        """
        self.wait_for(lambda r: len(r._applied) >= n, timeout, f"{n} applied")
        return self.applied

    def __repr__(self) -> str:
        with self._lock:
            port = self._port if self._port is not None else "-"
            state = "stopped" if self._stopped else "down" if self._down else "up"
            if not self._started:
                state = "not started"
            faults = []
            if self._error_p:
                faults.append(f"error_rate({self._error_p}, {self._error_status})")
            if self._rate_limit is not None:
                faults.append(f"rate_limit(times={self._rate_limit.times})")
            if self._reject is not None:
                faults.append(f"reject(times={self._reject.times})")
            if self._delay:
                faults.append(f"slow({self._delay})")
            last = ", ".join(f"{a.outcome}:{a.status}:{a.key}" for a in self._attempts[-10:])
            return (
                f"<Receiver {HOST}:{port} {state} requests={len(self._attempts)}"
                f" applied={len(self._applied)} duplicates={self._duplicates}"
                f" faults=[{', '.join(faults)}] last=[{last}]>"
            )

    # --- the request pipeline (called from handler threads) -------------------------------
    def _track(self, conn: socket.socket, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def _decide(
        self, method: str, path: str, headers: dict[str, str], raw: bytes | int
    ) -> tuple[_Answer, float]:
        """Decide, record and notify, atomically; return the answer and the delay."""
        key = headers.get("idempotency-key") or None
        correlation_id = headers.get("x-correlation-id")
        now = time.monotonic()
        with self._lock:
            answer = self._answer(method, path, headers, raw, key, correlation_id, now)
            self._attempts.append(
                Attempt(method, path, key, correlation_id, answer.status, answer.outcome, now)
            )
            self._changed.notify_all()
            return answer, self._delay

    def _answer(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        raw: bytes | int,
        key: str | None,
        correlation_id: str | None,
        now: float,
    ) -> _Answer:
        if self._down:
            return _Answer(None, Outcome.DROPPED, None, {})
        if self._error_p and self._rng.random() < self._error_p:
            return _Answer(self._error_status, Outcome.ERROR, {"error": "injected"}, {})
        if self._rate_limit is not None and self._rate_limit.take():
            limit = self._rate_limit
            return _Answer(limit.status, Outcome.RATE_LIMITED, limit.body, dict(limit.headers))
        if method != "POST":
            return _invalid(405, "method not allowed", {"Allow": "POST"})
        if isinstance(raw, int):
            return _invalid(raw, "body too large" if raw == 413 else "bad or missing length")
        if self.secret is not None:
            given = headers.get(SIGNATURE_HEADER.lower(), "")
            expected = sign(self.secret, raw)
            # Header values are decoded as latin-1 by http.server, so this round-trips.
            if not hmac.compare_digest(given.encode("latin-1"), expected.encode()):
                return _Answer(401, Outcome.UNAUTHORIZED, {"error": "bad signature"}, {})
        if key is None:
            return _invalid(400, "Idempotency-Key required")
        media = headers.get("content-type", "").split(";")[0].strip().lower()
        if media != "application/json" and not media.endswith("+json"):
            return _invalid(415, "JSON body required")
        try:
            body = json.loads(raw)
        except ValueError:
            return _invalid(400, "body is not JSON")
        request = Received(key, body, raw, headers, path, correlation_id, now)
        first = self._by_key.get(key)
        if first is not None:
            self._duplicates += 1
            if first.body != body:
                self._conflicts.append(request)
            return _Answer(200, Outcome.DUPLICATE, {"status": "duplicate"}, _REPLAYED)
        if self._reject is not None and self._reject.take():
            return _Answer(self._reject.status, Outcome.REJECTED, self._reject.body, {})
        self._by_key[key] = request
        self._applied.append(request)
        return _Answer(200, Outcome.APPLIED, {"status": "applied"}, {})


_REPLAYED = {"Idempotent-Replayed": "true"}


def _invalid(status: int, error: str, headers: dict[str, str] | None = None) -> _Answer:
    return _Answer(status, Outcome.INVALID, {"error": error}, headers or {})


class _Server(ThreadingHTTPServer):
    allow_reuse_address = True  # rebinding after down() must not wait for TIME_WAIT
    daemon_threads = True
    block_on_close = False  # else closing waits, without a bound, for slow answers
    request_queue_size = 128

    def __init__(
        self, address: tuple[str, int], handler: type[_Handler], receiver: Receiver
    ) -> None:
        self.receiver = receiver
        super().__init__(address, handler)

    def server_bind(self) -> None:
        # Not HTTPServer.server_bind: it looks up the host's FQDN, a DNS call for nothing.
        # TCPServer's sets SO_REUSEADDR, which lets `up()` rebind past TIME_WAIT sockets.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = HOST, self.server_address[1]

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Connections cut by down()/stop() or by an impatient client are expected here.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as a real platform
    server_version = "StockbridgeTestReceiver/1"
    timeout = 60  # an idle keep-alive connection is closed after this
    # Headers and body go out in two writes; with Nagle, the body waits for the client's
    # delayed ACK (about 40 ms a response).
    disable_nagle_algorithm = True
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.receiver._track(self.connection, True)

    def finish(self) -> None:
        self.server.receiver._track(self.connection, False)
        super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def do_PUT(self) -> None:
        self._handle()

    def do_PATCH(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        raw = self._read_body()
        headers: dict[str, str] = {}
        for name, value in self.headers.items():
            name = name.lower()
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        path = self.path.split("?", 1)[0]
        receiver = self.server.receiver
        answer, delay = receiver._decide(self.command, path, headers, raw)
        if isinstance(raw, int):
            self.close_connection = True  # the unread body would be taken as a request
        if answer.status is None:
            self.close_connection = True
            return
        if delay:
            receiver._closing.wait(delay)
        payload = json.dumps(answer.body).encode()
        self.send_response(answer.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(payload)

    def _read_body(self) -> bytes | int:
        """The raw body, or the status that refuses it (400, 411, 413)."""
        try:
            if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
                return self._read_chunked()
            length_header = self.headers.get("Content-Length")
            if length_header is None:
                return b"" if self.command in ("GET", "DELETE") else 411
            length = int(length_header)
        except ValueError:
            return 400
        if not 0 <= length <= MAX_BODY:
            return 413 if length > MAX_BODY else 400
        return self.rfile.read(length)

    def _read_chunked(self) -> bytes | int:
        chunks: list[bytes] = []
        size = 0
        while True:
            length = int(self.rfile.readline(65537).split(b";")[0].strip(), 16)
            if length == 0:
                while self.rfile.readline(65537) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            size += length
            if size > MAX_BODY:
                return 413
            chunks.append(self.rfile.read(length))
            self.rfile.readline(3)  # the CRLF after the chunk
