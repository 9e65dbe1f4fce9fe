"""Roles: MANAGERS and the MANAGER_GROUP user group's members are managers (read with
usergroups.list / usergroups.users.list, cached); only managers import when managers are
configured, and a refusal names who may, to the person alone."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa
from slack_sdk import WebClient

from bot.desk.people import People
from bot.sandbox.signing import slack_message_event
from bot.sandbox.slack_api import FakeSlack
from bot.settings import SettingsError, load_settings
from bot.slack.roles import Roles
from storage.lists_models import CANDIDATES
from tests.bot.conftest import TEAMMATE
from tests.bot.harness import CHANNEL
from tests.bot.slack.conftest import BOSS, LEAD, LEE, SAM, Surface
from tests.bot.slack.test_imports import csv_bytes


def test_manager_group_takes_a_handle_with_or_without_its_at() -> None:
    assert load_settings(MANAGER_GROUP="@recruiting-leads").MANAGER_GROUP == "recruiting-leads"
    assert load_settings(MANAGER_GROUP="  ").MANAGER_GROUP is None
    with pytest.raises(SettingsError, match="MANAGER_GROUP: must be a Slack user group handle"):
        load_settings(MANAGER_GROUP="Recruiting Leads!")


def roles(slack: FakeSlack, **settings: object) -> Roles:
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url)
    return Roles(settings=load_settings(**settings), client=client, people=People(client, CHANNEL))


def test_group_members_are_managers_and_the_group_is_read_once(
    slack: FakeSlack, team: list[str]
) -> None:
    found = roles(slack, MANAGERS=BOSS, MANAGER_GROUP="recruiting-leads")
    assert [found.is_manager(user) for user in (BOSS, LEAD, LEE)] == [True, True, False]
    assert found.managers() == {BOSS, LEAD}
    assert (found.role(LEAD), found.role(LEE), found.role(SAM)) == ("manager", "member", "outsider")
    assert found.role(SAM, guests=[SAM]) == "guest"
    assert len(slack.calls("usergroups.users.list")) == 1  # cached
    assert found.refusal("import candidates") == (
        "Only managers may import candidates: <@U0BOSS> or members of @recruiting-leads."
    )


def test_when_slack_cannot_say_only_managers_count(slack: FakeSlack, team: list[str]) -> None:
    slack.fail_next("usergroups.list", error="missing_scope")
    found = roles(slack, MANAGERS=BOSS, MANAGER_GROUP="recruiting-leads")
    assert not found.is_manager(LEAD) and found.is_manager(BOSS)
    unknown = roles(slack, MANAGER_GROUP="no-such-group")
    assert unknown.managers() == frozenset()


def test_without_managers_anyone_may_import(slack: FakeSlack) -> None:
    assert roles(slack).may_manage(LEE)
    assert not roles(slack, MANAGERS=BOSS).may_manage(LEE)


def test_a_member_who_is_not_a_manager_is_refused_an_import_privately(surface: Surface) -> None:
    slack = surface.slack
    file = slack.add_file("nurses.csv", csv_bytes(), "csv", mimetype="text/csv")
    envelope = slack_message_event(
        CHANNEL, LEE, "^import Night nurses", files=[file], subtype="file_share"
    )
    assert surface.caretbot.slack_post(envelope).status_code == 200
    (told,) = slack.wait_for(lambda: [c.params for c in slack.calls("chat.postEphemeral") if c.ok])
    assert told["user"] == LEE and told["thread_ts"] == envelope["event"]["ts"]
    assert (
        told["text"]
        == "Only managers may import candidates: <@U0BOSS> or members of @recruiting-leads."
    )
    time.sleep(0.3)
    assert slack.downloads() == [] and slack.posts(CHANNEL, envelope["event"]["ts"]) == []
    with surface.caretbot.db.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(CANDIDATES)).scalar_one() == 0

    envelope = slack_message_event(
        CHANNEL, LEAD, "^import Night nurses", files=[file], subtype="file_share"
    )
    surface.caretbot.slack_post(envelope)
    slack.wait_for(
        lambda: any(
            "import summary" in p.text for p in slack.posts(CHANNEL, envelope["event"]["ts"])
        ),
        timeout=10,
    )
    assert TEAMMATE not in {c.params["user"] for c in slack.calls("chat.postEphemeral")}


def test_a_guest_replies_but_runs_no_command_but_help(surface: Surface) -> None:
    thread = surface.bridge.open_thread()
    surface.bridge.teammate_says(f"^invite <@{SAM}>", thread)
    surface.bridge.wait_for_note(thread, f"invited <@{SAM}>")
    surface.bridge.teammate_says("^claim", thread, user=SAM)
    surface.bridge.teammate_says("^help", thread, user=SAM)

    def told() -> list[str] | None:
        said = [
            c.params["text"]
            for c in surface.slack.calls("chat.postEphemeral")
            if c.params["user"] == SAM
        ]
        return said if len(said) == 2 else None

    refusal, help_text = surface.slack.wait_for(told)
    assert refusal.startswith("As a guest of this conversation you can reply in its thread")
    assert "^claim" in help_text
    with surface.caretbot.db.read() as session:
        assert session.execute(sa.text("SELECT claimed_by FROM conversations")).scalar_one() is None
