"""Caret commands end to end: signed Slack events in, and what the Slack fake and Twilio
fake received out: answers in the thread, the candidate card updated with chat.update,
errors and refusals to the issuer alone (chat.postEphemeral), and no command ever
texted to the candidate."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import sqlalchemy as sa

from bot.sandbox.signing import new_ts
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from scheduler import scheduled_sends
from storage import applies, lists
from storage.desk_models import Delivery, DeskNote, ScheduledSend
from storage.models import Conversation, utcnow
from tests.bot.conftest import TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot

LEE = "U0LEE"  # a teammate
BOSS = "U0BOSS"  # a teammate and a manager
SAM = "U0SAM"  # a hiring manager, not in the channel
GONE = "U0GONE"  # a deactivated account still listed in the channel
DANA_TZ = "America/Chicago"


@pytest.fixture
def team(slack: FakeSlack) -> list[str]:
    """The people Slack knows, and the channel's members (the team)."""
    slack.add_user(TEAMMATE, real_name="Dana Reyes", tz=DANA_TZ)
    slack.add_user(LEE, real_name="Lee Park", tz="America/New_York")
    slack.add_user(BOSS, real_name="Bo Sanders", tz="UTC")
    slack.add_user(SAM, real_name="Sam Hill", tz="UTC", email="sam@company.com")
    slack.add_user(GONE, real_name="Gone Person", deleted=True)
    members = [TEAMMATE, LEE, BOSS, "UBOT", GONE]
    slack.set_handler(
        "conversations.members",
        lambda params: {"members": members, "response_metadata": {"next_cursor": ""}},
    )
    return members


class Desk:
    """A conversation thread and the moves of the people in it."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.slack = bridge.slack
        self.thread = bridge.open_thread()

    def say(self, text: str, *, user: str = TEAMMATE, thread: str | None = None) -> httpx.Response:
        _, response = self.bridge.teammate_says(text, thread or self.thread, user=user)
        assert response.status_code == 200
        return response

    def private(self, user: str = TEAMMATE) -> list[str]:
        """What caretbot told `user` alone, oldest first."""
        return [
            call.params["text"]
            for call in self.slack.calls("chat.postEphemeral")
            if call.ok and call.params.get("user") == user
        ]

    def told(self, user: str = TEAMMATE) -> str:
        """The latest private answer to `user`."""
        said = self.private(user)
        assert said, "nothing was said privately"
        return said[-1]

    def note(self, *fragments: str) -> str:
        return self.bridge.wait_for_note(self.thread, *fragments)

    def notes(self) -> list[str]:
        return self.bridge.notes(self.thread)

    def card(self) -> dict[str, str]:
        """The candidate card's facts as it stands now: {"Assigned": "<@U0LEE>", ...}."""
        message = self.slack.message(CHANNEL, self.thread)
        assert message is not None
        (section,) = [b for b in message["blocks"] if b["type"] == "section"]
        label_value = (field["text"].split("\n", 1) for field in section["fields"])
        return {label.strip("*"): value for label, value in label_value}

    def card_updates(self) -> int:
        return len([c for c in self.slack.calls("chat.update") if c.params["ts"] == self.thread])

    def conversation(self) -> Conversation:
        with self.bridge.caretbot.db.read() as session:
            return session.execute(sa.select(Conversation)).scalars().one()

    def rows(self, model: type) -> list[Any]:
        with self.bridge.caretbot.db.read() as session:
            return list(session.execute(sa.select(model)).scalars())

    def dms(self, user: str) -> list[Any]:
        return [p for p in self.slack.posts() if p.channel == "D" + user[1:]]


@pytest.fixture
def make_desk(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio, team: list[str]
) -> Callable[..., Desk]:
    def make(**settings: Any) -> Desk:
        caretbot = make_caretbot(MANAGERS=BOSS, **settings)
        return Desk(Bridge(caretbot, slack, twilio))

    return make


@pytest.fixture
def desk(make_desk: Callable[..., Desk]) -> Desk:
    return make_desk()


def test_help_lists_the_commands_to_the_issuer_only(desk: Desk):
    desk.say("^help")
    desk.say("^help at")

    everything, one = desk.private()
    for name in ("^assign", "^claim", "^at <when> <text>", "^deliver", "^opt-in", "^note"):
        assert name in everything
    assert "^at tomorrow 9am Are you free to talk?" in one
    assert desk.notes() == []
    assert desk.bridge.creates() == []


