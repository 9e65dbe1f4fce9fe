"""Slack markup becomes what the teammate saw before it is texted."""

from __future__ import annotations

import pytest

from grammar.slack_text import slack_to_plain


@pytest.mark.parametrize(
    ("slack", "sms"),
    [
        ("Hi there", "Hi there"),
        ("Salary &gt; $50k &amp; benefits &lt;3", "Salary > $50k & benefits <3"),
        ("Apply at <https://jobs.example.com/123>", "Apply at https://jobs.example.com/123"),
        ("Apply <https://jobs.example.com/1|here>", "Apply here (https://jobs.example.com/1)"),
        ("See <https://example.com|example.com>", "See example.com"),
        ("Mail <mailto:dana@example.com|dana@example.com>", "Mail dana@example.com"),
        ("Call <tel:+15125550100|512-555-0100>", "Call 512-555-0100"),
        ("Ask <@U123|dana>", "Ask @dana"),
        ("<!here> heads up", "@here heads up"),
        ("Line one\nline two", "Line one\nline two"),
    ],
)
def test_slack_markup_reads_as_the_teammate_saw_it(slack: str, sms: str) -> None:
    assert slack_to_plain(slack) == sms
