"""The people of the stand-in Slack workspace: what they do reaches caretbot as Slack
sends it, signed.

Slack POSTs to the app's Request URL (`/slack/events`): Events API envelopes as JSON
(a `message` in a channel or thread, `app_home_opened`) and interactivity payloads as a
form with one `payload` field (`block_actions`). Each request carries
X-Slack-Request-Timestamp and X-Slack-Signature = "v0=" + hex(HMAC-SHA256(signing
secret, "v0:{timestamp}:{body}")) (https://api.slack.com/authentication/verifying-requests-from-slack).
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import Any

from bot.sandbox import slack_payloads
from bot.sandbox.signing import new_ts, slack_headers, slack_message_event
from bot.sandbox.slack_api import FakeSlack


@dataclass(frozen=True)
class Delivery:
    """What caretbot answered one signed request: HTTP status and body text."""

    status: int
    body: str


class SlackTeam:
    """Teammates in one channel of a `FakeSlack` workspace, acting towards caretbot.

    `events_url`: caretbot's Request URL (PUBLIC_URL + "/slack/events");
    `signing_secret`: the app's signing secret (caretbot's SLACK_SIGNING_SECRET).
    Thread-safe as far as FakeSlack is; each call blocks until caretbot answers
    (at most `timeout` seconds).
    """

    def __init__(
        self,
        slack: FakeSlack,
        *,
        events_url: str,
        signing_secret: str,
        channel: str,
        timeout: float = 10.0,
    ) -> None:
        self.slack = slack
        self.events_url = events_url
        self.signing_secret = signing_secret
        self.channel = channel
        self.timeout = timeout
        self._opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    def say(self, user: str, text: str, thread_ts: str | None = None) -> tuple[str, Delivery]:
        """`user` writes `text` in the channel (in the thread `thread_ts` if given): the
        message is stored in the workspace and its `message` event sent. Returns the
        message's ts and caretbot's answer."""
        ts = new_ts()
        extra: dict[str, Any] = {"thread_ts": thread_ts} if thread_ts else {}
        self.slack.add_message(self.channel, ts, text, user, **extra)
        envelope = slack_message_event(self.channel, user, text, ts=ts, thread_ts=thread_ts)
        return ts, self._post(json.dumps(envelope).encode("utf-8"), "application/json")

    def click(self, user: str, message_ts: str, action: dict[str, Any]) -> Delivery:
        """`user` clicks an element of the channel's message `message_ts`.

        `action` is the element as the message's blocks give it plus its block_id
        (action_id, type, value, text, selected_option...). Raises LookupError when the
        workspace does not know the message."""
        message = self.slack.message(self.channel, message_ts)
        if message is None:
            raise LookupError(f"no message {message_ts} in {self.channel}")
        payload = slack_payloads.block_actions_on_message(
            action,
            user=user,
            channel=self.channel,
            message=message,
            response_url=self.slack.response_url(),
        )
        return self._post(slack_payloads.payload_form(payload), slack_payloads.FORM)

    def open_home(self, user: str) -> Delivery:
        """`user` opens caretbot's App Home tab (app_home_opened)."""
        envelope = slack_payloads.app_home_opened(user, view=self.slack.home(user))
        return self._post(json.dumps(envelope).encode("utf-8"), "application/json")

    def click_home(self, user: str, action: dict[str, Any]) -> Delivery:
        """`user` clicks an element of their App Home view. LookupError if none is shown."""
        view = self.slack.home(user)
        if view is None:
            raise LookupError(f"no Home tab published for {user}")
        payload = slack_payloads.block_actions_on_home(action, user=user, view=view)
        return self._post(slack_payloads.payload_form(payload), slack_payloads.FORM)

    def _post(self, body: bytes, content_type: str) -> Delivery:
        headers = slack_headers(self.signing_secret, body, content_type=content_type)
        headers["User-Agent"] = "Slackbot 1.0 (+https://api.slack.com/robots)"
        request = urllib.request.Request(self.events_url, data=body, headers=headers)
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                return Delivery(response.status, response.read().decode("utf-8", "replace"))
        except urllib.error.HTTPError as error:
            return Delivery(error.code, error.read().decode("utf-8", "replace"))
