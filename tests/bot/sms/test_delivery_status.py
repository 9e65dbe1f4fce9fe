"""Delivery state: Twilio's status callbacks (signed) move a text forward, react on the
teammate's Slack message, and explain failures in the thread."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from bot.sandbox.signing import twilio_signature
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, Bridge
from tests.bot.harness import AUTH_TOKEN, CHANNEL, Caretbot


def send_reply(bridge: Bridge, text: str = "Can you start Monday?") -> tuple[str, str, str]:
    """A teammate replies in a fresh thread: (thread ts, the reply's ts, the Twilio SID)."""
    thread = bridge.open_thread()
    envelope, _ = bridge.teammate_says(text, thread)
    (sent,) = bridge.wait_for_texts(1)
    bridge.wait_for_message(lambda m: m.twilio_sid == sent["sid"])
    return thread, envelope["event"]["ts"], sent["sid"]


def status_of(bridge: Bridge, sid: str) -> Any:
    return next(m for m in bridge.messages() if m.twilio_sid == sid)


def test_delivered_puts_a_check_mark_on_the_teammates_message(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    thread, reply_ts, sid = send_reply(bridge)

    assert twilio.send_status(sid, "sent") == 204
    assert twilio.send_status(sid, "delivered") == 204

    assert slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts)) == ["white_check_mark"]
    assert status_of(bridge, sid).status == "delivered"
    assert bridge.notes(thread) == []


def test_carrier_failure_gets_an_x_and_a_note_with_the_code_and_its_meaning(
    bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio
):
    """Twilio accepts the text, then the carrier filters it: a callback 'undelivered'
    with ErrorCode 30007."""
    twilio.fail_to(CANDIDATE, code=30007)
    thread = bridge.open_thread()
    envelope, _ = bridge.teammate_says("Apply at example.com/jobs", thread)
    reply_ts = envelope["event"]["ts"]

    note = bridge.wait_for_note(thread, "30007")

    assert "spam" in note.lower() or "filter" in note.lower()
    assert slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts)) == ["x"]
    (message,) = bridge.messages("outbound")
    assert (message.status, message.error_code) == ("undelivered", 30007)


def test_failed_status_gets_an_x_and_a_note(bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio):
    thread, reply_ts, sid = send_reply(bridge)

    assert twilio.send_status(sid, "failed", error_code=30003) == 204

    note = bridge.wait_for_note(thread, "30003")
    assert "unreachable" in note
    assert slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts)) == ["x"]
    assert status_of(bridge, sid).status == "failed"


def test_a_late_sent_does_not_overwrite_delivered(
    bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio
):
    """Callbacks reuse one SID and can arrive out of order: status only moves forward."""
    thread, reply_ts, sid = send_reply(bridge)
    twilio.send_status(sid, "delivered")
    slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts))

    assert twilio.send_status(sid, "sent") in (200, 204)
    assert twilio.send_status(sid, "queued") in (200, 204)

    assert status_of(bridge, sid).status == "delivered"
    bridge.wait_outbox_settled()
    assert slack.reactions(CHANNEL, reply_ts) == ["white_check_mark"]
    assert len(slack.calls("reactions.add")) == 1


def test_a_repeated_delivered_reacts_once(bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio):
    thread, reply_ts, sid = send_reply(bridge)

    twilio.send_status(sid, "delivered")
    twilio.send_status(sid, "delivered")

    slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts))
    bridge.wait_outbox_settled()
    assert len(slack.calls("reactions.add")) == 1


def test_callback_with_parameters_twilio_added_without_notice_still_validates(
    bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio
):
    """The signature covers every parameter Twilio sent, including ones caretbot has
    never heard of."""
    thread, reply_ts, sid = send_reply(bridge)

    answer = twilio.send_status(
        sid, "delivered", extra_params={"ChannelToAddress": "+1512555XXXX", "Price": "-0.0079"}
    )

    assert answer == 204
    assert slack.wait_for(lambda: slack.reactions(CHANNEL, reply_ts)) == ["white_check_mark"]


@pytest.mark.parametrize("forgery", ["wrong signature", "missing header", "status changed"])
def test_forged_status_callback_gets_403_and_changes_nothing(
    bridge: Bridge, twilio: FakeTwilio, forgery: str
):
    thread, reply_ts, sid = send_reply(bridge)
    params = twilio.status_params(sid, "failed", error_code=30003)
    url = bridge.caretbot.url + "/twilio/status"
    headers = {"X-Twilio-Signature": twilio_signature(AUTH_TOKEN, url, params)}
    if forgery == "wrong signature":
        headers = {"X-Twilio-Signature": twilio_signature("f" * 32, url, params)}
    elif forgery == "missing header":
        headers = {}
    else:
        params = {**params, "MessageStatus": "delivered", "SmsStatus": "delivered"}

    response = bridge.caretbot.http.post("/twilio/status", data=params, headers=headers)

    assert response.status_code == 403
    assert status_of(bridge, sid).status == "queued"
    assert bridge.outbox()[-1].kind == "twilio.send"  # no reaction, no note queued


def test_status_for_a_message_caretbot_never_sent_is_acknowledged_and_ignored(
    bridge: Bridge,
):
    """Twilio must not retry it, and nothing changes."""
    params = {
        "SmsSid": "SM" + "0" * 32,
        "SmsStatus": "delivered",
        "MessageStatus": "delivered",
        "To": "+15125550143",
        "MessageSid": "SM" + "0" * 32,
        "AccountSid": "AC" + "a" * 32,
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
    }

    response = bridge.caretbot.twilio_post("/twilio/status", params)

    assert 200 <= response.status_code < 300
    assert bridge.outbox() == []


def test_signed_status_callback_without_a_status_gets_400(bridge: Bridge, twilio: FakeTwilio):
    thread, reply_ts, sid = send_reply(bridge)
    params = twilio.status_params(sid, "delivered")
    del params["MessageStatus"], params["SmsStatus"]

    response = bridge.caretbot.twilio_post("/twilio/status", params)

    assert response.status_code == 400
    assert status_of(bridge, sid).status == "queued"
