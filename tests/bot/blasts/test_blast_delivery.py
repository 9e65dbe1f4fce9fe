"""Blast texts through `caretbot serve`: Twilio's refusals (21610, 21211, 21614, 429),
and a teammate's reply going ahead of queued blast texts."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.blasts.helpers import cli, quiet_hours_away_from_now, recipients, report, seed
from tests.bot.conftest import Bridge
from tests.bot.harness import Caretbot

OK, STOPPED, INVALID, LANDLINE = (f"+1312555{n:04d}" for n in (501, 502, 503, 504))


def _blast(
    monkeypatch: pytest.MonkeyPatch, bot: Caretbot, message: str = "Hi {first_name|there}"
) -> None:
    env = {"PUBLIC_URL": bot.url, "QUIET_HOURS": bot.settings.QUIET_HOURS}
    code, _, err = cli(
        monkeypatch, bot.settings.DATABASE_URL, "blasts", "create", "Nights",
        "--list", "Night nurses", "--message", message, **env,
    )  # fmt: skip
    assert code == 0, err
    assert cli(monkeypatch, bot.settings.DATABASE_URL, "blasts", "send", "Nights", **env)[0] == 0


def test_twilio_refusals_are_failures_with_reasons_and_21610_opts_out(
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = make_caretbot(overrides={"QUIET_HOURS": quiet_hours_away_from_now()})
    bridge = Bridge(bot, slack, twilio)
    seed(bot.db, [{"phone": phone} for phone in (OK, STOPPED, INVALID, LANDLINE)])
    twilio.fail_to(STOPPED, 21610)
    twilio.fail_to(INVALID, 21211)
    twilio.fail_to(LANDLINE, 21614)
    twilio.fail_next(status=429, code=20429, retry_after=1)  # the first create: retried
    _blast(monkeypatch, bot)
    done = twilio.wait_for(
        lambda: (
            got
            if (got := report(monkeypatch, bot.settings.DATABASE_URL, "Nights"))["status"] == "done"
            else None
        ),
        timeout=15,
    )
    assert done["sent"] == 1
    assert done["failed"] == {"21610": 1, "21211": 1, "21614": 1}
    assert len(bridge.texts_to(OK)) == 1
    candidate = bridge.candidate(STOPPED)
    assert candidate is not None and candidate.opted_out and candidate.opt_out_source == "carrier"
    states = {r.phone: (r.state, r.error_code) for r in recipients(bot.db)}
    assert states[INVALID] == ("failed", 21211)
    code, out, _ = cli(monkeypatch, bot.settings.DATABASE_URL, "blasts", "report", "Nights")
    assert "1 (Twilio 21614: the number is not a mobile number" in out


def test_a_teammates_reply_goes_ahead_of_queued_blast_texts(
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bot = make_caretbot(
        overrides={"QUIET_HOURS": quiet_hours_away_from_now(), "TWILIO_SEGMENTS_PER_SECOND": 2.0}
    )
    bridge = Bridge(bot, slack, twilio)
    thread_ts = bridge.open_thread("Is the night job still open?")
    phones = [f"+1312555{n:04d}" for n in range(600, 610)]
    seed(bot.db, [{"phone": phone} for phone in phones])
    _blast(monkeypatch, bot)
    twilio.wait_for(lambda: len(twilio.calls("create")) >= 2, timeout=10)
    _, answer = bridge.teammate_says("Yes! Can you start Monday?", thread_ts)
    assert answer.status_code == 200
    creates_before = len(twilio.calls("create"))
    reply = twilio.wait_for(
        lambda: next(
            (i for i, m in enumerate(twilio.messages()) if m["body"].startswith("Yes! Can you")),
            None,
        ),
        timeout=10,
    )
    outbound = [m for m in twilio.messages() if m["direction"] == "outbound-api"]
    position = next(i for i, m in enumerate(outbound) if m["body"].startswith("Yes! Can you"))
    # At most the blast texts already claimed (one second's worth, 2) go before it.
    assert position <= creates_before + 2
    assert position < len(phones) - 3, "the reply waited behind the whole blast"
    assert reply is not None
