"""Issue 8 "Duplicates": a Slack post whose fate is unknown (an answer slower than the
client's timeout, a connection reset after Slack posted) is looked up by its message
metadata before it is posted again: each text shows once in the thread."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.delivery import clients, dispatcher, slack_lookup
from tests.bot.conftest import OTHER_CANDIDATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.fakes.slack_api import FakeSlack


@pytest.fixture
def short_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """A client timeout of half a second, so that a slow Slack outlasts it quickly."""
    monkeypatch.setattr(clients, "HTTP_TIMEOUT_SECONDS", 0.5)
    monkeypatch.setattr(dispatcher, "backoff", lambda attempts: 0.1)


@pytest.fixture
def quick_bridge(
    short_timeout: None, make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio
) -> Bridge:
    return Bridge(make_caretbot(), slack, twilio)


def tagged(slack: FakeSlack, text: str) -> list:
    return [p for p in slack.posts(CHANNEL) if p.text == text]


def test_a_post_answered_after_the_clients_timeout_shows_once(
    quick_bridge: Bridge, slack: FakeSlack
):
    thread = quick_bridge.open_thread("one")
    slack.slow_next("chat.postMessage", seconds=1.5)

    quick_bridge.text_in("two — answered late")

    slack.wait_for(lambda: slack.calls("conversations.replies"), timeout=5)
    entries = quick_bridge.wait_outbox_settled()
    assert quick_bridge.thread(thread) == ["one", "two — answered late"]
    (post,) = tagged(slack, "two — answered late")
    assert post.params["metadata"]["event_type"] == slack_lookup.EVENT_TYPE
    (message,) = [m for m in quick_bridge.messages("inbound") if m.body == "two — answered late"]
    assert message.slack_ts == post.ts  # the found post is the one recorded
    assert all(e.state == "done" for e in entries)


def test_a_post_whose_connection_was_reset_after_posting_shows_once(
    quick_bridge: Bridge, slack: FakeSlack
):
    thread = quick_bridge.open_thread("one")
    slack.reset_next("chat.postMessage")

    quick_bridge.text_in("two — reset after posting")
    quick_bridge.text_in("three")

    slack.wait_for(lambda: len(quick_bridge.thread(thread)) >= 3, timeout=5)
    quick_bridge.wait_outbox_settled()
    assert quick_bridge.thread(thread) == ["one", "two — reset after posting", "three"]


def test_a_candidate_card_answered_late_opens_one_thread(quick_bridge: Bridge, slack: FakeSlack):
    slack.slow_next("chat.postMessage", seconds=1.5)

    quick_bridge.text_in("Hi, it’s Zoë — is the job still open?", from_=OTHER_CANDIDATE)

    slack.wait_for(lambda: len(slack.posts(CHANNEL)) >= 2, timeout=5)
    quick_bridge.wait_outbox_settled()
    card, text = slack.posts(CHANNEL)
    assert card.thread_ts is None and text.thread_ts == card.ts
    assert text.text == "Hi, it’s Zoë — is the job still open?"
    assert slack.calls("conversations.history")


def test_a_look_up_that_fails_does_not_post_blind(quick_bridge: Bridge, slack: FakeSlack):
    thread = quick_bridge.open_thread("one")
    slack.reset_next("chat.postMessage")
    slack.fail_next("conversations.replies", status=503, times=3)

    quick_bridge.text_in("two")

    slack.wait_for(lambda: len(quick_bridge.thread(thread)) >= 2, timeout=5)
    quick_bridge.wait_outbox_settled()
    assert quick_bridge.thread(thread) == ["one", "two"]
    assert [c.status for c in slack.calls("conversations.replies")][:3] == [503] * 3


def test_a_post_refused_outright_is_posted_again_without_a_look_up(
    quick_bridge: Bridge, slack: FakeSlack
):
    """A 503 never reached Slack's app: no look-up is needed before the next try."""
    thread = quick_bridge.open_thread("one")
    slack.fail_next("chat.postMessage", status=503)

    quick_bridge.text_in("two")

    slack.wait_for(lambda: len(quick_bridge.thread(thread)) >= 2, timeout=5)
    assert slack.calls("conversations.replies") == []