def test_a_misspelt_command_shows_the_caret_and_a_guess_privately(desk: Desk):
    desk.say("^clam")

    told = desk.told()
    assert "```^clam\n ^```" in told
    assert "there is no command ^clam" in told
    assert "did you mean ^claim?" in told
    assert desk.notes() == [] and desk.bridge.creates() == []


def test_bad_arguments_point_at_the_problem(desk: Desk):
    desk.say("^at 2020-01-01 09:00 Are you free?")

    told = desk.told()
    assert "^at 2020-01-01 09:00 Are you free?\n    ^" in told
    assert "has passed" in told
    assert desk.rows(ScheduledSend) == []


def test_a_caret_line_in_a_thread_that_is_not_a_conversation(desk: Desk):
    desk.say("^claim", thread=new_ts())

    assert "not a conversation thread" in desk.told()
    assert desk.conversation().claimed_by is None


def test_assign_and_unassign_show_on_the_card(desk: Desk):
    desk.say(f"^assign <@{LEE}> <@{BOSS}|bo>")

    assert desk.note(f"Assigned to <@{LEE}>, <@{BOSS}> by <@{TEAMMATE}>.")
    assert desk.card()["Assigned"] == f"<@{LEE}>, <@{BOSS}>"
    assert desk.conversation().assignees == [LEE, BOSS]

    desk.say(f"^unassign <@{BOSS}>")
    assert desk.note(f"<@{BOSS}> unassigned by <@{TEAMMATE}>.")
    assert desk.card()["Assigned"] == f"<@{LEE}>"

    desk.say("^unassign")
    assert desk.note(f"<@{LEE}> unassigned")
    assert "Assigned" not in desk.card()
    assert desk.bridge.creates() == []


def test_assigning_someone_not_on_the_team_is_refused_naming_them(desk: Desk):
    desk.say(f"^assign <@{LEE}> <@{SAM}> <@{GONE}> <@UBOT>")

    told = desk.told()
    assert f"<@{SAM}>, <@{GONE}>, <@UBOT> are not on the team" in told
    assert f"<@{LEE}>" not in told
    assert "^invite" in told
    assert desk.conversation().assignees == []
    assert desk.card_updates() == 0


def test_a_claim_names_its_holder_to_others_until_released(desk: Desk):
    desk.say("^claim")
    assert desk.note(f"Claimed by <@{TEAMMATE}>.")
    assert desk.card()["Claimed by"] == f"<@{TEAMMATE}>"

    desk.say("^claim", user=LEE)
    assert desk.told(LEE).startswith(f"<@{TEAMMATE}> holds this conversation")
    assert "^unclaim" in desk.told(LEE)

    desk.say("^unclaim", user=LEE)
    assert f"<@{TEAMMATE}> holds this conversation: only they or a manager" in desk.told(LEE)
    assert desk.conversation().claimed_by == TEAMMATE

    # Replies by others are still texted while it is claimed.
    desk.say("Lee here, can you start Monday?", user=LEE)
    (sent,) = desk.bridge.wait_for_texts(1)
    assert sent["body"] == "Lee here, can you start Monday?"

    desk.say("^unclaim", user=BOSS)
    assert desk.note(f"<@{BOSS}> released <@{TEAMMATE}>'s claim.")
    assert "Claimed by" not in desk.card()

    desk.say("^claim", user=LEE)
    desk.say("^unclaim", user=LEE)
    assert desk.note(f"Released by <@{LEE}>.")
    assert desk.conversation().claimed_by is None


def test_at_schedules_in_the_issuers_time_zone_and_shows_the_next_send(desk: Desk):
    desk.say("^at tomorrow 9am Are you free to talk?")

    (send,) = desk.rows(ScheduledSend)
    local_tomorrow = datetime.now(ZoneInfo(DANA_TZ)).date() + timedelta(days=1)
    expected = datetime(
        local_tomorrow.year, local_tomorrow.month, local_tomorrow.day, 9, tzinfo=ZoneInfo(DANA_TZ)
    )
    assert send.send_at == expected
    assert (send.text, send.state, send.created_by) == (
        "Are you free to talk?",
        "pending",
        TEAMMATE,
    )
    assert send.send_by == send.send_at + timedelta(minutes=15)
    stamp = int(expected.timestamp())
    assert desk.note(f"<@{TEAMMATE}> scheduled #{send.id} for <!date^{stamp}^", "Are you free")
    assert desk.card()["Next send"].startswith(f"<!date^{stamp}^")
    assert desk.bridge.creates() == []


