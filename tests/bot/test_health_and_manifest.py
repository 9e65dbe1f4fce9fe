"""GET /healthz says whether caretbot can work; app.yaml grants what the code uses."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import yaml
from slack_bolt.request import BoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk import WebClient

from bot.settings import load_settings
from bot.slack.app import SLASH_COMMAND, build_slack_app
from bot.slack.scopes import (
    CUSTOMIZE_SCOPE,
    EVENT_SUBSCRIPTIONS,
    METHOD_SCOPES,
    SLASH_COMMAND_SCOPE,
)
from storage.db import Database
from tests.bot.conftest import Bridge
from tests.bot.harness import CHANNEL, Caretbot

ROOT = Path(__file__).resolve().parents[2]
BOT = ROOT / "bot"

# /healthz


def test_healthz_answers_200_with_the_integrations_and_the_outbox_backlog(caretbot: Caretbot):
    response = caretbot.http.get("/healthz")

    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert {k: v for k, v in body.items() if k != "integrations"} == {
        "status": "ok",
        "database": "ok",
        "outbox_backlog": 0,
        "workers": "running",
    }
    assert body["integrations"]["slack"]["mode"] == "events_api"
    assert body["integrations"]["twilio"]["mode"] == "number"
    for platform in ("slack", "twilio"):
        assert body["integrations"][platform]["backlog"] == 0
        assert body["integrations"][platform]["oldest_entry_age_seconds"] is None


def test_healthz_counts_work_waiting_in_the_outbox(
    make_caretbot: Callable[..., Caretbot], slack, twilio
):
    caretbot = make_caretbot(RUN_WORKERS=False)
    bridge = Bridge(caretbot, slack, twilio)
    bridge.text_in("one")
    bridge.text_in("two", from_="+15125550177")

    assert caretbot.http.get("/healthz").json()["outbox_backlog"] == 2


def test_healthz_names_a_messaging_service_when_one_is_configured(
    make_caretbot: Callable[..., Caretbot],
):
    caretbot = make_caretbot(RUN_WORKERS=False, TWILIO_MESSAGING_SERVICE_SID="MG" + "c" * 32)

    twilio = caretbot.http.get("/healthz").json()["integrations"]["twilio"]
    assert twilio["mode"] == "messaging_service"


def test_healthz_answers_503_when_the_database_cannot_answer(
    make_caretbot: Callable[..., Caretbot],
):
    caretbot = make_caretbot(RUN_WORKERS=False)
    with caretbot.db.engine.begin() as connection:
        connection.execute(sa.text("DROP TABLE outbox"))

    response = caretbot.http.get("/healthz")

    assert response.status_code == 503
    assert response.json()["database"] == "unreachable"


# app.yaml


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    path = ROOT / "app.yaml"
    assert path.exists(), "app.yaml (the Slack app manifest) is missing at the repo root"
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def granted(manifest: dict[str, Any]) -> set[str]:
    return set(manifest["oauth_config"]["scopes"]["bot"])


@pytest.fixture(scope="module")
def subscribed(manifest: dict[str, Any]) -> set[str]:
    return set(manifest["settings"]["event_subscriptions"]["bot_events"])


def test_manifest_grants_the_scopes_the_bridge_needs(granted: set[str]):
    needed = {
        "chat:write",
        "chat:write.customize",
        "reactions:write",
        "channels:history",
        "groups:history",
        "users:read",
        "users:read.email",
        "im:write",
        "files:read",
        "commands",
    }
    assert needed <= granted, f"missing scopes: {sorted(needed - granted)}"


def test_manifest_subscribes_to_messages_in_public_and_private_channels(subscribed: set[str]):
    assert {"message.channels", "message.groups"} <= subscribed


def _web_api_calls() -> set[str]:
    """slack_sdk WebClient methods called anywhere in bot/ (slack.chat_postMessage ...),
    but for bot/sandbox: the stand-ins of Slack and Twilio serve methods, they do not call them."""
    attribute = re.compile(r"\.([a-z]+_[A-Za-z0-9_]+)\b")
    found: set[str] = set()
    for path in BOT.rglob("*.py"):
        if "sandbox" in path.relative_to(BOT).parts:
            continue
        found |= set(attribute.findall(path.read_text(encoding="utf-8")))
    return {name for name in found if callable(getattr(WebClient, name, None))}


def test_every_web_api_method_the_code_calls_has_its_scope_granted(granted: set[str]):
    calls = _web_api_calls()
    assert "chat_postMessage" in calls  # the scan sees the code
    unknown = calls - METHOD_SCOPES.keys() - {"auth_test"}
    assert not unknown, f"bot/ calls {sorted(unknown)}: add them to bot/slack/scopes.py"
    missing = {METHOD_SCOPES[m] for m in calls if m in METHOD_SCOPES} - granted - {None}
    assert not missing, f"app.yaml lacks {sorted(missing)}"


def test_posting_as_the_candidate_has_the_customize_scope(granted: set[str]):
    """Inbound texts are posted under the candidate's name (username / icon_emoji)."""
    uses_customize = any("username=" in p.read_text(encoding="utf-8") for p in BOT.rglob("*.py"))
    assert uses_customize
    assert CUSTOMIZE_SCOPE in granted


