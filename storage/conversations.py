"""Conversations: texts in and out, each stored in one transaction with its outbox work.

These are the hot paths of the bridge (every webhook and every teammate reply), so
they speak SQLAlchemy Core: a handful of indexed statements, no ORM objects.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from grammar.keywords import Keyword, keyword_of
from storage import outbox
from storage.models import (
    Candidate,
    Conversation,
    Message,
    ProcessedSlackEvent,
    utcnow,
)

_candidates = Candidate.__table__  # type: ignore[attr-defined]
_conversations = Conversation.__table__  # type: ignore[attr-defined]
_messages = Message.__table__  # type: ignore[attr-defined]
_events = ProcessedSlackEvent.__table__  # type: ignore[attr-defined]

# Outbox kinds. Slack work runs in one lane per conversation so a thread keeps its order.
POST_INBOUND = "slack.post_inbound"
POST_NOTE = "slack.note"
ADD_REACTION = "slack.reaction"
SEND_SMS = "twilio.send"
SLACK_KINDS = frozenset({POST_INBOUND, POST_NOTE, ADD_REACTION})
TWILIO_KINDS = frozenset({SEND_SMS})


def slack_lane(conversation_id: int) -> str:
    return f"slack:conversation:{conversation_id}"


def sms_lane(conversation_id: int) -> str:
    return f"sms:conversation:{conversation_id}"


def slack_pace(channel: str) -> str:
    return f"slack:{channel}"


def sms_pace(team_number: str) -> str:
    return f"twilio:{team_number}"


@dataclass(frozen=True)
class Inbound:
    """What a stored inbound text led to."""

    message_id: int
    conversation_id: int
    new_conversation: bool
    keyword: Keyword | None


@dataclass(frozen=True)
class Reply:
    """What a teammate's thread message led to: `sent` (queued), `blocked` or `ignored`."""

    outcome: str
    conversation_id: int | None = None
    message_id: int | None = None


def _insert_ignore(session: Session, table: sa.Table, conflict: list[str]) -> Any:
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return insert(table).on_conflict_do_nothing(index_elements=conflict)


def record_inbound(
    *,
    session: Session,
    sid: str,
    phone: str,
    team_number: str,
    body: str,
    media: list[dict[str, str]],
    channel: str,
) -> Inbound | None:
    """Store an inbound text and the Slack post that shows it; None if `sid` was stored."""
    now = utcnow()
    if session.execute(sa.select(_messages.c.id).where(_messages.c.twilio_sid == sid)).first():
        return None
    candidate_id = _candidate_id(session, phone, now)
    conversation_id, new_conversation = _conversation_id(
        session, candidate_id, team_number, channel, now
    )
    message_id = session.execute(
        _insert_ignore(session, _messages, ["twilio_sid"])
        .values(
            conversation_id=conversation_id,
            direction="inbound",
            body=body,
            media=media,
            twilio_sid=sid,
            status="received",
            created_at=now,
        )
        .returning(_messages.c.id)
    ).scalar()
    if message_id is None:  # the same webhook, stored a moment ago by another process
        return None
    keyword = keyword_of(body)
    candidate_values: dict[str, Any] = {"last_inbound_at": now, "updated_at": now}
    if keyword is Keyword.OPT_OUT:
        candidate_values |= {
            "opted_out": True,
            "opted_out_at": now,
            "opt_out_source": "sms",
            "opt_out_reason": body.strip().upper(),
        }
    elif keyword is Keyword.OPT_IN:
        candidate_values |= {
            "opted_out": False,
            "opted_out_at": None,
            "opt_out_source": None,
            "opt_out_reason": None,
        }
    session.execute(
        _candidates.update().where(_candidates.c.id == candidate_id).values(candidate_values)
    )
    outbox.enqueue(
        session=session,
        kind=POST_INBOUND,
        lane=slack_lane(conversation_id),
        pace_key=slack_pace(channel),
        payload={"message_id": message_id},
    )
    return Inbound(message_id, conversation_id, new_conversation, keyword)


def _candidate_id(session: Session, phone: str, now: Any) -> int:
    found = session.execute(
        sa.select(_candidates.c.id).where(_candidates.c.phone == phone)
    ).scalar()
    if found is not None:
        return int(found)
    session.execute(
        _insert_ignore(session, _candidates, ["phone"]).values(
            phone=phone,
            opt_in=False,
            opted_out=False,
            custom_fields={},
            created_at=now,
            updated_at=now,
        )
    )
    return int(
        session.execute(
            sa.select(_candidates.c.id).where(_candidates.c.phone == phone)
        ).scalar_one()
    )


