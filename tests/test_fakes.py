"""The fakes behave like Slack and Twilio as the real client libraries see them."""

from __future__ import annotations

import base64
import http.client
import json
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jsonschema
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.request_validator import RequestValidator
from twilio.rest import Client

from bot.sandbox import openapi
from bot.sandbox._http import FakeServer, Request, Response, WaitTimeout
from bot.sandbox.segments import count_segments
from bot.sandbox.signing import (
    inbound_sms_params,
    load_fixture,
    signed_slack_body,
    slack_headers,
    slack_message_event,
    twilio_signature,
)
from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio

REPO = Path(__file__).resolve().parents[1]
CANDIDATE = "+14155550123"
TEAM_NUMBER = "+14155550100"


# ------------------------------------------------------------------ fixtures


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    users: dict[str, dict[str, Any]] = {
        "U0DANA": {
            "real_name": "Dana Scully",
            "tz": "America/Los_Angeles",
            "profile": {"email": "dana@example.com"},
        },
        "U0GONE": {"real_name": "Former Teammate", "deleted": True},
    }
    with FakeSlack("xoxb-good", users=users) as fake:
        yield fake


@pytest.fixture
def web(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-good", base_url=slack.api_url)


@pytest.fixture
def twilio() -> Iterator[FakeTwilio]:
    with FakeTwilio() as fake:
        yield fake


@pytest.fixture
def client(twilio: FakeTwilio) -> Client:
    c = Client(twilio.account_sid, twilio.auth_token)
    c.api.base_url = twilio.url
    return c


class Receiver(FakeServer):
    """Stands in for caretbot's /twilio/status: validates the signature like caretbot must."""

    def __init__(self, token: str, algorithm: str | None = None) -> None:
        super().__init__()
        self.validator = RequestValidator(token)
        self.algorithm = algorithm
        self.seen: list[tuple[dict[str, str], dict[str, str], bool]] = []

    def handle(self, request: Request) -> Response:
        params = {k: v[-1] for k, v in request.form().items()}
        url = self.url + request.target
        valid = self.validator.validate(
            url, params, request.headers.get("x-twilio-signature", ""), self.algorithm
        )
        self.seen.append((params, request.headers, valid))
        return Response(status=204 if valid else 403)


@pytest.fixture
def receiver(twilio: FakeTwilio) -> Iterator[Receiver]:
    with Receiver(twilio.auth_token) as r:
        yield r


# --------------------------------------------------------------------- Slack


def test_auth_test_names_the_bot_and_rejects_other_tokens(slack: FakeSlack, web: WebClient) -> None:
    me = web.auth_test()
    assert (me["user_id"], me["bot_id"], me["team_id"]) == ("UBOT", "BBOT", slack.team_id)
    with pytest.raises(SlackApiError) as err:
        WebClient(token="xoxb-wrong", base_url=slack.api_url).auth_test()
    assert err.value.response["error"] == "invalid_auth"
    with pytest.raises(SlackApiError) as err:
        WebClient(base_url=slack.api_url).auth_test()
    assert err.value.response["error"] == "not_authed"


def test_post_message_records_json_body_and_gives_increasing_ts(
    slack: FakeSlack, web: WebClient
) -> None:
    parent = web.chat_postMessage(channel="C0RECRUIT", text="New conversation with +1415…")
    reply = web.chat_postMessage(
        channel="C0RECRUIT",
        thread_ts=parent["ts"],
        text="Yes, tomorrow works",
        blocks=[{"type": "section", "text": {"type": "mrkdwn", "text": "Yes"}}],
    )
    assert float(reply["ts"]) > float(parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"]
    assert reply["message"]["bot_id"] == "BBOT" and reply["message"]["user"] == "UBOT"
    call = slack.calls("chat.postMessage")[1]
    assert call.headers["content-type"].startswith("application/json")
    assert call.headers["authorization"] == "Bearer xoxb-good"
    assert call.params["blocks"][0]["type"] == "section"
    assert [p.text for p in slack.posts(thread_ts=parent["ts"])] == ["Yes, tomorrow works"]
    assert len(slack.posts(channel="C0RECRUIT")) == 2


def test_unknown_channels_and_methods(slack: FakeSlack, web: WebClient) -> None:
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="#general", text="hi")
    assert err.value.response["error"] == "channel_not_found"
    with pytest.raises(SlackApiError) as err:
        web.api_call("chat.scheduleMessageTwice", params={"channel": "C1"})
    assert err.value.response["error"] == "unknown_method"
    with FakeSlack("t", channels={"C0ONLY"}) as strict:
        only = WebClient(token="t", base_url=strict.api_url)
        only.chat_postMessage(channel="C0ONLY", text="ok")
        with pytest.raises(SlackApiError, match="channel_not_found"):
            only.chat_postMessage(channel="C0OTHER", text="no")


def test_form_methods_users_reactions_and_dm(slack: FakeSlack, web: WebClient) -> None:
    dana = web.users_info(user="U0DANA")["user"]
    assert dana["tz"] == "America/Los_Angeles" and dana["profile"]["email"] == "dana@example.com"
    assert dana["tz_offset"] in (-8 * 3600, -7 * 3600)
    assert web.users_info(user="U0GONE")["user"]["deleted"] is True
    assert (
        slack.calls("users.info")[0]
        .headers["content-type"]
        .startswith("application/x-www-form-urlencoded")
    )
    with pytest.raises(SlackApiError, match="user_not_found"):
        web.users_info(user="U0NOBODY")
    assert web.users_lookupByEmail(email="DANA@example.com")["user"]["id"] == "U0DANA"
    with pytest.raises(SlackApiError, match="users_not_found"):
        web.users_lookupByEmail(email="nobody@example.com")
    dm = web.conversations_open(users="U0DANA")["channel"]["id"]
    assert dm.startswith("D")
    posted = web.chat_postMessage(channel=dm, text="psst")
    web.reactions_add(channel=dm, timestamp=posted["ts"], name="white_check_mark")
    with pytest.raises(SlackApiError, match="already_reacted"):
        web.reactions_add(channel=dm, timestamp=posted["ts"], name="white_check_mark")
    assert slack.reactions(dm, posted["ts"]) == ["white_check_mark"]
    web.reactions_remove(channel=dm, timestamp=posted["ts"], name="white_check_mark")
    assert slack.reactions(dm) == []


def test_update_ephemeral_and_permalink(slack: FakeSlack, web: WebClient) -> None:
    posted = web.chat_postMessage(channel="C0RECRUIT", text="draft")
    web.chat_update(channel="C0RECRUIT", ts=posted["ts"], text="final")
    assert slack.message("C0RECRUIT", posted["ts"])["text"] == "final"  # type: ignore[index]
    with pytest.raises(SlackApiError, match="message_not_found"):
        web.chat_update(channel="C0RECRUIT", ts="1.000001", text="x")
    slack.add_message("C0RECRUIT", "1763900123.000200", "teammate text", user="U0DANA")
    with pytest.raises(SlackApiError, match="cant_update_message"):
        web.chat_update(channel="C0RECRUIT", ts="1763900123.000200", text="x")
    eph = web.chat_postEphemeral(channel="C0RECRUIT", user="U0DANA", text="only you")
    assert eph["message_ts"]
    link = web.chat_getPermalink(channel="C0RECRUIT", message_ts=posted["ts"])["permalink"]
    assert link.endswith("/archives/C0RECRUIT/p" + posted["ts"].replace(".", ""))


def test_rate_limit_answers_429_with_retry_after(slack: FakeSlack, web: WebClient) -> None:
    slack.rate_per_second, slack.burst = 0.5, 2
    web.chat_postMessage(channel="C0A", text="1")
    web.chat_postMessage(channel="C0A", text="2")
    with pytest.raises(SlackApiError) as err:
        web.chat_postMessage(channel="C0A", text="3")
    response = err.value.response
    assert response.status_code == 429
    assert response["error"] == "ratelimited"
    assert int(response.headers["Retry-After"]) == 2
    assert slack.ratelimited_count == 1
    web.chat_postMessage(channel="C0B", text="another channel has its own bucket")
    assert [p.text for p in slack.posts()] == ["1", "2", "another channel has its own bucket"]


def test_slack_sdk_retry_handler_honours_retry_after(slack: FakeSlack) -> None:
    slack.rate_per_second, slack.burst = 5.0, 1
    web = WebClient(
        token="xoxb-good",
        base_url=slack.api_url,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    web.chat_postMessage(channel="C0A", text="1")
    started = time.monotonic()
    web.chat_postMessage(channel="C0A", text="2")  # 429, waits Retry-After: 1, succeeds
    assert time.monotonic() - started >= 0.9
    assert slack.ratelimited_count == 1 and len(slack.posts()) == 2


def test_fail_next_forces_errors(slack: FakeSlack, web: WebClient) -> None:
    slack.fail_next("chat.postMessage", status=500, times=2)
    for _ in range(2):
        with pytest.raises(SlackApiError) as err:
            web.chat_postMessage(channel="C0A", text="x")
        assert err.value.response.status_code == 500
    assert web.chat_postMessage(channel="C0A", text="x")["ok"]
    assert [c.status for c in slack.calls("chat.postMessage")] == [500, 500, 200]


def test_fail_next_wildcard_and_api_errors(slack: FakeSlack, web: WebClient) -> None:
    slack.fail_next("reactions.add", error="too_many_reactions")
    with pytest.raises(SlackApiError) as err:
        web.reactions_add(channel="C0A", timestamp="1.000001", name="eyes")
    assert err.value.response.status_code == 200
    assert err.value.response["error"] == "too_many_reactions"
    slack.fail_next("*", status=429, retry_after=7)
    with pytest.raises(SlackApiError) as err:
        web.users_info(user="U0DANA")
    assert err.value.response.headers["Retry-After"] == "7"
    assert web.users_info(user="U0DANA")["ok"]


def test_files_upload_v2_three_calls(slack: FakeSlack, web: WebClient) -> None:
    done = web.files_upload_v2(
        channel="C0RECRUIT",
        thread_ts="1763900000.000100",
        content="name,phone\nSam,+14155550123\n",
        filename="candidates.csv",
        title="Candidates",
    )
    assert done["file"]["title"] == "Candidates"
    methods = [c.method for c in slack.calls()]
    assert methods == ["files.getUploadURLExternal", "files.completeUploadExternal"]
    assert list(slack.uploads().values()) == [b"name,phone\nSam,+14155550123\n"]
    with pytest.raises(SlackApiError, match="method_deprecated"):
        web.api_call("files.upload", params={"channels": "C0RECRUIT", "content": "x"})


def test_wait_for_counts_and_predicates(slack: FakeSlack, web: WebClient) -> None:
    web.chat_postMessage(channel="C0A", text="one")
    assert [p.text for p in slack.wait_for(1)] == ["one"]
    assert slack.wait_for(lambda: slack.posts(channel="C0A"))[0].text == "one"
    with pytest.raises(WaitTimeout, match="1 posts"):
        slack.wait_for(2, timeout=0.1)
    slack.reset()
    assert slack.calls() == [] and slack.posts() == []


def test_keep_alive_and_stats_endpoint(slack: FakeSlack) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", slack.port)
    body = json.dumps({"channel": "C0A", "text": "hi"})
    headers = {"Authorization": "Bearer xoxb-good", "Content-Type": "application/json"}
    for _ in range(3):  # three requests, one connection
        conn.request("POST", "/api/chat.postMessage", body, headers)
        response = conn.getresponse()
        assert response.status == 200 and json.loads(response.read())["ok"]
    conn.request("GET", "/_fake/stats")
    stats = json.loads(conn.getresponse().read())
    conn.close()
    assert stats["posts"] == 3 and stats["ratelimited"] == 0
    assert stats["first_post_at"] <= stats["last_post_at"]


def test_runs_as_its_own_process() -> None:
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.sandbox.slack_api",
            "--port",
            "0",
            "--rate",
            "1",
            "--burst",
            "1",
        ],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        web = WebClient(token="xoxb-test-token", base_url=url + "/api/")
        web.chat_postMessage(channel="C0A", text="1")
        with pytest.raises(SlackApiError):
            web.chat_postMessage(channel="C0A", text="2")
        with urllib.request.urlopen(url + "/_fake/stats") as resp:
            stats = json.load(resp)
        assert (stats["posts"], stats["ratelimited"]) == (1, 1)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


# -------------------------------------------------------------------- Twilio


def test_twilio_fake_runs_as_its_own_process() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot.sandbox.twilio_api", "--port", "0", "--auth-token", "tok"],
        cwd=REPO,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        c = Client("AC0123456789abcdef0123456789abcdef", "tok")
        c.api.base_url = url
        c.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="é" * 200)
        with urllib.request.urlopen(url + "/_fake/stats") as resp:
            stats = json.load(resp)
        assert (stats["created"], stats["segments"]) == (1, 2)
    finally:
        proc.terminate()
        proc.wait(timeout=5)


