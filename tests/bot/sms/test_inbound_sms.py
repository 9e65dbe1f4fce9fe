"""A candidate's texts reach Slack: POST /twilio/sms, signed by Twilio, stored once, posted
in the conversation's thread. Forged, malformed and foreign webhooks store nothing."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.sandbox.signing import inbound_sms_params, new_sid, twilio_signature
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, OTHER_CANDIDATE, Bridge
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, TEAM_NUMBER, Caretbot

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def assert_nothing_stored(bridge: Bridge) -> None:
    assert bridge.messages() == []
    assert bridge.outbox() == []
    assert bridge.candidate() is None


def test_first_text_opens_a_thread_rooted_in_a_candidate_card(bridge: Bridge, slack: FakeSlack):
    """The first text from a number creates the candidate and a conversation, posts a
    card naming them (by phone while no name is known) at the top of SLACK_CHANNEL_ID and
    the text as the first reply in that card's thread."""
    response = bridge.text_in("Hi, is the forklift job still open?")

    assert response.status_code == 200
    assert response.text == EMPTY_TWIML
    assert response.headers["content-type"].startswith("text/xml")
    card, text = slack.wait_for(2)
    assert card.channel == CHANNEL and card.thread_ts is None
    assert "+1 512-555-0143" in str(card.blocks)
    assert text.thread_ts == card.ts
    assert text.text == "Hi, is the forklift job still open?"
    candidate = bridge.candidate(CANDIDATE)
    assert candidate is not None and candidate.phone == CANDIDATE


def test_later_texts_are_replies_in_the_same_thread_in_the_order_received(bridge: Bridge):
    """Every later text of the conversation is a reply in the one thread: no second card."""
    thread = bridge.open_thread("one")
    for body in ("two", "three", "four"):
        assert bridge.text_in(body).status_code == 200

    bridge.slack.wait_for(5)
    assert bridge.thread(thread) == ["one", "two", "three", "four"]
    assert [p for p in bridge.slack.posts() if p.thread_ts is None] == bridge.slack.posts()[:1]


def test_two_candidates_get_two_threads(bridge: Bridge):
    """Conversations are per candidate: another number opens its own thread."""
    first = bridge.open_thread("from the first", from_=CANDIDATE)
    second = bridge.open_thread("from the second", from_=OTHER_CANDIDATE)

    assert first != second
    assert bridge.thread(first) == ["from the first"]
    assert bridge.thread(second) == ["from the second"]


def test_retried_webhook_with_the_same_message_sid_stores_and_posts_once(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    """Twilio retries a webhook it got no quick answer to: the second copy (same
    MessageSid) is answered 200 and adds no message and no Slack post."""
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    sid = new_sid("SM")
    first = bridge.text_in("Hello?", sid=sid)
    again = bridge.text_in("Hello?", sid=sid)
    bridge.text_in("after the retry")

    assert first.status_code == again.status_code == 200
    posts = slack.wait_for(3)
    assert [p.text for p in posts if p.thread_ts] == ["Hello?", "after the retry"]
    assert [m.twilio_sid for m in bridge.messages()].count(sid) == 1
    assert len(bridge.messages()) == 2


def test_inbound_mms_shows_its_media_in_the_thread(bridge: Bridge, slack: FakeSlack):
    """An MMS posts its text with the pictures shown and other files linked."""
    image = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME1"
    resume = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM1/Media/ME2"
    thread = bridge.open_thread(
        "my resume and a photo of my license",
        media=[
            (image, "image/jpeg"),
            (resume, "application/pdf"),
        ],
    )

    (post,) = slack.posts(CHANNEL, thread)
    blocks = post.blocks or []
    assert any(b["type"] == "image" and b["image_url"] == image for b in blocks)
    assert resume in str(blocks)
    message = bridge.messages("inbound")[0]
    assert [m["url"] for m in message.media] == [image, resume]


def test_media_only_mms_is_still_posted(bridge: Bridge, slack: FakeSlack):
    """A picture with no text still shows in the thread."""
    image = f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/MM2/Media/ME3"
    bridge.text_in("", media=[(image, "image/png")])

    card, post = slack.wait_for(2)
    assert post.thread_ts == card.ts
    assert image in str(post.blocks)


def test_webhook_through_a_messaging_service_is_accepted(bridge: Bridge, slack: FakeSlack):
    """Webhooks from a Messaging Service carry MessagingServiceSid and validate the same."""
    response = bridge.text_in("via the service", MessagingServiceSid="MG" + "b" * 32)

    assert response.status_code == 200
    slack.wait_for(2)
    assert bridge.messages()[0].body == "via the service"


def test_signature_over_the_url_with_its_query_string_is_accepted(bridge: Bridge):
    """Twilio signs the exact URL it calls, query string included."""
    params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, "with a query", account_sid=ACCOUNT_SID)

    response = bridge.caretbot.twilio_post("/twilio/sms?team=warehouse", params)

    assert response.status_code == 200
    assert bridge.messages()[0].body == "with a query"


