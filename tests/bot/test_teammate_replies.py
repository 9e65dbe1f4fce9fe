"""A teammate's message in a conversation thread is texted to the candidate, and nothing
else is: not bots, not edits or joins, not top-level messages, not ^ commands, not other
threads. Slack's retries text nothing twice; forged or stale requests text nothing."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import pytest

from bot.sandbox.signing import new_ts, slack_headers, slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, SIGNING_SECRET, Caretbot

SECOND_TEAM_NUMBER = "+15125550199"


def test_thread_message_is_texted_from_the_number_the_candidate_texted(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    """The reply goes from the number the candidate wrote to (not TWILIO_FROM_NUMBER),
    to the candidate, with the teammate's words and a status callback to
    PUBLIC_URL/twilio/status."""
    caretbot = make_caretbot(database_url)
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread("Is the night shift still hiring?", to=SECOND_TEAM_NUMBER)

    _, response = bridge.teammate_says("Yes! Can you come in Tuesday?", thread)

    assert response.status_code == 200
    (sent,) = bridge.wait_for_texts(1)
    assert sent["from"] == SECOND_TEAM_NUMBER
    assert sent["to"] == CANDIDATE
    assert sent["body"] == "Yes! Can you come in Tuesday?"
    (create,) = bridge.creates()
    assert create.params["StatusCallback"] == [caretbot.url + "/twilio/status"]
    outbound = bridge.wait_for_message(lambda m: m.direction == "outbound" and m.twilio_sid)
    assert outbound.twilio_sid == sent["sid"]


def test_each_thread_message_is_texted_once_in_order(bridge: Bridge):
    thread = bridge.open_thread()
    for text in ("First question:", "are you 18 or older?", "Thanks!"):
        bridge.teammate_says(text, thread)

    assert len(bridge.wait_for_texts(3)) == 3
    assert [c.params["Body"][0] for c in bridge.creates()] == [
        "First question:",
        "are you 18 or older?",
        "Thanks!",
    ]


NOT_TEXTED: dict[str, dict[str, Any]] = {
    "a bot's message": {"bot_id": "B0OTHERBOT"},
    "caretbot's own message": {"user": "UBOT", "bot_id": "BBOT"},
    "an edit (message_changed)": {"subtype": "message_changed"},
    "a join (channel_join)": {"subtype": "channel_join"},
    "a bot_message": {"subtype": "bot_message", "user": None, "bot_id": "B0OTHERBOT"},
    "a message with no user": {"user": None},
    "a top-level channel message": {"thread_ts": None},
    "a thread root itself (thread_ts == ts)": {"root": True},
    "a ^ command": {"text": "^claim"},
    "a ^ command after spaces": {"text": "   ^at tomorrow 9am Are you free to talk?"},
    "a thread that is not a conversation": {"thread_ts": "1700000000.000100"},
}


@pytest.mark.parametrize("fields", NOT_TEXTED.values(), ids=NOT_TEXTED.keys())
def test_not_texted(bridge: Bridge, fields: dict[str, Any]):
    """Acknowledged with 200, stored as no text, never sent; a later real reply is the
    only text the candidate gets."""
    thread = bridge.open_thread()
    fields = dict(fields)
    text = fields.pop("text", "This must not reach the candidate")
    thread_ts = fields.pop("thread_ts", thread)
    user = fields.pop("user", TEAMMATE)
    if fields.pop("root", False):
        fields["ts"] = thread_ts = new_ts()

    _, response = bridge.teammate_says(text, thread_ts, user=user, **fields)

    assert response.status_code == 200
    assert bridge.messages("outbound") == []
    bridge.teammate_says("The real reply", thread)
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "The real reply"
    assert [c.params["Body"] for c in bridge.creates()] == [["The real reply"]]


def test_retried_event_is_acknowledged_and_texted_once(bridge: Bridge):
    """Slack retries an event it thinks failed (same event_id, X-Slack-Retry-Num)."""
    thread = bridge.open_thread()
    envelope, first = bridge.teammate_says("Only once, please", thread)

    retries = [
        bridge.caretbot.slack_post(
            envelope,
            extra_headers={"X-Slack-Retry-Num": str(n), "X-Slack-Retry-Reason": "http_timeout"},
        )
        for n in (1, 2)
    ]
    bridge.teammate_says("Next message", thread)

    assert first.status_code == 200
    assert [r.status_code for r in retries] == [200, 200]
    bridge.wait_for_texts(2)
    assert [c.params["Body"][0] for c in bridge.creates()] == ["Only once, please", "Next message"]


def test_a_retry_that_is_the_only_delivery_is_texted(bridge: Bridge):
    """Dedupe is on event_id, not on the retry header: a retry can be the first copy
    caretbot sees."""
    thread = bridge.open_thread()

    _, response = bridge.teammate_says(
        "The first delivery was lost",
        thread,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"},
    )

    assert response.status_code == 200
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "The first delivery was lost"


@pytest.mark.parametrize(
    "forgery",
    ["wrong signing secret", "timestamp six minutes old", "body changed after signing"],
)
def test_forged_or_stale_slack_request_is_refused_and_texts_nothing(bridge: Bridge, forgery: str):
    thread = bridge.open_thread()
    envelope = slack_message_event(CHANNEL, TEAMMATE, "Forged reply", thread_ts=thread)
    body = json.dumps(envelope).encode()
    if forgery == "wrong signing secret":
        headers = slack_headers("not-the-signing-secret", body)
    elif forgery == "timestamp six minutes old":
        headers = slack_headers(SIGNING_SECRET, body, timestamp=int(time.time()) - 6 * 60)
    else:
        headers = slack_headers(SIGNING_SECRET, body)
        body = body.replace(b"Forged reply", b"Tampered reply")

    response = bridge.caretbot.http.post("/slack/events", content=body, headers=headers)

    assert response.status_code == 401
    assert bridge.messages("outbound") == []
    bridge.teammate_says("The real reply", thread)
    bridge.wait_for_texts(1)
    assert [c.params["Body"] for c in bridge.creates()] == [["The real reply"]]


def test_signed_body_that_is_not_json_gets_400_and_texts_nothing(bridge: Bridge):
    """A malformed body is a client error: 400, nothing stored, and the server goes on."""
    thread = bridge.open_thread()

    response = bridge.caretbot.slack_post(b'{"type": "event_callback", "event": {"text": "x"')

    assert response.status_code == 400
    assert bridge.messages("outbound") == []
    bridge.teammate_says("Still working", thread)
    bridge.wait_for_texts(1)


def test_url_verification_handshake_is_answered_with_the_challenge(caretbot: Caretbot):
    response = caretbot.slack_post(
        {"token": "verification-token", "challenge": "3eZbrw1aB", "type": "url_verification"}
    )

    assert response.status_code == 200
    assert response.json() == {"challenge": "3eZbrw1aB"}