def _conversation_id(
    session: Session, candidate_id: int, team_number: str, channel: str, now: Any
) -> tuple[int, bool]:
    where = (_conversations.c.candidate_id == candidate_id) & (
        _conversations.c.team_number == team_number
    )
    found = session.execute(sa.select(_conversations.c.id).where(where)).scalar()
    if found is not None:
        return int(found), False
    session.execute(
        _insert_ignore(session, _conversations, ["candidate_id", "team_number"]).values(
            candidate_id=candidate_id,
            team_number=team_number,
            slack_channel=channel,
            status="open",
            created_at=now,
        )
    )
    return int(session.execute(sa.select(_conversations.c.id).where(where)).scalar_one()), True


def record_teammate_reply(
    *,
    session: Session,
    event_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user: str,
    text: str,
) -> Reply | None:
    """Store a teammate's thread message as a text to the candidate.

    None when Slack already delivered this event. `ignored` when the thread is not a
    conversation; `blocked` (with a note in the thread) when the candidate opted out.
    """
    if not mark_event_processed(session=session, event_id=event_id):
        return None
    row = session.execute(
        sa.select(
            _conversations.c.id,
            _conversations.c.team_number,
            _candidates.c.opted_out,
            _candidates.c.opt_out_source,
        )
        .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
        .where(
            _conversations.c.slack_channel == channel,
            _conversations.c.slack_thread_ts == thread_ts,
        )
    ).first()
    if row is None:
        return Reply("ignored")
    status = "blocked" if row.opted_out else "pending"
    message_id = session.execute(
        _messages.insert()
        .values(
            conversation_id=row.id,
            direction="outbound",
            body=text,
            media=[],
            status=status,
            slack_ts=ts,
            slack_user=user,
            created_at=utcnow(),
        )
        .returning(_messages.c.id)
    ).scalar_one()
    if row.opted_out:
        add_note(
            session=session,
            conversation_id=row.id,
            channel=channel,
            text=f"Not texted: {opted_out_reason(row.opt_out_source)}",
        )
        return Reply("blocked", row.id, message_id)
    outbox.enqueue(
        session=session,
        kind=SEND_SMS,
        lane=sms_lane(row.id),
        pace_key=sms_pace(row.team_number),
        payload={"message_id": message_id},
    )
    return Reply("sent", row.id, message_id)


def opted_out_reason(source: str | None) -> str:
    """Why nothing is texted to an opted-out candidate, in the team's words."""
    return {
        "sms": "the candidate texted STOP. They must text START to receive texts again.",
        "carrier": "the carrier reports the candidate opted out (Twilio error 21610). "
        "They must text START to receive texts again.",
        "manual": "a teammate opted the candidate out (^opt-in undoes it).",
    }.get(source or "", "the candidate has opted out.")


def mark_event_processed(*, session: Session, event_id: str) -> bool:
    """Remember a Slack event id; False when it was already remembered."""
    inserted = session.execute(
        _insert_ignore(session, _events, ["event_id"])
        .values(event_id=event_id, received_at=utcnow())
        .returning(_events.c.event_id)
    ).scalar()
    return inserted is not None


def add_note(*, session: Session, conversation_id: int, channel: str, text: str) -> None:
    """Queue a note from caretbot in the conversation's thread."""
    outbox.enqueue(
        session=session,
        kind=POST_NOTE,
        lane=slack_lane(conversation_id),
        pace_key=slack_pace(channel),
        payload={"conversation_id": conversation_id, "text": text},
    )


def add_reaction(
    *, session: Session, conversation_id: int, channel: str, slack_ts: str, name: str
) -> None:
    """Queue a reaction on a Slack message of the conversation's thread."""
    outbox.enqueue(
        session=session,
        kind=ADD_REACTION,
        lane=slack_lane(conversation_id),
        pace_key="slack:reactions",
        payload={"channel": channel, "ts": slack_ts, "name": name},
    )


def queue_text(
    *, session: Session, conversation_id: int, body: str, compliance: bool = False
) -> int:
    """Queue a text from caretbot itself (opt-out confirmations, later scheduled sends).

    `compliance` texts (a STOP confirmation) go out even to an opted-out candidate.
    """
    conversation = session.execute(
        sa.select(_conversations.c.team_number).where(_conversations.c.id == conversation_id)
    ).one()
    message_id = session.execute(
        _messages.insert()
        .values(
            conversation_id=conversation_id,
            direction="outbound",
            body=body,
            media=[],
            status="pending",
            created_at=utcnow(),
        )
        .returning(_messages.c.id)
    ).scalar_one()
    outbox.enqueue(
        session=session,
        kind=SEND_SMS,
        lane=sms_lane(conversation_id),
        pace_key=sms_pace(conversation.team_number),
        payload={"message_id": message_id, "compliance": compliance},
    )
    return int(message_id)
