"""/healthz reports each platform's last success and error, its backlog and the age of
its oldest entry; /readyz answers 503 while a platform has been failing for
READY_UNREACHABLE_SECONDS or the oldest waiting entry is older than
READY_MAX_BACKLOG_AGE_SECONDS. Through HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage.models import utcnow
from tests.bot.conftest import Bridge
from tests.bot.harness import Caretbot
from tests.conftest import BACKENDS, fresh_database_url


@pytest.fixture(params=BACKENDS)
def database_url_or_none(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    return None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)


def test_a_slack_outage_shows_in_healthz_and_fails_readyz_until_slack_is_back(
    database_url_or_none: str | None,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(database_url_or_none, overrides={"READY_UNREACHABLE_SECONDS": 60})
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread("First text, before the outage")
    bridge.teammate_says("Got it, thanks — we’ll call", thread)
    bridge.wait_for_texts(1)

    def platform(name: str) -> dict:
        return caretbot.http.get("/healthz").json()["integrations"][name]

    slack.wait_for(lambda: platform("twilio")["last_success_at"])
    assert platform("slack")["last_success_at"] is not None
    assert caretbot.http.get("/readyz").status_code == 200

    slack.fail_next("*", status=503, error="service_unavailable", times=1_000_000)
    bridge.text_in("Second text, during the outage")
    failing = slack.wait_for(lambda: platform("slack")["failing_since"] and platform("slack"))
    assert "503" in failing["last_error"]
    assert failing["backlog"] >= 1
    assert failing["oldest_entry_age_seconds"] >= 0
    assert caretbot.http.get("/healthz").status_code == 200
    # A minute of outage, without waiting a minute: its start moved back.
    with caretbot.db.write() as session:
        session.execute(
            sa.text("UPDATE integration_state SET failing_since = :t WHERE name = 'slack'"),
            {"t": utcnow() - timedelta(minutes=5)},
        )

    ready = caretbot.http.get("/readyz")
    assert ready.status_code == 503
    assert any("slack has been failing" in reason for reason in ready.json()["reasons"])
    assert caretbot.http.get("/healthz").json()["status"] == "degraded"

    slack.clear_faults()
    slack.wait_for(
        lambda: any(p.text == "Second text, during the outage" for p in slack.posts()),
        timeout=20,
    )
    slack.wait_for(lambda: caretbot.http.get("/readyz").status_code == 200, timeout=10)
    assert platform("slack")["failing_since"] is None


def test_an_old_waiting_entry_fails_readyz_and_shows_its_age(
    database_url_or_none: str | None,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(
        database_url_or_none, RUN_WORKERS=False, overrides={"READY_MAX_BACKLOG_AGE_SECONDS": 600}
    )
    bridge = Bridge(caretbot, slack, twilio)
    bridge.text_in("Waiting for Slack")
    assert caretbot.http.get("/readyz").status_code == 200

    with caretbot.db.write() as session:
        session.execute(
            sa.text("UPDATE outbox SET created_at = :t"), {"t": utcnow() - timedelta(hours=1)}
        )

    health = caretbot.http.get("/healthz").json()
    assert health["integrations"]["slack"]["backlog"] == 1
    assert 3500 < health["integrations"]["slack"]["oldest_entry_age_seconds"] < 3700
    assert health["integrations"]["twilio"]["backlog"] == 0
    ready = caretbot.http.get("/readyz")
    assert ready.status_code == 503
    assert ready.json()["reasons"] == [
        next(r for r in ready.json()["reasons"] if "oldest slack outbox entry" in r)
    ]


def test_readyz_is_503_when_the_database_does_not_answer(make_caretbot: Callable[..., Caretbot]):
    caretbot = make_caretbot(RUN_WORKERS=False)
    with caretbot.db.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE outbox"))

    ready = caretbot.http.get("/readyz")

    assert ready.status_code == 503
    assert ready.json()["reasons"] == ["the database does not answer"]
