"""The Slack and Twilio stand-ins now live in bot/sandbox (product code, used by
`caretbot demo`); this package only keeps the old import paths working.

from bot.sandbox import FakeSlack, FakeTwilio
with FakeSlack() as slack, FakeTwilio() as twilio:
    env = {"SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url}

`tests.fakes.slack_api` and the other old module names are aliases of the
bot.sandbox modules (the same module objects), so `from tests.fakes.signing import
new_ts` in a test written before the move still works.
"""

from __future__ import annotations

import sys

from bot.sandbox import (
    FakeSlack,
    FakeTwilio,
    SlackError,
    TwilioError,
    WaitTimeout,
    _http,
    openapi,
    segments,
    signing,
    slack_api,
    slack_blocks,
    slack_payloads,
    twilio_api,
    zoho_recruit,
)
from bot.sandbox.zoho_recruit import FakeZohoRecruit

for _module in (
    _http,
    openapi,
    segments,
    signing,
    slack_api,
    slack_blocks,
    slack_payloads,
    twilio_api,
    zoho_recruit,
):
    sys.modules[f"{__name__}.{_module.__name__.rsplit('.', 1)[1]}"] = _module


__all__ = [
    "FakeSlack",
    "FakeTwilio",
    "FakeZohoRecruit",
    "SlackError",
    "TwilioError",
    "WaitTimeout",
]
