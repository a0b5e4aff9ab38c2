"""A small threaded HTTP server base shared by both sandbox APIs, with switches for injected faults.

Faults can be set from Python (tests in the same process) or over HTTP at `POST /_sandbox/faults`
(the CLI sandbox, tests in another process); so can a sandbox's own modes, at `POST /_sandbox/modes`.
Every request is logged so tests can count them.
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

FAULT_KINDS = ("status", "reset", "truncated", "non_json", "slow")


@dataclass
class Fault:
    kind: str = "status"
    status: int = 503
    retry_after: str | None = None
    body: Any = None
    seconds: float = 0.0


class TokenBucket:
    """A server's rate limit as most gateways keep it: `rate` tokens a second, up to `burst` saved, one per
    request; a request finding the bucket empty is refused. Thread-safe; the clock is injectable so the
    same bucket serves simulated time in unit tests."""

    def __init__(self, rate: float, burst: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not rate > 0 or not burst >= 1:
            raise ValueError("a token bucket needs a rate above 0 and room for at least one token")
        self.rate = float(rate)
        self.burst = float(burst)
        self._clock = clock
        self._tokens = self.burst
        self._at = clock()
        self._lock = threading.Lock()

    def take(self) -> bool:
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._at) * self.rate)
            self._at = now
            if self._tokens >= 1:
                self._tokens -= 1
                return True
            return False


@dataclass
class Faults:
    """Switches. `queue` faults are served one per matching request, in order, before anything else."""

    latency_ms: float = 0.0
    error_rate: float = 0.0
    error_status: int = 503
    rate_limit_per_second: float = 0.0
    rate_limit_retry_after: str | None = "1"
    queue: deque[tuple[str | None, Fault]] = field(default_factory=deque)
    seed: int = 1
    _rng: random.Random = field(default_factory=lambda: random.Random(1))
    _window: deque[float] = field(default_factory=deque)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def inject(self, *faults: Fault | int, path: str | None = None) -> None:
        """Queue faults for the next requests whose path contains `path` (or, ending in `$`, is `path`)."""
        with self._lock:
            for fault in faults:
                self.queue.append((path, Fault(status=fault) if isinstance(fault, int) else fault))

    def reset(self) -> None:
        with self._lock:
            self.latency_ms = 0.0
            self.error_rate = 0.0
            self.rate_limit_per_second = 0.0
            self.queue.clear()
            self._window.clear()

    def next_fault(self, path: str) -> Fault | None:
        with self._lock:
            for index, (match, fault) in enumerate(self.queue):
                if match is None or (path == match[:-1] if match.endswith("$") else match in path):
                    del self.queue[index]
                    return fault
            if self.rate_limit_per_second > 0:
                now = time.monotonic()
                while self._window and now - self._window[0] > 1.0:
                    self._window.popleft()
                if len(self._window) >= self.rate_limit_per_second:
                    return Fault(status=429, retry_after=self.rate_limit_retry_after)
                self._window.append(now)
            if self.error_rate > 0 and self._rng.random() < self.error_rate:
                return Fault(status=self.error_status)
        return None

    def configure(self, settings: dict[str, Any]) -> None:
        with self._lock:
            for name in ("latency_ms", "error_rate", "error_status", "rate_limit_per_second"):
                if name in settings:
                    setattr(self, name, type(getattr(self, name))(settings[name]))
            if "rate_limit_retry_after" in settings:
                value = settings["rate_limit_retry_after"]
                self.rate_limit_retry_after = None if value is None else str(value)
            if "seed" in settings:
                self._rng = random.Random(int(settings["seed"]))
        for raw in settings.get("inject", []):
            self.inject(Fault(**{k: v for k, v in raw.items() if k != "path"}), path=raw.get("path"))


class Request:
    def __init__(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        self.method = handler.command
        self.path = parts.path
        self.raw_query = parts.query
        self.query = dict(parse_qsl(parts.query, keep_blank_values=True))
        self.headers = handler.headers
        length = int(handler.headers.get("Content-Length") or 0)
        self.body_bytes = handler.rfile.read(length) if length else b""

    def json(self) -> Any:
        return json.loads(self.body_bytes.decode("utf-8")) if self.body_bytes else None


class Response:
    def __init__(
        self,
        status: int,
        body: Any = None,
        headers: dict[str, str] | None = None,
        raw: bytes | None = None,
        content_type: str = "application/json",
    ) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}
        self.raw = raw
        self.content_type = content_type

    def encoded(self) -> bytes:
        if self.raw is not None:
            return self.raw
        if self.body is None:
            return b""
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8")


class SandboxServer:
    """Serve `handle(request) -> Response` on 127.0.0.1 (or `host`) in a daemon thread."""

    name = "sandbox"

    def __init__(self, port: int = 0, host: str = "127.0.0.1") -> None:
        self.host = host
        self.faults = Faults()
        self.requests: Counter[str] = Counter()
        self.log: list[tuple[str, str, Any]] = []
        self.targets: list[str] = []  # full request targets (path and query), for URL-length checks
        self.cpu_seconds = 0.0  # CPU spent handling requests (not the injected latency), for benchmarks
        self.throttled = 0  # requests refused by a server's own rate limit (the Encharge sandbox's hidden one)
        self._log_lock = threading.Lock()
        sandbox = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # Headers and body go out in separate writes: with Nagle's algorithm, the body then waits for
            # the client's delayed ACK (40 ms on Linux), which no real API adds to every response.
            disable_nagle_algorithm = True

            def log_message(self, *_: Any) -> None:  # keep test output quiet
                return

            def _serve(self) -> None:
                sandbox._dispatch(self)

            do_GET = do_POST = do_DELETE = do_PUT = do_PATCH = _serve

        class Server(ThreadingHTTPServer):
            def handle_error(self, request: Any, client_address: Any) -> None:
                # A client that gave up (timeout, reset) is part of the tests, not a sandbox error.
                return

        self.httpd = Server((host, port), Handler)
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return self.httpd.server_address[1]

    @property
    def root_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> SandboxServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name=self.name, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    def request_count(self, method: str | None = None, contains: str = "") -> int:
        with self._log_lock:
            return sum(1 for m, p, _ in self.log if (method is None or m == method) and contains in p)

    def clear_log(self) -> None:
        with self._log_lock:
            self.log.clear()
            self.targets.clear()
            self.requests.clear()
            self.cpu_seconds = 0.0
            self.throttled = 0

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        request = Request(handler)
        if request.path == "/_sandbox/faults" and request.method == "POST":
            self.faults.configure(request.json() or {})
            self._send(handler, Response(200, {"ok": True}))
            return
        if request.path == "/_sandbox/stats" and request.method == "GET":
            with self._log_lock:
                self._send(handler, Response(200, {"requests": dict(self.requests), "total": len(self.log)}))
            return
        if request.path.startswith("/_sandbox/"):
            self._send(handler, self.control(request) or Response(404, {"message": f"no {request.path}"}))
            return
        with self._log_lock:
            self.log.append((request.method, request.path, request.body_bytes))
            self.targets.append(handler.path)
            self.requests[f"{request.method} {request.path}"] += 1
        if self.faults.latency_ms > 0:
            time.sleep(self.faults.latency_ms / 1000)
        fault = self.faults.next_fault(request.path)
        if fault is not None:
            self._send_fault(handler, fault)
            return
        cpu = time.thread_time()
        try:
            response = self.handle(request)
        except Exception as exc:  # a sandbox bug must show up as a 500, not a hung socket
            response = Response(500, {"message": f"sandbox error: {type(exc).__name__}: {exc}"})
        self._send(handler, response)
        with self._log_lock:
            self.cpu_seconds += time.thread_time() - cpu

    def _send_fault(self, handler: BaseHTTPRequestHandler, fault: Fault) -> None:
        if fault.kind == "reset":
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault.kind == "slow":
            time.sleep(fault.seconds)
            self._send(handler, Response(503, {"message": "slow"}))
            return
        if fault.kind == "truncated":
            body = b'{"people": [{"id": "trunc'
            handler.send_response(200)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(body) + 40))
            handler.end_headers()
            handler.wfile.write(body)
            handler.close_connection = True
            handler.connection.shutdown(2)
            return
        if fault.kind == "non_json":
            self._send(handler, Response(200, raw=b"<html>Service Unavailable</html>", content_type="text/html"))
            return
        headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
        body = fault.body if fault.body is not None else self.fault_body(fault.status)
        self._send(handler, Response(fault.status, body, headers))

    def fault_body(self, status: int) -> Any:
        return {"message": f"injected HTTP {status}"}

    def control(self, request: Request) -> Response | None:
        """A server's own `/_sandbox/...` switches (besides faults and stats: its modes, at
        `/_sandbox/modes`); None when it has none there."""
        return None

    def _send(self, handler: BaseHTTPRequestHandler, response: Response) -> None:
        data = response.encoded()
        handler.send_response(response.status)
        if data or response.status not in (204,):
            handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(data)))
        for name, value in response.headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        if data:
            handler.wfile.write(data)
