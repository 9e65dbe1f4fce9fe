"""`caretbot outbox` lists work that is stuck or given up, with why; `caretbot outbox
retry ID|--all` puts it back and a running caretbot then does it, once. The CLI as
typed (typer's runner), beside a caretbot serving the fakes, on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage.models import utcnow
from tests.bot.conftest import Bridge
from tests.bot.harness import Caretbot
from tests.conftest import BACKENDS, fresh_database_url

REPLY = "Your interview is Tuesday at 10 — bring your ID 🪪"


@pytest.fixture(params=BACKENDS)
def bridge_on(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
) -> Bridge:
    """caretbot giving up after one failed try."""
    url = None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)
    # A retry budget shorter than the first backoff (about 1 s): given up at the first
    # failure.
    return Bridge(make_caretbot(url, overrides={"RETRY_BUDGET_HOURS": 0.5 / 3600}), slack, twilio)


def caretbot_cli(bridge: Bridge, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(
        app, list(args), env={"DATABASE_URL": bridge.caretbot.settings.DATABASE_URL}
    )
    return result.exit_code, result.stdout, result.stderr


def test_a_given_up_text_is_listed_with_why_and_retry_texts_it_once(
    bridge_on: Bridge, twilio: FakeTwilio
):
    thread = bridge_on.open_thread("Any news?")
    twilio.fail_next(status=500, code=20500, times=1)
    bridge_on.teammate_says(REPLY, thread)
    bridge_on.wait_for_note(thread, "could not be delivered")
    (given_up,) = [e for e in bridge_on.outbox() if e.state == "failed"]

    code, out, _ = caretbot_cli(bridge_on, "outbox")

    assert code == 0
    line = next(line for line in out.splitlines() if line.strip().startswith(str(given_up.id)))
    assert "twilio.send" in line and "given up" in line and "twilio 500" in line
    assert "1 entry: 1 given up, 0 stuck" in out

    code, out, _ = caretbot_cli(bridge_on, "outbox", "retry", str(given_up.id))

    assert code == 0, out
    assert f"Put back 1 entry: {given_up.id}." in out
    (sent,) = bridge_on.wait_for_texts(1)
    assert sent["body"] == REPLY
    bridge_on.wait_outbox_settled()
    assert (
        caretbot_cli(bridge_on, "outbox")[1].strip() == "Nothing stuck or given up in the outbox."
    )
    assert len(bridge_on.texts_to()) == 1


def test_stuck_work_is_listed_and_retry_all_puts_back_what_is_given_up(
    bridge_on: Bridge, slack: FakeSlack
):
    thread = bridge_on.open_thread("Hello")
    slack.fail_next("chat.postMessage", error="channel_not_found", times=1)
    bridge_on.text_in("Are you still hiring?")
    bridge_on.slack.wait_for(lambda: [e for e in bridge_on.outbox() if e.state == "failed"])
    with bridge_on.caretbot.db.write() as session:  # a post stored an hour ago, not yet done
        session.execute(
            sa.text(
                "INSERT INTO outbox (kind, lane, pace_key, payload, state, attempts, "
                "next_attempt_at, created_at, updated_at) VALUES ('slack.note', 'x', 'x', "
                "'{}', 'pending', 0, :later, :old, :old)"
            ),
            {"old": utcnow() - timedelta(hours=1), "later": utcnow() + timedelta(days=1)},
        )

    code, out, _ = caretbot_cli(bridge_on, "outbox")

    assert code == 0
    assert "given up: slack said channel_not_found" in out
    assert "waiting 60 min, not tried yet" in out
    assert "2 entries: 1 given up, 1 stuck" in out

    code, out, _ = caretbot_cli(bridge_on, "outbox", "retry", "--all")
    assert code == 0
    assert "Put back 2 entries" in out
    slack.wait_for(lambda: "Are you still hiring?" in bridge_on.thread(thread))


def test_retry_refuses_what_it_cannot_put_back(bridge_on: Bridge):
    code, _, err = caretbot_cli(bridge_on, "outbox", "retry")
    assert code == 2
    assert "--all" in err

    code, _, err = caretbot_cli(bridge_on, "outbox", "retry", "4242")
    assert code == 1
    assert "4242" in err
