"""The outbox: every Slack post and every text goes through it, is retried when the
platform hiccups (5xx, 429 with its Retry-After), given up with a log line and a thread
note when the platform says no for good, kept in order per thread, paced per channel,
and not lost (nor sent twice) across a restart."""

from __future__ import annotations

from collections.abc import Callable

from structlog.testing import capture_logs
from twilio.rest import Client as TwilioClient

from bot.sandbox.signing import new_ts
from bot.sandbox.slack_api import Call, FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage import conversations, messages, outbox
from storage.models import Message, OutboxEntry
from tests.bot.conftest import CANDIDATE, OTHER_CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, TEAM_NUMBER, Caretbot


def first_call_after(calls: list[Call], earlier: Call) -> Call:
    return next(c for c in calls if c.at > earlier.at)


# Slack.


def test_slack_500_is_retried_and_the_text_posted_once(bridge: Bridge, slack: FakeSlack):
    thread = bridge.open_thread("one")
    slack.fail_next("chat.postMessage", status=500)

    bridge.text_in("two")

    slack.wait_for(lambda: "two" in bridge.thread(thread), timeout=5)
    assert bridge.thread(thread) == ["one", "two"]
    statuses = [c.status for c in slack.calls("chat.postMessage")]
    assert statuses == [200, 200, 500, 200]


def test_slack_429_waits_the_retry_after_it_gives(bridge: Bridge, slack: FakeSlack):
    thread = bridge.open_thread("one")
    slack.fail_next("chat.postMessage", status=429, retry_after=1)

    bridge.text_in("two")

    slack.wait_for(lambda: "two" in bridge.thread(thread), timeout=5)
    calls = slack.calls("chat.postMessage")
    limited = next(c for c in calls if c.status == 429)
    retried = first_call_after(calls, limited)
    assert retried.at - limited.at >= 0.95
    assert bridge.thread(thread) == ["one", "two"]


def test_posts_to_one_thread_keep_their_order_while_one_waits_for_a_retry(
    bridge: Bridge, slack: FakeSlack
):
    thread = bridge.open_thread("one")
    slack.fail_next("chat.postMessage", status=500)

    for body in ("two", "three", "four"):
        bridge.text_in(body)

    slack.wait_for(lambda: len(bridge.thread(thread)) == 4, timeout=5)
    assert bridge.thread(thread) == ["one", "two", "three", "four"]
    assert any(c.status == 500 for c in slack.calls("chat.postMessage"))


def test_a_thread_waiting_for_a_retry_does_not_hold_up_other_threads(
    bridge: Bridge, slack: FakeSlack
):
    first = bridge.open_thread("first candidate, text one", from_=CANDIDATE)
    slack.fail_next("chat.postMessage", status=500)
    bridge.text_in("first candidate, text two", from_=CANDIDATE)
    slack.wait_for(lambda: any(c.status == 500 for c in slack.calls()))

    second = bridge.open_thread("second candidate", from_=OTHER_CANDIDATE)

    late = slack.wait_for(
        lambda: next((p for p in slack.posts(CHANNEL, first) if "two" in p.text), None), timeout=5
    )
    (other,) = slack.posts(CHANNEL, second)
    assert other.at < late.at


def test_slack_posts_are_paced_per_channel_instead_of_provoking_429s(
    make_caretbot: Callable[..., Caretbot], twilio: FakeTwilio
):
    """With Slack allowing 10 posts a second (bursts of 2) and caretbot set a little
    under that, a burst of texts is posted without a single 429."""
    with FakeSlack("xoxb-test-token", rate_per_second=10, burst=2) as limited:
        caretbot = make_caretbot(
            slack_api_url=limited.api_url,
            overrides={"SLACK_POSTS_PER_SECOND": 8.0, "SLACK_POST_BURST": 1},
        )
        bridge = Bridge(caretbot, limited, twilio)
        bodies = [f"text {n}" for n in range(7)]
        for body in bodies:
            bridge.text_in(body)

        posts = limited.wait_for(8, timeout=5)

        assert limited.ratelimited_count == 0
        assert [p.text for p in posts[1:]] == bodies


