"""What a candidate texts, and what an import says about them, is shown in Slack exactly
as written: it can never mention, notify or link anything it did not literally say
(issue 7, item 4). Asserted on what the Slack fake received."""

from __future__ import annotations

import html
import os
import re
import subprocess
from pathlib import Path
from typing import Any

from bot.sandbox.signing import slack_message_event
from bot.sandbox.slack_api import FakeSlack, Post
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot

HOSTILE_TEXT = "<!channel> call me <https://evil.example|https://yourbank.com> & *now*"
# What Slack would act on in mrkdwn: <!here>, <!channel>, <@U1>, <#C1>, <https://...|...>.
CONTROL = re.compile(r"<[!@#]|<[a-z][a-z0-9+.-]*:", re.IGNORECASE)


def mrkdwn_of(post: Post) -> list[str]:
    """Every string of the post that Slack reads as mrkdwn: `text` and mrkdwn objects."""
    found = [post.text]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if node.get("type") == "mrkdwn":
                found.append(node["text"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(post.params.get("blocks") or [])
    return found


def plain_texts(post: Post) -> list[str]:
    return [
        block["text"]["text"]
        for block in post.params.get("blocks") or []
        if block.get("text", {}).get("type") == "plain_text"
    ]


def test_a_hostile_text_is_shown_as_typed_and_pings_or_links_nothing(bridge: Bridge):
    thread = bridge.open_thread("Hello")
    response = bridge.text_in(HOSTILE_TEXT)
    assert response.status_code == 200

    post = bridge.slack.wait_for(
        lambda: next((p for p in bridge.slack.posts(CHANNEL, thread) if "evil" in p.text), None)
    )
    for text in mrkdwn_of(post):
        assert not CONTROL.search(text), text
    # The notification reads as typed once Slack decodes its entities...
    assert html.unescape(post.text) == HOSTILE_TEXT
    assert "&lt;!channel&gt;" in post.text
    # ...and the message itself is plain text: no mrkdwn, no :shortcode: to emoji.
    assert plain_texts(post) == [HOSTILE_TEXT]
    (block,) = post.params["blocks"]
    assert block["text"]["emoji"] is False
    assert post.params.get("unfurl_links") is False


def test_a_long_text_is_shown_whole(bridge: Bridge):
    body = ("“Quoted” <b>bold</b> & ünïcode 🎉 " * 120).strip()
    thread = bridge.open_thread("Hello")
    bridge.text_in(body)
    post = bridge.slack.wait_for(
        lambda: next((p for p in bridge.slack.posts(CHANNEL, thread) if "ünïcode" in p.text), None)
    )
    assert len(body) > 3000
    assert "".join(plain_texts(post)) == body
    assert html.unescape(post.text) == body


def test_a_hostile_imported_name_and_fields_are_shown_as_written_on_the_card(
    bridge: Bridge, tmp_path: Path
):
    """Imported with `caretbot import` as a user types it; the candidate then texts in,
    and the card that roots the thread shows every field literally."""
    first, last = "<!channel>", "Eve <https://evil.example|Your Bank>"
    email = "eve@example.com"
    city = "<@U0BOSS> & <#C0GENERAL>"
    sheet = tmp_path / "hostile.csv"
    sheet.write_text(
        "first_name,last_name,phone,email,opt_in,city\n"
        f'"{first}","{last}",{CANDIDATE},{email},yes,"{city}"\n',
        encoding="utf-8",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "TWILIO_"))}
    env["DATABASE_URL"] = bridge.caretbot.settings.DATABASE_URL
    result = subprocess.run(
        ["caretbot", "import", str(sheet)],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr + result.stdout

    thread = bridge.open_thread("Hi, it's me")
    root = next(p for p in bridge.slack.posts(CHANNEL) if p.ts == thread)
    for text in mrkdwn_of(root):
        assert not CONTROL.search(text), text
    shown = [html.unescape(t) for t in mrkdwn_of(root)]
    assert f"New conversation with {first} {last}" in shown
    assert f"*Location*\n{city}" in shown
    header = root.params["blocks"][0]["text"]
    assert header == {"type": "plain_text", "text": f"{first} {last}", "emoji": False}
    # The candidate's texts carry their name as the poster: a plain username, not mrkdwn.
    reply = bridge.slack.posts(CHANNEL, thread)[0]
    assert reply.params["username"] == f"{first} {last}"


def test_cells_of_an_imported_file_quoted_in_slack_ping_or_link_nothing(
    caretbot: Caretbot, slack: FakeSlack
):
    """An import's summary quotes rejected cells: shown as written, never as markup."""
    slack.add_user(TEAMMATE, real_name="Dana Reyes", tz="America/Chicago")
    sheet = (
        b"first_name,last_name,phone,email,opt_in\n"
        b"Eve,Hacker,<!channel> <https://evil.example|call>,eve@example.com,yes\n"
    )
    file = slack.add_file("hostile.csv", sheet, "csv", user=TEAMMATE, mimetype="text/csv")
    envelope = slack_message_event(CHANNEL, TEAMMATE, "^import", files=[file])
    assert caretbot.slack_post(envelope).status_code == 200

    upload_ts = envelope["event"]["ts"]
    summary = slack.wait_for(
        lambda: next(
            (p for p in slack.posts(CHANNEL, upload_ts) if "import summary" in p.text), None
        ),
        timeout=10,
    )
    assert "rejected: 1" in summary.text
    for text in mrkdwn_of(summary):
        assert not CONTROL.search(text), text
    assert "<!channel> <https://evil.example|call>" in html.unescape(summary.text)
