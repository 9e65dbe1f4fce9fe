"""The Slack fake refuses Block Kit that Slack refuses: too many blocks, texts over their
limits, interactive elements without an action_id or with a duplicate one, answering
`invalid_blocks` as Slack does; and it serves views.publish, views.open, user groups and
response_urls."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from bot.sandbox.slack_api import FakeSlack


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack("xoxb-good", users={"U0DANA": {"real_name": "Dana Reyes"}}) as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-good", base_url=slack.api_url)


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(action_id: str | None, text: str = "Claim") -> dict[str, Any]:
    element: dict[str, Any] = {"type": "button", "text": {"type": "plain_text", "text": text}}
    if action_id is not None:
        element["action_id"] = action_id
    return element


def refused(call: Any) -> list[str]:
    with pytest.raises(SlackApiError) as caught:
        call()
    assert caught.value.response["error"] == "invalid_blocks"
    return caught.value.response["errors"]


def test_a_message_of_51_blocks_is_refused_and_50_are_posted(web: WebClient) -> None:
    errors = refused(
        lambda: web.chat_postMessage(channel="C0RECRUIT", text="x", blocks=[section("a")] * 51)
    )
    assert errors == ["must contain at most 50 items [json-pointer:/blocks]"]
    assert web.chat_postMessage(channel="C0RECRUIT", text="x", blocks=[section("a")] * 50)["ok"]


def test_a_home_tab_takes_100_blocks_not_101(web: WebClient, slack: FakeSlack) -> None:
    assert web.views_publish(
        user_id="U0DANA", view={"type": "home", "blocks": [section("a")] * 100}
    )
    assert len(slack.home("U0DANA")["blocks"]) == 100  # type: ignore[index]
    refused(
        lambda: web.views_publish(
            user_id="U0DANA", view={"type": "home", "blocks": [section("a")] * 101}
        )
    )


def test_long_texts_missing_and_duplicate_action_ids_are_refused(web: WebClient) -> None:
    header = {"type": "header", "text": {"type": "plain_text", "text": "é" * 151}}
    assert refused(
        lambda: web.chat_postMessage(channel="C0RECRUIT", text="x", blocks=[header])
    ) == ["must be less than 151 characters [json-pointer:/blocks/0/text/text]"]
    refused(
        lambda: web.chat_postMessage(channel="C0RECRUIT", text="x", blocks=[section("ü" * 3001)])
    )
    actions = {"type": "actions", "elements": [button("claim"), button(None)]}
    assert refused(
        lambda: web.chat_postMessage(channel="C0RECRUIT", text="x", blocks=[actions])
    ) == ["missing required field: action_id [json-pointer:/blocks/0/elements/1]"]
    twice = {"type": "actions", "elements": [button("claim"), button("claim", "Again")]}
    assert (
        "duplicate action_id"
        in refused(
            lambda: web.views_open(
                trigger_id="1.2.3",
                view={
                    "type": "modal",
                    "title": {"type": "plain_text", "text": "T"},
                    "blocks": [twice],
                },
            )
        )[0]
    )
    long_button = {"type": "actions", "elements": [button("claim", "x" * 76)]}
    refused(lambda: web.chat_update(channel="C0RECRUIT", ts="1.1", text="x", blocks=[long_button]))


def test_user_groups_and_response_urls(web: WebClient, slack: FakeSlack) -> None:
    group = slack.add_usergroup("recruiting-leads", ["U0DANA"])
    listed = web.usergroups_list()["usergroups"]
    assert [(g["id"], g["handle"]) for g in listed] == [(group, "recruiting-leads")]
    assert web.usergroups_users_list(usergroup=group)["users"] == ["U0DANA"]
    url = slack.response_url()
    assert httpx.post(url, json={"text": "Lists: 2", "response_type": "ephemeral"}).text == "ok"
    assert slack.responses()[0]["text"] == "Lists: 2"
    assert httpx.post(url, json={"blocks": [section("a")] * 51}).status_code == 400