@pytest.mark.needs_specs(openapi.TWILIO_SPEC_FILE)
def test_create_returns_the_spec_message_resource(client: Client, twilio: FakeTwilio) -> None:
    message = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="Hi Sam")
    assert message.status == "queued" and message.sid.startswith("SM")
    raw = twilio.message(message.sid)
    assert list(raw) == openapi.message_properties()
    jsonschema.validate(raw, openapi.message_json_schema())
    assert parsedate_to_datetime(raw["date_created"]).tzinfo is not None
    assert raw["date_created"].endswith("+0000")
    assert raw["uri"] == f"/2010-04-01/Accounts/{twilio.account_sid}/Messages/{message.sid}.json"
    assert twilio.calls("create")[0].params == {
        "To": [CANDIDATE],
        "From": [TEAM_NUMBER],
        "Body": ["Hi Sam"],
    }


@pytest.mark.parametrize(
    ("body", "segments"),
    [
        ("a" * 160, "1"),
        ("a" * 161, "2"),
        ("a" * 306, "2"),
        ("a" * 307, "3"),
        ("é" * 160, "1"),  # é is in GSM-7
        ("ł" * 70, "1"),
        ("ł" * 71, "2"),
        ("😀" * 35, "1"),  # two UTF-16 units each
        ("[" * 80, "1"),
        ("[" * 81, "2"),  # extension characters take two septets
    ],
)
def test_num_segments(client: Client, body: str, segments: str) -> None:
    message = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body=body)
    assert message.num_segments == segments
    assert str(count_segments(body)) == segments


