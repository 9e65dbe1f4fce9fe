"""Loopback HTTP fakes of Slack and Twilio, and helpers that sign requests like them.

from tests.fakes import FakeSlack, FakeTwilio
with FakeSlack() as slack, FakeTwilio() as twilio:
    env = {"SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url}
"""

from __future__ import annotations

from tests.fakes._http import WaitTimeout
from tests.fakes.slack_api import FakeSlack, SlackError
from tests.fakes.twilio_api import FakeTwilio, TwilioError

__all__ = ["FakeSlack", "FakeTwilio", "SlackError", "TwilioError", "WaitTimeout"]
