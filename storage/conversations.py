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
from storage.applies import natural_key
from storage.lists_models import APPLIES
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
UPDATE_CARD = "slack.card"
SEND_SMS = "twilio.send"
# A message in a channel, outside any thread (the push's run report).
POST_CHANNEL = "slack.channel"
SLACK_KINDS = frozenset({POST_INBOUND, POST_NOTE, ADD_REACTION, UPDATE_CARD, POST_CHANNEL})
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
    claimed: bool = False  # the reply claimed the conversation (AUTOCLAIM)


# Built once: the hot path only binds values (no statement construction per webhook).
_TOUCH_CANDIDATE = (
    _candidates.update()
    .where(_candidates.c.id == sa.bindparam("candidate_id"))
    .values(last_inbound_at=sa.bindparam("now"), updated_at=sa.bindparam("now"))
)
_OPT_CANDIDATE = (
    _candidates.update()
    .where(_candidates.c.id == sa.bindparam("candidate_id"))
    .values(
        opted_out=sa.bindparam("opted_out"),
        opted_out_at=sa.bindparam("opted_out_at"),
        opt_out_source=sa.bindparam("opt_out_source"),
        opt_out_reason=sa.bindparam("opt_out_reason"),
    )
)


def _insert_ignore(session: Session, table: sa.Table, conflict: list[str]) -> Any:
    dialect = session.get_bind().dialect.name
    return _INSERT_IGNORE[(dialect == "postgresql", table.name, tuple(conflict))]


_INSERT_IGNORE = {
    (is_pg, table.name, tuple(conflict)): (postgresql.insert if is_pg else sqlite.insert)(table)
    .on_conflict_do_nothing(index_elements=conflict)
    .returning(*table.primary_key.columns)
    for is_pg in (False, True)
    for table, conflict in (
        (_candidates, ["phone"]),
        (_conversations, ["candidate_id", "team_number"]),
        (_messages, ["twilio_sid"]),
        (_events, ["event_id"]),
    )
}


@dataclass(frozen=True)
class InboundText:
    """An inbound text as Twilio described it, its sender already in E.164."""

    sid: str
    phone: str
    team_number: str
    body: str
    media: list[dict[str, str]]
    # Twilio's OptOutType (STOP, START, HELP) under Advanced Opt-Out: it decides.
    opt_out_type: str | None = None


_INSERT_MESSAGES = {
    is_pg: (postgresql.insert if is_pg else sqlite.insert)(_messages)
    .on_conflict_do_nothing(index_elements=["twilio_sid"])
    .returning(_messages.c.id, _messages.c.twilio_sid)
    for is_pg in (False, True)
}


def record_inbound(*, session: Session, text: InboundText, channel: str) -> Inbound | None:
    """Store one inbound text and the Slack post that shows it; None if already stored."""
    return record_inbound_batch(session=session, texts=[text], channel=channel)[0]


def record_inbound_batch(
    *, session: Session, texts: list[InboundText], channel: str
) -> list[Inbound | None]:
    """Store inbound texts in one transaction (group commit under load), in order.

    Each text gets its Slack post in the outbox; a MessageSid stored before, or twice
    in the batch, gives None in its place.
    """
    now = utcnow()
    connection = session.connection()
    known = set(
        connection.execute(
            sa.select(_messages.c.twilio_sid).where(
                _messages.c.twilio_sid.in_([text.sid for text in texts])
            )
        ).scalars()
    )
    fresh: list[InboundText] = []
    for text in texts:
        if text.sid not in known:
            known.add(text.sid)
            fresh.append(text)
    if not fresh:
        return [None] * len(texts)
    candidate_ids = _candidate_ids(connection, session, {t.phone for t in fresh}, now)
    conversation_ids = _conversation_ids(
        connection,
        session,
        {(candidate_ids[t.phone], t.team_number) for t in fresh},
        channel,
        now,
    )
    # Insert-or-ignore: another transaction may store the same MessageSid meanwhile
    # (Twilio's retry racing the first delivery on PostgreSQL); it wins, we skip it.
    inserted = connection.execute(
        _INSERT_MESSAGES[session.get_bind().dialect.name == "postgresql"],
        [
            {
                "conversation_id": conversation_ids[(candidate_ids[t.phone], t.team_number)][0],
                "direction": "inbound",
                "body": t.body,
                "media": t.media,
                "twilio_sid": t.sid,
                "status": "received",
                "created_at": now,
            }
            for t in fresh
        ],
    ).all()
    message_id_of = {sid: message_id for message_id, sid in inserted}
    fresh = [t for t in fresh if t.sid in message_id_of]
    if not fresh:
        return [None] * len(texts)
    connection.execute(
        _TOUCH_CANDIDATE,
        [{"candidate_id": candidate_ids[phone], "now": now} for phone in {t.phone for t in fresh}],
    )
    results: dict[str, Inbound] = {}
    outbox_rows = []
    for text in fresh:
        message_id = message_id_of[text.sid]
        conversation_id, new = conversation_ids[(candidate_ids[text.phone], text.team_number)]
        keyword = keyword_of(text.body, text.opt_out_type)
        if keyword in (Keyword.OPT_OUT, Keyword.OPT_IN):
            _set_opt_out(connection, candidate_ids[text.phone], keyword, text.body, now)
        results[text.sid] = Inbound(message_id, conversation_id, new, keyword)
        outbox_rows.append(
            outbox.row(
                kind=POST_INBOUND,
                lane=slack_lane(conversation_id),
                pace_key=slack_pace(channel),
                payload={"message_id": message_id},
                now=now,
            )
        )
    outbox.enqueue_many(session=session, rows=outbox_rows)
    first_of_sid = {id(t) for t in fresh}
    return [results[t.sid] if id(t) in first_of_sid else None for t in texts]


