"""caretbot served for real on loopback, with signed requests as Slack and Twilio send them."""

from __future__ import annotations

import json
import socket
import threading
import time
from typing import Any

import httpx
import uvicorn

from bot.sandbox.signing import slack_headers, twilio_signature
from bot.server import create_app
from bot.settings import Settings, load_settings
from storage.db import Database

SIGNING_SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
AUTH_TOKEN = "12345678901234567890123456789012"
ACCOUNT_SID = "AC" + "a" * 32
TEAM_NUMBER = "+15005550006"
CHANNEL = "C0CARETBOT"


def free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


class Caretbot:
    """One running caretbot server: start, stop, restart on the same database."""

    def __init__(self, *, database_url: str, slack_api_url: str, twilio_api_url: str, **extra: Any):
        self.sock = free_socket()
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings: Settings = load_settings(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN="xoxb-test-token",
            SLACK_SIGNING_SECRET=SIGNING_SECRET,
            SLACK_API_URL=slack_api_url,
            SLACK_CHANNEL_ID=CHANNEL,
            SLACK_POSTS_PER_SECOND=50,
            SLACK_POST_BURST=50,
            TWILIO_ACCOUNT_SID=ACCOUNT_SID,
            TWILIO_AUTH_TOKEN=AUTH_TOKEN,
            TWILIO_FROM_NUMBER=TEAM_NUMBER,
            TWILIO_API_URL=twilio_api_url,
            TWILIO_SEGMENTS_PER_SECOND=50,
            PUBLIC_URL=self.url,
            WORKERS_IN_PROCESS=True,
            **extra,
        )
        self.db = Database(database_url)
        self.db.upgrade()
        self.http = httpx.Client(base_url=self.url, timeout=10)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> Caretbot:
        app = create_app(self.settings, self.db)
        self.app = app
        config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self.sock]}, daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("caretbot did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
            assert self._thread is not None
            self._thread.join(15)
            self._server = None

    def restart(self) -> None:
        self.stop()
        self.sock = free_socket_at(self.port)
        self.start()

    @property
    def workers(self) -> Any:
        return self.app.state.workers

    # Requests signed as the platforms sign them.

    def twilio_post(
        self, path: str, params: dict[str, str], *, signature: str | None = None
    ) -> httpx.Response:
        if signature is None:
            signature = twilio_signature(AUTH_TOKEN, self.url + path, params)
        return self.http.post(path, data=params, headers={"X-Twilio-Signature": signature})

    def slack_post(
        self,
        payload: dict[str, Any] | bytes,
        *,
        timestamp: int | None = None,
        secret: str = SIGNING_SECRET,
        extra_headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> httpx.Response:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        headers = slack_headers(secret, body, timestamp=timestamp)
        headers["Content-Type"] = content_type
        headers.update(extra_headers or {})
        return self.http.post("/slack/events", content=body, headers=headers)


def free_socket_at(port: int) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    return sock
