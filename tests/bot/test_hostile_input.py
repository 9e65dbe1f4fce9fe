"""No request, signed or not, gets a 5xx for what it contains: 400 for a malformed one,
401/403 for a bad signature, 413 for a body larger than its platform ever sends; and
nothing of it is stored. Through real HTTP, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from bot.body_limits import SLACK_MAX_BODY_BYTES, TWILIO_MAX_BODY_BYTES
from bot.sandbox.signing import (
    inbound_sms_params,
    new_sid,
    slack_headers,
    slack_message_event,
    twilio_signature,
)
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from tests.bot.conftest import CANDIDATE, Bridge
from tests.bot.harness import ACCOUNT_SID, AUTH_TOKEN, CHANNEL, SIGNING_SECRET, Caretbot
from tests.conftest import BACKENDS, fresh_database_url


@pytest.fixture(params=BACKENDS)
def bridge_on(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    make_caretbot: Callable[..., Caretbot],
    slack: FakeSlack,
    twilio: FakeTwilio,
) -> Bridge:
    """caretbot on each database, workers running."""
    url = None if request.param == "sqlite" else fresh_database_url(request.param, tmp_path)
    return Bridge(make_caretbot(url), slack, twilio)


def nothing_stored(bridge: Bridge) -> None:
    assert bridge.messages() == []
    assert bridge.outbox() == []


# Slack


@pytest.mark.parametrize("timestamp", ["yesterday", "", "1.5e9", "\u00b2\u00b3"])
def test_an_unsigned_request_with_a_timestamp_that_is_not_a_number_is_401(
    caretbot: Caretbot, timestamp: str
):
    body = json.dumps(slack_message_event(CHANNEL, "U0DANA", "hi", thread_ts="1.2")).encode()
    response = caretbot.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": timestamp.encode("latin-1"),
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert response.status_code == 401


@pytest.mark.parametrize("length", ["lots", "\u00b2", "-1"])
def test_a_content_length_that_is_not_a_number_is_400(caretbot: Caretbot, length: str):
    response = caretbot.http.post(
        "/twilio/sms",
        content=b"Body=hi",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 403  # the control: the same request, honest length
    with socket.create_connection(("127.0.0.1", caretbot.port)) as sock:
        sock.sendall(
            b"POST /twilio/sms HTTP/1.1\r\nHost: x\r\nContent-Type: "
            b"application/x-www-form-urlencoded\r\nContent-Length: "
            + length.encode("latin-1")
            + b"\r\nConnection: close\r\n\r\nBody=hi"
        )
        answer = sock.recv(4096).decode("latin-1")
    assert answer.split()[1] in ("400", "413"), answer


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(lambda e: e["event"].pop("channel"), id="no channel"),
        pytest.param(lambda e: e["event"].pop("ts"), id="no ts"),
        pytest.param(lambda e: e.pop("event_id"), id="no event_id"),
        pytest.param(lambda e: e.update(event_id="Ev" + "A" * 70), id="event_id of 72 chars"),
        pytest.param(lambda e: e["event"].update(channel=["C0CARETBOT"]), id="channel a list"),
        pytest.param(lambda e: e["event"].update(thread_ts="tomorrow"), id="thread_ts a word"),
        pytest.param(lambda e: e.update(event="a message"), id="event a string"),
    ],
)
def test_a_signed_event_without_the_fields_slack_always_sends_is_400(
    bridge_on: Bridge, damage: Callable[[dict], object]
):
    thread = bridge_on.open_thread("Is the job still open?")
    envelope = slack_message_event(
        CHANNEL, "U0DANA", "See you at 9 — “thanks”", thread_ts=thread, bot_user_id="UBOT"
    )
    damage(envelope)

    response = bridge_on.caretbot.slack_post(envelope)

    assert response.status_code == 400, response.text
    assert "malformed" in response.text
    assert bridge_on.messages("outbound") == []


@pytest.mark.parametrize("body", [b"[1, 2]", b'"text"', b"null"])
def test_signed_json_that_is_not_an_object_is_400(caretbot: Caretbot, body: bytes):
    assert caretbot.slack_post(body).status_code == 400


def test_a_nul_in_a_teammates_reply_is_texted_without_it(bridge_on: Bridge):
    thread = bridge_on.open_thread("Hello?")
    _, response = bridge_on.teammate_says("Café at 9\x00, see you ☕", thread)

    assert response.status_code == 200
    (sent,) = bridge_on.wait_for_texts(1)
    assert sent["body"] == "Café at 9, see you ☕"


# Twilio


def test_a_nul_in_a_text_is_stored_without_the_nul(bridge_on: Bridge):
    response = bridge_on.text_in("Hi\x00 it’s Zoë 👋 about the job")

    assert response.status_code == 200
    (message,) = bridge_on.messages("inbound")
    assert message.body == "Hi it’s Zoë 👋 about the job"


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("To", "+1" + "5" * 45),
        ("To", "our main line"),
        ("MessageSid", "SM" + "a" * 70),
        ("MessageSid", "'; DROP TABLE messages; --"),
    ],
)
def test_a_signed_text_with_a_malformed_field_is_400_and_stores_nothing(
    bridge_on: Bridge, field: str, value: str
):
    response = bridge_on.text_in("Hello there", **{field: value})

    assert response.status_code == 400, response.text
    assert field in response.text
    nothing_stored(bridge_on)


@pytest.mark.parametrize(
    ("field", "value"),
    [("MessageSid", "SM" + "b" * 80), ("ErrorCode", "9" * 20), ("ErrorCode", "30007x")],
)
def test_a_signed_status_callback_with_a_malformed_field_is_400(
    bridge_on: Bridge, field: str, value: str
):
    params = {
        "MessageSid": new_sid(),
        "MessageStatus": "delivered",
        "AccountSid": ACCOUNT_SID,
        field: value,
    }
    response = bridge_on.caretbot.twilio_post("/twilio/status", params)
    assert response.status_code == 400, response.text


# Sizes


def test_the_longest_real_text_is_accepted(bridge_on: Bridge):
    """1,600 characters (Twilio's maximum), each one 4-byte emoji: the worst case."""
    body = "😀" * 1600
    response = bridge_on.text_in(body)

    assert response.status_code == 200
    assert bridge_on.messages("inbound")[0].body == body


def test_a_signed_text_over_the_limit_is_413_and_stores_nothing(bridge_on: Bridge):
    response = bridge_on.text_in("x" * (TWILIO_MAX_BODY_BYTES + 1))

    assert response.status_code == 413
    nothing_stored(bridge_on)


def test_the_longest_real_slack_message_is_accepted(caretbot: Caretbot):
    """40,000 characters (Slack's maximum), as JSON escapes of emoji, in text and blocks."""
    envelope = slack_message_event(CHANNEL, "U0DANA", "😀" * 40_000, bot_user_id="UBOT")
    body = json.dumps(envelope).encode()  # ASCII: \ud83d\ude00 for each one
    assert len(body) > 900_000
    assert caretbot.slack_post(body).status_code == 200


def test_a_forged_5_mb_slack_request_is_413_before_it_is_read(caretbot: Caretbot):
    body = b'{"type": "event_callback", "text": "' + b"x" * 5_000_000 + b'"}'
    started = time.monotonic()
    response = caretbot.http.post(
        "/slack/events",
        content=body,
        headers={
            "Content-Type": "application/json",
            "X-Slack-Request-Timestamp": str(int(time.time())),
            "X-Slack-Signature": "v0=" + "0" * 64,
        },
    )
    assert response.status_code == 413
    assert time.monotonic() - started < 2


def test_a_chunked_body_over_the_limit_is_413_while_it_streams(caretbot: Caretbot):
    """No Content-Length: the bytes are counted as they arrive."""
    sent = 0

    def chunks() -> Iterator[bytes]:
        nonlocal sent
        for _ in range(SLACK_MAX_BODY_BYTES // 65536 + 40):
            sent += 65536
            yield b"x" * 65536

    headers = slack_headers(SIGNING_SECRET, b"", timestamp=int(time.time()))
    response = caretbot.http.post("/slack/events", content=chunks(), headers=headers)

    assert response.status_code == 413


def test_a_twilio_content_length_over_the_limit_is_413(caretbot: Caretbot):
    params = inbound_sms_params(CANDIDATE, "+15005550006", "hi", account_sid=ACCOUNT_SID)
    params["Body"] = "y" * (TWILIO_MAX_BODY_BYTES * 3)
    signature = twilio_signature(AUTH_TOKEN, caretbot.url + "/twilio/sms", params)
    response = caretbot.http.post(
        "/twilio/sms", data=params, headers={"X-Twilio-Signature": signature}
    )
    assert response.status_code == 413
