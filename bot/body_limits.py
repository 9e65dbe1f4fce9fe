"""Request body limits: a body larger than its platform ever sends is answered 413 before
it is read whole.

The limit is checked twice: against Content-Length before a byte is read, and by
counting while the body streams in (a chunked request has no Content-Length, and a
client may send more than it announced). Nothing past the limit is kept in memory.

Limits, with their margins:

- Twilio webhooks: a text is at most 1,600 characters (Twilio's documented maximum
  Body). Form encoding makes each character at most 12 bytes (4 UTF-8 bytes, each
  written %XX), so a Body is at most 19,200 bytes; the other parameters (about 20, plus
  MediaUrlN and MediaContentTypeN for up to 10 attachments) add about 3 KB. 64 KiB is
  three times the largest real webhook.
- Slack: a message is at most 40,000 characters (chat.postMessage's limit), and an event
  carries it twice (`text` and the rich_text `blocks`), each character at most 12 bytes
  as JSON escapes a surrogate pair (\\ud83d\\ude00). About 1 MB for the most extreme
  event: 2 MiB leaves room for files, attachments and the envelope.
- Anything else (/healthz, /readyz) has no body: 4 KiB.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger(__name__)

TWILIO_MAX_BODY_BYTES = 64 * 1024
SLACK_MAX_BODY_BYTES = 2 * 1024 * 1024
OTHER_MAX_BODY_BYTES = 4 * 1024

LIMITS = {
    "/twilio/": TWILIO_MAX_BODY_BYTES,
    "/slack/": SLACK_MAX_BODY_BYTES,
}


def limit_for(path: str, limits: Mapping[str, int] = LIMITS) -> int:
    """The largest body, in bytes, accepted at `path` (by its prefix)."""
    for prefix, limit in limits.items():
        if path.startswith(prefix):
            return limit
    return OTHER_MAX_BODY_BYTES


class BodyLimit:
    """ASGI middleware: 413 for a body over the limit of its path, 400 for a
    Content-Length that is not a number."""

    def __init__(self, app: ASGIApp, limits: Mapping[str, int] = LIMITS) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = limit_for(path, self.limits)
        declared = _content_length(scope["headers"])
        if declared == -1:
            await _answer(send, 400, "Content-Length is not a number")
            return
        if declared is not None and declared > limit:
            log.warning("http.body_too_large", path=path, declared=declared, limit=limit)
            await _answer(send, 413, f"request body over {limit} bytes")
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    log.warning("http.body_too_large", path=path, received=received, limit=limit)
                    # Starlette's exception middleware turns this into the answer.
                    raise HTTPException(413, f"request body over {limit} bytes")
            return message

        await self.app(scope, counted, send)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The declared length; None when absent, -1 when it is not a number."""
    for name, value in headers:
        if name == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isascii() and text.isdigit() else -1
    return None


async def _answer(send: Send, status: int, text: str) -> None:
    body = text.encode()
    headers: list[Any] = [
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