def test_a_scheduled_send_goes_out_when_its_job_fires(desk: Desk):
    desk.say("^at in 20 min Just tried to call you &amp; left a message")
    (send,) = desk.rows(ScheduledSend)
    # The leading scheduler armed a date job for it.
    assert scheduled_sends._aps is not None  # noqa: SLF001
    assert scheduled_sends._aps.get_job(scheduled_sends.date_job_id(send.id)) is not None  # noqa: SLF001

    # Twenty minutes on: the job fires (twice, as a retried job would).
    for _ in range(2):
        scheduled_sends.send_one(desk.bridge.caretbot.db, send.id, now=send.send_at)

    (sent,) = desk.bridge.wait_for_texts(1)
    assert sent["body"] == "Just tried to call you & left a message"
    assert desk.note(f"Scheduled send #{send.id} by <@{TEAMMATE}> is going out")


def test_scheduled_lists_and_cancel_cancels(desk: Desk):
    desk.say("^at in 2 hours First")
    desk.say("^at in 3 hours Second")
    first, second = (send.id for send in desk.rows(ScheduledSend))

    desk.say("^cancel")
    told = desk.told()
    assert f"2 sends are scheduled; say which one, e.g. `^cancel {first}`" in told
    assert f"#{first}" in told and f"#{second}" in told

    desk.say(f"^cancel {first}")
    assert desk.note(f"<@{TEAMMATE}> cancelled #{first}", "First")
    assert f"(#{second})" in desk.card()["Next send"]

    desk.say("^cancel 999")
    assert "There is no pending send #999" in desk.told()

    desk.say("^scheduled")
    listing = desk.note("Scheduled (1):")
    assert f"#{second}" in listing and "Second" in listing and f"#{first}" not in listing

    desk.say("^cancel")
    assert desk.note(f"<@{TEAMMATE}> cancelled #{second}")
    assert "Next send" not in desk.card()
    assert [s.state for s in desk.rows(ScheduledSend)] == ["cancelled", "cancelled"]
    assert desk.bridge.creates() == []


def test_close_open_and_a_text_from_the_candidate_reopens(desk: Desk):
    desk.say("^close")
    assert desk.note(f"Closed by <@{TEAMMATE}>.")
    assert desk.card()["Status"] == ":lock: closed"
    assert desk.conversation().closed_at is not None

    desk.say("^close")
    assert desk.told() == "This conversation is closed already."

    desk.say("^at in 2 hours Any news?")
    desk.bridge.text_in("Sorry, I was at work. Still interested!")
    assert desk.note("The candidate texted, so this conversation is open again")
    cancelled = desk.note("is cancelled: the candidate texted first", "Any news?")
    assert cancelled
    assert desk.conversation().status == "open"
    assert [s.state for s in desk.rows(ScheduledSend)] == ["cancelled"]
    # The card follows without a command: open again, with no send pending.
    desk.slack.wait_for(lambda: desk.card()["Status"] == "open")
    assert "Next send" not in desk.card()
    texts = desk.bridge.thread(desk.thread)
    assert texts.index("Sorry, I was at work. Still interested!") < texts.index(
        ":information_source: " + cancelled
    )

    desk.say("^close")
    desk.say("^open")
    assert desk.note(f"Reopened by <@{TEAMMATE}>.")
    assert desk.card()["Status"] == "open"


def test_read_marks_the_conversation_read(desk: Desk):
    desk.say("^read")

    assert desk.note(f"Marked read by <@{TEAMMATE}>.")
    assert desk.conversation().last_read_at is not None


