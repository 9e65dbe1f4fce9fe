"""caretbot's App Home tab: what waits for each person, built from sections.

`build_home` lays out a filter select and the sections that the person's filter shows;
each section is a `HomeSection` in `SECTIONS` (title, the filters that show it, who sees
it, and a function from the board to rows), so a new section (the last blasts, the
push's rules) is one more entry. Rows link to their conversation's thread and carry the
wait's age: a coloured marker (green under 12 h, yellow under 24 h, red older) and
"3 h ago".

Guests (people `^invite`d into a conversation, not in the team's channel) see only the
conversations they are guests of. A Home tab holds at most 100 blocks
(https://api.slack.com/reference/surfaces/views); the sections share them and say how
many rows they left out. Everything is built with slack_sdk's Block Kit models, which
check Slack's limits as they render.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from slack_sdk.models.blocks import (
    ActionsBlock,
    Block,
    ContextBlock,
    DividerBlock,
    HeaderBlock,
    MarkdownTextObject,
    Option,
    SectionBlock,
    StaticSelectElement,
)
from slack_sdk.models.views import View

from bot.slack import cards
from bot.slack.roles import Role
from grammar.slack_text import slack_time
from storage.board import BoardRow, PendingSend

FILTER_ACTION = "home.filter"
FILTER_LABELS = {
    "all": "Everything",
    "waiting": "Waiting",
    "claimed": "Claimed by me",
    "unclaimed": "Unclaimed",
    "assigned": "Assigned to me",
}
VIEW_BLOCKS = 100
# The wait's age: under 12 h, under 24 h, older (Slack emoji names).
AGE_MARKERS = (
    (timedelta(hours=12), ":large_green_circle:"),
    (timedelta(hours=24), ":large_yellow_circle:"),
)
OLDEST_MARKER = ":red_circle:"

Link = Callable[[str, str], str]


@dataclass(frozen=True)
class HomeData:
    """What one person's Home tab is built from: their role and filter, the board (open
    conversations), their pending sends, the time, and how to link to a thread."""

    user: str
    role: Role
    filter: str
    now: datetime
    rows: Sequence[BoardRow]
    sends: Sequence[PendingSend]
    link: Link
    team_channel: str = ""
    # What sections added later read (the last blasts, the push's rules), by their key.
    extra: dict[str, Any] = field(default_factory=dict)

    def visible(self) -> list[BoardRow]:
        """The rows this person may see: all for the team, their own for a guest."""
        if self.role in ("manager", "member"):
            return list(self.rows)
        return [row for row in self.rows if self.user in row.guests]

    def mine(self, row: BoardRow) -> bool:
        return row.claimed_by == self.user or self.user in row.assignees


@dataclass(frozen=True)
class HomeSection:
    """One section of the Home tab: shown under the filters in `filters`, to managers
    only when `managers_only`; `lines` gives its rows as mrkdwn, `empty` when none."""

    key: str
    title: str
    filters: frozenset[str]
    lines: Callable[[HomeData], list[str]]
    empty: str
    managers_only: bool = False


def escape(text: str) -> str:
    """Text from outside shown as typed in mrkdwn: Slack's three escapes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def ago(delta: timedelta) -> str:
    """timedelta(hours=3, minutes=10) -> "3 h ago"; "just now" under a minute."""
    seconds = max(0, int(delta.total_seconds()))
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} d ago"


def age_marker(delta: timedelta) -> str:
    """The coloured marker of a wait: green under 12 h, yellow under 24 h, red older."""
    for limit, marker in AGE_MARKERS:
        if delta < limit:
            return marker
    return OLDEST_MARKER


def row_name(name: str | None, phone: str) -> str:
    return escape(name) if name else cards.display_phone(phone)


def conversation_line(row: BoardRow, data: HomeData, *, waiting: bool) -> str:
    """One conversation: marker and age when it waits, its name linked to the thread,
    who holds it and who is assigned."""
    parts = []
    link = data.link(row.channel, row.thread_ts)
    title = f"*<{link}|{row_name(row.name, row.phone)}>*"
    if waiting and row.waiting_since is not None:
        waited = data.now - row.waiting_since
        parts.append(f"{age_marker(waited)} {title} · waiting {ago(waited)}")
    else:
        parts.append(title)
    if row.claimed_by:
        parts.append(f"claimed by <@{row.claimed_by}>")
    if row.assignees:
        parts.append(f"assigned to {cards.mentions(list(row.assignees))}")
    return " · ".join(parts)


def _waiting_for_you(data: HomeData) -> list[str]:
    return [
        conversation_line(row, data, waiting=True)
        for row in data.visible()
        if row.waiting_since is not None and data.mine(row)
    ]


def _waiting_for_team(data: HomeData) -> list[str]:
    return [
        conversation_line(row, data, waiting=True)
        for row in data.visible()
        if row.waiting_since is not None and not data.mine(row)
    ]