@pytest.mark.needs_specs(openapi.TWILIO_SPEC_FILE)
def test_create_is_checked_against_the_spec(twilio: FakeTwilio, client: Client) -> None:
    def post(form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        token = base64.b64encode(f"{twilio.account_sid}:{twilio.auth_token}".encode()).decode()
        request = urllib.request.Request(
            f"{twilio.url}/2010-04-01/Accounts/{twilio.account_sid}/Messages.json",
            data=urlencode(form).encode(),
            headers={
                "Content-Type": "application/x-www-form-urlencoded",
                "Authorization": "Basic " + token,
            },
        )
        try:
            with urllib.request.urlopen(request) as resp:
                return resp.status, json.load(resp)
        except urllib.error.HTTPError as err:
            return err.code, json.load(err)

    status, payload = post({"To": CANDIDATE, "From": TEAM_NUMBER, "Bodyy": "typo"})
    assert status == 400 and payload["code"] == 20001 and "Bodyy" in payload["message"]
    assert set(payload) == {"code", "message", "more_info", "status"}
    status, payload = post({"To": CANDIDATE, "Body": "no sender"})
    assert (status, payload["code"]) == (400, 21603)
    status, payload = post({"To": CANDIDATE, "From": TEAM_NUMBER})
    assert (status, payload["code"]) == (400, 21602)
    status, payload = post({"From": TEAM_NUMBER, "Body": "no recipient"})
    assert (status, payload["code"]) == (400, 21604)
    status, payload = post({"To": "4155550123", "From": TEAM_NUMBER, "Body": "x"})
    assert (status, payload["code"]) == (400, 21211)
    status, payload = post({"To": CANDIDATE, "From": TEAM_NUMBER, "Body": "x" * 1601})
    assert (status, payload["code"]) == (400, 21617)
    status, payload = post(
        {"To": CANDIDATE, "From": TEAM_NUMBER, "Body": "x", "ValidityPeriod": "soon"}
    )
    assert status == 400 and "ValidityPeriod" in payload["message"]
    # twilio-python 9.13 knows MessageIntent; the spec in ../shared/specs does not.
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x", message_intent="otp")
    assert err.value.code == 20001 and "MessageIntent" in err.value.msg
    assert twilio.stats.created == 0 and twilio.stats.rejected == 8


def test_media_and_messaging_service(client: Client, twilio: FakeTwilio) -> None:
    mms = client.messages.create(
        to=CANDIDATE,
        from_=TEAM_NUMBER,
        media_url=["https://example.com/a.png", "https://example.com/b.png"],
    )
    assert mms.num_media == "2"
    assert twilio.calls("create")[0].params["MediaUrl"] == [
        "https://example.com/a.png",
        "https://example.com/b.png",
    ]
    pooled = client.messages.create(
        to=CANDIDATE, messaging_service_sid="MG" + "1" * 32, body="from the pool"
    )
    assert (pooled.status, pooled.from_, pooled.num_segments) == ("accepted", None, "0")


def test_auth_failure_raises_with_twilio_code(twilio: FakeTwilio) -> None:
    bad = Client(twilio.account_sid, "wrong-token")
    bad.api.base_url = twilio.url
    with pytest.raises(TwilioRestException) as err:
        bad.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x")
    assert (err.value.status, err.value.code) == (401, 20003)
    other = Client("AC" + "f" * 32, twilio.auth_token)
    other.api.base_url = twilio.url
    # A failing list() raises the base TwilioException("Unable to fetch page", response),
    # not TwilioRestException: the code is only in the response body.
    with pytest.raises(TwilioException) as listing:
        other.messages.list()
    response = listing.value.args[1]
    assert response.status_code == 401 and json.loads(response.text)["code"] == 20003


def test_list_filters_and_paging(client: Client, twilio: FakeTwilio) -> None:
    for i in range(5):
        client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body=f"m{i}")
    client.messages.create(to="+14155550999", from_=TEAM_NUMBER, body="other")
    mine = client.messages.list(to=CANDIDATE, page_size=2)
    assert [m.body for m in mine] == ["m4", "m3", "m2", "m1", "m0"]  # newest first
    assert len(twilio.calls("list")) == 3  # followed next_page_uri twice
    assert len(client.messages.list(from_=TEAM_NUMBER)) == 6
    today = datetime.now(UTC)
    assert len(client.messages.list(to=CANDIDATE, date_sent_after=today - timedelta(1))) == 5
    assert client.messages.list(to=CANDIDATE, date_sent_after=today + timedelta(1)) == []
    assert len(client.messages.list(date_sent_before=today + timedelta(1))) == 6
    assert len(client.messages.list(date_sent=today.replace(hour=0, minute=0, second=0))) == 6
    first = twilio.calls("list")[-1]
    assert "DateSent" in first.params
    fetched = client.messages(mine[0].sid).fetch()
    assert fetched.body == "m4"
    with pytest.raises(TwilioRestException) as err:
        client.messages("SM" + "0" * 32).fetch()
    assert (err.value.status, err.value.code) == (404, 20404)


