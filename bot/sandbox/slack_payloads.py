"""Slack's interactive payloads and the events of the Slack surface, shaped as Slack sends
them, encoded as it encodes them (https://api.slack.com/interactivity/handling#payloads):

- a slash command: an application/x-www-form-urlencoded form (command, text, user_id,
  channel_id, response_url, trigger_id, ...);
- block_actions, view_submission, view_closed: one form field `payload` holding JSON;
- app_home_opened: an Events API event_callback envelope (JSON).
"""

from __future__ import annotations

import json
import secrets
import time
from typing import Any
from urllib.parse import urlencode

TEAM = {"id": "T0CARETBOT", "domain": "caretbot-test"}
APP_ID = "ACARETBOT"
FORM = "application/x-www-form-urlencoded"


def trigger_id() -> str:
    return f"{int(time.time())}.{secrets.randbelow(10**12)}.{secrets.token_hex(16)}"


def action_ts() -> str:
    return f"{time.time():.6f}"


def slash_command(
    text: str, *, user: str, channel: str, response_url: str, command: str = "/caretbot"
) -> bytes:
    """The form Slack POSTs for `/caretbot text`."""
    return urlencode(
        {
            "token": "verification-token",
            "team_id": TEAM["id"],
            "team_domain": TEAM["domain"],
            "channel_id": channel,
            "channel_name": "recruiting",
            "user_id": user,
            "user_name": user.lower(),
            "command": command,
            "text": text,
            "api_app_id": APP_ID,
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id(),
        }
    ).encode()


def payload_form(payload: dict[str, Any]) -> bytes:
    """An interactive payload as Slack sends it: payload=<JSON>, form-encoded."""
    return urlencode({"payload": json.dumps(payload)}).encode()


def _user(user: str) -> dict[str, Any]:
    return {"id": user, "username": user.lower(), "name": user.lower(), "team_id": TEAM["id"]}


def block_actions_on_message(
    action: dict[str, Any],
    *,
    user: str,
    channel: str,
    message: dict[str, Any],
    response_url: str,
    trigger: str | None = None,
) -> dict[str, Any]:
    """A click on a message's element (`action`: action_id, block_id, type, value...)."""
    return {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {
            "type": "message",
            "message_ts": message["ts"],
            "channel_id": channel,
            "is_ephemeral": False,
        },
        "trigger_id": trigger or trigger_id(),
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "channel": {"id": channel, "name": "recruiting"},
        "message": message,
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [{"action_ts": action_ts(), **action}],
    }


def block_actions_on_home(
    action: dict[str, Any], *, user: str, view: dict[str, Any]
) -> dict[str, Any]:
    """A click in the App Home tab: the container is the view; there is no response_url."""
    return {
        "type": "block_actions",
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "container": {"type": "view", "view_id": view.get("id", "VHOME")},
        "trigger_id": trigger_id(),
        "team": TEAM,
        "enterprise": None,
        "is_enterprise_install": False,
        "view": view,
        "actions": [{"action_ts": action_ts(), **action}],
    }


def view_submission(view: dict[str, Any], *, user: str, values: dict[str, Any]) -> dict[str, Any]:
    """A modal submitted with `values` as its state (block_id -> action_id -> value)."""
    return {
        "type": "view_submission",
        "team": TEAM,
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "trigger_id": trigger_id(),
        "view": {**view, "state": {"values": values}},
        "response_urls": [],
        "is_enterprise_install": False,
        "enterprise": None,
    }


def view_closed(view: dict[str, Any], *, user: str) -> dict[str, Any]:
    """The person closed a modal opened with notify_on_close."""
    return {
        "type": "view_closed",
        "team": TEAM,
        "user": _user(user),
        "api_app_id": APP_ID,
        "token": "verification-token",
        "view": view,
        "is_cleared": False,
        "is_enterprise_install": False,
        "enterprise": None,
    }


def app_home_opened(
    user: str, *, tab: str = "home", view: dict[str, Any] | None = None
) -> dict[str, Any]:
    """The Events API envelope of app_home_opened (the `view` only once one was published)."""
    now = time.time()
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user,
        "channel": "D" + user[1:],
        "tab": tab,
        "event_ts": f"{now:.6f}",
    }
    if view is not None:
        event["view"] = view
    return {
        "token": "verification-token",
        "team_id": TEAM["id"],
        "context_team_id": TEAM["id"],
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": "Ev" + secrets.token_hex(5).upper(),
        "event_time": int(now),
        "authorizations": [
            {
                "enterprise_id": None,
                "team_id": TEAM["id"],
                "user_id": "UBOT",
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ],
        "is_ext_shared_channel": False,
    }
