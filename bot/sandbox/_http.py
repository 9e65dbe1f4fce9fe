"""A loopback HTTP server base for the platform fakes.

The fakes speak real HTTP so the production clients (slack_sdk, twilio-python) run
unmodified against them. One server runs in a background thread on 127.0.0.1 with a
random port; connections are served on pooled threads, HTTP/1.1 keep-alive is on and
every response carries Content-Length, so a benchmark's client can reuse connections
and the fake is not the bottleneck.
"""

from __future__ import annotations

import contextlib
import json
import queue
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any, Self, TypeVar
from urllib.parse import parse_qs, urlsplit

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """Raised by `wait_for` so pytest shows it as a failed expectation, not a crash."""


@dataclass
class Request:
    """One HTTP request as the fake saw it (headers with lower-case names)."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    target: str = ""  # path plus query exactly as requested (what signatures cover)

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    def form(self) -> dict[str, list[str]]:
        """The url-encoded body as lists of values (repeated keys kept, as Twilio needs)."""
        if self.content_type != "application/x-www-form-urlencoded" or not self.body:
            return {}
        return parse_qs(self.body.decode("utf-8"), keep_blank_values=True)

    def json(self) -> Any:
        if not self.body:
            return None
        return json.loads(self.body.decode("utf-8"))

    def multipart_fields(self) -> dict[str, str | bytes]:
        """Fields of a multipart/form-data body: text as str, file parts as bytes."""
        header = self.headers.get("content-type", "")
        if not header.lower().startswith("multipart/form-data"):
            return {}
        raw = b"Content-Type: " + header.encode("latin-1") + b"\r\n\r\n" + self.body
        message = BytesParser(policy=HTTP).parsebytes(raw)
        fields: dict[str, str | bytes] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if not isinstance(name, str):
                continue
            raw_payload = part.get_payload(decode=True)
            payload = raw_payload if isinstance(raw_payload, bytes) else b""
            if part.get_filename() is None:
                fields[name] = payload.decode("utf-8")
            else:
                fields[name] = payload
        return fields


@dataclass
class Response:
    """What the fake answers; `body` is bytes, JSON helpers build it."""

    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Close the connection without answering (a reset after the request was handled).
    drop: bool = False

    @classmethod
    def json(
        cls, payload: Any, status: int = 200, headers: dict[str, str] | None = None
    ) -> Response:
        body = json.dumps(payload).encode("utf-8")
        merged = {"Content-Type": "application/json; charset=utf-8"}
        merged.update(headers or {})
        return cls(status=status, body=body, headers=merged)

    @classmethod
    def text(cls, text: str, status: int = 200, content_type: str = "text/plain") -> Response:
        return cls(
            status=status,
            body=text.encode("utf-8"),
            headers={"Content-Type": f"{content_type}; charset=utf-8"},
        )


class _Handler(BaseHTTPRequestHandler):
    """Turns each HTTP request into a `Request` and hands it to the owning fake."""

    protocol_version = "HTTP/1.1"
    # Headers and body go out as separate writes; without TCP_NODELAY a keep-alive
    # client waits on delayed ACKs (about 40 ms per request).
    disable_nagle_algorithm = True
    server: _Server

    def _dispatch(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        request = Request(
            method=self.command,
            path=split.path,
            query=parse_qs(split.query, keep_blank_values=True),
            headers={k.lower(): v for k, v in self.headers.items()},
            body=body,
            target=self.path,
        )
        try:
            response = self.server.app(request)
        except Exception as exc:  # a bug in a fake must show up, not hang the client
            response = Response.json({"fake_error": repr(exc)}, status=500)
        if response.drop:
            self.close_connection = True
            with contextlib.suppress(OSError):
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0)
                )
            return
        self.send_response(response.status)
        for name, value in response.headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        """Silence the per-request stderr line; the fakes record calls instead."""


class _Server(HTTPServer):
    """HTTPServer serving each connection on a pooled daemon thread.

    Like ThreadingHTTPServer, but reuses up to POOL_SIZE threads: starting a thread per
    connection costs more than the request itself (slack_sdk opens a new connection
    for every call), tripling the throughput a benchmark sees. When all pooled threads
    are busy (e.g. held by idle keep-alive connections) a one-off thread serves the
    connection, so nothing ever waits for a free worker. `server_close` shuts down
    open connections so no worker stays blocked after a test.
    """

    allow_reuse_address = True
    request_queue_size = 1024
    POOL_SIZE = 32

    def __init__(self, address: tuple[str, int], app: Callable[[Request], Response]) -> None:
        super().__init__(address, _Handler)
        self.app = app
        self._pool_lock = threading.Lock()
        self._jobs: queue.SimpleQueue[tuple[socket.socket, Any] | None] = queue.SimpleQueue()
        self._workers = 0
        self._idle = 0
        self._open: set[socket.socket] = set()

    def process_request(self, request: Any, client_address: Any) -> None:
        job = (request, client_address)
        with self._pool_lock:
            self._open.add(request)
            if self._idle > 0:
                self._idle -= 1
                self._jobs.put(job)
                return
            pooled = self._workers < self.POOL_SIZE
            if pooled:
                self._workers += 1
        target = self._work if pooled else self._serve
        threading.Thread(target=target, args=(job,), daemon=True).start()

    def _work(self, job: tuple[socket.socket, Any] | None) -> None:
        while job is not None:
            self._serve(job)
            with self._pool_lock:
                self._idle += 1
            job = self._jobs.get()

    def _serve(self, job: tuple[socket.socket, Any]) -> None:
        request, client_address = job
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self.shutdown_request(request)
            with self._pool_lock:
                self._open.discard(request)

    def server_close(self) -> None:
        super().server_close()
        with self._pool_lock:
            still_open, workers = list(self._open), self._workers
        for conn in still_open:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _ in range(workers):
            self._jobs.put(None)


class FakeServer:
    """Start/stop and context-manager plumbing shared by the fakes."""

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    def handle(self, request: Request) -> Response:
        raise NotImplementedError

    @property
    def url(self) -> str:
        """Base URL without a trailing slash, e.g. http://127.0.0.1:54321."""
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        host, port = self._server.server_address[:2]
        if isinstance(host, bytes):
            host = host.decode()
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return int(self._server.server_address[1])

    def start(self) -> Self:
        if self._server is not None:
            return self
        self._server = _Server((self._host, self._port), self.handle)
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"{type(self).__name__}-server",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)

    def refuse_connections(self) -> None:
        """Close the listening socket: clients get "connection refused" (a platform that
        is down) until `accept_connections`."""
        self._port = self.port
        self.stop()

    def accept_connections(self) -> None:
        """Listen again on the same port (the platform is back)."""
        self.start()

    def serve_forever(self) -> None:
        """Run in the foreground (the fakes' `python -m` entry points)."""
        self.start()
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def wait_until(
    predicate: Callable[[], T], timeout: float, describe: Callable[[], str], interval: float = 0.01
) -> T:
    """Poll `predicate` until it returns something truthy; the value is returned."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise WaitTimeout(f"condition not met within {timeout:.1f}s; {describe()}")
        time.sleep(interval)
