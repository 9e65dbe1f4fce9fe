"""The run report reaches Slack: `caretbot push run` leaves it in the outbox and the
running caretbot's dispatcher posts it in SLACK_CHANNEL_ID (not in a thread)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZohoRecruit
from storage import outbox
from tests.bot.harness import CHANNEL, Caretbot
from tests.storage.push_data import add_blast, add_candidate, ago, engage, make_list, rule


@pytest.fixture
def zoho() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


def test_the_report_of_a_run_is_posted_in_the_channel(
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    zoho: FakeZohoRecruit,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    zoho_settings = {
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "ZOHO_ACCOUNTS_URL": zoho.url,
        "ZOHO_RECRUIT_URL": zoho.url,
    }
    bot = make_caretbot(**zoho_settings)
    db = bot.db
    ids = [
        add_candidate(db, 1),
        add_candidate(db, 2, email=None),
        add_candidate(db, 3, origin="ats"),
    ]
    list_id = make_list(db, "Nurses <ICU> & ER", ids)
    blast_id = add_blast(db, list_id, "Fall nurses", started_at=ago(hours=2))
    engage(db, blast_id, ids, sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(db, "Nurses <ICU> & ER")
    monkeypatch.chdir(tmp_path)
    env = zoho_settings | {"DATABASE_URL": db.url, "SLACK_CHANNEL_ID": CHANNEL}

    result = CliRunner().invoke(app, ["push", "run"], env=env)

    assert result.exit_code == 0, result.stderr
    post = slack.wait_for(
        lambda: next((p for p in slack.posts(CHANNEL) if "Zoho Recruit" in p.text), None)
    )
    assert post.thread_ts is None
    assert post.text == (
        "Push to Zoho Recruit, run #1\n"
        "• #1 Candidates, replied, list Nurses &lt;ICU&gt; &amp; ER: 1 new, 0 updated, "
        "0 re-added, 0 failed, 2 ignored (1 came from Recruit, 1 missing email)"
    )
    # A run that did nothing posts nothing.
    assert CliRunner().invoke(app, ["push", "run"], env=env).exit_code == 0
    with db.read() as session:
        every = [e.id for e in outbox.entries(session=session) if e.kind == "slack.channel"]
        done = [
            e.id for e in outbox.entries(session=session, state="done") if e.kind == "slack.channel"
        ]
    assert len(every) == 1 and every == done
