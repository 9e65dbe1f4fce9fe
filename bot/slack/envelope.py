"""The shape of what Slack posts, checked at the edge after the signature and before any
listener: a signed request that lacks a field Slack always sends (an event's
`event_id`, a message's `channel` or `ts`) is answered 400, never a 500 from a listener
that trusted it.

Shapes follow Slack's Events API (https://api.slack.com/apis/events-api, "Callback
field overview") and the message event (https://api.slack.com/events/message).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

import structlog
from slack_bolt.response import BoltResponse

from grammar.storable import storable_text

log = structlog.get_logger(__name__)

# Event ids are "Ev" and a few upper-case letters and digits (Ev0PV52K21); caretbot keeps
# up to 64 characters of one (processed_slack_events.event_id).
_EVENT_ID = re.compile(r"Ev[0-9A-Za-z]{1,62}")
# Message timestamps: seconds and microseconds, "1355517523.000005".
_TS = re.compile(r"[0-9]{1,12}\.[0-9]{1,9}")
# Conversation ids: C (public), G (private, older), D (direct message).
_CHANNEL = re.compile(r"[CGD][0-9A-Z]{2,30}")
_USER = re.compile(r"[UWB][0-9A-Z]{2,30}")


def envelope_problem(body: Mapping[str, Any]) -> str | None:
    """What is wrong with an Events API envelope (a sentence), or None when it has the
    shape caretbot relies on. Payloads other than event callbacks are Bolt's to check."""
    if body.get("type") != "event_callback":
        return None
    if not _matches(_EVENT_ID, body.get("event_id")):
        return "event_id is missing or not a Slack event id"
    event = body.get("event")
    if not isinstance(event, dict) or not isinstance(event.get("type"), str):
        return "event is missing or has no type"
    if event["type"] != "message":
        return None
    if not _matches(_CHANNEL, event.get("channel")):
        return "the message event has no channel id"
    if not _matches(_TS, event.get("ts")):
        return "the message event has no ts"
    for name, pattern in (("thread_ts", _TS), ("user", _USER)):
        if name in event and event[name] is not None and not _matches(pattern, event[name]):
            return f"the message event's {name} is malformed"
    if "text" in event and event["text"] is not None and not isinstance(event["text"], str):
        return "the message event's text is not a string"
    return None


def _matches(pattern: re.Pattern[str], value: Any) -> bool:
    return isinstance(value, str) and pattern.fullmatch(value) is not None


def check_envelope(body: dict[str, Any], next: Callable[[], None]) -> BoltResponse | None:  # noqa: A002 - Bolt passes it by this name
    """Bolt middleware (before authorization): 400 for a malformed envelope; the event's
    text made storable (no NUL) for the listeners."""
    problem = envelope_problem(body)
    if problem is not None:
        log.warning("slack.malformed_event", problem=problem)
        return BoltResponse(status=400, body=f"malformed event: {problem}")
    event = body.get("event")
    if isinstance(event, dict) and isinstance(event.get("text"), str):
        event["text"] = storable_text(event["text"])
    next()
    return None
