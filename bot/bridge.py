"""The SMS <-> Slack rules: what an inbound text, a delivery status or a teammate's
thread message leads to. Webhooks and listeners call these after checking signatures."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from bot.desk import hooks as desk_hooks
from bot.settings import Settings
from bot.sms import twilio_errors
from grammar.keywords import Keyword
from grammar.phones import to_e164
from grammar.slack_text import NameOf, slack_to_plain
from grammar.storable import storable_text
from storage import blasts, conversations, messages
from storage.conversations import Inbound, InboundText, Reply
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

STOP_CONFIRMATION = (
    "You are unsubscribed and will get no more texts from us. Reply START to resubscribe."
)
START_CONFIRMATION = "You are resubscribed and can get texts from us again. Reply STOP to stop."

KEYWORD_NOTES = {
    Keyword.OPT_OUT: "The candidate texted {word}: they are opted out. Nothing will be texted "
    "to them until they text START.",
    Keyword.OPT_IN: "The candidate texted {word}: they have opted back in and can be texted again.",
    Keyword.HELP: "The candidate texted {word} (help). {answer}",
}


class MalformedWebhook(ValueError):
    """A signed webhook without the fields Twilio always sends."""


# Message SIDs are two letters (SM, MM) and 32 hex digits; caretbot keeps up to 64.
_MESSAGE_SID = re.compile(r"[A-Z]{2}[0-9a-fA-F]{32}")
# The number a candidate texted: E.164 (at most 15 digits) or a short code.
_TEAM_NUMBER = re.compile(r"\+?[0-9]{3,15}")
_ERROR_CODE = re.compile(r"[0-9]{1,6}")


def check_sid(sid: str) -> None:
    """Raise MalformedWebhook unless `sid` has the shape of a Twilio Message SID."""
    if not _MESSAGE_SID.fullmatch(sid):
        raise MalformedWebhook("MessageSid is not a Twilio message SID")


def media_of(params: Mapping[str, str]) -> list[dict[str, str]]:
    """The MMS attachments of an inbound webhook (MediaUrl0, MediaContentType0, ...)."""
    try:
        count = int(params.get("NumMedia", "0") or 0)
    except ValueError as error:
        raise MalformedWebhook("NumMedia is not a number") from error
    return [
        {
            "url": params[f"MediaUrl{index}"],
            "content_type": params.get(f"MediaContentType{index}", ""),
        }
        for index in range(count)
        if f"MediaUrl{index}" in params
    ]


def parse_inbound(params: Mapping[str, str]) -> InboundText | None:
    """An inbound webhook's text; None for senders that are not candidates."""
    missing = [name for name in ("MessageSid", "From", "To") if not params.get(name)]
    if missing:
        raise MalformedWebhook(f"missing {', '.join(missing)}")
    check_sid(params["MessageSid"])
    if not _TEAM_NUMBER.fullmatch(params["To"]):
        raise MalformedWebhook("To is not one of Twilio's numbers (E.164 or a short code)")
    phone = to_e164(params["From"])
    if phone is None:
        # Short codes and alphanumeric senders are carriers and services, not candidates.
        log.warning("sms.unknown_sender", sid=params["MessageSid"], sender=params["From"])
        return None
    return InboundText(
        sid=params["MessageSid"],
        phone=phone,
        team_number=params["To"],
        body=storable_text(params.get("Body", "")),
        media=media_of(params),
        opt_out_type=params.get("OptOutType") or None,
    )


def receive_texts(
    db: Database, settings: Settings, texts: Sequence[InboundText]
) -> list[Inbound | None]:
    """Store inbound texts in one transaction; None in place of those already stored."""
    assert settings.SLACK_CHANNEL_ID
    with db.write() as session:
        stored = conversations.record_inbound_batch(
            session=session, texts=list(texts), channel=settings.SLACK_CHANNEL_ID
        )
        for text, inbound in zip(texts, stored, strict=True):
            if inbound is not None and inbound.keyword is not None:
                _answer_keyword(session, settings, inbound, text.body.strip().upper())
        desk_hooks.after_candidate_texts(
            session,
            stored=stored,
            channel=settings.SLACK_CHANNEL_ID,
            cancel_scheduled=settings.CANCEL_SCHEDULED_ON_REPLY,
        )
        _count_blast_engagement(session, settings, texts, stored)
    return stored


def _count_blast_engagement(
    session: Any, settings: Settings, texts: Sequence[InboundText], stored: list[Inbound | None]
) -> None:
    """A reply (not a keyword) counts as replied to the latest blast texts within the
    window; an opt-out word counts as that blast's opt-out."""
    new = [(text, inbound) for text, inbound in zip(texts, stored, strict=True) if inbound]
    now = utcnow()
    blasts.record_replies(
        session=session,
        phones=[text.phone for text, inbound in new if inbound.keyword is None],
        now=now,
        window_days=settings.BLAST_REPLY_WINDOW_DAYS,
    )
    blasts.record_opt_outs(
        session=session,
        phones=[text.phone for text, inbound in new if inbound.keyword == Keyword.OPT_OUT],
        now=now,
    )


def receive_text(db: Database, settings: Settings, params: Mapping[str, str]) -> Inbound | None:
    """Store one inbound text (Twilio's webhook parameters); None if nothing new."""
    text = parse_inbound(params)
    return None if text is None else receive_texts(db, settings, [text])[0]


