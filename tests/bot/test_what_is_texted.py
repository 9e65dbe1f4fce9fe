"""What goes from a Slack thread to the candidate, and what never does (issue 7, items 2
and 3), through signed Slack events, asserting what the Twilio and Slack fakes received.

- A thread reply is recognised by thread_ts: "Also send to channel" (thread_broadcast)
  and replies with files (file_share) are texted; images go as MMS through a signed,
  short-lived caretbot URL that Twilio fetches; other files are not sent, and the
  teammate alone is told why.
- Caret lines are commands wherever they are in the message, never texted; mentions are
  texted as names, emoji shortcodes as emoji, Slack's entities as characters (commands
  included).
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import sqlalchemy as sa

from bot.sandbox.slack_api import FakeSlack
from bot.sandbox.twilio_api import FakeTwilio
from bot.slack import file_proxy
from storage import lists
from storage.desk_models import ScheduledSend
from storage.models import Conversation
from tests.bot.conftest import TEAMMATE, Bridge
from tests.bot.harness import Caretbot

# A real 1x1 PNG and GIF: what a phone would receive.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)
GIF = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")
SAM = "U0SAM"
LEE = "U0LEE"


@pytest.fixture
def people(slack: FakeSlack) -> None:
    slack.add_user(TEAMMATE, real_name="Dana Reyes", tz="America/Chicago")
    slack.add_user(SAM, real_name="Sam Hill", display_name="Sammy", tz="UTC")
    slack.add_user(LEE, real_name="Lee Park", display_name="", tz="UTC")  # no display name


def ephemerals(slack: FakeSlack) -> list[dict[str, Any]]:
    return [c.params for c in slack.calls("chat.postEphemeral") if c.ok]


def media_urls(bridge: Bridge) -> list[list[str]]:
    return [c.params.get("MediaUrl", []) for c in bridge.creates()]


# Item 2: thread replies that carry a subtype.


def test_a_reply_also_sent_to_the_channel_is_texted(bridge: Bridge):
    thread = bridge.open_thread()

    _, response = bridge.teammate_says(
        "Yes, we are hiring for nights", thread, subtype="thread_broadcast"
    )

    assert response.status_code == 200
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Yes, we are hiring for nights"


NOT_TEXTED = {
    "a deletion": {"subtype": "message_deleted"},
    "an edit": {"subtype": "message_changed"},
    "a topic change": {"subtype": "channel_topic"},
    "a bot's broadcast": {"subtype": "thread_broadcast", "bot_id": "B0OTHER"},
    "a broadcast at the top level": {"subtype": "thread_broadcast", "thread_ts": None},
}


@pytest.mark.parametrize("fields", NOT_TEXTED.values(), ids=NOT_TEXTED.keys())
def test_edits_deletions_bots_and_system_messages_are_not_texted(
    bridge: Bridge, fields: dict[str, Any]
):
    thread = bridge.open_thread()
    fields = dict(fields)
    thread_ts = fields.pop("thread_ts", thread)
    bridge.teammate_says("Must not reach the candidate", thread_ts, **fields)
    bridge.teammate_says("The real reply", thread)

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "The real reply"
    assert [c.params["Body"] for c in bridge.creates()] == [["The real reply"]]


def test_an_image_reply_is_texted_with_its_caption_as_mms(
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
    people: None,
):
    """Twilio fetched the image from caretbot's signed URL, which streamed it from
    Slack's url_private with the bot token; the caption is the body. (SQLite and
    PostgreSQL.)"""
    bridge = Bridge(make_caretbot(database_url), slack, twilio)
    thread = bridge.open_thread()
    file = slack.add_file("badge.png", PNG, "png", user=TEAMMATE, mimetype="image/png")

    bridge.teammate_says("Your badge :tada:", thread, files=[file])

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Your badge 🎉"
    assert sent["num_media"] == "1"
    ((url,),) = media_urls(bridge)
    assert url.startswith(f"{bridge.caretbot.url}/slack/files/{file['id']}/badge.png?expires=")
    (fetch,) = twilio.media(sent["sid"])
    assert (fetch.status, fetch.content_type, fetch.body) == (200, "image/png", PNG)
    assert slack.downloads() == [(file["id"], 200)]  # with the bot token
    assert ephemerals(slack) == []
    (stored,) = bridge.messages("outbound")
    assert stored.media == [
        {"file_id": file["id"], "name": "badge.png", "content_type": "image/png"}
    ]


def test_a_file_slack_describes_only_by_id_is_looked_up(
    bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio
):
    """Slack sometimes sends `file_access: check_file_info` and the id alone: caretbot
    asks files.info what the file is."""
    thread = bridge.open_thread()
    file = slack.add_file("map.gif", GIF, "gif", mimetype="image/gif")
    stub = {"id": file["id"], "mode": "file_access", "file_access": "check_file_info"}

    bridge.teammate_says("How to find us", thread, files=[stub])

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "How to find us"
    assert [f.body for f in twilio.media(sent["sid"])] == [GIF]
    assert any(c.params.get("file") == file["id"] for c in slack.calls("files.info"))


def test_images_without_a_caption_are_one_mms_without_a_body(
    bridge: Bridge, slack: FakeSlack, twilio: FakeTwilio
):
    thread = bridge.open_thread()
    files = [
        slack.add_file("a.png", PNG, "png", mimetype="image/png"),
        slack.add_file("b.gif", GIF, "gif", mimetype="image/gif"),
    ]

    bridge.teammate_says("", thread, files=files)

    (sent,) = bridge.wait_for_texts(1)
    (create,) = bridge.creates()
    assert "Body" not in create.params
    assert len(create.params["MediaUrl"]) == 2
    assert [f.body for f in twilio.media(sent["sid"])] == [PNG, GIF]


def test_other_files_are_not_sent_and_only_the_teammate_is_told_why(
    bridge: Bridge, slack: FakeSlack, people: None
):
    thread = bridge.open_thread()
    resume = slack.add_file("resume.pdf", b"%PDF-1.4 ...", "pdf", mimetype="application/pdf")
    photo = slack.add_file("site.png", PNG, "png", mimetype="image/png")

    bridge.teammate_says("Here is the job description", thread, files=[resume, photo])

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Here is the job description"
    assert len(media_urls(bridge)[0]) == 1  # the image went, the PDF did not
    (told,) = slack.wait_for(lambda: ephemerals(slack) or None)
    assert told["user"] == TEAMMATE and told["thread_ts"] == thread
    assert "resume.pdf" in told["text"] and "JPEG, PNG or GIF" in told["text"]
    assert "site.png" not in told["text"]
    assert slack.downloads() == [(photo["id"], 200)]  # the PDF was never fetched


def test_a_file_alone_that_cannot_be_texted_texts_nothing_and_is_told_once(
    bridge: Bridge, slack: FakeSlack, people: None
):
    thread = bridge.open_thread()
    sheet = slack.add_file("shifts.xlsx", b"PK...", "xlsx", mimetype="application/vnd.ms-excel")

    envelope, _ = bridge.teammate_says("", thread, files=[sheet])
    bridge.caretbot.slack_post(envelope, extra_headers={"X-Slack-Retry-Num": "1"})
    bridge.teammate_says("Can you fill in your shifts?", thread)

    bridge.wait_for_texts(1)
    assert [c.params["Body"] for c in bridge.creates()] == [["Can you fill in your shifts?"]]
    (told,) = ephemerals(slack)
    assert "shifts.xlsx" in told["text"] and told["user"] == TEAMMATE


def _media_url(bridge: Bridge, slack: FakeSlack) -> tuple[str, dict[str, Any]]:
    thread = bridge.open_thread()
    file = slack.add_file("badge.png", PNG, "png", mimetype="image/png")
    bridge.teammate_says("Badge", thread, files=[file])
    bridge.wait_for_texts(1)
    ((url,),) = media_urls(bridge)
    return url, file


def test_the_media_url_refuses_a_bad_signature_and_an_expired_link(
    bridge: Bridge, slack: FakeSlack
):
    url, file = _media_url(bridge, slack)
    downloads = len(slack.downloads())
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    path = parts.path

    forged = {**query, "signature": "0" * 64}
    expires_later = {**query, "expires": str(int(query["expires"]) + 3600)}
    other_file = path.replace(file["id"], "F0OTHERFILE")
    http = bridge.caretbot.http
    assert http.get(path, params=query).content == PNG  # the link as sent works
    assert http.get(path, params=forged).status_code == 403
    assert http.get(path, params=expires_later).status_code == 403
    assert http.get(other_file, params=query).status_code == 403
    assert http.get(path).status_code == 403
    expired = file_proxy.signed_url(
        public_url="",
        secret=bridge.caretbot.settings.media_url_secret,
        file_id=file["id"],
        name="badge.png",
        now=time.time() - file_proxy.URL_TTL_SECONDS - 1,
    )
    assert http.get(expired).status_code == 404
    assert len(slack.downloads()) == downloads + 1  # only the good link reached Slack


def test_a_signed_link_to_a_file_that_is_not_an_image_is_not_served(
    bridge: Bridge, slack: FakeSlack
):
    """Even caretbot's own signature does not make it a file proxy for anything else."""
    secret_file = slack.add_file("payroll.csv", b"name,salary", "csv", mimetype="text/csv")
    url = file_proxy.signed_url(
        public_url="",
        secret=bridge.caretbot.settings.media_url_secret,
        file_id=secret_file["id"],
        name="payroll.csv",
    )
    assert bridge.caretbot.http.get(url).status_code == 404
    assert slack.downloads() == []


