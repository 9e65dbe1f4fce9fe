"""A fake Twilio REST API (2010-04-01 Messages) for twilio-python over real HTTP.

Point a client at it with ``client.api.base_url = fake.url`` (do not set an edge or
region, nor TWILIO_EDGE / TWILIO_REGION: twilio-python would rewrite the host).

Requests are checked against Twilio's own OpenAPI description (../shared/specs): a
create must use only the form parameters the spec lists, carry the required ones and
satisfy the spec's x-twilio "conditional" groups (From or MessagingServiceSid; Body,
MediaUrl or ContentSid). Real Twilio ignores unknown parameters with warning 20001;
the fake rejects them (400, code 20001, naming the parameter) so a typo in caretbot
fails a test instead of silently dropping a field. Responses carry exactly the
properties of the spec's message schema.

Like Twilio, it fetches each MediaUrl of a create (GET, no credentials) and fails the
message with 11200 (HTTP retrieval failure) or 12300 (Invalid Content-Type) when it
cannot; ``media(sid)`` shows what it fetched.

It also plays Twilio's side of webhooks: status callbacks signed with
X-Twilio-Signature (optionally automatic after each create), inbound SMS posts, and
forced failures by destination number.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import json
import queue
import re
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime, parsedate_to_datetime
from typing import Any
from urllib.parse import urlencode

from bot.sandbox import openapi
from bot.sandbox._http import FakeServer, Request, Response, wait_until
from bot.sandbox.segments import count_segments
from bot.sandbox.signing import (
    API_VERSION,
    DEFAULT_ACCOUNT_SID,
    inbound_sms_params,
    load_fixture,
    new_sid,
    twilio_signature,
)

DEFAULT_AUTH_TOKEN = "test-auth-token"
MAX_BODY = 1600
E164_RE = re.compile(r"^\+[1-9]\d{1,14}$")
CHANNEL_ADDRESS_RE = re.compile(r"^[a-z]+:.+$")  # whatsapp:+1..., messenger:...

# The message resource's properties and ListMessage's query parameters as Twilio's
# OpenAPI description (twilio_api_v2010.json) lists them, for when it is not at hand.
MESSAGE_PROPERTIES = (
    "body", "num_segments", "direction", "from", "to", "date_updated", "price",
    "error_message", "uri", "account_sid", "num_media", "status", "messaging_service_sid",
    "sid", "date_sent", "date_created", "error_code", "price_unit", "api_version",
    "subresource_uris",
)  # fmt: skip
LIST_PARAMETERS = (
    "To",
    "From",
    "DateSent",
    "DateSent<",
    "DateSent>",
    "PageSize",
    "Page",
    "PageToken",
)
SHORT_CODE_RE = re.compile(r"^\d{3,8}$")
ALPHA_SENDER_RE = re.compile(r"^(?=.*[A-Za-z])[A-Za-z0-9 ]{1,11}$")
PATH_RE = re.compile(
    r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages(?:/(?P<sid>[^/]+))?\.json$"
)

# Messages for the error codes caretbot cares about (see docs/errors/<code>).
ERROR_MESSAGES = {
    20001: "Unknown parameter",
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21212: "Invalid 'From' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' or 'MessagingServiceSid' parameter is required to send a message",
    21604: "A 'To' phone number is required.",
    21610: "Attempt to send to unsubscribed recipient",
    21611: "This 'From' number has exceeded the maximum number of queued messages",
    21617: "The concatenated message body exceeds the 1600 character limit.",
    11200: "HTTP retrieval failure",
    12300: "Invalid Content-Type",
    21620: "Invalid media URL(s)",
    21623: "Number of media files exceeds allowed limit",
    30001: "Queue overflow",
    30003: "Unreachable destination handset",
    30005: "Unknown destination handset",
    30006: "Landline or unreachable carrier",
    30007: "Message filtered",
    30008: "Unknown error",
}
# Errors that arrive in a status callback rather than as the create's answer, and the
# final status Twilio reports with them.
DELIVERY_ERROR_STATUS = {30001: "failed", 30002: "failed", 11200: "failed", 12300: "failed"}
# MediaUrl: up to ten per message; jpeg, png and gif are "fully supported" (the spec's
# description); the fake accepts those and fails the message for anything else.
MAX_MEDIA = 10
MMS_CONTENT_TYPES = frozenset({"image/jpeg", "image/jpg", "image/png", "image/gif"})
STATUS_RANK = {
    "scheduled": 0,
    "accepted": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}


class TwilioError(Exception):
    """A REST error answered as Twilio's JSON: code, message, more_info, status."""

    def __init__(
        self,
        status: int,
        code: int,
        message: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        self.status = status
        self.code = code
        self.message = message or ERROR_MESSAGES.get(code, "Error")
        self.retry_after = retry_after
        super().__init__(f"{status} {code}: {self.message}")

    def response(self) -> Response:
        headers = {}
        if self.retry_after is not None:
            headers["Retry-After"] = str(self.retry_after)
        if self.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="Twilio API"'
        return Response.json(error_body(self.code, self.message, self.status), self.status, headers)


def error_body(code: int, message: str, status: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def rfc2822(moment: datetime) -> str:
    """Twilio's date format: 'Thu, 24 Aug 2023 05:01:45 +0000'."""
    return format_datetime(moment.astimezone(UTC).replace(microsecond=0))


@dataclass(frozen=True)
class ApiCall:
    """One REST request: kind is create/list/fetch/update/delete/unknown."""

    kind: str
    method: str
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    at: float
    status: int
    response: dict[str, Any] | None


@dataclass(frozen=True)
class CallbackRecord:
    """A webhook the fake posted to caretbot and what caretbot answered."""

    sid: str
    status: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    http_status: int | None
    body: str
    error: str | None
    at: float


@dataclass(frozen=True)
class WebhookResult:
    """caretbot's answer to a webhook, and the headers the fake sent with it."""

    status: int
    body: str
    headers: dict[str, str]
    sent_headers: dict[str, str]


@dataclass
class _Fault:
    status: int
    code: int
    message: str | None
    retry_after: int | None
    remaining: int | None  # None: forever

    def take(self) -> bool:
        """Use one occurrence; False once used up."""
        if self.remaining is None:
            return True
        if self.remaining <= 0:
            return False
        self.remaining -= 1
        return True


@dataclass(frozen=True)
class MediaFetch:
    """Twilio fetching a message's MediaUrl, as it does before sending an MMS."""

    url: str
    status: int | None
    content_type: str
    body: bytes
    error: str | None


@dataclass
class _Stored:
    resource: dict[str, Any]
    created: datetime
    status_callback: str | None = None
    delivery_error: int | None = None


@dataclass
class Stats:
    """Counters a benchmark reads from GET /_fake/stats (segments per sender for pacing)."""

    created: int = 0
    rejected: int = 0
    callbacks: int = 0
    first_create_at: float | None = None
    last_create_at: float | None = None
    segments: int = 0
    by_sender: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "created": self.created,
            "rejected": self.rejected,
            "callbacks": self.callbacks,
            "segments": self.segments,
            "first_create_at": self.first_create_at,
            "last_create_at": self.last_create_at,
        }


def default_status_for(code: int) -> int:
    if code == 20429:
        return 429
    if code in (20500, 20503):
        return code - 20000
    return 400


class FakeTwilio(FakeServer):
    """Fake Twilio Messages API on 127.0.0.1; thread-safe; records every request."""

    def __init__(
        self,
        account_sid: str = DEFAULT_ACCOUNT_SID,
        auth_token: str = DEFAULT_AUTH_TOKEN,
        *,
        auto_status: list[str] | None = None,
        auto_status_delay: float = 0.02,
        callback_timeout: float = 5.0,
        shared_key: tuple[str, str] | None = None,
        record: bool = True,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        """`auto_status`: statuses to call back after each create, e.g. ["sent",
        "delivered"], `auto_status_delay` seconds apart, from a background thread.
        `shared_key`: (key_id, secret) to sign webhooks with a SharedKey and
        HMAC_SHA256 (header X-Twilio-Webhooks-Signature-Settings) instead of the token.
        """
        super().__init__(host, port)
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.auto_status = list(auto_status or [])
        self.auto_status_delay = auto_status_delay
        self.callback_timeout = callback_timeout
        self.shared_key = shared_key
        self.record = record
        self._lock = threading.RLock()
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        self._queue: queue.Queue[tuple[float, str, str, int | None]] = queue.Queue()
        self._worker: threading.Thread | None = None
        self.spec_checked = openapi.twilio_spec_available()
        if self.spec_checked:
            self._create_schema: dict[str, Any] | None = openapi.form_schema(
                openapi.MESSAGES_PATH, "post"
            )
            self._conditional = openapi.twilio_operation(openapi.MESSAGES_PATH, "post")["x-twilio"][
                "conditional"
            ]
            self._list_params = list(openapi.query_parameters(openapi.MESSAGES_PATH, "get"))
            self._update_schema: dict[str, Any] | None = openapi.form_schema(
                openapi.MESSAGE_PATH, "post"
            )
            self._message_props = openapi.message_properties()
        else:
            # No API description here (e.g. `caretbot demo` from a plain install): the
            # same shapes, as the spec gave them, without checking each parameter.
            self._create_schema = self._update_schema = None
            self._conditional = [
                ["from", "messaging_service_sid"],
                ["body", "media_url", "content_sid"],
            ]
            self._list_params = list(LIST_PARAMETERS)
            self._message_props = list(MESSAGE_PROPERTIES)
        self.reset()

    # ------------------------------------------------------------------ setup

    def reset(self) -> None:
        """Forget messages, calls, callbacks and faults (config stays)."""
        with self._lock:
            self._messages: dict[str, _Stored] = {}
            self._calls: list[ApiCall] = []
            self._callbacks: list[CallbackRecord] = []
            self._fail_to: dict[str, deque[_Fault]] = {}
            self._fail_next: deque[_Fault] = deque()
            self._media: dict[str, list[MediaFetch]] = {}
            self.stats = Stats()

    def stop(self) -> None:
        if self._worker is not None:
            self._queue.put((0.0, "", "", None))  # sentinel
            self._worker.join(timeout=5)
            self._worker = None
        super().stop()

    def fail_to(
        self,
        number: str,
        code: int = 21610,
        status: int | None = None,
        times: int | None = None,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Make sends to `number` fail with Twilio error `code` (`times` None: always).

        REST errors (21610 opted out, 21211 invalid number, 20429 too many requests,
        5xx) answer the create with `status` (default by code: 20429 -> 429, 20500 ->
        500, else 400). Delivery errors (30xxx, e.g. 30007 carrier filtering) accept
        the create (201 queued) and then call back "sent" and "undelivered" (30001/30002:
        "failed") with ErrorCode, as the carrier's verdict arrives later.
        """
        fault = _Fault(status or default_status_for(code), code, message, retry_after, times)
        with self._lock:
            self._fail_to.setdefault(number, deque()).append(fault)

    def fail_next(
        self,
        status: int = 500,
        code: int = 20500,
        times: int = 1,
        retry_after: int | None = None,
        message: str | None = None,
    ) -> None:
        """Fail the next `times` creates, whatever the destination (a 30xxx `code`
        fails delivery after the create is accepted, as in `fail_to`)."""
        with self._lock:
            self._fail_next.append(_Fault(status, code, message, retry_after, times))

    # --------------------------------------------------------------- queries

    def messages(self, to: str | None = None) -> list[dict[str, Any]]:
        """Message resources (created and inbound), oldest first, current status."""
        with self._lock:
            found = [dict(m.resource) for m in self._messages.values()]
        return [m for m in found if to is None or m["to"] == to]

    def media(self, sid: str) -> list[MediaFetch]:
        """What the fake fetched at each MediaUrl of message `sid`, in order."""
        with self._lock:
            return list(self._media.get(sid, []))

    def message(self, sid: str) -> dict[str, Any]:
        with self._lock:
            return dict(self._messages[sid].resource)

    def calls(self, kind: str | None = None) -> list[ApiCall]:
        with self._lock:
            return [c for c in self._calls if kind is None or c.kind == kind]

    def callbacks(self, sid: str | None = None) -> list[CallbackRecord]:
        with self._lock:
            return [c for c in self._callbacks if sid is None or c.sid == sid]

    def wait_for(self, predicate_or_count: Callable[[], Any] | int, timeout: float = 5.0) -> Any:
        """Wait for a zero-argument predicate (returns its value), or, given an int,
        until that many messages were created (returns the outbound messages)."""
        if isinstance(predicate_or_count, int):
            count = predicate_or_count

            def predicate() -> Any:
                sent = [m for m in self.messages() if m["direction"] == "outbound-api"]
                return sent if len(sent) >= count else None
        else:
            predicate = predicate_or_count

        def describe() -> str:
            recent = [f"{c.kind}->{c.status}" for c in self.calls()][-10:]
            return (
                f"{self.stats.created} created, {len(self.callbacks())} callbacks; "
                f"last calls: {recent}"
            )

        return wait_until(predicate, timeout, describe)

    # -------------------------------------------------------------- webhooks

    def _signature_headers(self, url: str, params: dict[str, str]) -> dict[str, str]:
        headers = {
            "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": secrets.token_hex(16),
            "X-Home-Region": "us1",
        }
        if self.shared_key is not None:
            key_id, secret = self.shared_key
            headers["X-Twilio-Webhooks-Signature-Settings"] = f"key={key_id},algorithm=HMAC_SHA256"
            headers["X-Twilio-Signature"] = twilio_signature(secret, url, params, "HMAC_SHA256")
        else:
            headers["X-Twilio-Signature"] = twilio_signature(self.auth_token, url, params)
        return headers

    def post_webhook(
        self,
        url: str,
        params: dict[str, str],
        *,
        signature: str | None = None,
        headers: dict[str, str] | None = None,
    ) -> WebhookResult:
        """POST a form to caretbot signed as Twilio would (or with `signature`)."""
        sent_headers = self._signature_headers(url, params)
        if signature is not None:
            sent_headers["X-Twilio-Signature"] = signature
        sent_headers.update(headers or {})
        data = urlencode(params).encode("utf-8")
        request = urllib.request.Request(url, data=data, headers=sent_headers, method="POST")
        try:
            with self._opener.open(request, timeout=self.callback_timeout) as resp:
                text = resp.read().decode("utf-8", "replace")
                return WebhookResult(resp.status, text, dict(resp.headers), sent_headers)
        except urllib.error.HTTPError as err:
            text = err.read().decode("utf-8", "replace")
            return WebhookResult(err.code, text, dict(err.headers), sent_headers)

    def send_inbound_sms(
        self,
        url: str,
        from_: str,
        body: str,
        to: str,
        *,
        sid: str | None = None,
        media: list[tuple[str, str]] | None = None,
        messaging_service_sid: str | None = None,
        signature: str | None = None,
    ) -> WebhookResult:
        """A candidate texts `to`: record the inbound message and post Twilio's webhook."""
        params = inbound_sms_params(
            from_,
            to,
            body,
            sid=sid,
            media=media,
            messaging_service_sid=messaging_service_sid,
            account_sid=self.account_sid,
        )
        now = datetime.now(UTC)
        resource = self._resource(
            sid=params["MessageSid"],
            to=to,
            from_=from_,
            body=body,
            status="received",
            direction="inbound",
            num_media=len(media or []),
            num_segments=int(params["NumSegments"]),
            messaging_service_sid=messaging_service_sid,
            now=now,
        )
        with self._lock:
            self._messages.setdefault(resource["sid"], _Stored(resource, now))
        return self.post_webhook(url, params, signature=signature)

    def status_params(self, sid: str, status: str, error_code: int | None = None) -> dict[str, str]:
        """The form a status callback carries, in Twilio's order and names."""
        with self._lock:
            message = dict(self._messages[sid].resource)
        values: dict[str, str | None] = {
            "ErrorCode": str(error_code) if error_code is not None else None,
            "SmsSid": sid,
            "SmsStatus": status,
            "MessageStatus": status,
            "To": message["to"] or "",
            "MessageSid": sid,
            "AccountSid": self.account_sid,
            "From": message["from"] or "",
            "ApiVersion": API_VERSION,
            "RawDlrDoneDate": datetime.now(UTC).strftime("%y%m%d%H%M")
            if status in ("delivered", "undelivered")
            else None,
        }
        # The recorded callback fixes which fields exist and their order.
        template = load_fixture("twilio_status_callback.json")
        params = {name: v for name in template if (v := values.get(name)) is not None}
        if message.get("messaging_service_sid"):
            params["MessagingServiceSid"] = message["messaging_service_sid"]
        return params

    def send_status(
        self,
        sid: str,
        status: str,
        error_code: int | None = None,
        extra_params: dict[str, str] | None = None,
    ) -> int | None:
        """Move message `sid` to `status` and POST its StatusCallback, signed.

        Returns the HTTP status caretbot answered, or None when the message had no
        StatusCallback. `extra_params` adds fields Twilio might add without notice.
        """
        with self._lock:
            stored = self._messages[sid]
            now = datetime.now(UTC)
            resource = stored.resource
            # The resource only moves forward; a late callback does not rewind it.
            if STATUS_RANK.get(status, 0) >= STATUS_RANK.get(resource["status"], 0):
                resource["status"] = status
            resource["date_updated"] = rfc2822(now)
            if status in ("sent", "delivered", "undelivered", "failed"):
                resource["date_sent"] = resource["date_sent"] or rfc2822(now)
                resource["price"] = resource["price"] or "-0.00790"
            if error_code is not None:
                resource["error_code"] = error_code
                resource["error_message"] = ERROR_MESSAGES.get(error_code, "Error")
            url = stored.status_callback
        if url is None:
            return None
        params = self.status_params(sid, status, error_code)
        params.update(extra_params or {})
        http_status: int | None = None
        body, error, headers = "", None, {}
        try:
            result = self.post_webhook(url, params)
            http_status, body, headers = result.status, result.body, result.sent_headers
        except OSError as exc:
            error = repr(exc)
        with self._lock:
            self.stats.callbacks += 1
            self._callbacks.append(
                CallbackRecord(
                    sid, status, url, params, headers, http_status, body, error, time.time()
                )
            )
        if error is not None:
            raise ConnectionError(f"status callback to {url} failed: {error}")
        return http_status

    def _schedule(self, sid: str, statuses: list[str], error_code: int | None) -> None:
        if not statuses:
            return
        with self._lock:
            if self._worker is None:
                self._worker = threading.Thread(
                    target=self._run_callbacks, name="FakeTwilio-callbacks", daemon=True
                )
                self._worker.start()
        due = time.monotonic()
        for index, status in enumerate(statuses):
            due += self.auto_status_delay
            last = index == len(statuses) - 1
            self._queue.put((due, sid, status, error_code if last else None))

    def _run_callbacks(self) -> None:
        while True:
            due, sid, status, error_code = self._queue.get()
            if not sid:
                return
            delay = due - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            # A failed post is recorded in callbacks(); after reset() the sid is gone.
            with contextlib.suppress(ConnectionError, KeyError):
                self.send_status(sid, status, error_code)

    # --------------------------------------------------------------- serving

    def handle(self, request: Request) -> Response:
        if request.path == "/_fake/stats":
            with self._lock:
                return Response.json(self.stats.as_dict())
        match = PATH_RE.match(request.path)
        kind = "unknown"
        params: dict[str, list[str]] = {}
        try:
            if match is None:
                raise TwilioError(
                    404, 20404, f"The requested resource {request.path} was not found"
                )
            sid = match["sid"]
            kind = {
                ("POST", False): "create",
                ("GET", False): "list",
                ("GET", True): "fetch",
                ("POST", True): "update",
                ("DELETE", True): "delete",
            }.get((request.method, sid is not None), "unknown")
            params = request.form() if request.method == "POST" else request.query
            self._authenticate(request, match["account"])
            if kind == "create":
                status, payload = 201, self._create(params)
            elif kind == "list":
                status, payload = 200, self._list(params, request)
            elif kind == "fetch":
                status, payload = 200, self._fetch(sid, request.path)
            elif kind == "update":
                status, payload = 200, self._update(sid, params, request.path)
            elif kind == "delete":
                self._delete(sid, request.path)
                status, payload = 204, None
            else:
                raise TwilioError(405, 20004, "Method not allowed")
            response = Response(status=204) if payload is None else Response.json(payload, status)
        except TwilioError as err:
            status, payload, response = err.status, None, err.response()
            if kind == "create":
                with self._lock:
                    self.stats.rejected += 1
        if self.record:
            body = payload if payload is not None else _json_or_none(response.body)
            with self._lock:
                self._calls.append(
                    ApiCall(
                        kind,
                        request.method,
                        request.path,
                        params,
                        request.headers,
                        time.time(),
                        status,
                        body,
                    )
                )
        return response

    def _authenticate(self, request: Request, account: str) -> None:
        header = request.headers.get("authorization", "")
        username = password = None
        if header.startswith("Basic "):
            try:
                decoded = base64.b64decode(header[6:], validate=True).decode("utf-8")
                username, _, password = decoded.partition(":")
            except (binascii.Error, UnicodeDecodeError):
                pass
        if username != self.account_sid or password != self.auth_token:
            raise TwilioError(401, 20003)
        if account != self.account_sid:
            raise TwilioError(404, 20404, f"The requested resource {request.path} was not found")

    def _check_form(
        self, params: dict[str, list[str]], schema: dict[str, Any] | None, op: str
    ) -> None:
        """Every parameter must be in the spec's form schema, with a valid value
        (without the spec, only what every create needs: `schema` None)."""
        if schema is None:
            if op == "CreateMessage" and not any(params.get("To", [])):
                raise TwilioError(400, 21604, _required_message("To"))
            return
        props = schema.get("properties", {})
        for name, values in params.items():
            if name not in props:
                raise TwilioError(
                    400,
                    20001,
                    f"Unknown parameter: '{name}' is not a parameter of {op} "
                    f"(allowed: {', '.join(sorted(props))})",
                )
            prop = openapi.resolve(props[name])
            if prop.get("type") != "array" and len(values) > 1:
                raise TwilioError(400, 20001, f"Parameter '{name}' given {len(values)} times")
            items = openapi.resolve(prop.get("items", {})) if prop.get("type") == "array" else prop
            for value in values:
                problem = _value_problem(value, items)
                if problem:
                    raise TwilioError(400, 20001, f"Invalid parameter '{name}': {problem}")
        for name in schema.get("required", []):
            if not any(params.get(name, [])):
                raise TwilioError(400, 21604 if name == "To" else 20001, _required_message(name))

    def _create(self, params: dict[str, list[str]]) -> dict[str, Any]:
        self._check_form(params, self._create_schema, "CreateMessage")
        one = {k: v[-1] for k, v in params.items()}
        # x-twilio conditional groups: at least one of each must be present.
        for group in self._conditional:
            names = [_pascal(n) for n in group]
            if not any(params.get(n) and any(params[n]) for n in names):
                code = 21602 if "Body" in names else 21603
                raise TwilioError(400, code, f"{ERROR_MESSAGES[code]} (one of {', '.join(names)})")
        to = one["To"]
        if not (E164_RE.match(to) or CHANNEL_ADDRESS_RE.match(to)):
            raise TwilioError(400, 21211, f"Invalid 'To' Phone Number: {to}")
        sender = one.get("From")
        if sender and not (
            E164_RE.match(sender)
            or CHANNEL_ADDRESS_RE.match(sender)
            or SHORT_CODE_RE.match(sender)
            or ALPHA_SENDER_RE.match(sender)
        ):
            raise TwilioError(400, 21212, f"Invalid 'From' Phone Number: {sender}")
        body = one.get("Body", "")
        if len(body) > MAX_BODY:
            raise TwilioError(400, 21617)
        media = [m for m in params.get("MediaUrl", []) if m]
        if len(media) > MAX_MEDIA:
            raise TwilioError(400, 21623, f"{ERROR_MESSAGES[21623]} ({MAX_MEDIA})")
        bad = [m for m in media if not m.startswith(("http://", "https://"))]
        if bad:
            raise TwilioError(400, 21620, f"{ERROR_MESSAGES[21620]}: {bad[0]}")
        delivery_error = self._take_fault(to)
        now = datetime.now(UTC)
        service = one.get("MessagingServiceSid")
        fetched = [self._fetch_media(url) for url in media]
        if delivery_error is None:
            for fetch in fetched:
                if fetch.status != 200:
                    delivery_error = 11200
                    break
                if fetch.content_type not in MMS_CONTENT_TYPES:
                    delivery_error = 12300
                    break
        segments = count_segments(body)
        # With a Messaging Service and no From, Twilio answers "accepted" with no
        # sender yet and num_segments "0" (the spec's description says so).
        pooled = bool(service) and not sender
        resource = self._resource(
            sid=new_sid("SM"),
            to=to,
            from_=sender,
            body=body,
            status="accepted" if pooled else "queued",
            direction="outbound-api",
            num_media=len(media),
            num_segments=0 if pooled else segments,
            messaging_service_sid=service,
            now=now,
        )
        with self._lock:
            self._messages[resource["sid"]] = _Stored(
                resource, now, one.get("StatusCallback"), delivery_error
            )
            self._media[resource["sid"]] = fetched
            self.stats.created += 1
            self.stats.segments += segments
            key = sender or service or ""
            self.stats.by_sender[key] = self.stats.by_sender.get(key, 0) + segments
            stamp = time.time()
            self.stats.first_create_at = self.stats.first_create_at or stamp
            self.stats.last_create_at = stamp
        if delivery_error is not None:
            final = DELIVERY_ERROR_STATUS.get(delivery_error, "undelivered")
            self._schedule(resource["sid"], ["sent", final], delivery_error)
        else:
            self._schedule(resource["sid"], self.auto_status, None)
        return dict(resource)

    def _fetch_media(self, url: str) -> MediaFetch:
        """GET a MediaUrl with no credentials, as Twilio does from the public internet."""
        try:
            with self._opener.open(urllib.request.Request(url), timeout=10) as response:
                content_type = response.headers.get_content_type()
                return MediaFetch(url, response.status, content_type, response.read(), None)
        except urllib.error.HTTPError as error:
            return MediaFetch(url, error.code, "", b"", str(error))
        except (urllib.error.URLError, OSError) as error:
            return MediaFetch(url, None, "", b"", repr(error))

    def _take_fault(self, to: str) -> int | None:
        """Raise a queued REST fault for this create; return a delivery error code."""
        with self._lock:
            while self._fail_next:
                fault = self._fail_next[0]
                if fault.take():
                    if fault.remaining == 0:
                        self._fail_next.popleft()
                    if 30000 <= fault.code < 40000:
                        return fault.code  # a delivery error: accepted, then undelivered
                    raise TwilioError(fault.status, fault.code, fault.message, fault.retry_after)
                self._fail_next.popleft()
            faults = self._fail_to.get(to)
            while faults:
                fault = faults[0]
                if not fault.take():
                    faults.popleft()
                    continue
                if fault.remaining == 0:
                    faults.popleft()
                if 30000 <= fault.code < 40000:
                    return fault.code
                message = fault.message or (
                    f"Invalid 'To' Phone Number: {to}" if fault.code == 21211 else None
                )
                raise TwilioError(fault.status, fault.code, message, fault.retry_after)
        return None

    def _resource(
        self,
        *,
        sid: str,
        to: str,
        from_: str | None,
        body: str,
        status: str,
        direction: str,
        num_media: int,
        num_segments: int,
        messaging_service_sid: str | None,
        now: datetime,
    ) -> dict[str, Any]:
        """A message resource with exactly the spec's properties, in its order."""
        uri = f"/2010-04-01/Accounts/{self.account_sid}/Messages/{sid}"
        values: dict[str, Any] = {
            "body": body,
            "num_segments": str(num_segments),
            "direction": direction,
            "from": from_,
            "to": to,
            "date_updated": rfc2822(now),
            "price": None,
            "error_message": None,
            "uri": uri + ".json",
            "account_sid": self.account_sid,
            "num_media": str(num_media),
            "status": status,
            "messaging_service_sid": messaging_service_sid,
            "sid": sid,
            "date_sent": rfc2822(now) if status not in ("accepted", "scheduled") else None,
            "date_created": rfc2822(now),
            "error_code": None,
            "price_unit": "USD",
            "api_version": API_VERSION,
            "subresource_uris": {
                "media": uri + "/Media.json",
                "feedback": uri + "/Feedback.json",
            },
        }
        return {name: values.get(name) for name in self._message_props}

    def _list(self, params: dict[str, list[str]], request: Request) -> dict[str, Any]:
        for name in params:
            if self._list_params is not None and name not in self._list_params:
                raise TwilioError(
                    400,
                    20001,
                    f"Unknown parameter: '{name}' is not a parameter of ListMessage "
                    f"(allowed: {', '.join(sorted(self._list_params))})",
                )
        one = {k: v[-1] for k, v in params.items()}
        try:
            page_size = int(one.get("PageSize", 50))
            page = int(one.get("Page", 0))
        except ValueError as exc:
            raise TwilioError(400, 20001, f"Invalid paging parameter: {exc}") from None
        if not 1 <= page_size <= 1000 or page < 0:
            raise TwilioError(400, 20001, "PageSize must be 1..1000 and Page >= 0")
        filters = []
        for name in ("DateSent", "DateSent<", "DateSent>"):
            if name in one:
                filters.append((name, _parse_filter_date(name, one[name])))
        with self._lock:
            stored = list(self._messages.values())
        # Newest first, as Twilio lists them.
        stored.sort(key=lambda s: s.created, reverse=True)
        matched = [
            dict(s.resource)
            for s in stored
            if ("To" not in one or s.resource["to"] == one["To"])
            and ("From" not in one or s.resource["from"] == one["From"])
            and all(_date_matches(s.resource["date_sent"], n, v) for n, v in filters)
        ]
        start = page * page_size
        token = one.get("PageToken")
        if token and token.startswith("PA"):
            after = token[2:]
            positions = [i for i, m in enumerate(matched) if m["sid"] == after]
            if positions:
                start = positions[0] + 1
        chunk = matched[start : start + page_size]
        base = request.path
        keep = [
            (k, one[k]) for k in ("To", "From", "DateSent", "DateSent<", "DateSent>") if k in one
        ]

        def page_uri(number: int, page_token: str | None = None) -> str:
            query = [*keep, ("PageSize", str(page_size)), ("Page", str(number))]
            if page_token:
                query.append(("PageToken", page_token))
            return f"{base}?{urlencode(query)}"

        has_next = start + page_size < len(matched)
        return {
            "end": start + len(chunk) - 1 if chunk else start,
            "first_page_uri": page_uri(0),
            "next_page_uri": page_uri(page + 1, "PA" + chunk[-1]["sid"]) if has_next else None,
            "page": page,
            "page_size": page_size,
            "previous_page_uri": page_uri(page - 1) if page > 0 else None,
            "start": start,
            "uri": page_uri(page, token),
            "messages": chunk,
        }

    def _fetch(self, sid: str, path: str) -> dict[str, Any]:
        with self._lock:
            stored = self._messages.get(sid)
            if stored is None:
                raise TwilioError(404, 20404, f"The requested resource {path} was not found")
            return dict(stored.resource)

    def _update(self, sid: str, params: dict[str, list[str]], path: str) -> dict[str, Any]:
        self._check_form(params, self._update_schema, "UpdateMessage")
        with self._lock:
            stored = self._messages.get(sid)
            if stored is None:
                raise TwilioError(404, 20404, f"The requested resource {path} was not found")
            if "Body" in params:
                if params["Body"][-1] != "":
                    raise TwilioError(400, 20001, "Body can only be set to '' (redaction)")
                stored.resource["body"] = ""
            if "Status" in params:
                if stored.resource["status"] != "scheduled":
                    raise TwilioError(400, 20001, "Only scheduled messages can be canceled")
                stored.resource["status"] = params["Status"][-1]
            stored.resource["date_updated"] = rfc2822(datetime.now(UTC))
            return dict(stored.resource)

    def _delete(self, sid: str, path: str) -> None:
        with self._lock:
            if self._messages.pop(sid, None) is None:
                raise TwilioError(404, 20404, f"The requested resource {path} was not found")


def _pascal(snake: str) -> str:
    return "".join(part.capitalize() for part in snake.split("_"))


def _required_message(name: str) -> str:
    if name == "To":
        return ERROR_MESSAGES[21604]
    return f"Missing required parameter {name}"


def _value_problem(value: str, schema: dict[str, Any]) -> str | None:
    """Why `value` does not fit the (resolved) property schema, if it does not."""
    kind = schema.get("type")
    if "enum" in schema and value not in schema["enum"]:
        return f"{value!r} is not one of {schema['enum']}"
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{value!r} is not an integer"
    if kind == "number":
        try:
            float(value)
        except ValueError:
            return f"{value!r} is not a number"
    if kind == "boolean" and value.lower() not in ("true", "false"):
        return f"{value!r} is not a boolean"
    pattern = schema.get("pattern")
    if pattern and not re.search(pattern, value):
        return f"{value!r} does not match {pattern}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"longer than {schema['maxLength']}"
    if "minLength" in schema and len(value) < schema["minLength"]:
        return f"shorter than {schema['minLength']}"
    return None


def _parse_filter_date(name: str, raw: str) -> date | datetime:
    """DateSent values: YYYY-MM-DD, ISO 8601 (what twilio-python sends) or RFC 2822."""
    text = raw.strip()
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return date.fromisoformat(text)
        if re.match(r"\d{4}-\d{2}-\d{2}[T ]", text):
            parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        else:
            parsed = parsedate_to_datetime(text)
    except (ValueError, TypeError):
        raise TwilioError(400, 20001, f"Invalid {name} value {raw!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _date_matches(date_sent: str | None, name: str, value: date | datetime) -> bool:
    """DateSent= same day; DateSent< on or before; DateSent> on or after (inclusive)."""
    if date_sent is None:
        return False
    sent = parsedate_to_datetime(date_sent)
    if isinstance(value, datetime):
        left: date | datetime = sent
    else:
        left = sent.date()
    if name == "DateSent":
        return (sent.date() == value.date()) if isinstance(value, datetime) else left == value
    if name == "DateSent<":
        return left <= value  # type: ignore[operator]
    return left >= value  # type: ignore[operator]


def _json_or_none(body: bytes) -> dict[str, Any] | None:
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        return None
    return parsed if isinstance(parsed, dict) else None


def main(argv: list[str] | None = None) -> None:
    """Serve until killed; prints the base URL on stdout first (port 0 picks one)."""
    parser = argparse.ArgumentParser(description="Fake Twilio Messages API for benchmarks")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--auto-status", default="", help="e.g. sent,delivered")
    parser.add_argument("--record", action="store_true", help="keep every request in memory")
    args = parser.parse_args(argv)
    fake = FakeTwilio(
        args.account_sid,
        args.auth_token,
        auto_status=[s for s in args.auto_status.split(",") if s],
        record=args.record,
        host=args.host,
        port=args.port,
    )
    fake.start()
    print(fake.url, flush=True)
    fake.serve_forever()


if __name__ == "__main__":
    main()