def _answer_keyword(session: Any, settings: Settings, inbound: Inbound, word: str) -> None:
    assert inbound.keyword is not None and settings.SLACK_CHANNEL_ID
    own_replies = settings.SEND_OPT_OUT_REPLIES
    answer = (
        "caretbot answered with the help text."
        if own_replies
        else "Twilio answers HELP with the account's help reply."
    )
    conversations.add_note(
        session=session,
        conversation_id=inbound.conversation_id,
        channel=settings.SLACK_CHANNEL_ID,
        # Under Advanced Opt-Out the word is the team's own keyword, as the candidate
        # typed it: shown as text, never as Slack markup.
        text=KEYWORD_NOTES[inbound.keyword].format(
            word=word.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;"),
            answer=answer,
        ),
    )
    if not own_replies:
        return
    reply = {
        Keyword.OPT_OUT: STOP_CONFIRMATION,
        Keyword.OPT_IN: START_CONFIRMATION,
        Keyword.HELP: settings.HELP_REPLY,
    }[inbound.keyword]
    conversations.queue_text(
        session=session, conversation_id=inbound.conversation_id, body=reply, compliance=True
    )


# Reactions on the teammate's Slack message as the text moves along.
STATUS_REACTIONS = {"delivered": "white_check_mark", "failed": "x", "undelivered": "x"}


def receive_status(db: Database, params: Mapping[str, str]) -> messages.StatusChange | None:
    """Apply a delivery status callback; None when it changed nothing."""
    sid = params.get("MessageSid")
    status = params.get("MessageStatus") or params.get("SmsStatus")
    if not sid or not status:
        raise MalformedWebhook("missing MessageSid or MessageStatus")
    check_sid(sid)
    code = params.get("ErrorCode") or ""
    # Twilio's error codes are five digits; a longer number would overflow the column.
    if code and not _ERROR_CODE.fullmatch(code):
        raise MalformedWebhook("ErrorCode is not a number")
    error_code = int(code) if code else None
    with db.write() as session:
        change = messages.apply_status(
            session=session, sid=sid, status=status, error_code=error_code
        )
        if change is None:
            return None
        blasts.record_delivery(session=session, sid=sid, status=status, error_code=error_code)
        reaction = STATUS_REACTIONS.get(status)
        if reaction and change.slack_ts:
            conversations.add_reaction(
                session=session,
                conversation_id=change.conversation_id,
                channel=change.channel,
                slack_ts=change.slack_ts,
                name=reaction,
            )
        if status in messages.FAILED_STATUSES:
            if error_code == twilio_errors.OPTED_OUT:
                messages.opt_out(
                    session=session,
                    candidate_id=change.candidate_id,
                    source="carrier",
                    reason="Twilio error 21610",
                )
            conversations.add_note(
                session=session,
                conversation_id=change.conversation_id,
                channel=change.channel,
                text=f"Not delivered: Twilio error {error_code} "
                f"({twilio_errors.explain(error_code)}).",
            )
    return change


# Slack message subtypes that are a person writing (api.slack.com/events/message: every
# other subtype is an edit, a deletion, a bot's post or a system message).
PERSON_SUBTYPES = frozenset({None, "thread_broadcast", "file_share", "me_message"})


def is_teammate_thread_message(event: Mapping[str, Any], bot_user_id: str | None) -> bool:
    """A person's message inside a thread: the only kind texted to a candidate.

    A thread reply is recognised by its thread_ts (present and different from its ts),
    not by the absence of a subtype: "Also send to channel" (thread_broadcast) and a
    reply with files (file_share) are replies too. Not texted: edits and deletions
    (message_changed, message_deleted), bots (bot_id, bot_message, caretbot itself),
    system messages (channel_join, ...), top-level channel messages.
    """
    if event.get("type") != "message" or event.get("bot_id"):
        return False
    if event.get("subtype") not in PERSON_SUBTYPES:
        return False
    user = event.get("user")
    if not user or user == bot_user_id:
        return False
    thread_ts = event.get("thread_ts")
    return bool(thread_ts) and thread_ts != event.get("ts")


def receive_teammate_message(
    db: Database,
    *,
    event_id: str,
    event: Mapping[str, Any],
    text: str | None = None,
    name_of: NameOf | None = None,
    media: Sequence[Mapping[str, str]] = (),
    autoclaim: bool = False,
) -> Reply | None:
    """Text a teammate's thread message to the candidate; None for a retried event.

    `text` is the message's lines to send (without its caret lines; the whole text
    when None), in Slack's markup: it is texted as the teammate saw it (mentions as
    names via `name_of`, emoji, links, entities decoded). `media` are images to send
    with it as MMS. With `autoclaim`, the reply also claims the conversation if nobody
    holds it.
    """
    raw = event.get("text", "") if text is None else text
    with db.write() as session:
        reply = conversations.record_teammate_reply(
            session=session,
            event_id=event_id,
            channel=event["channel"],
            thread_ts=event["thread_ts"],
            ts=event["ts"],
            user=event["user"],
            text=slack_to_plain(raw, name_of=name_of),
            media=[dict(item) for item in media],
        )
        if (
            autoclaim
            and reply is not None
            and desk_hooks.autoclaim(
                session, reply=reply, user=event["user"], channel=event["channel"]
            )
        ):
            reply = dataclasses.replace(reply, claimed=True)
        return reply