def _claimed_by_you(data: HomeData) -> list[str]:
    return [
        conversation_line(row, data, waiting=True)
        for row in data.visible()
        if row.claimed_by == data.user
    ]


def _assigned_to_you(data: HomeData) -> list[str]:
    return [
        conversation_line(row, data, waiting=True)
        for row in data.visible()
        if data.user in row.assignees
    ]


def _unclaimed(data: HomeData) -> list[str]:
    return [
        conversation_line(row, data, waiting=True)
        for row in data.visible()
        if row.claimed_by is None
    ]


def _your_sends(data: HomeData) -> list[str]:
    lines = []
    for send in data.sends:
        if send.created_by != data.user:
            continue
        name = row_name(send.name, send.phone)
        title = f"<{data.link(send.channel, send.thread_ts)}|{name}>" if send.thread_ts else name
        text = escape(send.text if len(send.text) <= 120 else send.text[:119] + "…")
        lines.append(f":alarm_clock: {slack_time(send.send_at)} to *{title}* (#{send.id}): {text}")
    return lines


SECTIONS: tuple[HomeSection, ...] = (
    HomeSection(
        "waiting_for_you",
        "Waiting for you",
        frozenset({"all", "waiting"}),
        _waiting_for_you,
        "Nothing waits for you.",
    ),
    HomeSection(
        "waiting_for_team",
        "Waiting for the team",
        frozenset({"all", "waiting"}),
        _waiting_for_team,
        "Nothing waits for the team.",
    ),
    HomeSection(
        "claimed_by_you",
        "Claimed by you",
        frozenset({"all", "claimed"}),
        _claimed_by_you,
        "You hold no open conversation.",
    ),
    HomeSection(
        "assigned_to_you",
        "Assigned to you",
        frozenset({"assigned"}),
        _assigned_to_you,
        "No open conversation is assigned to you.",
    ),
    HomeSection(
        "unclaimed",
        "Unclaimed",
        frozenset({"all", "unclaimed"}),
        _unclaimed,
        "Every open conversation is claimed.",
    ),
    HomeSection(
        "your_sends",
        "Your scheduled sends",
        frozenset({"all"}),
        _your_sends,
        "You have no scheduled sends.",
    ),
)


def filter_select(current: str) -> ActionsBlock:
    """The select that changes which sections the tab shows."""
    options = [Option(text=label, value=value) for value, label in FILTER_LABELS.items()]
    chosen = next(option for option in options if option.value == current)
    return ActionsBlock(
        block_id="home.filters",
        elements=[
            StaticSelectElement(
                action_id=FILTER_ACTION,
                placeholder="Show",
                options=options,
                initial_option=chosen,
            )
        ],
    )


def sections_for(data: HomeData) -> list[HomeSection]:
    return [
        section
        for section in SECTIONS
        if data.filter in section.filters and (not section.managers_only or data.role == "manager")
    ]


def build_home(data: HomeData) -> dict[str, Any]:
    """The Home tab's view (views.publish's `view`) for one person."""
    shown = sections_for(data)
    intro = (
        "Conversations waiting for a reply, who holds what, and your scheduled sends. "
        "Open a conversation's thread to reply; `/caretbot help` lists the rest."
    )
    if data.role not in ("manager", "member"):
        intro = (
            "You see the conversations you were invited to. The team's desk is for the "
            f"people in <#{data.team_channel}>."
        )
    blocks: list[Block] = [
        SectionBlock(text=MarkdownTextObject(text=intro)),
        filter_select(data.filter if data.filter in FILTER_LABELS else "all"),
    ]
    budget = VIEW_BLOCKS - len(blocks) - 1  # the closing "Updated" line
    per_section = max(3, budget // max(1, len(shown)) - 3)
    for section in shown:
        lines = section.lines(data)
        blocks += [DividerBlock(), HeaderBlock(text=f"{section.title} ({len(lines)})")]
        if not lines:
            blocks.append(ContextBlock(elements=[MarkdownTextObject(text=section.empty)]))
            continue
        blocks += [SectionBlock(text=MarkdownTextObject(text=line)) for line in lines[:per_section]]
        if len(lines) > per_section:
            more = len(lines) - per_section
            blocks.append(
                ContextBlock(
                    elements=[
                        MarkdownTextObject(
                            text=f"… and {more} more (`/caretbot waiting` lists what waits)."
                        )
                    ]
                )
            )
    blocks.append(
        ContextBlock(elements=[MarkdownTextObject(text=f"Updated {slack_time(data.now)}")])
    )
    return View(type="home", callback_id="home", blocks=blocks[:VIEW_BLOCKS]).to_dict()


def digest(view: dict[str, Any]) -> str:
    """What the view shows, as a short digest: a home is published again only when it
    changes. The "Updated" line is left out, or every view would differ."""
    shown = [block for block in view["blocks"][:-1]]
    return hashlib.sha256(json.dumps(shown, sort_keys=True).encode()).hexdigest()[:32]
