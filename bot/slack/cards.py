"""Block Kit views: the candidate card that roots a thread, inbound texts, notes.

Whatever came from outside (a candidate's text, names and fields from an import) is
shown exactly as written: escaped in mrkdwn (`escape`), or in plain_text objects with
emoji shortcodes left alone, so it can never mention, notify or link anything.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers

from grammar.slack_text import escape, slack_time
from storage.desk_models import ScheduledSend
from storage.models import Candidate, Conversation, Message


def display_phone(phone: str) -> str:
    """+15125550100 -> +1 512-555-0100, as a recruiter reads it."""
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return phone
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.INTERNATIONAL)


def display_name(candidate: Candidate) -> str:
    """The candidate's name, or their phone number while no name is known."""
    name = " ".join(part for part in (candidate.first_name, candidate.last_name) if part)
    return name or display_phone(candidate.phone)


def mentions(user_ids: list[str]) -> str:
    """<@U1>, <@U2>: Slack shows each as the person's name."""
    return ", ".join(f"<@{user_id}>" for user_id in user_ids)


def candidate_card(
    candidate: Candidate,
    conversation: Conversation,
    *,
    next_send: ScheduledSend | None = None,
    blast: str | None = None,
) -> tuple[str, list[dict]]:
    """The thread's root: who the candidate is and where the conversation stands
    (open or closed, assignees, who holds it, guests, the next scheduled send, the blast
    they were last texted)."""
    name = display_name(candidate)
    facts = _contact_facts(candidate)
    closed = conversation.status == "closed"
    facts.append(f"*Status*\n{':lock: closed' if closed else 'open'}")
    if candidate.opted_out:
        facts.append("*Texts*\n:no_entry: opted out")
    if conversation.assignees:
        facts.append(f"*Assigned*\n{mentions(conversation.assignees)}")
    if conversation.claimed_by:
        facts.append(f"*Claimed by*\n<@{conversation.claimed_by}>")
    if conversation.guests:
        facts.append(f"*Guests*\n{mentions(conversation.guests)}")
    if blast is not None:
        facts.append(f"*Blast*\n{blast}")
    if next_send is not None:
        facts.append(f"*Next send*\n{slack_time(next_send.send_at)} (#{next_send.id})")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(name[:150])},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Conversation {conversation.id} with {display_phone(conversation.team_number)}. "
                    "Reply in this thread to text the candidate; lines starting with ^ are "
                    "commands (^help).",
                }
            ],
        },
    ]
    return f"New conversation with {escape(name)}", blocks


def stars(count: int) -> str:
    """4 -> ★★★★☆."""
    return "★" * count + "☆" * (5 - count)


def delivery_card(
    candidate: Candidate,
    *,
    status: str | None,
    rating: int | None,
    summary: str | None,
    delivered_by: str,
    at: datetime,
) -> tuple[str, list[dict[str, Any]]]:
    """The DM that hands a candidate to someone (^deliver)."""
    name = display_name(candidate)
    facts = _contact_facts(candidate)
    if status:
        facts.append(f"*Status*\n{escape(status)}")
    if rating:
        facts.append(f"*Rating*\n{stars(rating)}")
    facts.append(f"*Delivered by*\n<@{delivered_by}>, {slack_time(at)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": _plain(f"Candidate: {name}"[:150])},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
    ]
    if summary:
        blocks.append({"type": "section", "text": _plain(summary[:3000])})
    return f"<@{delivered_by}> delivered {escape(name)} to you", blocks


