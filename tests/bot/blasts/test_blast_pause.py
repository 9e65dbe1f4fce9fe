"""Carrier filtering (Twilio 30007) on 5 of the first statuses pauses a blast and says
why in Slack; `caretbot blasts resume` sends the rest, each number once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

import pytest

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.blasts.helpers import cli, quiet_hours_away_from_now, report, seed
from tests.bot.harness import CHANNEL, Caretbot

PHONES = [f"+1312555{n:04d}" for n in range(101, 121)]  # 20 recipients in Chicago


def test_30007_on_five_of_the_first_statuses_pauses_the_blast_until_resume(
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    quiet = quiet_hours_away_from_now()
    bot = make_caretbot(overrides={"TWILIO_SEGMENTS_PER_SECOND": 4.0, "QUIET_HOURS": quiet})
    url = bot.settings.DATABASE_URL
    seed(bot.db, [{"phone": phone, "first_name": f"Ana {n}"} for n, phone in enumerate(PHONES)])
    for phone in PHONES[:5]:
        twilio.fail_to(phone, 30007, times=1)
    env = {"PUBLIC_URL": bot.url, "QUIET_HOURS": quiet, "TWILIO_SEGMENTS_PER_SECOND": "4"}
    code, _, err = cli(
        monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses",
        "--message", "Hi {first_name|there}, nights at St. Mary's. Reply YES", **env,
    )  # fmt: skip
    assert code == 0, err
    assert cli(monkeypatch, url, "blasts", "send", "Nights", **env)[0] == 0

    paused = twilio.wait_for(
        lambda: got if (got := report(monkeypatch, url, "Nights"))["status"] == "paused" else None,
        timeout=15,
    )
    assert paused["failed"].get("30007", 0) >= 5
    notice = slack.wait_for(
        lambda: next((p for p in slack.posts(CHANNEL) if "30007" in p.text), None), timeout=10
    )
    assert "paused" in notice.text and "caretbot blasts resume" in notice.text
    # Nothing more goes out while paused.
    sent_when_paused = len(twilio.calls("create"))
    assert sent_when_paused < len(PHONES)
    code, out, err = cli(monkeypatch, url, "blasts", "report", "Nights")
    assert "Paused: carriers filtered" in out

    code, out, err = cli(monkeypatch, url, "blasts", "resume", "Nights", **env)
    assert code == 0, err
    done = twilio.wait_for(
        lambda: got if (got := report(monkeypatch, url, "Nights"))["status"] == "done" else None,
        timeout=20,
    )
    texts = Counter(m["to"] for m in twilio.messages() if m["direction"] == "outbound-api")
    assert texts == Counter(dict.fromkeys(PHONES, 1))
    assert done["sent"] == len(PHONES)
    # Resuming something that is not paused is a clear refusal.
    code, _, err = cli(monkeypatch, url, "blasts", "resume", "Nights", **env)
    assert code == 2 and "is done, not paused" in err
