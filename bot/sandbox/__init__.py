"""Local stand-ins for Slack's Web API and Twilio's REST API, speaking real HTTP.

They are what `caretbot demo` runs caretbot against (no account anywhere) and what the
test suite runs the product against. Each serves loopback on a free port and plays the
platform's side in both directions: it answers caretbot's API calls (slack_sdk and
twilio-python run unmodified, pointed at the stand-in's URL), and it sends caretbot the
requests the platform would send, signed with the real algorithms (Slack's
X-Slack-Signature v0 HMAC-SHA256, Twilio's X-Twilio-Signature HMAC-SHA1).

- `slack_api.FakeSlack`: chat.*, reactions.*, conversations.*, users.*, views.*,
  files.*; Block Kit checked; rate limits (429 with Retry-After) on demand.
- `twilio_api.FakeTwilio`: the 2010-04-01 Messages API, status callbacks, inbound
  SMS/MMS webhooks, forced failures by Twilio error code (30007, 21610, ...). Requests
  are checked against Twilio's OpenAPI description when it is available
  (CARETBOT_SPECS_DIR, else ../shared/specs beside the checkout), and taken without
  that check otherwise.
- `zoho_recruit.FakeZohoRecruit`: Zoho's OAuth token endpoint and Recruit API v2
  (upsert, search) as ../shared/specs/zoho_recruit.md describes them.
- `signing`, `slack_payloads`: the platforms' request shapes and signatures.

    from bot.sandbox import FakeSlack, FakeTwilio
    with FakeSlack() as slack, FakeTwilio() as twilio:
        env = {"SLACK_API_URL": slack.api_url, "TWILIO_API_URL": twilio.url}
"""

from __future__ import annotations

from bot.sandbox._http import WaitTimeout
from bot.sandbox.slack_api import FakeSlack, SlackError
from bot.sandbox.twilio_api import FakeTwilio, TwilioError
from bot.sandbox.zoho_recruit import FakeZohoRecruit

__all__ = ["FakeSlack", "FakeTwilio", "FakeZohoRecruit", "SlackError", "TwilioError", "WaitTimeout"]
