"""What libraries log of a failing request carries no message text, secret or phone
number: Bolt's line for a forged Slack request (it prints the whole body), and the
traceback of a database error (SQLAlchemy prints a statement's parameters, PostgreSQL
the failing row). Real failing requests through caretbot's real logging set-up."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.sandbox.signing import slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.bot.test_log_masking import json_logs  # noqa: F401 - the fixture
from tests.conftest import BACKENDS, fresh_database_url

SECRET_TEXT = "my bank PIN is 4417, call me on 512-555-0143 after 6"


def assert_clean(logs: str) -> None:
    for words in ("bank PIN", "4417", "after 6", SECRET_TEXT):
        assert words not in logs, f"{words!r} appears in the logs:\n{logs}"
    for number in (CANDIDATE, CANDIDATE[1:], "5125550143"):
        assert number not in logs, f"{number} appears in the logs"
    assert not re.search(r"512\D{0,3}555\D{0,3}0143", logs), logs


def test_a_forged_slack_request_is_logged_without_its_body(
    json_logs: io.StringIO,  # noqa: F811
    caretbot: Caretbot,
):
    envelope = slack_message_event(CHANNEL, "U0DANA", SECRET_TEXT, thread_ts="1700000000.000100")

    response = caretbot.slack_post(envelope, secret="not-the-signing-secret")

    assert response.status_code == 401
    logs = json_logs.getvalue()
    assert "Invalid request signature" in logs  # Bolt did log the request
    assert "not-the-signing-secret" not in logs
    assert_clean(logs)


def _refuse_texts_with(database_url: str, word: str) -> None:
    """Make the database refuse an inbound text containing `word`, as a constraint would."""
    engine = sa.create_engine(database_url)
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.exec_driver_sql(
                f"ALTER TABLE messages ADD CONSTRAINT no_{word} CHECK (position('{word}' in body) = 0)"
            )
        else:
            connection.exec_driver_sql(
                f"CREATE TRIGGER no_{word} BEFORE INSERT ON messages "
                f"WHEN NEW.body LIKE '%{word}%' BEGIN SELECT RAISE(ABORT, 'refused'); END"
            )
    engine.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_database_error_is_logged_without_the_values_it_was_given(
    json_logs: io.StringIO,  # noqa: F811
    backend: str,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    url = None if backend == "sqlite" else fresh_database_url(backend, tmp_path)
    caretbot = make_caretbot(url, RUN_WORKERS=False)
    _refuse_texts_with(caretbot.settings.DATABASE_URL, "PIN")

    response = Bridge(caretbot, slack, twilio).text_in(SECRET_TEXT)

    assert response.status_code >= 500

    def failures() -> list[dict]:
        lines = [json.loads(line) for line in json_logs.getvalue().splitlines() if line.strip()]
        return [line for line in lines if "exception" in line]

    # The server answers first and logs the traceback after.
    slack.wait_for(failures)
    logs = json_logs.getvalue()
    assert any("IntegrityError" in line["exception"] for line in failures()), logs
    assert_clean(logs)