def test_fail_to_and_fail_next(client: Client, twilio: FakeTwilio) -> None:
    twilio.fail_to(CANDIDATE, code=21610)
    twilio.fail_to("+14155550111", code=20429, retry_after=3, times=1)
    twilio.fail_next(status=503, code=20503)
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to="+14155550999", from_=TEAM_NUMBER, body="x")
    assert (err.value.status, err.value.code) == (503, 20503)
    for _ in range(2):
        with pytest.raises(TwilioRestException) as err:
            client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x")
        assert (err.value.status, err.value.code) == (400, 21610)
    with pytest.raises(TwilioRestException) as err:
        client.messages.create(to="+14155550111", from_=TEAM_NUMBER, body="x")
    assert (err.value.status, err.value.code) == (429, 20429)
    assert client.messages.create(to="+14155550111", from_=TEAM_NUMBER, body="x").sid


def test_status_callbacks_are_signed_like_twilio(
    client: Client, twilio: FakeTwilio, receiver: Receiver
) -> None:
    url = receiver.url + "/twilio/status?team=T0CARETBOT"
    message = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x", status_callback=url)
    assert twilio.send_status(message.sid, "sent") == 204
    assert twilio.send_status(message.sid, "failed", error_code=30008) == 204
    # Twilio adds parameters without notice; the signature still covers them.
    assert twilio.send_status(message.sid, "failed", extra_params={"NewField": "1"}) == 204
    params, headers, valid = receiver.seen[1]
    assert valid and headers["user-agent"] == "TwilioProxy/1.1"
    assert params["MessageStatus"] == params["SmsStatus"] == "failed"
    assert params["ErrorCode"] == "30008" and params["MessageSid"] == message.sid
    assert set(params) >= {"SmsSid", "To", "From", "AccountSid", "ApiVersion"}
    assert twilio.message(message.sid)["error_code"] == 30008
    assert [c.http_status for c in twilio.callbacks(message.sid)] == [204, 204, 204]
    # A tampered signature is what caretbot must reject with 403.
    forged = twilio.post_webhook(url, params, signature="bm9wZQ==")
    assert forged.status == 403


