"""What the dispatcher and the status webhook read and write about single messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.models import Candidate, Conversation, Message, utcnow

_messages = Message.__table__  # type: ignore[attr-defined]

# A status only moves forward: callbacks reuse one SID and can arrive out of order.
STATUS_RANK = {
    "pending": 0,
    "accepted": 1,
    "scheduled": 1,
    "queued": 2,
    "sending": 3,
    "sent": 4,
    "delivered": 5,
    "undelivered": 5,
    "failed": 5,
    "canceled": 5,
    "read": 6,
}
FAILED_STATUSES = frozenset({"failed", "undelivered"})


@dataclass(frozen=True)
class MessageView:
    """A message with its conversation and candidate, for posting or sending it."""

    message: Message
    conversation: Conversation
    candidate: Candidate


_conversations = Conversation.__table__  # type: ignore[attr-defined]
_candidates = Candidate.__table__  # type: ignore[attr-defined]


def _labelled(table: sa.Table, prefix: str) -> list[Any]:
    return [column.label(f"{prefix}{column.name}") for column in table.c]


def _model(model: Any, table: sa.Table, prefix: str, row: Any) -> Any:
    mapping = row._mapping
    return model(**{column.name: mapping[f"{prefix}{column.name}"] for column in table.c})


# Core, built once: loading three ORM entities per outbox entry cost more than the post.
_VIEW = (
    sa.select(
        *_labelled(_messages, "m_"), *_labelled(_conversations, "v_"), *_labelled(_candidates, "c_")
    )
    .join(_conversations, _conversations.c.id == _messages.c.conversation_id)
    .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
    .where(_messages.c.id == sa.bindparam("message_id"))
)
_CONVERSATION_VIEW = (
    sa.select(*_labelled(_conversations, "v_"), *_labelled(_candidates, "c_"))
    .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
    .where(_conversations.c.id == sa.bindparam("conversation_id"))
)


def view(*, session: Session, message_id: int) -> MessageView | None:
    """The message, its conversation and its candidate."""
    row = session.connection().execute(_VIEW, {"message_id": message_id}).first()
    if row is None:
        return None
    return MessageView(
        _model(Message, _messages, "m_", row),
        _model(Conversation, _conversations, "v_", row),
        _model(Candidate, _candidates, "c_", row),
    )


def conversation_view(
    *, session: Session, conversation_id: int
) -> tuple[Conversation, Candidate] | None:
    """A conversation and its candidate."""
    row = (
        session.connection()
        .execute(_CONVERSATION_VIEW, {"conversation_id": conversation_id})
        .first()
    )
    if row is None:
        return None
    return (
        _model(Conversation, _conversations, "v_", row),
        _model(Candidate, _candidates, "c_", row),
    )


def set_thread(*, session: Session, conversation_id: int, thread_ts: str) -> None:
    """Remember the Slack thread (the candidate card's ts) of a conversation."""
    session.connection().execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id)
        .values(slack_thread_ts=thread_ts)
    )


def set_slack_ts(*, session: Session, message_id: int, slack_ts: str) -> None:
    """Remember the Slack message that shows a text."""
    session.connection().execute(
        _messages.update().where(_messages.c.id == message_id).values(slack_ts=slack_ts)
    )


def mark_sending(*, session: Session, message_id: int) -> None:
    """The text is about to go to Twilio: a crash from here on means look before resending."""
    session.connection().execute(
        _messages.update().where(_messages.c.id == message_id).values(status="sending")
    )


def record_sent(
    *, session: Session, message_id: int, sid: str, status: str, segments: int | None
) -> None:
    """Twilio accepted the text."""
    session.connection().execute(
        _messages.update()
        .where(_messages.c.id == message_id)
        .values(twilio_sid=sid, status=status, segments=segments)
    )


def record_not_sent(
    *, session: Session, message_id: int, status: str, error_code: int | None = None
) -> None:
    """The text will not go out: `blocked` (opted out) or `failed` (Twilio refused it)."""
    session.connection().execute(
        _messages.update()
        .where(_messages.c.id == message_id)
        .values(status=status, error_code=error_code)
    )


def reopen_unsent(*, session: Session, message_ids: list[int]) -> int:
    """Texts given up without a Twilio SID, made sendable again; how many.

    They go back to `sending`, not `pending`: an attempt may have reached Twilio before
    it was given up, so the dispatcher looks the text up at Twilio before sending it.
    """
    if not message_ids:
        return 0
    result = session.connection().execute(
        _messages.update()
        .where(
            _messages.c.id.in_(message_ids),
            _messages.c.status == "failed",
            _messages.c.twilio_sid.is_(None),
        )
        .values(status="sending", error_code=None)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]


def opt_out(*, session: Session, candidate_id: int, source: str, reason: str) -> None:
    """Mark a candidate opted out (no text reaches them from any path)."""
    now = utcnow()
    session.execute(
        sa.update(Candidate)
        .where(Candidate.id == candidate_id)  # type: ignore[arg-type]
        .values(
            opted_out=True,
            opted_out_at=now,
            opt_out_source=source,
            opt_out_reason=reason,
            updated_at=now,
        )
    )


@dataclass(frozen=True)
class StatusChange:
    """A delivery status that moved a message forward."""

    message_id: int
    conversation_id: int
    candidate_id: int
    channel: str
    slack_ts: str | None
    status: str
    error_code: int | None


def apply_status(
    *, session: Session, sid: str, status: str, error_code: int | None
) -> StatusChange | None:
    """Move a message to `status` if that is forward; None when unknown or not forward."""
    row = (
        session.connection()
        .execute(
            sa.select(
                _messages.c.id,
                _messages.c.status,
                _messages.c.slack_ts,
                _conversations.c.id.label("conversation_id"),
                _conversations.c.slack_channel,
                _conversations.c.candidate_id,
            )
            .join(_conversations, _conversations.c.id == _messages.c.conversation_id)
            .where(_messages.c.twilio_sid == sid)
        )
        .first()
    )
    if row is None:
        return None
    if STATUS_RANK.get(status, -1) <= STATUS_RANK.get(row.status, -1):
        return None
    values: dict[str, Any] = {"status": status}
    if error_code is not None:
        values["error_code"] = error_code
    session.connection().execute(_messages.update().where(_messages.c.id == row.id).values(values))
    return StatusChange(
        message_id=row.id,
        conversation_id=row.conversation_id,
        candidate_id=row.candidate_id,
        channel=row.slack_channel,
        slack_ts=row.slack_ts,
        status=status,
        error_code=error_code,
    )


def messages_of(*, session: Session, conversation_id: int) -> list[Message]:
    """A conversation's texts, oldest first."""
    return list(
        session.execute(
            sa.select(Message)
            .where(Message.conversation_id == conversation_id)  # type: ignore[arg-type]
            .order_by(Message.id)  # type: ignore[arg-type]
        ).scalars()
    )
