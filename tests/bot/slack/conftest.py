"""Fixtures for the Slack surface's edge tests: a team in the Slack fake, caretbot
served with a manager, and the moves people make (a slash command, a click, opening the
Home tab), each a signed HTTP request shaped as Slack sends it."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from bot.sandbox import slack_payloads as payloads
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot

LEE = "U0LEE"  # a teammate
BOSS = "U0BOSS"  # a teammate and a manager (MANAGERS)
LEAD = "U0LEAD"  # a teammate, a manager through the MANAGER_GROUP user group
SAM = "U0SAM"  # a hiring manager outside the team, invited into a conversation


@pytest.fixture
def team(slack: FakeSlack) -> list[str]:
    slack.add_user(TEAMMATE, real_name="Dana Reyes", tz="America/Chicago")
    slack.add_user(LEE, real_name="Lee Park", tz="America/New_York")
    slack.add_user(BOSS, real_name="Bo Sanders", tz="UTC")
    slack.add_user(LEAD, real_name="Lu Ødegård", tz="Europe/Oslo")
    slack.add_user(SAM, real_name="Sam Hill", tz="UTC", email="sam@company.com")
    members = [TEAMMATE, LEE, BOSS, LEAD, "UBOT"]
    slack.set_handler(
        "conversations.members",
        lambda params: {"members": members, "response_metadata": {"next_cursor": ""}},
    )
    slack.add_usergroup("recruiting-leads", [LEAD])
    return members


class Surface:
    """caretbot between the fakes, and the Slack surface's moves."""

    def __init__(self, bridge: Bridge) -> None:
        self.bridge = bridge
        self.caretbot = bridge.caretbot
        self.slack = bridge.slack

    # /caretbot

    def slash(self, text: str, *, user: str = TEAMMATE) -> tuple[httpx.Response, float, str]:
        """POST /caretbot TEXT; returns the HTTP answer, its seconds, and the response_url."""
        url = self.slack.response_url()
        body = payloads.slash_command(text, user=user, channel=CHANNEL, response_url=url)
        started = time.monotonic()
        response = self.caretbot.slack_post(body, content_type=payloads.FORM)
        return response, time.monotonic() - started, url

    def answer(self, url: str, timeout: float = 5.0) -> dict[str, Any]:
        """What caretbot posted to a response_url."""
        path = url.split(self.slack.url, 1)[1]
        return self.slack.wait_for(
            lambda: next((r for r in self.slack.responses() if r["path"] == path), None),
            timeout=timeout,
        )

    # Clicks

    def post_payload(self, payload: dict[str, Any]) -> httpx.Response:
        return self.caretbot.slack_post(payloads.payload_form(payload), content_type=payloads.FORM)

    def card(self, thread_ts: str) -> dict[str, Any]:
        message = self.slack.message(CHANNEL, thread_ts)
        assert message is not None
        return message

    def card_elements(self, thread_ts: str) -> dict[str, dict[str, Any]]:
        """The card's interactive elements by action_id."""
        (actions,) = [b for b in self.card(thread_ts)["blocks"] if b["type"] == "actions"]
        return {element["action_id"]: element for element in actions["elements"]}

    def click(
        self,
        thread_ts: str,
        action_id: str,
        *,
        user: str = TEAMMATE,
        trigger: str | None = None,
        **action: Any,
    ) -> tuple[httpx.Response, str]:
        """Click the card's element `action_id` (with `action` fields such as
        selected_user); returns the HTTP answer and the click's response_url."""
        element = self.card_elements(thread_ts)[action_id]
        url = self.slack.response_url()
        payload = payloads.block_actions_on_message(
            {
                "action_id": action_id,
                "block_id": "desk",
                "type": element["type"],
                **({"value": element["value"]} if "value" in element else {}),
                **({"text": element["text"]} if "text" in element else {}),
                **action,
            },
            user=user,
            channel=CHANNEL,
            message=self.card(thread_ts),
            response_url=url,
            trigger=trigger,
        )
        return self.post_payload(payload), url

    def said_to(self, url: str) -> list[str]:
        """What caretbot told the clicker through the click's response_url."""
        path = url.split(self.slack.url, 1)[1]
        return [r["text"] for r in self.slack.responses() if r["path"] == path]

    # App Home

    def open_home(self, user: str = TEAMMATE, *, tab: str = "home") -> httpx.Response:
        return self.caretbot.slack_post(payloads.app_home_opened(user, tab=tab))

    def home(self, user: str = TEAMMATE, *, after: int = 0, timeout: float = 5.0) -> dict[str, Any]:
        """The user's Home tab once it has been published more than `after` times."""
        self.slack.wait_for(lambda: len(self.publishes(user)) > after, timeout=timeout)
        view = self.slack.home(user)
        assert view is not None
        return view

    def publishes(self, user: str) -> list[Any]:
        return [
            c for c in self.slack.calls("views.publish") if c.ok and c.params.get("user_id") == user
        ]


def home_text(view: dict[str, Any]) -> str:
    """The Home tab's text, block by block, one line each."""
    lines = []
    for block in view["blocks"]:
        if block["type"] == "header":
            lines.append("# " + block["text"]["text"])
        elif block["type"] == "section":
            lines.append(block["text"]["text"])
        elif block["type"] == "context":
            lines.append("  " + " ".join(e.get("text", "") for e in block["elements"]))
    return "\n".join(lines)


def view_json(params: dict[str, Any]) -> dict[str, Any]:
    view = params["view"]
    return json.loads(view) if isinstance(view, str) else view


@pytest.fixture
def make_surface(
    make_caretbot: Callable[..., Caretbot], slack: FakeSlack, twilio: FakeTwilio, team: list[str]
) -> Callable[..., Surface]:
    def make(**settings: Any) -> Surface:
        settings.setdefault("MANAGERS", BOSS)
        settings.setdefault("MANAGER_GROUP", "@recruiting-leads")
        settings.setdefault("HOME_REFRESH_SECONDS", 0.1)
        return Surface(Bridge(make_caretbot(**settings), slack, twilio))

    return make


@pytest.fixture
def surface(make_surface: Callable[..., Surface]) -> Surface:
    return make_surface()
