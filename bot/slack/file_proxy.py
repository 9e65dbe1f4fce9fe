"""Slack files sent as MMS: short-lived signed caretbot URLs that Twilio can fetch.

Twilio fetches a message's MediaUrl itself, from the public internet, while a file a
teammate shares in Slack is private: its url_private(_download) needs the bot token
(api.slack.com/types/file, "Authentication"). So a text with an image carries
`PUBLIC_URL/slack/files/<file id>/<name>?expires=...&signature=...`: an HMAC-SHA256 of the
file id and the expiry under caretbot's media secret (Settings.media_url_secret). The
route checks the signature and the expiry, asks Slack for the file (files.info),
downloads it with the bot token and streams it to Twilio. Nothing else is served: a bad
signature gets 403, an expired link or a file Slack no longer has gets 404.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests
import structlog
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response, StreamingResponse

log = structlog.get_logger(__name__)

ROUTE = "/slack/files/{file_id}/{name}"
# Twilio fetches media when it takes the message, seconds after caretbot's create; half
# an hour covers its retries and a queue, and a leaked link dies soon after.
URL_TTL_SECONDS = 1800
# Twilio sends jpeg, png and gif as MMS everywhere it can; 5 MB is its limit for them
# (the MediaUrl parameter of Create a Message, Twilio's API reference).
MMS_IMAGE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif"})
MMS_MAX_BYTES = 5 * 1024 * 1024
MMS_MAX_MEDIA = 10
CHUNK_BYTES = 64 * 1024
DOWNLOAD_TIMEOUT_SECONDS = 20.0


def _signature(secret: bytes, file_id: str, expires: int) -> str:
    return hmac.new(secret, f"{file_id}:{expires}".encode(), hashlib.sha256).hexdigest()


def signed_url(
    *, public_url: str, secret: bytes, file_id: str, name: str, now: float | None = None
) -> str:
    """The URL Twilio fetches a Slack file at, valid for URL_TTL_SECONDS from `now`
    (Unix seconds; the current time by default)."""
    expires = int(now if now is not None else time.time()) + URL_TTL_SECONDS
    path = ROUTE.format(file_id=quote(file_id, safe=""), name=quote(name or "file", safe=""))
    return f"{public_url}{path}?expires={expires}&signature={_signature(secret, file_id, expires)}"


def check_signature(
    *, secret: bytes, file_id: str, expires: str, signature: str, now: float | None = None
) -> int:
    """The HTTP status a request for the file deserves before any Slack call: 200 when
    the signature is caretbot's and unexpired, 403 when it is not caretbot's, 404 when
    it has expired."""
    if not expires.isdigit() or not signature:
        return 403
    expected = _signature(secret, file_id, int(expires))
    if not hmac.compare_digest(expected, signature.lower()):
        return 403
    if int(expires) < (now if now is not None else time.time()):
        return 404
    return 200


@dataclass(frozen=True)
class Download:
    """An open download of a Slack file: its type, size (bytes, None when Slack did not
    say) and chunks."""

    content_type: str
    length: int | None
    chunks: Iterator[bytes]
    close: Callable[[], None]


class SlackFiles:
    """Opens a Slack file's bytes with the bot token."""

    def __init__(self, client: WebClient, token: str) -> None:
        self.client = client
        self.token = token

    def info(self, file_id: str) -> dict[str, Any] | None:
        """files.info's file object; None when Slack has no such file (or it was deleted)."""
        try:
            return dict(self.client.files_info(file=file_id)["file"])
        except SlackApiError as error:
            if error.response.get("error") in ("file_not_found", "file_deleted"):
                return None
            raise

    def open(self, file_id: str) -> Download | None:
        """The file's bytes, if it is an image MMS can carry; None when Slack has no such
        file, or it is not one."""
        info = self.info(file_id)
        if info is None or info.get("mimetype") not in MMS_IMAGE_TYPES:
            return None
        url = info.get("url_private_download") or info.get("url_private")
        if not url:
            return None
        response = requests.get(
            url,
            headers={"Authorization": f"Bearer {self.token}"},
            stream=True,
            timeout=DOWNLOAD_TIMEOUT_SECONDS,
            allow_redirects=True,
        )
        if response.status_code != 200:
            response.close()
            log.warning("slack_file.download_failed", file=file_id, status=response.status_code)
            return None
        length = response.headers.get("Content-Length")
        return Download(
            content_type=str(info["mimetype"]),
            length=int(length) if length and length.isdigit() else None,
            chunks=response.iter_content(CHUNK_BYTES),
            close=response.close,
        )


def file_route(files: SlackFiles, secret: bytes) -> Callable[[Request], Any]:
    """The Starlette endpoint for ROUTE (GET, and HEAD)."""

    async def serve_file(request: Request) -> Response:
        file_id = request.path_params["file_id"]
        status = check_signature(
            secret=secret,
            file_id=file_id,
            expires=request.query_params.get("expires", ""),
            signature=request.query_params.get("signature", ""),
        )
        if status != 200:
            log.warning("slack_file.refused", file=file_id, status=status)
            return PlainTextResponse(
                "forbidden" if status == 403 else "not found", status_code=status
            )
        try:
            download = await run_in_threadpool(files.open, file_id)
        except (SlackApiError, OSError, requests.RequestException) as error:
            log.warning("slack_file.slack_unavailable", file=file_id, error=repr(error))
            return PlainTextResponse("Slack did not answer", status_code=502)
        if download is None:
            return PlainTextResponse("not found", status_code=404)
        log.info("slack_file.served", file=file_id, bytes=download.length)
        headers = {"Cache-Control": "private, no-store"}
        if download.length is not None:
            headers["Content-Length"] = str(download.length)
        if request.method == "HEAD":
            download.close()
            return Response(status_code=200, media_type=download.content_type, headers=headers)

        def stream() -> Iterator[bytes]:
            try:
                yield from download.chunks
            finally:
                download.close()

        return StreamingResponse(stream(), media_type=download.content_type, headers=headers)

    return serve_file
