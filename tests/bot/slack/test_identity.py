"""Slack down while caretbot restarts: the bot's identity is the one kept from the last
good auth.test, so teammates' replies are still stored and texted; an event caretbot
cannot handle for want of an identity is answered 5xx, and Slack's retry is handled.
Bolt does not warn that SLACK_BOT_TOKEN goes unused."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from bot.settings import load_settings
from bot.slack.app import build_slack_app
from storage import integrations
from storage.db import Database
from tests.bot.conftest import Bridge
from tests.bot.harness import Caretbot
from tests.conftest import BACKENDS, fresh_database_url


class SlackDown:
    """Every Slack Web API call answers 503 service_unavailable while down."""

    def __init__(self, slack: FakeSlack) -> None:
        self.slack = slack

    def set(self) -> None:
        self.slack.fail_next("*", status=503, error="service_unavailable", times=1_000_000)

    def clear(self) -> None:
        self.slack.clear_faults()


@pytest.fixture
def slack_down(slack: FakeSlack) -> Iterator[SlackDown]:
    down = SlackDown(slack)
    yield down
    down.clear()


def kept_identity(db: Database) -> dict[str, Any] | None:
    with db.read() as session:
        return integrations.states(session=session)["slack"].identity


@pytest.fixture(params=BACKENDS)
def bridge_on(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
) -> Bridge:
    url = None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)
    return Bridge(make_caretbot(url), slack, twilio)


def test_a_restart_while_slack_is_down_still_texts_the_teammates_replies(
    bridge_on: Bridge, slack: FakeSlack, slack_down: SlackDown
):
    thread = bridge_on.open_thread("Is the night shift still open?")
    slack.wait_for(lambda: kept_identity(bridge_on.caretbot.db))

    slack_down.set()
    bridge_on.caretbot.restart()
    replies = [f"Reply {n}: yes, it’s open — come by Tuesday" for n in range(5)]
    answers = [bridge_on.teammate_says(text, thread)[1] for text in replies]

    assert [a.status_code for a in answers] == [200] * 5
    assert not any("reinstall" in a.text for a in answers)
    sent = bridge_on.wait_for_texts(5)
    assert sorted(m["body"] for m in sent) == sorted(replies)


def test_without_a_kept_identity_an_event_in_an_outage_is_5xx_and_its_retry_is_texted(
    bridge_on: Bridge, slack: FakeSlack, slack_down: SlackDown
):
    thread = bridge_on.open_thread("Hello?")
    caretbot = bridge_on.caretbot
    slack.wait_for(lambda: kept_identity(caretbot.db))
    caretbot.stop()
    with caretbot.db.write() as session:
        session.execute(sa.text("UPDATE integration_state SET identity = NULL"))
    slack_down.set()
    caretbot.restart()

    envelope, answer = bridge_on.teammate_says("See you at 9 ☕", thread)

    assert answer.status_code >= 500
    assert bridge_on.messages("outbound") == []
    slack_down.clear()
    retried = caretbot.slack_post(
        envelope, extra_headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_error"}
    )
    assert retried.status_code == 200
    (sent,) = bridge_on.wait_for_texts(1)
    assert sent["body"] == "See you at 9 ☕"


def test_bolt_gives_no_token_warning_with_the_token_in_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
):
    monkeypatch.setenv("SLACK_BOT_TOKEN", "xoxb-from-the-environment")
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'warn.db'}", SLACK_SIGNING_SECRET="secret"
    )
    with caplog.at_level(logging.INFO):
        build_slack_app(
            settings=settings,
            db=Database(settings.DATABASE_URL),
            client=WebClient(token=settings.SLACK_BOT_TOKEN),
            wake=lambda: None,
        )
    assert "will be unused" not in caplog.text
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_an_event_caretbot_could_not_store_is_answered_5xx_so_slack_retries_it(
    bridge: Bridge,
):
    thread = bridge.open_thread("Hi there")
    with bridge.caretbot.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE processed_slack_events RENAME TO gone"))

    envelope, answer = bridge.teammate_says("Call me back at 5, Zoë", thread)

    assert answer.status_code >= 500
    with bridge.caretbot.db.engine.begin() as connection:
        connection.execute(sa.text("ALTER TABLE gone RENAME TO processed_slack_events"))
    retried = bridge.caretbot.slack_post(envelope, extra_headers={"X-Slack-Retry-Num": "1"})
    assert retried.status_code == 200
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Call me back at 5, Zoë"
