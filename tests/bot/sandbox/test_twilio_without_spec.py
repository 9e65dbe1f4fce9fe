"""The Twilio stand-in without Twilio's API description (as `caretbot demo` runs it
from a plain install): same resource shape, same rules that do not need the spec."""

from __future__ import annotations

from pathlib import Path

import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client

from bot.sandbox import FakeTwilio, openapi
from bot.sandbox.twilio_api import MESSAGE_PROPERTIES

CANDIDATE = "+15555550123"
TEAM_NUMBER = "+15555550100"


@pytest.fixture
def no_spec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CARETBOT_SPECS_DIR", str(tmp_path))
    return tmp_path


def test_runs_without_the_spec_and_gives_the_same_resource(no_spec: Path) -> None:
    assert not openapi.twilio_spec_available()
    with FakeTwilio() as twilio:
        assert twilio.spec_checked is False
        client = Client(twilio.account_sid, twilio.auth_token)
        client.api.base_url = twilio.url
        body = "Bonjour Zoë — on se voit à 14 h ? 🙂 " * 3  # UCS-2, 2 segments
        message = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body=body)
        assert message.num_segments == "2" and message.status == "queued"
        resource = twilio.message(message.sid)
        assert list(resource) == list(MESSAGE_PROPERTIES)
        # Rules that need no spec still hold: a sender and a body, an E.164 recipient.
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to=CANDIDATE, body="no sender")
        assert err.value.code == 21603
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to="4155550123", from_=TEAM_NUMBER, body="x")
        assert err.value.code == 21211
        assert len(twilio.messages()) == 1


def test_with_the_spec_the_resource_has_the_specs_properties() -> None:
    if not openapi.twilio_spec_available():
        pytest.skip("Twilio's OpenAPI description is not here (set CARETBOT_SPECS_DIR)")
    from bot.sandbox.twilio_api import LIST_PARAMETERS

    assert list(MESSAGE_PROPERTIES) == openapi.message_properties()
    assert list(LIST_PARAMETERS) == list(openapi.query_parameters(openapi.MESSAGES_PATH, "get"))
    with FakeTwilio() as twilio:
        assert twilio.spec_checked is True