def _forged(caretbot: Caretbot, kind: str) -> tuple[str, dict[str, str], dict[str, str]]:
    """A webhook with a signature that must not pass: (path, params, headers)."""
    params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, "forged", account_sid=ACCOUNT_SID)
    url = caretbot.url + "/twilio/sms"
    good = twilio_signature(AUTH_TOKEN, url, params)
    path = "/twilio/sms"
    if kind == "wrong signature":
        headers = {"X-Twilio-Signature": twilio_signature("0" * 32, url, params)}
    elif kind == "missing header":
        headers = {}
    elif kind == "empty header":
        headers = {"X-Twilio-Signature": ""}
    elif kind == "signed for another URL":
        headers = {
            "X-Twilio-Signature": twilio_signature(
                AUTH_TOKEN, "https://elsewhere.example/twilio/sms", params
            )
        }
    elif kind == "signed for another path":
        headers = {
            "X-Twilio-Signature": twilio_signature(
                AUTH_TOKEN, caretbot.url + "/twilio/status", params
            )
        }
    elif kind == "query string not signed":
        path, headers = "/twilio/sms?team=warehouse", {"X-Twilio-Signature": good}
    elif kind == "parameter added after signing":
        headers = {"X-Twilio-Signature": good}
        params = {**params, "Extra": "1"}
    elif kind == "body changed after signing":
        headers = {"X-Twilio-Signature": good}
        params = {**params, "Body": "changed"}
    else:  # pragma: no cover
        raise AssertionError(kind)
    return path, params, headers


@pytest.mark.parametrize(
    "kind",
    [
        "wrong signature",
        "missing header",
        "empty header",
        "signed for another URL",
        "signed for another path",
        "query string not signed",
        "parameter added after signing",
        "body changed after signing",
    ],
)
def test_badly_signed_webhook_gets_403_and_stores_nothing(bridge: Bridge, kind: str):
    path, params, headers = _forged(bridge.caretbot, kind)

    response = bridge.caretbot.http.post(path, data=params, headers=headers)

    assert response.status_code == 403
    assert_nothing_stored(bridge)


def test_signed_webhook_without_message_sid_gets_400_and_stores_nothing(bridge: Bridge):
    params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, "no sid", account_sid=ACCOUNT_SID)
    for name in ("MessageSid", "SmsSid", "SmsMessageSid"):
        del params[name]

    response = bridge.caretbot.twilio_post("/twilio/sms", params)

    assert response.status_code == 400
    assert "MessageSid" in response.text
    assert_nothing_stored(bridge)


def test_signed_webhook_without_from_gets_400_and_stores_nothing(bridge: Bridge):
    params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, "no sender", account_sid=ACCOUNT_SID)
    del params["From"]

    response = bridge.caretbot.twilio_post("/twilio/sms", params)

    assert response.status_code == 400
    assert "From" in response.text
    assert_nothing_stored(bridge)


def test_signed_webhook_with_a_bad_media_count_gets_400_and_stores_nothing(bridge: Bridge):
    params = inbound_sms_params(CANDIDATE, TEAM_NUMBER, "media?", account_sid=ACCOUNT_SID)
    params["NumMedia"] = "two"

    response = bridge.caretbot.twilio_post("/twilio/sms", params)

    assert response.status_code == 400
    assert "NumMedia" in response.text
    assert_nothing_stored(bridge)


@pytest.mark.parametrize("sender", ["72345", "ACMEBANK"], ids=["short code", "alphanumeric"])
def test_text_from_a_short_code_or_alphanumeric_sender_is_answered_and_not_stored(
    bridge: Bridge, sender: str
):
    """Carrier and service notices are not candidates: 200 (so Twilio does not retry),
    nothing stored, nothing posted."""
    response = bridge.text_in("Your carrier balance is low", from_=sender)

    assert response.status_code == 200
    assert bridge.messages() == [] and bridge.outbox() == []
    # A candidate's text afterwards is the only thing that reaches Slack.
    bridge.open_thread("a real candidate")
    assert "Your carrier balance is low" not in [p.text for p in bridge.slack.posts()]
