"""Issue 8 "Losses": the same reply twice ("Thanks!") with a Twilio 500 between is
texted twice, each once; a status callback that beats the create's answer is kept and
applied; replies written within ~100 ms go out in Slack's ts order."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.delivery import clients, dispatcher
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.fakes.signing import new_ts, slack_message_event
from tests.fakes.slack_api import FakeSlack
from tests.fakes.twilio_api import FakeTwilio


def test_the_same_reply_twice_with_a_twilio_500_between_is_texted_twice(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    thread = bridge.open_thread()
    bridge.teammate_says("Thanks!", thread)
    bridge.wait_for_texts(1)
    twilio.fail_next(status=500, code=20500)

    bridge.teammate_says("Thanks!", thread)

    first, second = bridge.wait_for_texts(2, timeout=8)
    assert first["body"] == second["body"] == "Thanks!"
    assert [c.status for c in bridge.creates()] == [201, 500, 201]
    entries = bridge.wait_outbox_settled()
    assert all(e.state == "done" for e in entries)
    sids = [m.twilio_sid for m in bridge.messages("outbound")]
    assert sids == [first["sid"], second["sid"]]
    assert bridge.notes(thread) == []


def test_a_text_created_after_the_client_gave_up_is_found_not_sent_again(
    monkeypatch: pytest.MonkeyPatch,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    """The create hangs past the client's timeout and Twilio creates the text anyway:
    the look-up finds it (created after the attempt began, not recorded), the earlier
    identical "Thanks!" is not taken for it."""
    monkeypatch.setattr(clients, "HTTP_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(dispatcher, "backoff", lambda attempts: 1.0)
    bridge = Bridge(make_caretbot(), slack, twilio)
    thread = bridge.open_thread()
    bridge.teammate_says("Thanks!", thread)
    (first,) = bridge.wait_for_texts(1)
    twilio.hold_next(to=CANDIDATE, seconds=0.8)

    bridge.teammate_says("Thanks!", thread)

    bridge.wait_for_texts(2, timeout=8)
    bridge.wait_outbox_settled()
    time.sleep(0.3)
    assert len(bridge.creates()) == 2
    assert twilio.calls("list")
    sids = [m.twilio_sid for m in bridge.messages("outbound")]
    assert sids[0] == first["sid"] and sids[1] not in (None, first["sid"])


def test_a_status_callback_before_the_sid_is_recorded_is_kept_and_applied(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    thread = bridge.open_thread()
    release = twilio.hold_next(to=CANDIDATE, after_create=True, seconds=10)
    try:
        envelope, _ = bridge.teammate_says("See you at 10am", thread)
        (created,) = twilio.wait_for(lambda: bridge.texts_to(CANDIDATE) or None)
        # Twilio calls back while caretbot still waits for the create's answer.
        assert twilio.send_status(created["sid"], "sent") == 204
        assert twilio.send_status(created["sid"], "delivered") == 204
        assert bridge.messages("outbound")[0].twilio_sid is None
    finally:
        release.set()

    message = bridge.wait_for_message(
        lambda m: m.direction == "outbound" and m.status == "delivered"
    )
    assert message.twilio_sid == created["sid"]
    ts = envelope["event"]["ts"]
    slack.wait_for(lambda: "white_check_mark" in slack.reactions(CHANNEL, ts))


def test_replies_written_close_together_are_texted_in_slacks_ts_order(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    thread = bridge.open_thread()
    written = [new_ts() for _ in range(4)]
    bodies = ["First: thanks for applying", "Second: are you free", "Third: Tuesday?", "Fourth."]
    # Slack delivers (and caretbot stores) each pair the other way round, ~20 ms apart.
    for later, earlier in ((1, 0), (3, 2)):
        for index in (later, earlier):
            envelope = slack_message_event(
                CHANNEL, TEAMMATE, bodies[index], ts=written[index], thread_ts=thread
            )
            assert bridge.caretbot.slack_post(envelope).status_code == 200
            time.sleep(0.02)

    sent = bridge.wait_for_texts(4, timeout=8)
    assert [m["body"] for m in sent] == bodies
