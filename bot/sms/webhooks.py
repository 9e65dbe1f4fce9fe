"""Twilio's webhooks: inbound texts and delivery statuses, signature-checked.

Twilio signs the exact public URL (with its query string) and every parameter it sent;
a request that fails the check gets 403 and stores nothing. The answer is quick and
empty: the work goes to the outbox.
"""

from __future__ import annotations

import hmac
import uuid
from collections.abc import Awaitable, Callable
from urllib.parse import parse_qsl

import structlog
from starlette.requests import Request
from starlette.responses import Response
from twilio.request_validator import RequestValidator

from bot import bridge
from bot.delivery.group_commit import GroupCommit
from bot.settings import Settings
from storage.conversations import Inbound, InboundText
from storage.db import Database

log = structlog.get_logger(__name__)

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


class TwilioWebhooks:
    """The two Twilio endpoints, sharing the validator and the database."""

    def __init__(self, *, db: Database, settings: Settings, wake: Callable[[], None]) -> None:
        assert settings.TWILIO_AUTH_TOKEN and settings.PUBLIC_URL
        self.db = db
        self.settings = settings
        self.wake = wake
        self.public_url = settings.PUBLIC_URL
        self.validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
        self.inbound: GroupCommit[InboundText, Inbound | None] = GroupCommit(
            lambda texts: bridge.receive_texts(db, settings, texts)
        )

    async def _verified_params(self, request: Request) -> dict[str, str] | None:
        body = await request.body()
        try:
            params = dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
        except UnicodeDecodeError:
            return None
        url = self.public_url + request.url.path
        if request.url.query:
            url += "?" + request.url.query
        signature = request.headers.get("x-twilio-signature", "")
        if not signature:
            return None
        # One HMAC for the URL as configured; the validator's variants (with and without
        # the port) only when that does not match.
        expected = self.validator.compute_signature(url, params)
        if hmac.compare_digest(expected, signature):
            return params
        return params if self.validator.validate(url, params, signature) else None

    def _bind(self, request: Request) -> None:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(
            request_id=request.headers.get("i-twilio-idempotency-token") or uuid.uuid4().hex[:12]
        )

    async def sms(self, request: Request) -> Response:
        """POST /twilio/sms: an inbound text (or MMS)."""
        self._bind(request)
        params = await self._verified_params(request)
        if params is None:
            log.warning("twilio.bad_signature", path=request.url.path)
            return Response("invalid signature", status_code=403)
        try:
            text = bridge.parse_inbound(params)
        except bridge.MalformedWebhook as error:
            log.warning("sms.malformed", error=str(error))
            return Response(f"malformed webhook: {error}", status_code=400)
        inbound = None if text is None else await self.inbound.submit(text)
        if inbound is None:
            log.info("sms.duplicate_or_ignored", sid=params.get("MessageSid"))
        else:
            structlog.contextvars.bind_contextvars(conversation=inbound.conversation_id)
            log.info("sms.received", message=inbound.message_id, new=inbound.new_conversation)
            self.wake()
        return Response(EMPTY_TWIML, media_type="text/xml")

    async def status(self, request: Request) -> Response:
        """POST /twilio/status: a delivery status callback."""
        self._bind(request)
        params = await self._verified_params(request)
        if params is None:
            log.warning("twilio.bad_signature", path=request.url.path)
            return Response("invalid signature", status_code=403)
        try:
            change = bridge.receive_status(self.db, params)
        except bridge.MalformedWebhook as error:
            log.warning("status.malformed", error=str(error))
            return Response(f"malformed webhook: {error}", status_code=400)
        if change is not None:
            log.info(
                "sms.status",
                message=change.message_id,
                status=change.status,
                code=change.error_code,
            )
            self.wake()
        return Response(status_code=204)


Endpoint = Callable[[Request], Awaitable[Response]]
