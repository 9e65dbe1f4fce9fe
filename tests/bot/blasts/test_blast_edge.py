"""A blast end to end through `caretbot serve`: the CLI as typed, the Twilio and Slack
fakes on loopback, signed status callbacks, replies, clicks and STOP."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.blasts.helpers import cli, quiet_hours_away_from_now, recipients, report, seed
from tests.bot.conftest import Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.conftest import BACKENDS, fresh_database_url

ZOE = "+13125550101"  # Chicago
BEN = "+12135550102"  # Los Angeles
CY = "+12125550103"  # New York, never opted in
DEE = "+13125550104"  # opted out
MESSAGE = (
    "Hi {first_name|there}, night shifts at St. Mary’s 🌙: "
    "https://jobs.example.com/nights?ref=sms. Reply YES"
)


@pytest.fixture(params=BACKENDS)
def blast_bot(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
) -> Caretbot:
    url = None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)
    bot = make_caretbot(url, start=False)
    bot.settings = bot.settings.model_copy(update={"QUIET_HOURS": quiet_hours_away_from_now()})
    return bot.start()


def test_a_blast_texts_the_list_and_counts_what_the_candidates_do(
    blast_bot: Caretbot,
    slack: FakeSlack,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = blast_bot
    bridge = Bridge(bot, slack, twilio)
    url = bot.settings.DATABASE_URL
    env = {"PUBLIC_URL": bot.url, "QUIET_HOURS": bot.settings.QUIET_HOURS}
    seed(
        bot.db,
        [
            {"phone": ZOE, "first_name": "Zoë", "state": "IL"},
            {"phone": BEN, "state": "CA"},
            {"phone": CY, "first_name": "Cy", "opt_in": False},
            {"phone": DEE, "first_name": "Dee", "opted_out": True},
        ],
    )
    code, out, err = cli(
        monkeypatch, url, "blasts", "create", "Nights", "--list", "Night nurses",
        "--message", MESSAGE, **env,
    )  # fmt: skip
    assert code == 0, err
    assert 'blast "Nights" created' in out
    preview = report(monkeypatch, url, "Nights")
    assert preview["status"] == "draft"
    assert preview["skipped"] == {"no_opt_in": 1, "opted_out": 1}
    assert preview["pending"] == 2 and preview["sent"] == 0
    assert preview["encoding"] == "UCS-2"

    code, out, err = cli(monkeypatch, url, "blasts", "send", "Nights", **env)
    assert code == 0, err
    texts = twilio.wait_for(
        lambda: got if len(got := bridge.texts_to(ZOE) + bridge.texts_to(BEN)) == 2 else None,
        timeout=10,
    )
    bodies = {text["to"]: text["body"] for text in texts}
    assert bodies[ZOE].startswith("Hi Zoë, night shifts at St. Mary’s 🌙: " + bot.url + "/l/")
    assert bodies[BEN].startswith("Hi there, night shifts")
    assert "jobs.example.com" not in bodies[ZOE]
    assert bodies[ZOE].endswith(". Reply YES\nReply STOP to opt out.")
    assert bridge.texts_to(CY) == [] and bridge.texts_to(DEE) == []

    # Twilio calls back, signed; a late "sent" does not undo "delivered".
    for text in texts:
        assert twilio.send_status(text["sid"], "delivered") == 204
    assert twilio.send_status(texts[0]["sid"], "sent") == 204

    # Zoë replies: her thread opens and its card names the blast.
    assert bridge.text_in("YES! Which unit?", from_=ZOE).status_code == 200
    card = slack.wait_for(
        lambda: next((p for p in slack.posts(CHANNEL) if "Zoë" in p.text), None), timeout=10
    )
    assert "Nights" in str(card.blocks)

    # Ben opens his link: 302 to the original, counted once however often he clicks.
    code_match = re.search(r"/l/([A-Za-z0-9_-]+)", bodies[BEN])
    assert code_match
    with httpx.Client(base_url=bot.url) as http:
        for _ in range(2):
            answer = http.get(f"/l/{code_match.group(1)}")
            assert answer.status_code == 302
            assert answer.headers["location"] == "https://jobs.example.com/nights?ref=sms"
        assert http.get("/l/not-a-code").status_code == 404
    # ... then texts STOP.
    assert bridge.text_in("STOP", from_=BEN).status_code == 200

    final = twilio.wait_for(
        lambda: (
            got
            if (got := report(monkeypatch, url, "Nights"))["status"] == "done"
            and got["delivered"] == 2
            and got["opted_out"] == 1
            else None
        ),
        timeout=10,
    )
    assert final == {
        "name": "Nights",
        "status": "done",
        "recipients": 4,
        "skipped": {"no_opt_in": 1, "opted_out": 1},
        "held": 0,
        "pending": 0,
        "sent": 2,
        "delivered": 2,
        "failed": {},
        "replied": 1,
        "opted_out": 1,
        "clicked": 1,
        "segments": final["segments"],
        "encoding": "UCS-2",
        "cost": final["cost"],
    }
    assert final["segments"] == sum(int(t["num_segments"]) for t in texts)
    by_phone = {r.phone: r for r in recipients(bot.db)}
    assert by_phone[ZOE].replied_at is not None and by_phone[ZOE].clicked_at is None
    assert by_phone[BEN].clicked_at is not None and by_phone[BEN].opted_out_at is not None
    assert by_phone[BEN].replied_at is None  # STOP is not a reply
    assert {by_phone[ZOE].message_sid, by_phone[BEN].message_sid} == {t["sid"] for t in texts}

    # The blast's message in the channel ends as the report.
    def final_slack_text() -> str | None:
        post = next((p for p in slack.posts(CHANNEL) if p.text.startswith(":mega:")), None)
        if post is None:
            return None
        current = slack.message(CHANNEL, post.ts) or {}
        text = str(current.get("text", post.text))
        return text if ": done" in text else None

    assert "sent 2" in slack.wait_for(final_slack_text, timeout=10)