def test_invite_by_mention_or_email_sends_the_guest_a_link(desk: Desk):
    desk.say("^invite <mailto:sam@company.com|sam@company.com>")

    assert desk.note(f"<@{TEAMMATE}> invited <@{SAM}> to this conversation.")
    assert desk.card()["Guests"] == f"<@{SAM}>"
    (dm,) = desk.dms(SAM)
    assert f"<@{TEAMMATE}> invited you to the conversation with" in dm.text
    assert f"?thread_ts={desk.thread}" in dm.text or desk.thread.replace(".", "") in dm.text

    desk.say(f"^invite <@{SAM}>")
    assert desk.told() == f"<@{SAM}> is invited to this conversation already."
    desk.say("^invite nobody@company.com")
    assert "nobody in this Slack has the address nobody@company.com" in desk.told()
    desk.say(f"^invite <@{LEE}>")
    assert f"<@{LEE}> is on the team already" in desk.told()


def test_deliver_sends_a_delivery_card_and_closes(desk: Desk):
    desk.say(f"^deliver <@{SAM}> Interview Scheduled 4 stars Strong ICU background")

    said = desk.note(f"Delivered to <@{SAM}> by <@{TEAMMATE}> (Interview Scheduled, ★★★★☆)")
    assert "Strong ICU background" in said and "The conversation is closed." in said
    (dm,) = desk.dms(SAM)
    assert dm.blocks is not None
    card = str(dm.blocks)
    for fact in ("Interview Scheduled", "★★★★☆", "Strong ICU background", f"<@{TEAMMATE}>"):
        assert fact in card
    (delivery,) = desk.rows(Delivery)
    assert (delivery.to_user, delivery.stars, delivery.delivered_by) == (SAM, 4, TEAMMATE)
    assert desk.card()["Status"] == ":lock: closed"

    desk.say("^deliver <@UNOBODY>")
    assert "<@UNOBODY> is not a person in this Slack" in desk.told()


def test_opt_out_blocks_texts_and_opt_in_undoes_only_a_manual_one(desk: Desk):
    desk.say("^opt-out asked by phone not to be texted")
    assert desk.note(f"<@{TEAMMATE}> opted the candidate out: asked by phone not to be texted")
    assert desk.card()["Texts"] == ":no_entry: opted out"
    desk.say("Are you still there?")
    assert desk.note("Not texted: a teammate opted the candidate out")
    desk.say("^at in 1 hour Hello again")
    assert desk.told().startswith("Not scheduled: a teammate opted the candidate out")

    desk.say("^opt-in opted out by mistake")
    assert desk.note(f"<@{TEAMMATE}> opted the candidate back in: opted out by mistake.")
    assert "Texts" not in desk.card()

    desk.bridge.text_in("STOP")
    desk.bridge.wait_for_note(desk.thread, "texted STOP")
    desk.say("^opt-in they said yes on the phone")
    told = desk.told()
    assert told.startswith("Not opted in: the candidate texted STOP")
    assert "only undoes an opt-out made with `^opt-out`" in told
    assert desk.bridge.creates() == []


def test_a_note_is_shown_and_stored_never_texted(desk: Desk):
    desk.say("^note prefers nights, available from January")

    assert desk.note(f"Note from <@{TEAMMATE}> (not texted): prefers nights, available from")
    (note,) = desk.rows(DeskNote)
    assert (note.author, note.text) == (TEAMMATE, "prefers nights, available from January")
    assert desk.bridge.creates() == [] and desk.bridge.messages("outbound") == []


def test_a_retried_event_runs_its_command_once(desk: Desk):
    envelope, _ = desk.bridge.teammate_says("^note call back Friday", desk.thread)
    for retry in ("1", "2"):
        response = desk.bridge.caretbot.slack_post(
            envelope, extra_headers={"X-Slack-Retry-Num": retry, "X-Slack-Retry-Reason": "timeout"}
        )
        assert response.status_code == 200
    desk.say("^read")
    desk.note("Marked read")

    assert len(desk.rows(DeskNote)) == 1
    assert len([n for n in desk.notes() if "call back Friday" in n]) == 1