def _bolt_app(tmp_path: Path) -> Any:
    settings = load_settings(
        DATABASE_URL=f"sqlite:///{tmp_path / 'manifest.db'}",
        SLACK_SIGNING_SECRET="secret",
        SLACK_BOT_TOKEN="xoxb-manifest",
    )
    db = Database(settings.DATABASE_URL)
    return build_slack_app(
        settings=settings, db=db, client=WebClient(token="xoxb-manifest"), wake=lambda: None
    )


def _event_request(event_type: str) -> BoltRequest:
    body = {
        "type": "event_callback",
        "team_id": "T0CARETBOT",
        "event_id": "Ev1",
        "event": {"type": event_type, "channel": CHANNEL, "user": "U0DANA", "ts": "1.2"},
    }
    return BoltRequest(body=json.dumps(body), headers={"content-type": ["application/json"]})


def _command_request(command: str) -> BoltRequest:
    return BoltRequest(
        body=f"command={command}&text=help&team_id=T0CARETBOT&user_id=U0DANA&channel_id={CHANNEL}",
        headers={"content-type": ["application/x-www-form-urlencoded"]},
    )


def _interactive_request(payload: dict[str, Any]) -> BoltRequest:
    from urllib.parse import urlencode

    return BoltRequest(
        body=urlencode({"payload": json.dumps(payload)}),
        headers={"content-type": ["application/x-www-form-urlencoded"]},
    )


def _interactive_probes() -> dict[str, BoltRequest]:
    """The card's buttons, the Home tab's filter, the list modal's submit and close."""
    from bot.slack import cards
    from bot.slack.actions import LIST_MODAL
    from bot.slack.home import FILTER_ACTION

    user = {"id": "U0DANA"}
    actions = [name for name in vars(cards) if name.startswith("ACTION_")]
    probes = {
        f"block_actions {action_id}": _interactive_request(
            {"type": "block_actions", "user": user, "actions": [{"action_id": action_id}]}
        )
        for action_id in [getattr(cards, name) for name in actions] + [FILTER_ACTION]
    }
    for kind in ("view_submission", "view_closed"):
        probes[f"{kind} {LIST_MODAL}"] = _interactive_request(
            {"type": kind, "user": user, "view": {"type": "modal", "callback_id": LIST_MODAL}}
        )
    return probes


def test_every_listener_the_code_registers_is_subscribed_in_the_manifest(
    tmp_path: Path, manifest: dict[str, Any], subscribed: set[str], granted: set[str]
):
    """Each Bolt listener must answer one of the known events or the slash command,
    and each of those must be subscribed (with its scope) or declared in app.yaml."""
    app = _bolt_app(tmp_path)
    probes = {f"event {e}": _event_request(e) for e in EVENT_SUBSCRIPTIONS} | {
        f"command {SLASH_COMMAND}": _command_request(SLASH_COMMAND)
    }
    probes |= _interactive_probes()  # answered because interactivity is on (checked below)
    for listener in app._listeners:  # noqa: SLF001 - Bolt keeps no public list
        answered = [
            name
            for name, request in probes.items()
            if listener.matches(req=request, resp=BoltResponse(status=200))
        ]
        assert answered, f"a listener ({listener}) answers no event app.yaml knows of"
    assert {"message.channels", "message.groups"} <= set(EVENT_SUBSCRIPTIONS["message"])
    for subscriptions in EVENT_SUBSCRIPTIONS.values():
        for subscription, scope in subscriptions.items():
            assert subscription in subscribed, f"app.yaml does not subscribe {subscription}"
            assert scope is None or scope in granted, f"app.yaml lacks {scope} (for {subscription})"
    commands = [c["command"] for c in manifest["features"]["slash_commands"]]
    assert SLASH_COMMAND in commands
    assert SLASH_COMMAND_SCOPE in granted


def test_manifest_points_every_request_url_at_slack_events(manifest: dict[str, Any]):
    urls = [
        manifest["settings"]["event_subscriptions"]["request_url"],
        manifest["settings"]["interactivity"]["request_url"],
        *(c["url"] for c in manifest["features"]["slash_commands"]),
    ]
    assert all(re.fullmatch(r"https://[^/]+/slack/events", url) for url in urls), urls
    assert manifest["settings"]["interactivity"]["is_enabled"] is True
    assert manifest["display_information"]["name"]
    assert manifest["features"]["bot_user"]["display_name"]
