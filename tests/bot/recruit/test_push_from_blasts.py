"""End to end: a blast goes out through `caretbot serve`, candidates reply and click
through the bridge (signed Twilio webhooks, /l/CODE), and `caretbot push run` pushes the
engaged ones into the Zoho Recruit stand-in. Both databases.

It needs the blasts (`caretbot blasts`, storage.blasts) from the blasts branch: until
both are merged it is skipped.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

pytest.importorskip("storage.blasts", reason="needs caretbot blasts (the blasts branch)")

from bot.sandbox.slack_api import FakeSlack  # noqa: E402
from bot.sandbox.twilio_api import FakeTwilio  # noqa: E402
from bot.sandbox.zoho_recruit import (  # noqa: E402
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    FakeZohoRecruit,
)
from tests.bot.blasts.helpers import cli, quiet_hours_away_from_now, recipients, seed  # noqa: E402
from tests.bot.conftest import Bridge  # noqa: E402
from tests.bot.harness import CHANNEL, Caretbot  # noqa: E402
from tests.conftest import BACKENDS, fresh_database_url  # noqa: E402

ZOE = "+13125550101"  # replies
BEN = "+12135550102"  # clicks, then texts STOP
ANA = "+13125550105"  # clicks
CY = "+12125550103"  # replies, but has no email
MESSAGE = "Hi {first_name|there}, night shifts at St. Mary’s 🌙: https://jobs.example.com/nights"


@pytest.fixture
def zoho() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


@pytest.fixture(params=BACKENDS)
def push_bot(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
) -> Caretbot:
    url = None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)
    bot = make_caretbot(url, start=False)
    bot.settings = bot.settings.model_copy(update={"QUIET_HOURS": quiet_hours_away_from_now()})
    return bot.start()


def test_replies_and_clicks_through_the_bridge_are_pushed_into_recruit(
    push_bot: Caretbot,
    slack: FakeSlack,
    twilio: FakeTwilio,
    zoho: FakeZohoRecruit,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    bot = push_bot
    bridge = Bridge(bot, slack, twilio)
    url = bot.settings.DATABASE_URL
    monkeypatch.chdir(tmp_path)
    env = {
        "PUBLIC_URL": bot.url,
        "QUIET_HOURS": bot.settings.QUIET_HOURS,
        "SLACK_CHANNEL_ID": CHANNEL,
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "ZOHO_ACCOUNTS_URL": zoho.url,
        "ZOHO_RECRUIT_URL": zoho.url,
    }
    seed(
        bot.db,
        [
            {"phone": ZOE, "first_name": "Zoë", "last_name": "Núñez", "email": "zoe@example.com",
             "city": "Chicago", "state": "IL"},
            {"phone": BEN, "first_name": "Ben", "last_name": "O’Brien", "email": "ben@example.com",
             "state": "CA"},
            {"phone": ANA, "first_name": "Ana", "last_name": "Lima", "email": "ana@example.com",
             "state": "IL"},
            {"phone": CY, "first_name": "Cy", "last_name": "Diaz", "state": "NY"},
        ],
    )  # fmt: skip
    code, _, err = cli(
        monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses",
        "--message", MESSAGE, **env,
    )  # fmt: skip
    assert code == 0, err
    code, _, err = cli(monkeypatch, url, "blasts", "send", "Nights", **env)
    assert code == 0, err
    texts = twilio.wait_for(
        lambda: got if len(got := [t for n in (ZOE, BEN, ANA, CY) for t in bridge.texts_to(n)])
        == 4 else None,
        timeout=15,
    )  # fmt: skip
    links = {t["to"]: re.search(r"/l/([A-Za-z0-9_-]+)", t["body"]) for t in texts}

    # Zoë and Cy reply; Ana and Ben open their links, then Ben texts STOP.
    assert bridge.text_in("YES! Which unit? 🙂", from_=ZOE).status_code == 200
    assert bridge.text_in("Is it full time?", from_=CY).status_code == 200
    with httpx.Client(base_url=bot.url) as http:
        for phone in (ANA, BEN):
            match = links[phone]
            assert match is not None
            assert http.get(f"/l/{match.group(1)}").status_code == 302
    assert bridge.text_in("STOP", from_=BEN).status_code == 200

    def engaged() -> bool:
        by_phone = {r.phone: r for r in recipients(bot.db)}
        return bool(
            by_phone[ZOE].replied_at
            and by_phone[CY].replied_at
            and by_phone[ANA].clicked_at
            and by_phone[BEN].opted_out_at
        )

    try:
        twilio.wait_for(engaged, timeout=15)
    except AssertionError as error:
        states = [
            (r.phone, r.state, r.sent_at, r.replied_at, r.clicked_at, r.opted_out_at)
            for r in recipients(bot.db)
        ]
        raise AssertionError(f"engagement not recorded: {states}") from error

    for engagement in ("replied", "clicked"):
        code, _, err = cli(
            monkeypatch, url, "push", "add", "--module", "candidates", "--engagement",
            engagement, "--list", "Night nurses", "--status-field", "Candidate_Status", **env,
        )  # fmt: skip
        assert code == 0, err
    assert cli(monkeypatch, url, "push", "enable", "1", **env)[0] == 0
    assert cli(monkeypatch, url, "push", "enable", "2", **env)[0] == 0

    code, out, err = cli(monkeypatch, url, "push", "run", "--json", **env)

    assert code == 0, err
    result = json.loads(out[out.index("{") :])
    replied, clicked = result["rules"]
    assert (replied["new"], replied["ignored"]) == (1, {"missing email": 1})
    assert (clicked["new"], clicked["ignored"]) == (1, {"opted out": 1})
    records = {r["Email"]: r for r in zoho.records()}
    assert set(records) == {"zoe@example.com", "ana@example.com"}
    assert records["zoe@example.com"]["First_Name"] == "Zoë"
    assert records["zoe@example.com"]["Mobile"] == ZOE
    assert records["zoe@example.com"]["Candidate_Status"] == "Replied to SMS blast Nights"
    assert records["ana@example.com"]["Candidate_Status"] == "Clicked a link in SMS blast Nights"
    report = slack.wait_for(
        lambda: next((p for p in slack.posts(CHANNEL) if "Zoho Recruit" in p.text), None),
        timeout=10,
    )
    assert "list Night nurses: 1 new, 0 updated, 0 re-added, 0 failed, 1 ignored (1 opted out)" in (
        report.text
    )
    code, out, _ = cli(monkeypatch, url, "push", "history", "--candidate", ZOE, **env)
    assert "New" in out and records["zoe@example.com"]["id"] in out