def test_slack_channel_not_found_is_given_up_with_a_log_line(bridge: Bridge, slack: FakeSlack):
    """A permanent Slack error is not retried: the entry fails, and the log says which
    entry and why."""
    slack.fail_next("chat.postMessage", error="channel_not_found")

    with capture_logs() as logs:
        bridge.text_in("Hello?")
        entries = bridge.wait_outbox_settled()

    assert entries[0].kind == conversations.POST_INBOUND and entries[0].state == "failed"
    assert "channel_not_found" in (entries[0].last_error or "")
    gave_up = [e for e in logs if e["event"] == "outbox.gave_up"]
    assert gave_up and "channel_not_found" in gave_up[0]["error"]
    assert gave_up[0]["log_level"] == "error"
    assert len(slack.calls("chat.postMessage")) == 1  # not retried


def test_a_post_slack_refuses_for_good_is_given_up_with_a_note_in_the_thread(
    bridge: Bridge, slack: FakeSlack
):
    thread = bridge.open_thread("one")
    slack.fail_next("chat.postMessage", error="invalid_blocks")

    with capture_logs() as logs:
        bridge.text_in("two")
        note = bridge.wait_for_note(thread, "could not be delivered")

    assert "invalid_blocks" in note
    assert any(e["event"] == "outbox.gave_up" for e in logs)
    assert bridge.thread(thread)[0] == "one" and "two" not in bridge.thread(thread)


# Twilio.


def test_twilio_21211_is_not_retried_and_the_thread_gets_the_code_and_its_meaning(
    bridge: Bridge, twilio: FakeTwilio
):
    twilio.fail_to(CANDIDATE, code=21211)
    thread = bridge.open_thread()

    bridge.teammate_says("When can you start?", thread)

    note = bridge.wait_for_note(thread, "21211")
    assert "not a valid number" in note
    bridge.wait_outbox_settled()
    assert len(bridge.creates()) == 1
    (message,) = bridge.messages("outbound")
    assert (message.status, message.error_code) == ("failed", 21211)


def test_twilio_429_is_retried_after_its_retry_after_and_sent_once(
    bridge: Bridge, twilio: FakeTwilio
):
    twilio.fail_next(status=429, code=20429, retry_after=2)
    thread = bridge.open_thread()

    bridge.teammate_says("Are you free Thursday?", thread)

    (sent,) = bridge.wait_for_texts(1, timeout=6)
    assert sent["body"] == "Are you free Thursday?"
    refused, accepted = bridge.creates()
    assert (refused.status, accepted.status) == (429, 201)
    assert accepted.at - refused.at >= 1.9  # backoff alone would be about 1 s


def test_twilio_500_is_retried_then_sent_once(bridge: Bridge, twilio: FakeTwilio):
    twilio.fail_next(status=500, code=20500)
    thread = bridge.open_thread()

    bridge.teammate_says("Are you free Thursday?", thread)

    (sent,) = bridge.wait_for_texts(1, timeout=5)
    assert [c.status for c in bridge.creates()] == [500, 201]
    message = bridge.wait_for_message(lambda m: m.twilio_sid == sent["sid"])
    assert message.status == "queued"
    assert bridge.notes(thread) == []


