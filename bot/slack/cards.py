"""Block Kit views: the candidate card that roots a thread, inbound texts, notes."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import phonenumbers

from grammar.slack_text import slack_time
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
    facts = [f"*Phone*\n{display_phone(candidate.phone)}"]
    if candidate.email:
        facts.append(f"*Email*\n{candidate.email}")
    place = ", ".join(p for p in (candidate.city, candidate.state, candidate.country) if p)
    if place:
        facts.append(f"*Location*\n{place}")
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
        {"type": "header", "text": {"type": "plain_text", "text": name[:150]}},
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
    return f"New conversation with {name}", blocks


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
    facts = [f"*Phone*\n{display_phone(candidate.phone)}"]
    if candidate.email:
        facts.append(f"*Email*\n{candidate.email}")
    place = ", ".join(p for p in (candidate.city, candidate.state, candidate.country) if p)
    if place:
        facts.append(f"*Location*\n{place}")
    if status:
        facts.append(f"*Status*\n{status}")
    if rating:
        facts.append(f"*Rating*\n{stars(rating)}")
    facts.append(f"*Delivered by*\n<@{delivered_by}>, {slack_time(at)}")
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": f"Candidate: {name}"[:150]}},
        {"type": "section", "fields": [{"type": "mrkdwn", "text": f} for f in facts]},
    ]
    if summary:
        blocks.append({"type": "section", "text": {"type": "plain_text", "text": summary[:3000]}})
    return f"<@{delivered_by}> delivered {name} to you", blocks


def inbound_text(message: Message) -> tuple[str, list[dict[str, Any]] | None]:
    """A candidate's text as a thread reply; media as images or links."""
    text = message.body or ("(media)" if message.media else "(empty text)")
    if not message.media:
        return text, None
    blocks: list[dict[str, Any]] = []
    if message.body:
        blocks.append(
            {"type": "section", "text": {"type": "plain_text", "text": message.body[:3000]}}
        )
    links = []
    for index, item in enumerate(message.media, start=1):
        if item.get("content_type", "").startswith("image/"):
            blocks.append(
                {"type": "image", "image_url": item["url"], "alt_text": f"attachment {index}"}
            )
        else:
            links.append(f"<{item['url']}|attachment {index} ({item.get('content_type', 'file')})>")
    if links:
        blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(links)}})
    return text, blocks


def note(text: str) -> str:
    """caretbot's own remark in a thread, set apart from the conversation."""
    return f":information_source: {text}"