def test_auto_status_and_delivery_errors(receiver: Receiver) -> None:
    with FakeTwilio(auto_status=["sent", "delivered"], auto_status_delay=0.01) as twilio:
        c = Client(twilio.account_sid, twilio.auth_token)
        c.api.base_url = twilio.url
        url = receiver.url + "/twilio/status"
        ok = c.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x", status_callback=url)
        twilio.fail_to("+14155550777", code=30007)
        filtered = c.messages.create(
            to="+14155550777", from_=TEAM_NUMBER, body="x", status_callback=url
        )
        assert filtered.status == "queued"
        twilio.wait_for(lambda: len(twilio.callbacks()) == 4)
        assert [c.status for c in twilio.callbacks(ok.sid)] == ["sent", "delivered"]
        assert [c.status for c in twilio.callbacks(filtered.sid)] == ["sent", "undelivered"]
        assert twilio.callbacks(filtered.sid)[-1].params["ErrorCode"] == "30007"
        assert twilio.message(ok.sid)["status"] == "delivered"
        assert all(valid for _, _, valid in receiver.seen)


def test_late_callback_does_not_rewind_the_resource(
    client: Client, twilio: FakeTwilio, receiver: Receiver
) -> None:
    url = receiver.url + "/twilio/status"
    message = client.messages.create(to=CANDIDATE, from_=TEAM_NUMBER, body="x", status_callback=url)
    twilio.send_status(message.sid, "delivered")
    twilio.send_status(message.sid, "sent")
    assert receiver.seen[-1][0]["MessageStatus"] == "sent"
    assert client.messages(message.sid).fetch().status == "delivered"


