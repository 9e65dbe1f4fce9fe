"""Slack's message markup turned into the plain text a candidate's phone shows.

Slack escapes &, < and > and wraps links, mentions and emails in angle brackets
(`<https://x.co|our site>`, `<mailto:a@b.co|a@b.co>`, `<@U123|dana>`); an SMS must carry
what the teammate saw, not the markup.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

_ANGLE = re.compile(r"<([^<>|]+)(?:\|([^<>]*))?>")


def _replace(match: re.Match[str]) -> str:
    target, label = match.group(1), match.group(2)
    if target.startswith(("@", "#")):
        return f"{target[0]}{label}" if label else target
    if target.startswith("!"):  # <!here>, <!channel>, <!date^...|fallback>
        return label or f"@{target[1:].split('^')[0]}"
    for scheme in ("mailto:", "tel:", "sms:"):
        if target.startswith(scheme):
            return label or target.removeprefix(scheme)
    if label and label != target and label not in target:
        return f"{label} ({target})"
    return label or target


def slack_to_plain(text: str) -> str:
    """The text a teammate typed in Slack, as it should read in an SMS."""
    text = _ANGLE.sub(_replace, text)
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def escape(text: str) -> str:
    """Text from outside (a candidate's SMS, an imported name) made safe for Slack mrkdwn.

    Slack reads `<...>` as control sequences (`<!channel>` notifies everyone,
    `<https://evil.example|yourbank.com>` disguises a link) and `&` starts an entity;
    escaping exactly these three shows the text as it was written ("Formatting text
    for app surfaces: Escaping text", api.slack.com).
    """
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_time(moment: datetime) -> str:
    """A time each reader sees in their own Slack time zone (UTC where it cannot render)."""
    fallback = moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} {{time}}|{fallback}>"
