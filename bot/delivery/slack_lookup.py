"""Finding a Slack post whose fate is unknown, before posting it again.

A chat.postMessage that timed out, whose connection was reset, or that was in flight
when its worker died may have been posted. caretbot tags every post it makes for the
outbox with Slack message metadata (event_type `caretbot_outbox`, the entry id and which
part: the candidate card or the text), and before posting such an entry again reads
the thread (conversations.replies) or, for a card, the channel's recent history
(conversations.history) with include_all_metadata=true, from when the entry was stored.
This is the look-up of one post of caretbot's own by its tag, not a way to find a
conversation's thread (the database maps those). Slack docs: "Message metadata",
conversations.replies, conversations.history (both Tier 3, about 50 calls a minute).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import structlog
from slack_sdk import WebClient

log = structlog.get_logger(__name__)

EVENT_TYPE = "caretbot_outbox"
# Slack's clock and ours may differ a little; read from a bit before the entry.
CLOCK_SKEW_SECONDS = 60.0
PAGE_SIZE = 200
MAX_PAGES = 10


def metadata(entry_id: int, part: str) -> dict[str, Any]:
    """The metadata caretbot posts with outbox entry `entry_id`'s `part` (card, text, note)."""
    return {"event_type": EVENT_TYPE, "event_payload": {"outbox_id": entry_id, "part": part}}


def find_post(
    client: WebClient,
    *,
    channel: str,
    thread_ts: str | None,
    entry_id: int,
    part: str,
    since: datetime,
) -> str | None:
    """The ts of the message caretbot posted for (`entry_id`, `part`) since `since`, in
    the thread `thread_ts` (None: the channel's top level), or None when there is none.

    Raises what the client raises (SlackApiError, OSError) when Slack cannot answer:
    the caller must not post blind then.
    """
    oldest = f"{since.timestamp() - CLOCK_SKEW_SECONDS:.6f}"
    cursor: str | None = None
    for _ in range(MAX_PAGES):
        if thread_ts is not None:
            response = client.conversations_replies(
                channel=channel,
                ts=thread_ts,
                oldest=oldest,
                include_all_metadata=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
        else:
            response = client.conversations_history(
                channel=channel,
                oldest=oldest,
                include_all_metadata=True,
                limit=PAGE_SIZE,
                cursor=cursor,
            )
        for message in response.get("messages") or []:
            if _tag(message) == (entry_id, part):
                return str(message["ts"])
        cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
        if not cursor:
            return None
    log.warning("slack.lookup_truncated", entry=entry_id, pages=MAX_PAGES)
    return None


def _tag(message: dict[str, Any]) -> tuple[Any, Any] | None:
    found = message.get("metadata") or {}
    if found.get("event_type") != EVENT_TYPE:
        return None
    payload = found.get("event_payload") or {}
    return payload.get("outbox_id"), payload.get("part")