def test_shared_key_signatures() -> None:
    with (
        FakeTwilio(shared_key=("webhooks_sharedkey_1", "s3cret")) as twilio,
        Receiver("s3cret", algorithm="HMAC_SHA256") as receiver,
    ):
        result = twilio.post_webhook(receiver.url + "/twilio/sms", {"Body": "hi"})
        assert result.status == 204
        settings = result.sent_headers["X-Twilio-Webhooks-Signature-Settings"]
        assert settings == "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"


def test_inbound_sms_is_signed_and_listed(twilio: FakeTwilio, receiver: Receiver) -> None:
    result = twilio.send_inbound_sms(
        receiver.url + "/twilio/sms", CANDIDATE, "STOP", to=TEAM_NUMBER
    )
    assert result.status == 204
    params, _, valid = receiver.seen[0]
    assert valid and params["Body"] == "STOP"
    assert twilio.messages(to=TEAM_NUMBER)[0]["direction"] == "inbound"


# ------------------------------------------------------------------- signing


INBOUND_KEYS = {
    "ToCountry",
    "ToState",
    "SmsMessageSid",
    "NumMedia",
    "ToCity",
    "FromZip",
    "SmsSid",
    "FromState",
    "SmsStatus",
    "FromCity",
    "Body",
    "FromCountry",
    "To",
    "ToZip",
    "NumSegments",
    "MessageSid",
    "AccountSid",
    "From",
    "ApiVersion",
}