def test_a_text_twilio_keeps_failing_is_given_up_with_a_log_line_and_a_note(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    """Transient failures spend no try: the text is retried until RETRY_BUDGET_HOURS
    (here 1.5 s) have passed since it was stored, then given up."""
    bridge = Bridge(make_caretbot(RETRY_BUDGET_HOURS=1.5 / 3600), slack, twilio)
    twilio.fail_next(status=503, code=20503, times=10)
    thread = bridge.open_thread()

    with capture_logs() as logs:
        bridge.teammate_says("Hello?", thread)
        note = bridge.wait_for_note(thread, "could not be delivered", timeout=6)

    assert "gave up after retrying" in note and "2 attempts" in note
    assert len(bridge.creates()) == 2
    assert [e["kind"] for e in logs if e["event"] == "outbox.gave_up"] == [conversations.SEND_SMS]
    (message,) = bridge.messages("outbound")
    assert message.status == "failed"


# Restarts.


def test_a_restart_while_slack_is_down_loses_nothing(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(database_url)
    bridge = Bridge(caretbot, slack, twilio)
    slack.fail_next("*", status=500, times=1000)
    bridge.text_in("Sent while Slack was down")
    slack.wait_for(lambda: slack.calls("chat.postMessage"))

    caretbot.stop()
    slack.reset()  # Slack is back
    caretbot.restart()

    card, text = slack.wait_for(2, timeout=10)
    assert text.thread_ts == card.ts and text.text == "Sent while Slack was down"
    bridge.wait_outbox_settled()
    assert len(slack.posts()) == 2


def test_a_restart_while_twilio_is_down_loses_nothing_and_sends_once(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(database_url)
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread()
    twilio.fail_next(status=500, code=20500, times=1000)
    bridge.teammate_says("Sent while Twilio was down", thread)
    twilio.wait_for(lambda: twilio.calls("create"))

    caretbot.stop()
    twilio.reset()  # Twilio is back
    caretbot.restart()

    (sent,) = bridge.wait_for_texts(1, timeout=10)
    assert sent["body"] == "Sent while Twilio was down"
    bridge.wait_outbox_settled()
    assert len(bridge.creates()) == 1


def leave_a_send_in_flight(caretbot: Caretbot, thread: str, body: str) -> int:
    """What a crash between `mark_sending` and the commit of Twilio's answer leaves: a
    message marked sending and its outbox entry in flight. Returns the message id."""
    with caretbot.db.write() as session:
        reply = conversations.record_teammate_reply(
            session=session,
            event_id="Ev" + new_ts().replace(".", ""),
            channel=CHANNEL,
            thread_ts=thread,
            ts=new_ts(),
            user=TEAMMATE,
            text=body,
        )
        assert reply is not None and reply.message_id is not None
        messages.mark_sending(session=session, message_id=reply.message_id)
    with caretbot.db.write() as session:
        (entry,) = [
            e
            for e in outbox.entries(session=session, state="pending")
            if e.payload.get("message_id") == reply.message_id
        ]
        assert outbox.claim(session=session, entry_id=entry.id)
    return reply.message_id


def stored(caretbot: Caretbot, model: type, ident: int):
    with caretbot.db.read() as session:
        return session.get(model, ident)


def test_a_text_twilio_took_before_a_crash_is_looked_up_not_sent_twice(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(database_url)
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread()
    caretbot.stop()
    body = "Your interview is at 10am"
    message_id = leave_a_send_in_flight(caretbot, thread, body)
    # Twilio had accepted it: the crash came before caretbot recorded the SID.
    client = TwilioClient(ACCOUNT_SID, AUTH_TOKEN)
    client.api.base_url = twilio.url
    accepted = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body=body)

    caretbot.restart()

    message = bridge.slack.wait_for(
        lambda: (m := stored(caretbot, Message, message_id)) and m.twilio_sid and m
    )
    assert message.twilio_sid == accepted.sid
    bridge.wait_outbox_settled()
    assert len(bridge.creates()) == 1  # only the one before the crash
    assert twilio.calls("list")


def test_a_text_in_flight_that_twilio_never_got_is_sent_once_after_a_restart(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio
):
    caretbot = make_caretbot()
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread()
    caretbot.stop()
    message_id = leave_a_send_in_flight(caretbot, thread, "See you at 10am")

    caretbot.restart()

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "See you at 10am"
    message = bridge.wait_for_message(lambda m: m.id == message_id and m.twilio_sid)
    assert message.twilio_sid == sent["sid"]
    entries = bridge.wait_outbox_settled()
    assert all(e.state == "done" for e in entries)
    assert len(bridge.creates()) == 1
    assert stored(caretbot, OutboxEntry, entries[-1].id).state == "done"