def test_status_and_lists_change_the_candidates_apply_and_lists(desk: Desk):
    db = desk.bridge.caretbot.db
    with db.write() as session:
        candidate_id = desk.conversation().candidate_id
        applies.add_apply(
            session=session, candidate_id=candidate_id, origin="import", fields={"source": "x"}
        )
        lists.ensure_static_list(session=session, name="Night nurses")

    desk.say("^status interview scheduled")
    assert desk.note(f"Status set to Interview Scheduled by <@{TEAMMATE}>.")
    desk.say("^list add night nurses")
    assert desk.note('Added to the list "Night nurses"')
    desk.say("^list add Night nurses")
    assert desk.told() == 'The candidate is on "Night nurses" already.'
    desk.say("^list add Night nurse")
    assert 'There is no list "Night nurse". Did you mean "Night nurses"?' in desk.told()
    desk.say("^list remove Night nurses")
    assert desk.note('Removed from the list "Night nurses"')
    with db.read() as session:
        info = lists.find_list(session=session, name="Night nurses")
        assert info is not None
        assert lists.list_count(session=session, info=info) == 0


def test_import_belongs_in_the_channel(desk: Desk):
    desk.say("^import Night nurses")

    assert "`^import` works in the channel" in desk.told()


def test_autoclaim_gives_an_unclaimed_conversation_to_whoever_replies(
    make_desk: Callable[..., Desk],
):
    desk = make_desk(AUTOCLAIM=True)
    desk.say("Hi! Thanks for writing.", user=LEE)

    assert desk.note(f"Claimed by <@{LEE}> (their reply, with autoclaim on).")
    assert desk.card()["Claimed by"] == f"<@{LEE}>"
    desk.say("And a second reply.", user=TEAMMATE)
    desk.bridge.wait_for_texts(2)
    assert desk.conversation().claimed_by == LEE


def test_when_slack_cannot_say_who_is_on_the_team_nothing_is_done(desk: Desk):
    desk.slack.fail_next("conversations.members", error="missing_scope")

    desk.say(f"^assign <@{LEE}>")
    told = desk.told()
    assert told.startswith("Nothing was done: could not read the team")
    assert "missing_scope" in told
    # The event is not marked handled: once Slack answers, the same command works.
    desk.say(f"^assign <@{LEE}>")
    assert desk.note(f"Assigned to <@{LEE}>")


def test_times_in_answers_render_in_each_readers_time_zone(desk: Desk):
    desk.say("^at in 2 hours Quick check-in")

    (send,) = desk.rows(ScheduledSend)
    assert send.send_at > utcnow() + timedelta(minutes=119)
    fallback = send.send_at.strftime("%Y-%m-%d %H:%M UTC")
    assert desk.note(f"^{{date_short_pretty}} {{time}}|{fallback}>")


# A person named as typed (@lee), not picked from Slack's @ list: Slack sends the text
# as it is, and the desk looks the name up (users.list).


def test_assign_by_a_typed_name_assigns_that_teammate(desk: Desk):
    desk.say("^assign @lee, @Bo.Sanders")

    assert desk.note(f"Assigned to <@{LEE}>, <@{BOSS}> by <@{TEAMMATE}>.")
    assert desk.conversation().assignees == [LEE, BOSS]

    desk.say("^unassign @lee")
    assert desk.note(f"<@{LEE}> unassigned by <@{TEAMMATE}>.")
    assert desk.bridge.creates() == []


def test_the_readmes_deliver_example_runs_as_typed(desk: Desk):
    desk.say("^deliver @sam Interview Scheduled 4 stars Strong ICU background")

    said = desk.note(f"Delivered to <@{SAM}> by <@{TEAMMATE}> (Interview Scheduled, ★★★★☆)")
    assert "Strong ICU background" in said
    (delivery,) = desk.rows(Delivery)
    assert delivery.to_user == SAM


def test_a_typed_name_nobody_has_is_refused_privately_and_nothing_changes(desk: Desk):
    desk.say("^assign @zoë")

    told = desk.told()
    assert "Nobody in this Slack is called @zoë" in told and "@ list" in told
    assert desk.conversation().assignees == []
    assert desk.card_updates() == 0


def test_a_typed_name_two_people_share_is_refused_naming_both(desk: Desk):
    desk.slack.add_user("U0CHRISA", real_name="Chris Allen")
    desk.slack.add_user("U0CHRISB", real_name="Chris Brown")

    desk.say("^assign @chris")

    told = desk.told()
    assert "@chris could be <@U0CHRISA>, <@U0CHRISB>" in told
    assert desk.conversation().assignees == []


def test_a_deactivated_person_is_not_found_by_name(desk: Desk):
    desk.say("^deliver @gone.person")

    assert "Nobody in this Slack is called @gone.person" in desk.told()
    assert desk.rows(Delivery) == []
