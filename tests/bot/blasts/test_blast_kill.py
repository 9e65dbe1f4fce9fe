"""kill -9 of the `caretbot serve` process mid-blast, then a restart on the same
database: every eligible recipient is texted exactly once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.delivery.blast_rules import blast_rules
from bot.delivery.clients import twilio_client
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from storage import blasts
from storage.db import Database
from storage.models import utcnow
from tests.bot.blasts.helpers import cli, quiet_hours_away_from_now, recipients, seed
from tests.bot.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CHANNEL,
    SIGNING_SECRET,
    TEAM_NUMBER,
    Caretbot,
    free_socket,
)
from tests.conftest import BACKENDS, fresh_database_url

PHONES = [f"+1312555{n:04d}" for n in range(200, 240)]  # 40 recipients


def _serve(env: dict[str, str], port: int, log: Path) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli.main", "serve", "--port", str(port)],
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"caretbot serve did not start:\n{log.read_text()}")


def _outbound(twilio: FakeTwilio) -> Counter[str]:
    return Counter(m["to"] for m in twilio.messages() if m["direction"] == "outbound-api")


@pytest.mark.parametrize("backend", BACKENDS)
def test_kill_9_mid_blast_then_restart_texts_everyone_once(
    backend: str,
    tmp_path: Path,
    slack: FakeSlack,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = fresh_database_url(backend, tmp_path)
    db = Database(url)
    db.upgrade()
    seed(db, [{"phone": phone, "first_name": "Zoë"} for phone in PHONES])
    port = free_socket().getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "SLACK_CHANNEL_ID": CHANNEL,
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_FROM_NUMBER": TEAM_NUMBER,
        "TWILIO_API_URL": twilio.url,
        "TWILIO_SEGMENTS_PER_SECOND": "10",
        "PUBLIC_URL": f"http://127.0.0.1:{port}",
        "WORKERS_IN_PROCESS": "true",
        # The killed process's claims are taken back once their lease lapses.
        "OUTBOX_LEASE_SECONDS": "5",
        "QUIET_HOURS": quiet_hours_away_from_now(),
    }
    blast_env = {k: env[k] for k in ("PUBLIC_URL", "QUIET_HOURS")}
    code, _, err = cli(
        monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses",
        "--message", "Hi {first_name}, nights at St. Mary's: reply YES", **blast_env,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli(monkeypatch, url, "blasts", "send", "Nights", **blast_env)
    assert code == 0 and "`caretbot serve` will send it" in out, out + err

    log = tmp_path / "serve.log"
    first = _serve(env, port, log)
    try:
        twilio.wait_for(lambda: len(twilio.calls("create")) >= len(PHONES) // 2, timeout=30)
    finally:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
    texted_before = sum(_outbound(twilio).values())
    assert 0 < texted_before < len(PHONES)

    second = _serve(env, port, log)
    try:
        twilio.wait_for(lambda: all(r.state == "sent" for r in recipients(db)) or None, timeout=60)
    finally:
        second.send_signal(signal.SIGTERM)
        second.wait(20)
    assert _outbound(twilio) == Counter(dict.fromkeys(PHONES, 1)), log.read_text()[-3000:]
    sids = {r.message_sid for r in recipients(db)}
    assert len(sids) == len(PHONES) and None not in sids
    db.dispose()


def test_a_text_whose_fate_is_unknown_is_looked_up_at_twilio_not_sent_again(
    make_caretbot: Callable[..., Caretbot], twilio: FakeTwilio
) -> None:
    """The crash window: Twilio took the text, the SID was never recorded. On restart
    the sender finds the message at Twilio and records it instead of texting again."""
    bot = make_caretbot(start=False, overrides={"QUIET_HOURS": quiet_hours_away_from_now()})
    seed(bot.db, [{"phone": PHONES[0], "first_name": "Zoë"}])
    now = utcnow()
    with bot.db.write() as session:
        blast = blasts.create_blast(
            session=session, name="Nights", list_name="Night nurses", message="Hi {first_name}",
            send_at=now, timezone=None,
        )  # fmt: skip
        blasts.start_blast(
            session=session, blast_id=blast.id, rules=blast_rules(bot.settings), now=now,
            team_number=TEAM_NUMBER, channel=CHANNEL,
        )  # fmt: skip
        blasts.queue_due(
            session=session, blast_id=blast.id, now=now,
            quiet=blast_rules(bot.settings).quiet_hours, window=10, channel=CHANNEL,
        )  # fmt: skip
        view = blasts.send_view(session=session, recipient_id=1)
        assert view is not None
        blasts.mark_sending(session=session, view=view)
    accepted = twilio_client(bot.settings).messages.create(
        to=view.phone, from_=TEAM_NUMBER, body=view.body
    )
    bot.start()
    twilio.wait_for(lambda: recipients(bot.db)[0].state == "sent" or None, timeout=10)
    assert len(twilio.calls("create")) == 1
    assert recipients(bot.db)[0].message_sid == accepted.sid
