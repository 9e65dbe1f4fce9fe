"""Loopback HTTP fakes of Slack, Twilio and Zoho Recruit, and helpers that sign requests like them.

from tests.fakes import FakeSlack, FakeTwilio
with FakeSlack() as slack, FakeTwilio() as twilio:
    env = {"SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url}
"""

from __future__ import annotations

from tests.fakes._http import WaitTimeout
from tests.fakes.slack_api import FakeSlack, SlackError
from tests.fakes.twilio_api import FakeTwilio, TwilioError
from tests.fakes.zoho_recruit import FakeZohoRecruit

__all__ = [
    "FakeSlack",
    "FakeTwilio",
    "FakeZohoRecruit",
    "SlackError",
    "TwilioError",
    "WaitTimeout",
]
