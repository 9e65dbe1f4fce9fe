"""caretbot's App Home through real HTTP: a signed app_home_opened event publishes the
person's tab (views.publish, checked by the Slack fake against Block Kit's limits), the
filter select republishes it, and changes to conversations republish the tabs they show
in, only when what a tab shows has changed."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
import sqlalchemy as sa

from bot.sandbox import slack_payloads as payloads
from bot.slack.home import AGE_MARKERS, OLDEST_MARKER, age_marker, ago
from storage import conversations, messages
from storage.conversations import InboundText
from storage.models import Message, utcnow
from tests.bot.conftest import TEAMMATE
from tests.bot.harness import CHANNEL, TEAM_NUMBER
from tests.bot.slack.conftest import LEE, SAM, Surface, home_text

GREEN, YELLOW = (marker for _, marker in AGE_MARKERS)


@pytest.mark.parametrize(
    ("age", "said", "marker"),
    [
        (timedelta(seconds=30), "just now", GREEN),
        (timedelta(minutes=25), "25 min ago", GREEN),
        (timedelta(hours=3, minutes=59), "3 h ago", GREEN),
        (timedelta(hours=12), "12 h ago", YELLOW),
        (timedelta(hours=23, minutes=59), "23 h ago", YELLOW),
        (timedelta(hours=24), "1 d ago", OLDEST_MARKER),
        (timedelta(days=9), "9 d ago", OLDEST_MARKER),
    ],
)
def test_ages_and_their_markers(age: timedelta, said: str, marker: str) -> None:
    assert (ago(age), age_marker(age)) == (said, marker)


def backdate(surface: Surface, phone_suffix: str, hours: float) -> None:
    with surface.caretbot.db.write() as session:
        session.execute(
            sa.update(Message)
            .where(Message.direction == "inbound")  # type: ignore[arg-type]
            .where(
                Message.conversation_id.in_(  # type: ignore[attr-defined]
                    sa.text(
                        "SELECT conversations.id FROM conversations JOIN candidates ON "
                        f"candidates.id = conversations.candidate_id WHERE candidates.phone LIKE '%{phone_suffix}'"
                    )
                )
            )
            .values(created_at=utcnow() - timedelta(hours=hours))
        )


def test_opening_the_home_tab_publishes_what_waits(surface: Surface) -> None:
    mine = surface.bridge.open_thread("Hola, ¿sigue abierta la vacante? 🙏")
    surface.bridge.open_thread("Hi — I’m Bo’s referral <b>", from_="+15125550177")
    surface.bridge.open_thread("Still hiring nurses?", from_="+15125550188")
    surface.bridge.teammate_says("^claim", mine)
    surface.bridge.teammate_says("^at tomorrow 9am ¿Podemos hablar mañana?", mine)
    surface.bridge.wait_for_note(mine, "scheduled #1")
    backdate(surface, "0177", 13)
    backdate(surface, "0188", 30)

    assert surface.open_home().status_code == 200
    shown = home_text(surface.home())
    link = f"<https://caretbot-test.slack.com/archives/{CHANNEL}/p{mine.replace('.', '')}|+1 512-555-0143>"
    assert (
        f"# Waiting for you (1)\n{GREEN} *{link}* · waiting just now · claimed by <@{TEAMMATE}>"
        in shown
    )
    assert "# Waiting for the team (2)" in shown
    assert f"{OLDEST_MARKER} *<" in shown and "+1 512-555-0188>* · waiting 1 d ago" in shown
    assert f"{YELLOW} *<" in shown and "+1 512-555-0177>* · waiting 13 h ago" in shown
    assert "# Claimed by you (1)" in shown
    assert "# Unclaimed (2)" in shown
    assert "# Your scheduled sends (1)" in shown and "¿Podemos hablar mañana?" in shown
    assert "&lt;b&gt;" not in shown  # a candidate's text is never on the home tab


def test_the_filter_select_republishes_and_is_remembered(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    surface.bridge.teammate_says("^assign <@U0LEE>", thread)
    surface.bridge.wait_for_note(thread, "Assigned to")
    surface.open_home(LEE)
    view = surface.home(LEE)
    (select,) = [b for b in view["blocks"] if b["type"] == "actions"]
    assert select["elements"][0]["initial_option"]["value"] == "all"
    option = next(o for o in select["elements"][0]["options"] if o["value"] == "assigned")
    action = {
        "action_id": "home.filter",
        "block_id": "home.filters",
        "type": "static_select",
        "selected_option": option,
    }
    response = surface.caretbot.slack_post(
        payloads.payload_form(payloads.block_actions_on_home(action, user=LEE, view=view)),
        content_type=payloads.FORM,
    )
    assert response.status_code == 200

    def filtered() -> str | None:
        text = home_text(surface.home(LEE))
        return text if "# Assigned to you" in text else None

    shown = surface.slack.wait_for(filtered)
    assert "# Assigned to you (1)" in shown and "# Unclaimed" not in shown
    before = len(surface.publishes(LEE))
    surface.open_home(LEE)
    view = surface.home(LEE, after=before)
    (select,) = [b for b in view["blocks"] if b["type"] == "actions"]
    assert select["elements"][0]["initial_option"]["value"] == "assigned"


def test_a_change_republishes_the_tabs_it_shows_in_and_nothing_else(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    surface.open_home(TEAMMATE)
    surface.open_home(LEE)
    assert "# Claimed by you (0)" in home_text(surface.home(TEAMMATE))
    surface.home(LEE)
    surface.bridge.teammate_says("^claim", thread)
    surface.slack.wait_for(
        lambda: "# Claimed by you (1)" in home_text(surface.slack.home(TEAMMATE) or {"blocks": []})
    )
    surface.slack.wait_for(
        lambda: f"claimed by <@{TEAMMATE}>" in home_text(surface.slack.home(LEE) or {"blocks": []})
    )
    settled = {user: len(surface.publishes(user)) for user in (TEAMMATE, LEE)}
    passes = surface.caretbot.settings.HOME_REFRESH_SECONDS * 6
    time.sleep(passes)  # six refresh passes with nothing changed
    assert {user: len(surface.publishes(user)) for user in (TEAMMATE, LEE)} == settled


def test_a_guest_sees_only_their_conversation(surface: Surface) -> None:
    theirs = surface.bridge.open_thread()
    surface.bridge.open_thread("Other candidate", from_="+15125550177")
    surface.bridge.teammate_says("^invite <@U0SAM>", theirs)
    surface.bridge.wait_for_note(theirs, "invited <@U0SAM>")
    surface.open_home(SAM)
    shown = home_text(surface.home(SAM))
    assert "You see the conversations you were invited to" in shown
    assert "+1 512-555-0143" in shown and "+1 512-555-0177" not in shown


def test_the_messages_tab_publishes_nothing(surface: Surface) -> None:
    assert surface.open_home(tab="messages").status_code == 200
    time_to_wait = surface.caretbot.settings.HOME_REFRESH_SECONDS * 3
    time.sleep(time_to_wait)
    assert surface.publishes(TEAMMATE) == []


def test_many_conversations_stay_within_slacks_100_blocks(surface: Surface) -> None:
    with surface.caretbot.db.write() as session:
        stored = conversations.record_inbound_batch(
            session=session,
            texts=[
                InboundText(
                    sid=f"SM{n:032d}",
                    phone=f"+1512555{n:04d}",
                    team_number=TEAM_NUMBER,
                    body="Hi",
                    media=[],
                )
                for n in range(200, 290)
            ],
            channel=CHANNEL,
        )
        for inbound in stored:
            assert inbound is not None
            messages.set_thread(
                session=session,
                conversation_id=inbound.conversation_id,
                thread_ts=f"1764000000.{inbound.conversation_id:06d}",
            )
    surface.open_home()
    view = surface.home(timeout=10)
    assert len(view["blocks"]) <= 100
    assert "… and " in home_text(view) and "# Waiting for the team (90)" in home_text(view)
    assert not [c for c in surface.slack.calls("views.publish") if not c.ok]


def test_an_unsigned_app_home_opened_publishes_nothing(surface: Surface) -> None:
    forged = surface.caretbot.slack_post(payloads.app_home_opened(TEAMMATE), secret="not-slack")
    stale = surface.caretbot.slack_post(payloads.app_home_opened(TEAMMATE), timestamp=1_000_000)
    assert (forged.status_code, stale.status_code) == (401, 401)
    time.sleep(surface.caretbot.settings.HOME_REFRESH_SECONDS * 3)
    assert surface.publishes(TEAMMATE) == []
