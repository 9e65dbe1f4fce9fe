"""The Slack and Twilio clients, pointed at SLACK_API_URL and TWILIO_API_URL."""

from __future__ import annotations

import threading
from typing import Any

from slack_sdk import WebClient
from twilio.http.http_client import TwilioHttpClient
from twilio.http.response import Response
from twilio.rest import Client as TwilioClient

from bot.settings import Settings

# Long enough for a slow platform, short enough that one call never stalls the outbox.
HTTP_TIMEOUT_SECONDS = 10


def slack_client(settings: Settings) -> WebClient:
    """A Web API client; retries are the outbox's job, so the client makes none."""
    base_url = (
        settings.SLACK_API_URL
        if settings.SLACK_API_URL.endswith("/")
        else settings.SLACK_API_URL + "/"
    )
    return WebClient(
        token=settings.SLACK_BOT_TOKEN,
        base_url=base_url,
        timeout=HTTP_TIMEOUT_SECONDS,
        retry_handlers=[],
    )


class TwilioHttp(TwilioHttpClient):
    """twilio-python's HTTP client, remembering a 429's Retry-After for the outbox.

    TwilioRestException carries no headers; the value is kept per thread (the
    dispatcher calls from a pool), so the one read right after a failed call is that
    call's.
    """

    def __init__(self) -> None:
        super().__init__(timeout=HTTP_TIMEOUT_SECONDS)
        self._retry_after = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Response:
        response = super().request(*args, **kwargs)
        headers = response.headers or {}
        self._retry_after.value = (
            headers.get("Retry-After") if response.status_code == 429 else None
        )
        return response

    @property
    def retry_after(self) -> float | None:
        """Seconds Twilio asked to wait on this thread's last call, if it asked."""
        value = getattr(self._retry_after, "value", None)
        try:
            return float(value) if value else None
        except ValueError:
            return None


def twilio_client(settings: Settings) -> TwilioClient:
    """A REST client whose Messages calls go to TWILIO_API_URL."""
    client = TwilioClient(
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, http_client=TwilioHttp()
    )
    client.api.base_url = settings.TWILIO_API_URL.rstrip("/")
    return client