# Item 3: what is texted, and what never is.


def test_caret_lines_run_as_commands_and_the_other_lines_are_texted(
    bridge: Bridge, slack: FakeSlack, people: None
):
    thread = bridge.open_thread()

    bridge.teammate_says("Thanks, talk soon!\n^close", thread)

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Thanks, talk soon!"
    bridge.wait_for_note(thread, f"Closed by <@{TEAMMATE}>.")
    with bridge.caretbot.db.read() as session:
        assert session.execute(sa.select(Conversation)).scalar_one().status == "closed"

    bridge.teammate_says("^open\nWe reopened your application\n  ^claim\nSee you Monday", thread)
    bridge.wait_for_note(thread, f"Claimed by <@{TEAMMATE}>")
    sent = bridge.wait_for_texts(2)
    assert sent[1]["body"] == "We reopened your application\nSee you Monday"
    assert all("^" not in c.params["Body"][0] for c in bridge.creates())


def test_a_two_line_note_is_never_texted(bridge: Bridge, people: None):
    thread = bridge.open_thread()

    bridge.teammate_says("^note prefers nights\nasked about pay\n\nThanks, talk soon!", thread)

    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Thanks, talk soon!"
    bridge.wait_for_note(thread, "prefers nights\nasked about pay")


def test_mentions_are_texted_as_names_and_emoji_as_emoji(bridge: Bridge, people: None):
    """Display name, else real name; standard shortcodes (with skin tones) become the
    emoji, a workspace's custom one stays as written. (Each text is kept to one UCS-2
    segment: longer replies are the pacing item's.)"""
    thread = bridge.open_thread()

    bridge.teammate_says(f"Ask for <@{SAM}> or <@{LEE}> at the front desk", thread)
    bridge.teammate_says("Congrats :tada: see you Monday :+1::skin-tone-3:", thread)
    bridge.teammate_says(":our-team-logo: Q &amp; A at 5 &lt;3", thread)

    sent = bridge.wait_for_texts(3)
    assert [m["body"] for m in sent] == [
        "Ask for Sammy or Lee Park at the front desk",
        "Congrats 🎉 see you Monday 👍🏼",
        ":our-team-logo: Q & A at 5 <3",
    ]


