"""kill -9 in the middle of `caretbot push run`, then a second run: nothing is pushed
twice and nothing is lost. Real processes, the Zoho Recruit stand-in, both databases."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli.main import app
from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN, FakeZohoRecruit
from storage.db import Database
from storage.push.models import PUSH_HISTORY, PUSH_RUNS
from tests.storage.push_data import add_blast, add_candidates, ago, engage, make_list, rule

CARETBOT = [sys.executable, "-c", "from bot.cli import app; app(prog_name='caretbot')"]


@pytest.fixture
def zoho() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


def caretbot(env: dict[str, str], *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [*CARETBOT, *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_kill_9_mid_run_then_a_second_run_pushes_each_candidate_once(
    database: Database, zoho: FakeZohoRecruit, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    ids = add_candidates(database, list(range(1, 251)))
    list_id = make_list(database, "Fall nurses", ids)
    blast_id = add_blast(database, list_id, "Fall nurses", started_at=ago(hours=3))
    engage(database, blast_id, ids, sent_at=ago(hours=3), replied_at=ago(hours=2))
    rule(database, "Fall nurses")
    # The second call (candidates 101-200) is taken by Recruit, then never answered.
    zoho.slow_for("zoe.150@example.com", 60)
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("ZOHO_", "SLACK_"))},
        "DATABASE_URL": database.url,
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "ZOHO_ACCOUNTS_URL": zoho.url,
        "ZOHO_RECRUIT_URL": zoho.url,
    }

    first = caretbot(env, "push", "run")
    try:
        zoho.wait_for(lambda: len(zoho.calls("upsert")) == 2, timeout=30)
        with database.read() as session:
            pending = session.execute(
                sa.select(sa.func.count()).where(PUSH_HISTORY.c.state == "pending")
            ).scalar_one()
        assert pending == 100  # recorded before the call, committed
    finally:
        os.kill(first.pid, signal.SIGKILL)
        first.wait(10)
    assert first.returncode == -signal.SIGKILL

    # The second run in this process (the first one's process is the one that died).
    second = CliRunner().invoke(app, ["push", "run", "--json"], env=env)
    assert second.exit_code == 0, second.stderr
    out = second.stdout

    assert '"settled": 100' in out
    emails = zoho.upserted_emails()
    assert len(emails) == 250 == len(set(emails))  # each candidate pushed exactly once
    assert len(zoho.calls("search")) == 100
    with database.read() as session:
        by_state = dict(
            session.execute(
                sa.select(PUSH_HISTORY.c.state, sa.func.count()).group_by(PUSH_HISTORY.c.state)
            ).all()
        )
        run_states = [
            row.state
            for row in session.execute(sa.select(PUSH_RUNS.c.state).order_by(PUSH_RUNS.c.id))
        ]
        recruit_ids = session.execute(
            sa.select(sa.func.count(sa.distinct(PUSH_HISTORY.c.recruit_id)))
        ).scalar_one()
    assert by_state == {"new": 250}
    assert recruit_ids == 250
    assert run_states == ["interrupted", "done"]