def inbound_text(message: Message) -> tuple[str, list[dict[str, Any]]]:
    """A candidate's text as a thread reply, exactly as typed; media as images or links.

    The body goes in plain_text sections (3,000 characters each, Block Kit's limit), so
    `<!channel>` or `*bold*` is shown, never acted on; `text` (the notification) is the
    same body escaped.
    """
    body = message.body or ""
    text = escape(body) if body else ("(media)" if message.media else "(empty text)")
    blocks: list[dict[str, Any]] = [
        {"type": "section", "text": _plain(body[start : start + PLAIN_TEXT_LIMIT])}
        for start in range(0, len(body), PLAIN_TEXT_LIMIT)
    ]
    if not body and not message.media:
        blocks.append({"type": "section", "text": _plain(text)})
    links = []
    for index, item in enumerate(message.media, start=1):
        if item.get("content_type", "").startswith("image/"):
            blocks.append(
                {"type": "image", "image_url": item["url"], "alt_text": f"attachment {index}"}
            )
        else:
            kind = escape(item.get("content_type") or "file")
            links.append(f"<{item['url']}|attachment {index} ({kind})>")
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)}})
    return text, blocks


PLAIN_TEXT_LIMIT = 3000


def _plain(text: str) -> dict[str, Any]:
    """A plain_text object that shows `text` as written (no :shortcode: to emoji)."""
    return {"type": "plain_text", "text": text, "emoji": False}


def _contact_facts(candidate: Candidate) -> list[str]:
    """Phone, e-mail and place as card fields; imported values escaped for mrkdwn."""
    facts = [f"*Phone*\n{escape(display_phone(candidate.phone))}"]
    if candidate.email:
        facts.append(f"*Email*\n{escape(candidate.email)}")
    place = ", ".join(p for p in (candidate.city, candidate.state, candidate.country) if p)
    if place:
        facts.append(f"*Location*\n{escape(place)}")
    return facts


def note(text: str) -> str:
    """caretbot's own remark in a thread, set apart from the conversation."""
    return f":information_source: {text}"


# The card's buttons (bot/slack/actions.py answers them). Built apart from
# candidate_card so the card's facts and its controls change independently.
CARD_ACTIONS_BLOCK = "desk"
ACTION_CLAIM = "desk.claim"
ACTION_UNCLAIM = "desk.unclaim"
ACTION_ASSIGN = "desk.assign"
ACTION_CLOSE = "desk.close"
ACTION_REOPEN = "desk.reopen"
ACTION_MORE = "desk.more"
MORE_OPT_OUT = "opt_out"
MORE_OPT_IN = "opt_in"
MORE_LIST_ADD = "list_add"


def card_actions(candidate: Candidate, conversation: Conversation) -> dict[str, Any]:
    """The candidate card's actions block: Claim or Unclaim, Assign (a users select),
    Close or Reopen, and an overflow with Opt out (Opt in once opted out) and Add to list.

    Each element's `value` is the conversation id; the buttons show the state the
    conversation is in, so the card offers what can be done next.
    """
    from slack_sdk.models.blocks import (
        ActionsBlock,
        ButtonElement,
        Option,
        OverflowMenuElement,
        UserSelectElement,
    )

    value = str(conversation.id)
    claim = (
        ButtonElement(text="Unclaim", action_id=ACTION_UNCLAIM, value=value)
        if conversation.claimed_by
        else ButtonElement(text="Claim", action_id=ACTION_CLAIM, value=value, style="primary")
    )
    closed = conversation.status == "closed"
    close = ButtonElement(
        text="Reopen" if closed else "Close",
        action_id=ACTION_REOPEN if closed else ACTION_CLOSE,
        value=value,
    )
    opt = (
        Option(text="Opt in", value=f"{MORE_OPT_IN}:{value}")
        if candidate.opted_out
        else Option(text="Opt out", value=f"{MORE_OPT_OUT}:{value}")
    )
    return ActionsBlock(
        block_id=CARD_ACTIONS_BLOCK,
        elements=[
            claim,
            UserSelectElement(placeholder="Assign…", action_id=ACTION_ASSIGN),
            close,
            OverflowMenuElement(
                action_id=ACTION_MORE,
                options=[opt, Option(text="Add to list…", value=f"{MORE_LIST_ADD}:{value}")],
            ),
        ],
    ).to_dict()