def test_a_scheduled_text_reads_as_the_teammate_saw_it(bridge: Bridge, people: None):
    thread = bridge.open_thread()

    bridge.teammate_says(f"^at in 2 hours Ask for <@{SAM}> :wave: Q &amp; A", thread)

    bridge.wait_for_note(thread, "scheduled #")
    with bridge.caretbot.db.read() as session:
        (send,) = session.execute(sa.select(ScheduledSend)).scalars().all()
    assert send.text == "Ask for Sammy 👋 Q & A"
    assert bridge.creates() == []


def test_entities_are_decoded_before_a_command_is_parsed(bridge: Bridge, people: None):
    thread = bridge.open_thread()
    db = bridge.caretbot.db
    with db.write() as session:
        lists.ensure_static_list(session=session, name="Nurses & Aides")

    bridge.teammate_says("^list add Nurses &amp; Aides", thread)

    bridge.wait_for_note(thread, 'Added to the list "Nurses & Aides"')
    with db.read() as session:
        info = lists.find_list(session=session, name="Nurses & Aides")
        assert info is not None and lists.list_count(session=session, info=info) == 1
    assert bridge.creates() == []


def test_a_retried_message_with_text_and_commands_does_each_once(bridge: Bridge, people: None):
    thread = bridge.open_thread()
    envelope, _ = bridge.teammate_says("Thanks!\n^note called twice\n^claim", thread)
    bridge.caretbot.slack_post(envelope, extra_headers={"X-Slack-Retry-Num": "1"})
    bridge.teammate_says("Bye", thread)

    bridge.wait_for_texts(2)
    assert [c.params["Body"][0] for c in bridge.creates()] == ["Thanks!", "Bye"]
    bridge.wait_for_note(thread, f"Claimed by <@{TEAMMATE}>")
    assert len([n for n in bridge.notes(thread) if "called twice" in n]) == 1