def _set_opt_out(
    connection: sa.Connection, candidate_id: int, keyword: Keyword, body: str, now: Any
) -> None:
    opting_out = keyword is Keyword.OPT_OUT
    connection.execute(
        _OPT_CANDIDATE,
        {
            "candidate_id": candidate_id,
            "opted_out": opting_out,
            "opted_out_at": now if opting_out else None,
            "opt_out_source": "sms" if opting_out else None,
            "opt_out_reason": body.strip().upper() if opting_out else None,
        },
    )


def _candidate_ids(
    connection: sa.Connection, session: Session, phones: set[str], now: Any
) -> dict[str, int]:
    """Candidate ids by phone, creating the candidates not met before, each with its
    texting-in apply."""
    query = sa.select(_candidates.c.phone, _candidates.c.id).where(
        _candidates.c.phone.in_(sorted(phones))
    )
    found: dict[str, int] = dict(connection.execute(query).all())  # type: ignore[arg-type]
    missing = phones - found.keys()
    if missing:
        # RETURNING gives only the rows this statement inserted: a phone another
        # transaction stored meanwhile is not new here, and gets no second apply.
        created = connection.execute(
            _insert_ignore(session, _candidates, ["phone"]),
            [
                {
                    "phone": phone,
                    "opt_in": False,
                    "opted_out": False,
                    "custom_fields": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for phone in sorted(missing)
            ],
        ).scalars()
        _add_sms_applies(connection, list(created), now)
        found = dict(connection.execute(query).all())
    return found


# Texting in is an entry into caretbot: a new number's first text is an apply.
SMS_APPLY_FIELDS = {"source": "sms", "medium": "sms"}
_SMS_APPLY_KEY = natural_key("sms", SMS_APPLY_FIELDS)
_INSERT_SMS_APPLY = APPLIES.insert().values(
    origin="sms",
    status="New",
    # A new candidate's only apply is its active one, whichever the team's ACTIVE_APPLY.
    is_active=True,
    natural_key=_SMS_APPLY_KEY,
    **SMS_APPLY_FIELDS,
)


def _add_sms_applies(connection: sa.Connection, candidate_ids: list[int], now: Any) -> None:
    """One statement: the texting-in apply of each candidate created just now."""
    if candidate_ids:
        connection.execute(
            _INSERT_SMS_APPLY,
            [
                {"candidate_id": candidate_id, "created_at": now, "updated_at": now}
                for candidate_id in candidate_ids
            ],
        )


def _conversation_ids(
    connection: sa.Connection,
    session: Session,
    keys: set[tuple[int, str]],
    channel: str,
    now: Any,
) -> dict[tuple[int, str], tuple[int, bool]]:
    """(conversation id, created now) by (candidate id, team number)."""
    query = sa.select(
        _conversations.c.candidate_id, _conversations.c.team_number, _conversations.c.id
    ).where(_conversations.c.candidate_id.in_(sorted({c for c, _ in keys})))

    def lookup() -> dict[tuple[int, str], int]:
        rows = connection.execute(query).all()
        return {(c, n): i for c, n, i in rows if (c, n) in keys}

    found = lookup()
    missing = keys - found.keys()
    if not missing:
        return {key: (value, False) for key, value in found.items()}
    connection.execute(
        _insert_ignore(session, _conversations, ["candidate_id", "team_number"]),
        [
            {
                "candidate_id": candidate_id,
                "team_number": team_number,
                "slack_channel": channel,
                "status": "open",
                "created_at": now,
            }
            for candidate_id, team_number in sorted(missing)
        ],
    )
    return {key: (value, key in missing) for key, value in lookup().items()}


def record_teammate_reply(
    *,
    session: Session,
    event_id: str,
    channel: str,
    thread_ts: str,
    ts: str,
    user: str,
    text: str,
    media: list[dict[str, Any]] | None = None,
) -> Reply | None:
    """Store a teammate's thread message as a text to the candidate.

    `media`: what goes with it as MMS (Slack files: id, name, content_type), [] for none.

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
            media=media or [],
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
        _insert_ignore(session, _events, ["event_id"]),
        {"event_id": event_id, "received_at": utcnow()},
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


def post_in_channel(*, session: Session, channel: str, text: str) -> None:
    """Queue a message from caretbot in a channel (not in a thread), as mrkdwn."""
    outbox.enqueue(
        session=session,
        kind=POST_CHANNEL,
        lane=f"slack:channel:{channel}",
        pace_key=slack_pace(channel),
        payload={"channel": channel, "text": text},
    )


def refresh_card(*, session: Session, conversation_id: int, channel: str) -> None:
    """Queue a chat.update of the conversation's card (its state changed off a command)."""
    outbox.enqueue(
        session=session,
        kind=UPDATE_CARD,
        lane=slack_lane(conversation_id),
        pace_key=slack_pace(channel),
        payload={"conversation_id": conversation_id},
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
