"""app.yaml grants what the code uses: every event it listens to, every scope it needs."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from bot.slack import scopes as slack_scopes

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = yaml.safe_load((ROOT / "app.yaml").read_text())
# caretbot's own code: bot/sandbox holds the stand-ins of Slack and Twilio, not calls to them.
BOT_SOURCE = "\n".join(
    path.read_text()
    for path in sorted((ROOT / "bot").rglob("*.py"))
    if "sandbox" not in path.relative_to(ROOT).parts
)


def granted_scopes() -> set[str]:
    return set(MANIFEST["oauth_config"]["scopes"]["bot"])


def test_every_slack_method_the_code_calls_has_its_scope_granted() -> None:
    called = set(
        re.findall(
            r"\.(chat_\w+|reactions_\w+|users_\w+|conversations_\w+|files_\w+|views_\w+"
            r"|usergroups_\w+|auth_\w+)\b",
            BOT_SOURCE,
        )
    )
    assert called, "the scan found no Slack calls: the pattern is stale"
    unknown = called - slack_scopes.METHOD_SCOPES.keys()
    assert not unknown, f"add these Slack methods to bot/slack/scopes.py: {unknown}"
    needed = {slack_scopes.METHOD_SCOPES[method] for method in called} - {None}
    assert needed <= granted_scopes()


def test_the_candidate_name_on_texts_and_the_slash_command_have_their_scopes() -> None:
    assert "username=" in BOT_SOURCE
    assert {slack_scopes.CUSTOMIZE_SCOPE, slack_scopes.SLASH_COMMAND_SCOPE} <= granted_scopes()


def test_every_event_the_code_listens_to_is_subscribed() -> None:
    listened = set(re.findall(r"@app\.event\(\"(\w+)\"\)", BOT_SOURCE))
    assert listened, "the scan found no listeners: the pattern is stale"
    subscribed = set(MANIFEST["settings"]["event_subscriptions"]["bot_events"])
    for event in listened:
        subscriptions = slack_scopes.EVENT_SUBSCRIPTIONS[event]
        assert set(subscriptions) <= subscribed
        assert set(subscriptions.values()) - {None} <= granted_scopes()


def test_the_slash_command_and_interactivity_point_at_the_events_endpoint() -> None:
    from bot.slack.app import SLASH_COMMAND

    commands = {c["command"]: c["url"] for c in MANIFEST["features"]["slash_commands"]}
    assert commands[SLASH_COMMAND].endswith("/slack/events")
    assert MANIFEST["settings"]["interactivity"]["request_url"].endswith("/slack/events")
    assert MANIFEST["settings"]["event_subscriptions"]["request_url"].endswith("/slack/events")


def test_the_home_tab_and_interactivity_are_on_for_the_surface_that_uses_them() -> None:
    assert 'app.event("app_home_opened")' in BOT_SOURCE
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    assert MANIFEST["settings"]["interactivity"]["is_enabled"] is True
    assert "app.action(" in BOT_SOURCE and "app.view(" in BOT_SOURCE


def test_the_slash_commands_usage_hint_names_every_subcommand() -> None:
    from bot.slack.slash import SUBCOMMANDS

    (command,) = MANIFEST["features"]["slash_commands"]
    hint = command["usage_hint"]
    assert [part.strip() for part in hint.split("|")] == [sub.syntax for sub in SUBCOMMANDS]
