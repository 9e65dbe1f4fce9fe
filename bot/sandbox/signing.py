"""Build and sign requests the way Slack and Twilio send them to caretbot.

Tests use these to hit caretbot's webhooks exactly as the platforms do: Twilio's
X-Twilio-Signature over the URL plus every form parameter, Slack's v0 HMAC over
"v0:{timestamp}:{body}", and payloads shaped like recorded ones (bot/sandbox/fixtures).
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import uuid
from functools import cache
from pathlib import Path
from typing import Any

import phonenumbers
from twilio.request_validator import RequestValidator

from bot.sandbox.segments import count_segments

FIXTURES = Path(__file__).resolve().parent / "fixtures"
API_VERSION = "2010-04-01"
DEFAULT_ACCOUNT_SID = "AC" + "0123456789abcdef" * 2


@cache
def _fixture(name: str) -> dict[str, Any]:
    with (FIXTURES / name).open(encoding="utf-8") as fh:
        return json.load(fh)


def load_fixture(name: str) -> dict[str, Any]:
    """A fresh copy of a recorded payload from bot/sandbox/fixtures."""
    return copy.deepcopy(_fixture(name))


def new_sid(prefix: str = "SM") -> str:
    """A Twilio SID: two-letter prefix and 32 lower-case hex digits."""
    return prefix + secrets.token_hex(16)


# ------------------------------------------------------------------ Twilio


def twilio_signature(
    auth_token: str, url: str, params: dict[str, Any], algorithm: str | None = None
) -> str:
    """X-Twilio-Signature for a form POST to `url` (the exact public URL, query included).

    `params` values may be lists (repeated keys). `algorithm` is None (HMAC-SHA1 with
    the auth token) or "HMAC_SHA256" for SharedKey-signed webhooks.
    """
    return RequestValidator(auth_token).compute_signature(url, _MultiDict(params), algorithm)


class _MultiDict(dict[str, Any]):
    """Lets RequestValidator see every value of a repeated parameter."""

    def getlist(self, key: str) -> list[str]:
        value = self[key]
        return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _country(number: str) -> str:
    try:
        parsed = phonenumbers.parse(number)
    except phonenumbers.NumberParseException:
        return ""
    region = phonenumbers.region_code_for_number(parsed)
    if not region:  # unassigned ranges (e.g. UK drama numbers) still have a country
        region = phonenumbers.region_code_for_country_code(parsed.country_code or 0)
    return "" if region == "ZZ" else region


def inbound_sms_params(
    from_: str,
    to: str,
    body: str,
    sid: str | None = None,
    media: list[tuple[str, str]] | None = None,
    messaging_service_sid: str | None = None,
    account_sid: str = DEFAULT_ACCOUNT_SID,
) -> dict[str, str]:
    """Every form parameter Twilio posts to an incoming-message webhook.

    Starts from the recorded bot/sandbox/fixtures/twilio_inbound_sms.json. Geographic fields
    (city, state, zip) keep the recording's values for US numbers and are empty for
    others, as Twilio leaves them when it cannot tell; the countries come from the
    numbers. MMS get an "MM" SID and MediaUrlN / MediaContentTypeN.
    """
    media = media or []
    params = load_fixture("twilio_inbound_sms.json")
    sid = sid or new_sid("MM" if media else "SM")
    for side, number in (("From", from_), ("To", to)):
        country = _country(number)
        params[f"{side}Country"] = country
        if country != "US":
            for suffix in ("State", "City", "Zip"):
                params[f"{side}{suffix}"] = ""
    params.update(
        {
            "SmsMessageSid": sid,
            "SmsSid": sid,
            "MessageSid": sid,
            "NumMedia": str(len(media)),
            "SmsStatus": "received",
            "Body": body,
            "To": to,
            "From": from_,
            "NumSegments": str(count_segments(body)),
            "AccountSid": account_sid,
            "ApiVersion": API_VERSION,
        }
    )
    for index, (url, content_type) in enumerate(media):
        params[f"MediaContentType{index}"] = content_type
        params[f"MediaUrl{index}"] = url
    if messaging_service_sid:
        params["MessagingServiceSid"] = messaging_service_sid
    return params


def twilio_webhook_headers(
    auth_token: str, url: str, params: dict[str, Any], algorithm: str | None = None
) -> dict[str, str]:
    """Headers Twilio sends with a form webhook, signature included."""
    return {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "TwilioProxy/1.1",
        "X-Twilio-Signature": twilio_signature(auth_token, url, params, algorithm),
        "I-Twilio-Idempotency-Token": secrets.token_hex(16),
        "X-Home-Region": "us1",
    }


# ------------------------------------------------------------------- Slack


def slack_signature(signing_secret: str, body: bytes, timestamp: int | str) -> str:
    """v0=hex(HMAC-SHA256(secret, "v0:{timestamp}:{body}"))."""
    base = b"v0:" + str(timestamp).encode() + b":" + body
    return "v0=" + hmac.new(signing_secret.encode(), base, hashlib.sha256).hexdigest()


def slack_headers(
    signing_secret: str,
    body: bytes,
    timestamp: int | None = None,
    *,
    retry_num: int | None = None,
    retry_reason: str = "http_timeout",
    content_type: str = "application/json",
) -> dict[str, str]:
    """X-Slack-Signature and X-Slack-Request-Timestamp (plus retry headers when asked).

    A stale `timestamp` (over five minutes old) is what a replay looks like.
    """
    ts = int(time.time()) if timestamp is None else int(timestamp)
    headers = {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": str(ts),
        "X-Slack-Signature": slack_signature(signing_secret, body, ts),
    }
    if retry_num is not None:
        headers["X-Slack-Retry-Num"] = str(retry_num)
        headers["X-Slack-Retry-Reason"] = retry_reason
    return headers


def _channel_type(channel: str) -> str:
    return {"C": "channel", "G": "group", "D": "im"}.get(channel[:1], "channel")


_last_ts = 0.0


def new_ts() -> str:
    """A fresh Slack message ts ("seconds.micros"), increasing within the process."""
    global _last_ts
    now = max(time.time(), _last_ts + 0.000001)
    _last_ts = now
    return f"{now:.6f}"


def slack_message_event(
    channel: str,
    user: str | None,
    text: str,
    ts: str | None = None,
    thread_ts: str | None = None,
    subtype: str | None = None,
    bot_id: str | None = None,
    *,
    team_id: str = "T0CARETBOT",
    api_app_id: str = "ACARETBOT",
    bot_user_id: str = "UBOT",
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = "verification-token",
    channel_type: str | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """An Events API `event_callback` envelope carrying a `message` event.

    Field names follow the spec's GenericEventWrapper (token, team_id, api_app_id,
    event{type, event_ts, ...}, type, event_id, event_time, authed_users) plus what Slack
    sends today (authorizations, event_context, is_ext_shared_channel). A person's
    message carries client_msg_id; a bot's (bot_id or subtype bot_message) does not.
    A thread reply has thread_ts != ts.
    """
    envelope = load_fixture("slack_message_event.json")
    ts = ts or new_ts()
    event: dict[str, Any] = envelope["event"]
    event.update(
        {
            "type": "message",
            "text": text,
            "ts": ts,
            "channel": channel,
            "event_ts": ts,
            "channel_type": channel_type or _channel_type(channel),
            "team": team_id,
        }
    )
    event["blocks"][0]["elements"][0]["elements"][0]["text"] = text
    if user is None:
        event.pop("user", None)
    else:
        event["user"] = user
    if thread_ts is not None:
        event["thread_ts"] = thread_ts
        event["parent_user_id"] = event.get("parent_user_id", user or bot_user_id)
    else:
        event.pop("thread_ts", None)
        event.pop("parent_user_id", None)
    if subtype is not None:
        event["subtype"] = subtype
    if bot_id is not None:
        event["bot_id"] = bot_id
        event["app_id"] = api_app_id
    if files is not None:
        event["files"] = files
        event["subtype"] = subtype or "file_share"
    if bot_id is None and event.get("subtype") in (None, "file_share", "thread_broadcast"):
        event["client_msg_id"] = str(uuid.uuid4())
    else:
        event.pop("client_msg_id", None)
    envelope.update(
        {
            "token": token,
            "team_id": team_id,
            "context_team_id": team_id,
            "api_app_id": api_app_id,
            "type": "event_callback",
            "event_id": event_id or "Ev" + secrets.token_hex(5).upper(),
            "event_time": event_time if event_time is not None else int(float(ts)),
            "authed_users": [bot_user_id],
        }
    )
    envelope["authorizations"][0].update({"team_id": team_id, "user_id": bot_user_id})
    envelope["event_context"] = "4-" + secrets.token_urlsafe(24)
    return envelope


def slack_url_verification(challenge: str, token: str = "verification-token") -> dict[str, Any]:
    """The one-off handshake Slack sends when the Request URL is saved."""
    return {"token": token, "challenge": challenge, "type": "url_verification"}


def signed_slack_body(
    signing_secret: str, payload: dict[str, Any], timestamp: int | None = None, **kwargs: Any
) -> tuple[bytes, dict[str, str]]:
    """JSON-encode an Events API payload and sign it: (body, headers) ready to POST."""
    body = json.dumps(payload).encode("utf-8")
    return body, slack_headers(signing_secret, body, timestamp, **kwargs)
