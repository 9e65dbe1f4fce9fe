"""The Slack and Twilio clients, pointed at SLACK_API_URL and TWILIO_API_URL."""

from __future__ import annotations

from slack_sdk import WebClient
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


def twilio_client(settings: Settings) -> TwilioClient:
    """A REST client whose Messages calls go to TWILIO_API_URL."""
    client = TwilioClient(settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN)
    client.api.base_url = settings.TWILIO_API_URL.rstrip("/")
    client.http_client.timeout = HTTP_TIMEOUT_SECONDS
    return client