def test_inbound_sms_params_and_signature() -> None:
    params = inbound_sms_params(
        "+447700900123",
        TEAM_NUMBER,
        "Bonjour 👋",
        media=[("https://api.twilio.com/media/ME1", "image/jpeg")],
        messaging_service_sid="MG" + "2" * 32,
    )
    assert set(params) == INBOUND_KEYS | {"MediaUrl0", "MediaContentType0", "MessagingServiceSid"}
    assert params["MessageSid"].startswith("MM") and params["NumMedia"] == "1"
    assert (params["FromCountry"], params["FromCity"], params["ToCountry"]) == ("GB", "", "US")
    assert params["NumSegments"] == "1"
    url = "https://caretbot.example.com/twilio/sms?tenant=a%20b"
    signature = twilio_signature("tok", url, params)
    assert RequestValidator("tok").validate(url, params, signature)
    assert not RequestValidator("tok").validate(url + "&x=1", params, signature)
    assert set(load_fixture("twilio_inbound_sms.json")) == INBOUND_KEYS


def test_slack_headers_verify_with_slack_sdk() -> None:
    body = b'{"type":"event_callback"}'
    headers = slack_headers("shh", body, retry_num=1)
    verifier = SignatureVerifier("shh")
    assert verifier.is_valid_request(body, headers)
    assert headers["X-Slack-Retry-Num"] == "1"
    stale = slack_headers("shh", body, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)
    signed_body, signed = signed_slack_body("shh", slack_message_event("C0A", "U0DANA", "hi"))
    assert verifier.is_valid_request(signed_body, signed)


@pytest.mark.needs_specs(openapi.SLACK_EVENTS_SPEC_FILE)
def test_slack_message_event_follows_the_events_api_schema() -> None:
    spec = openapi.load_spec(openapi.SLACK_EVENTS_SPEC_FILE)
    wrapper = spec["components"]["schemas"]["GenericEventWrapper"]
    reply = slack_message_event("C0RECRUIT", "U0DANA", "^claim", thread_ts="1763900000.000100")
    jsonschema.validate(reply, wrapper)
    event = reply["event"]
    assert event["thread_ts"] != event["ts"] and event["event_ts"] == event["ts"]
    assert event["client_msg_id"] and event["channel_type"] == "channel"
    assert reply["event_id"].startswith("Ev") and reply["type"] == "event_callback"
    bot = slack_message_event("D0DM", "UBOT", "echo", bot_id="BBOT")
    jsonschema.validate(bot, wrapper)
    assert "client_msg_id" not in bot["event"] and bot["event"]["channel_type"] == "im"
    edited = slack_message_event("C0A", None, "x", subtype="message_changed")
    assert "user" not in edited["event"] and edited["event"]["subtype"] == "message_changed"
    top = slack_message_event("C0A", "U0DANA", "hello")
    assert "thread_ts" not in top["event"] and "parent_user_id" not in top["event"]
