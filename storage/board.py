"""The desk board: open conversations with who holds them and how long each has waited
for the team, and the scheduled sends people have pending. App Home and `/caretbot
waiting` read it.

A conversation waits for the team from the candidate's oldest text that nobody has
answered: no text went to the candidate at or after it, and nobody marked it read
(`^read`) after it. A closed conversation waits for nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from storage.desk_models import ScheduledSend
from storage.models import Candidate, Conversation, Message

_conversations = Conversation.__table__  # type: ignore[attr-defined]
_candidates = Candidate.__table__  # type: ignore[attr-defined]
_messages = Message.__table__  # type: ignore[attr-defined]
_sends = ScheduledSend.__table__  # type: ignore[attr-defined]

# The board shows at most this many open conversations (the oldest waiting first).
BOARD_LIMIT = 500


@dataclass(frozen=True)
class BoardRow:
    """One open conversation on the board; `waiting_since` is None when nothing waits."""

    conversation_id: int
    name: str | None
    phone: str
    channel: str
    thread_ts: str
    claimed_by: str | None
    assignees: tuple[str, ...]
    guests: tuple[str, ...]
    waiting_since: datetime | None


@dataclass(frozen=True)
class PendingSend:
    """A scheduled send not yet gone out, with where it goes."""

    id: int
    conversation_id: int
    name: str | None
    phone: str
    channel: str
    thread_ts: str | None
    send_at: datetime
    text: str
    created_by: str


def _waiting_since() -> sa.ScalarSelect:
    text_in = _messages.alias("text_in")
    text_out = _messages.alias("text_out")
    answered = (
        sa.select(sa.literal(1))
        .where(
            text_out.c.conversation_id == text_in.c.conversation_id,
            text_out.c.direction == "outbound",
            text_out.c.created_at >= text_in.c.created_at,
        )
        .exists()
    )
    return (
        sa.select(sa.func.min(text_in.c.created_at))
        .where(
            text_in.c.conversation_id == _conversations.c.id,
            text_in.c.direction == "inbound",
            ~answered,
            sa.or_(
                _conversations.c.last_read_at.is_(None),
                text_in.c.created_at > _conversations.c.last_read_at,
            ),
        )
        .scalar_subquery()
    )


def _name(first: str | None, last: str | None) -> str | None:
    return " ".join(part for part in (first, last) if part) or None


def open_conversations(*, session: Session, limit: int = BOARD_LIMIT) -> list[BoardRow]:
    """Open conversations that have a Slack thread: those waiting longest first, then the
    newest; at most `limit`."""
    since = _waiting_since().label("waiting_since")
    query = (
        sa.select(
            _conversations.c.id,
            _candidates.c.first_name,
            _candidates.c.last_name,
            _candidates.c.phone,
            _conversations.c.slack_channel,
            _conversations.c.slack_thread_ts,
            _conversations.c.claimed_by,
            _conversations.c.assignees,
            _conversations.c.guests,
            since,
        )
        .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
        .where(_conversations.c.status == "open", _conversations.c.slack_thread_ts.is_not(None))
        .order_by(sa.case((since.is_(None), 1), else_=0), since, _conversations.c.id.desc())
        .limit(limit)
    )
    rows = []
    for row in session.execute(query):
        rows.append(
            BoardRow(
                conversation_id=row.id,
                name=_name(row.first_name, row.last_name),
                phone=row.phone,
                channel=row.slack_channel,
                thread_ts=row.slack_thread_ts,
                claimed_by=row.claimed_by,
                assignees=tuple(row.assignees or ()),
                guests=tuple(row.guests or ()),
                waiting_since=row.waiting_since,
            )
        )
    return rows


def pending_sends_by(*, session: Session, users: list[str] | None = None) -> list[PendingSend]:
    """Pending scheduled sends, soonest first; only those `users` created when given."""
    query = (
        sa.select(
            _sends.c.id,
            _sends.c.conversation_id,
            _sends.c.send_at,
            _sends.c.text,
            _sends.c.created_by,
            _candidates.c.first_name,
            _candidates.c.last_name,
            _candidates.c.phone,
            _conversations.c.slack_channel,
            _conversations.c.slack_thread_ts,
        )
        .join(_conversations, _conversations.c.id == _sends.c.conversation_id)
        .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
        .where(_sends.c.state == "pending")
        .order_by(_sends.c.send_at, _sends.c.id)
    )
    if users is not None:
        query = query.where(_sends.c.created_by.in_(users))
    return [
        PendingSend(
            id=row.id,
            conversation_id=row.conversation_id,
            name=_name(row.first_name, row.last_name),
            phone=row.phone,
            channel=row.slack_channel,
            thread_ts=row.slack_thread_ts,
            send_at=row.send_at,
            text=row.text,
            created_by=row.created_by,
        )
        for row in session.execute(query)
    ]
