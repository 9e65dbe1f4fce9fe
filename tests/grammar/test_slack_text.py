"""Slack markup becomes what the teammate saw before it is texted; outside text is
escaped before Slack shows it; a message splits into its commands and its text."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from grammar import ListAdd, MessagePart, Note, parse_command, split_message
from grammar.slack_text import decode_entities, escape, shortcode_to_emoji, slack_to_plain

NAMES = {"U0SAM": "Sam", "U0DANA": "Dana Reyes"}


@pytest.mark.parametrize(
    ("slack", "sms"),
    [
        ("Hi there", "Hi there"),
        ("Salary &gt; $50k &amp; benefits &lt;3", "Salary > $50k & benefits <3"),
        ("&amp;lt; is how Slack writes &lt;", "&lt; is how Slack writes <"),  # decoded once
        ("Apply at <https://jobs.example.com/123>", "Apply at https://jobs.example.com/123"),
        ("Apply <https://jobs.example.com/1|here>", "Apply here (https://jobs.example.com/1)"),
        ("<https://x.co/?a=1&amp;b=2|Q &amp; A>", "Q & A (https://x.co/?a=1&b=2)"),
        ("See <https://example.com|example.com>", "See example.com"),
        ("Mail <mailto:dana@example.com|dana@example.com>", "Mail dana@example.com"),
        ("Call <tel:+15125550100|512-555-0100>", "Call 512-555-0100"),
        ("Ask for <@U0SAM> at the front desk", "Ask for Sam at the front desk"),
        ("<@U0DANA|dana> will call", "Dana Reyes will call"),
        ("Ask <@U123|dana>", "Ask dana"),  # Slack could not say: the mention's label
        ("Ask <@U123>", "Ask @U123"),
        ("in <#C0JOBS|jobs>", "in #jobs"),
        ("<!here> heads up", "@here heads up"),
        ("Line one\nline two", "Line one\nline two"),
        ("Congrats :tada: see you Monday :+1:", "Congrats 🎉 see you Monday 👍"),
        ("Nice :+1::skin-tone-3: :wave::skin-tone-6:", "Nice 👍🏼 👋🏿"),
        (":point_up::skin-tone-2:", "☝🏻"),
        (":heart: :slightly_smiling_face: :white_check_mark: :100:", "❤️ 🙂 ✅ 💯"),
        (":flag-us: :man-woman-boy:", "🇺🇸 👨\u200d👩\u200d👦"),
        (":partyparrot: and :our-logo::skin-tone-3:", ":partyparrot: and :our-logo::skin-tone-3:"),
        ("at 10:30:tada: sharp", "at 10:30🎉 sharp"),
        ("ratio 3:2:1", "ratio 3:2:1"),
    ],
)
def test_slack_markup_reads_as_the_teammate_saw_it(slack: str, sms: str) -> None:
    assert slack_to_plain(slack, name_of=NAMES.get) == sms


@pytest.mark.parametrize(
    ("name", "tone", "char"),
    [("+1", None, "👍"), ("thumbsup", None, "👍"), ("+1", "3", "👍🏼"), ("tada", "4", "🎉")],
)
def test_shortcodes_come_from_the_emoji_package_table(
    name: str, tone: str | None, char: str
) -> None:
    assert shortcode_to_emoji(name, tone) == char


def test_escape_shows_outside_text_literally_in_slack() -> None:
    hostile = "<!channel> call me <https://evil.example|https://yourbank.com> & more"
    escaped = escape(hostile)
    assert "<" not in escaped and ">" not in escaped
    assert decode_entities(escaped) == hostile


NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("slack", "command"),
    [
        ("^list add Nurses &amp; Aides", ListAdd("Nurses & Aides")),
        ("^list add &lt;Night&gt; nurses", ListAdd("<Night> nurses")),
        ("^note salary &gt; $50k &amp; nights", Note("salary > $50k & nights")),
    ],
)
def test_entities_are_decoded_before_any_command_is_parsed(slack: str, command: object) -> None:
    assert parse_command(slack, now=NOW, tz="UTC") == command


def test_at_text_is_decoded_once() -> None:
    command = parse_command("^at in 20 min Q &amp; A, &amp;lt;3", now=NOW, tz="UTC")
    assert command.text == "Q & A, &lt;3"  # type: ignore[union-attr]


T, C = "text", "command"


@pytest.mark.parametrize(
    ("message", "parts"),
    [
        ("Thanks, talk soon!\n^close", [(T, "Thanks, talk soon!"), (C, "^close")]),
        ("^close\nThanks, talk soon!", [(C, "^close"), (T, "Thanks, talk soon!")]),
        ("Hi\n  ^claim\nsee you Monday", [(T, "Hi\nsee you Monday"), (C, "  ^claim")]),
        ("^claim\n^close", [(C, "^claim"), (C, "^close")]),
        ("^claim", [(C, "^claim")]),
        ("Just text", [(T, "Just text")]),
        ("", []),
        ("\n \n", []),
        ("a ^ in the middle\n2^3", [(T, "a ^ in the middle\n2^3")]),
        # free-text commands keep their continuation lines, up to a blank or a caret line
        ("^note prefers nights\nfrom January", [(C, "^note prefers nights\nfrom January")]),
        (
            "^note prefers nights\nfrom January\n\nThanks, talk soon!",
            [(C, "^note prefers nights\nfrom January"), (T, "Thanks, talk soon!")],
        ),
        (
            "^at tomorrow 9am Line one\nLine two\n^close",
            [(C, "^at tomorrow 9am Line one\nLine two"), (C, "^close")],
        ),
        ("^claim\nsee you", [(C, "^claim"), (T, "see you")]),
    ],
)
def test_a_message_splits_into_its_commands_and_its_text(
    message: str, parts: list[tuple[str, str]]
) -> None:
    assert split_message(message) == [MessagePart(kind, text) for kind, text in parts]  # type: ignore[arg-type]
