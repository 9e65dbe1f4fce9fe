"""Issue 8 "Losses": a transient failure spends no try. Slack or Twilio failing on cue
(503, refusing connections, 429 with Retry-After, 500) never loses a text or a reply:
it is retried against RETRY_BUDGET_HOURS, a 429 pauses the whole channel or sender for
its Retry-After, and once a platform is back the backlog goes at once, at its rate."""

from __future__ import annotations

import time
from collections.abc import Callable

import pytest

from bot.delivery import dispatcher
from tests.bot.conftest import CANDIDATE, OTHER_CANDIDATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.fakes.slack_api import FakeSlack
from tests.fakes.twilio_api import FakeTwilio


@pytest.fixture
def quick_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    """Backoff of 20 ms, so that many failures in a row fit in a test."""
    monkeypatch.setattr(dispatcher, "backoff", lambda attempts: 0.02)


def test_more_slack_503s_than_the_old_try_limit_lose_nothing(
    quick_backoff: None, bridge: Bridge, slack: FakeSlack
):
    thread = bridge.open_thread("one")
    slack.fail_next("chat.postMessage", status=503, times=20)

    bridge.text_in("two, sent while Slack answered 503")

    slack.wait_for(lambda: len(bridge.thread(thread)) == 2, timeout=10)
    assert bridge.thread(thread) == ["one", "two, sent while Slack answered 503"]
    assert [c.status for c in slack.calls("chat.postMessage")].count(503) == 20
    entries = bridge.wait_outbox_settled()
    assert [e.state for e in entries] == ["done", "done"]


def test_more_twilio_500s_than_the_old_try_limit_lose_nothing(
    quick_backoff: None, bridge: Bridge, twilio: FakeTwilio
):
    thread = bridge.open_thread()
    twilio.fail_next(status=500, code=20500, times=12)

    bridge.teammate_says("We’d love to have you Monday — can you make it?", thread)

    (sent,) = bridge.wait_for_texts(1, timeout=10)
    assert sent["body"] == "We’d love to have you Monday — can you make it?"
    assert [c.status for c in bridge.creates()] == [500] * 12 + [201]
    assert bridge.notes(thread) == []


def test_a_slack_429_pauses_the_whole_channel_for_its_retry_after(bridge: Bridge, slack: FakeSlack):
    bridge.open_thread("first candidate")
    slack.fail_next("chat.postMessage", status=429, retry_after=2)

    bridge.text_in("first candidate again")
    limited = slack.wait_for(
        lambda: next((c for c in slack.calls("chat.postMessage") if c.status == 429), None)
    )
    bridge.text_in("second candidate", from_=OTHER_CANDIDATE)

    slack.wait_for(lambda: len(slack.posts(CHANNEL)) == 5, timeout=6)
    after = [c for c in slack.calls("chat.postMessage") if c.at > limited.at]
    assert after and min(c.at for c in after) - limited.at >= 1.9
    bridge.wait_outbox_settled()


def test_a_twilio_429_pauses_the_whole_sender_for_its_retry_after(
    bridge: Bridge, twilio: FakeTwilio
):
    first = bridge.open_thread()
    second = bridge.open_thread("Hello, I applied yesterday", from_=OTHER_CANDIDATE)
    twilio.fail_to(CANDIDATE, code=20429, times=1, retry_after=2)

    bridge.teammate_says("Are you free Thursday?", first)
    refused = twilio.wait_for(lambda: next(iter(bridge.creates()), None))
    bridge.teammate_says("Are you free Friday?", second)

    bridge.wait_for_texts(1, timeout=6)
    bridge.wait_for_texts(1, number=OTHER_CANDIDATE, timeout=6)
    later = [c for c in bridge.creates() if c.at > refused.at]
    assert refused.status == 429 and len(later) == 2
    assert min(c.at for c in later) - refused.at >= 1.9


def test_slack_refusing_connections_then_back_loses_nothing_and_catches_up_at_once(
    make_caretbot: Callable[..., Caretbot], twilio: FakeTwilio
):
    with FakeSlack("xoxb-test-token") as down:
        bridge = Bridge(make_caretbot(slack_api_url=down.api_url), down, twilio)
        thread = bridge.open_thread("before the outage")
        down.refuse_connections()
        bodies = [f"during the outage {n}" for n in range(6)]
        for body in bodies:
            bridge.text_in(body)
        bridge.text_in("another candidate, during the outage", from_=OTHER_CANDIDATE)
        down.wait_for(
            lambda: sum("unreachable" in (e.last_error or "") for e in bridge.outbox()) >= 2,
            timeout=5,
        )
        time.sleep(1.0)  # the outage goes on: probes back off

        down.accept_connections()
        back = time.monotonic()

        down.wait_for(lambda: len(down.posts()) == 2 + 6 + 2, timeout=15)
        caught_up = time.monotonic() - back
        assert bridge.thread(thread) == ["before the outage", *bodies]
        assert caught_up <= dispatcher.MAX_PROBE_SECONDS + 2
        entries = bridge.wait_outbox_settled()
        assert all(e.state == "done" for e in entries)
