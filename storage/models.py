"""The tables of the SMS-to-Slack bridge: candidates, conversations, messages, the outbox.

Timestamps are timezone-aware UTC. Enumerations are plain strings checked in code, so a
new state needs no migration of a database enum type.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from storage.types import UTCDateTime


def utcnow() -> datetime:
    """Now, in UTC, aware."""
    return datetime.now(UTC)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Candidate(SQLModel, table=True):
    """A person caretbot texts; the phone number (E.164) is who they are."""

    __tablename__ = "candidates"

    id: int | None = Field(default=None, primary_key=True)
    phone: str = Field(sa_column=Column(sa.String(20), unique=True, nullable=False))
    first_name: str | None = None
    middle_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    street: str | None = None
    city: str | None = None
    state: str | None = None
    country: str | None = None
    postal_code: str | None = None
    opt_in: bool = False
    opt_in_source: str | None = None
    opt_in_at: datetime | None = _when(nullable=True)
    opted_out: bool = Field(default=False, index=True)
    opted_out_at: datetime | None = _when(nullable=True)
    # "sms" (texted STOP), "carrier" (Twilio 21610) or "manual" (^opt-out).
    opt_out_source: str | None = None
    opt_out_reason: str | None = None
    external_contact_id: str | None = None
    custom_fields: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    last_inbound_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)


class Conversation(SQLModel, table=True):
    """One candidate talking to one of the team's numbers; one Slack thread."""

    __tablename__ = "conversations"
    __table_args__ = (sa.UniqueConstraint("candidate_id", "team_number"),)

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidates.id", index=True)
    # The number the candidate texted: replies go out from it.
    team_number: str = Field(sa_column=Column(sa.String(40), nullable=False))
    slack_channel: str
    # The thread's root (the candidate card); None until the card is posted.
    slack_thread_ts: str | None = Field(default=None, index=True)
    status: str = "open"  # "open" | "closed"
    created_at: datetime = _when(nullable=False, default=utcnow)
    # The desk (caret commands): Slack user ids.
    claimed_by: str | None = None
    assignees: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    # People outside the team invited to this conversation only (^invite).
    guests: list[str] = Field(
        default_factory=list,
        sa_column=Column(JSON, nullable=False, server_default=sa.text("'[]'")),
    )
    last_read_at: datetime | None = _when(nullable=True)
    closed_at: datetime | None = _when(nullable=True)


class Message(SQLModel, table=True):
    """A text to or from a candidate, and where it stands."""

    __tablename__ = "messages"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    direction: str  # "inbound" | "outbound"
    body: str = ""
    media: list[dict[str, str]] = Field(default_factory=list, sa_column=Column(JSON))
    twilio_sid: str | None = Field(
        default=None, sa_column=Column(sa.String(64), unique=True, nullable=True)
    )
    # queued < sending < sent < delivered/undelivered/failed/read; plus "received",
    # "blocked" (opted out, never sent) and "pending" (in the outbox).
    status: str = "pending"
    error_code: int | None = None
    segments: int | None = None
    # The Slack message that shows this text: the post for an inbound text, the
    # teammate's own message for an outbound one (reactions go on it).
    slack_ts: str | None = None
    slack_user: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)
    # When the latest attempt to hand an outbound text to Twilio began: a look-up after
    # an unknown outcome matches only messages Twilio created from then on.
    sending_since: datetime | None = _when(nullable=True)


class OutboxEntry(SQLModel, table=True):
    """Work that must reach Slack or Twilio, kept until it has.

    `lane` orders work: entries in one lane are done one at a time, oldest first, so
    posts to one thread keep their order. `pace_key` groups entries that share a rate
    limit (a Slack channel, a Twilio sender).
    """

    __tablename__ = "outbox"
    __table_args__ = (sa.Index("ix_outbox_due", "state", "next_attempt_at"),)

    id: int | None = Field(default=None, primary_key=True)
    kind: str
    lane: str = Field(index=True)
    pace_key: str
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    state: str = "pending"  # pending | in_flight | done | failed
    attempts: int = 0
    next_attempt_at: datetime = _when(nullable=False, default=utcnow)
    last_error: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)
    # Who works on the entry while it is in flight, and until when the claim holds: a
    # dead worker's entry is taken back only once its lease has lapsed.
    owner: str | None = Field(default=None, sa_column=Column(sa.String(64), nullable=True))
    lease_until: datetime | None = _when(nullable=True)
    # An earlier attempt may have reached the platform (a timeout, a reset, a crash):
    # look before doing it again.
    maybe_done: bool = Field(
        default=False, sa_column=Column(sa.Boolean, nullable=False, server_default=sa.false())
    )
    # Order within the lane ("seconds.micros", as Slack's ts): a teammate's replies go
    # out in the order they were written, not the order they were stored.
    order_key: str | None = Field(default=None, sa_column=Column(sa.String(32), nullable=True))


class EarlyStatus(SQLModel, table=True):
    """A Twilio status callback for a SID caretbot has not recorded yet (the callback
    beat the create's answer); applied when the SID is recorded."""

    __tablename__ = "early_statuses"

    id: int | None = Field(default=None, primary_key=True)
    sid: str = Field(sa_column=Column(sa.String(64), nullable=False, index=True))
    status: str = Field(sa_column=Column(sa.String(20), nullable=False))
    error_code: int | None = None
    received_at: datetime = _when(nullable=False, default=utcnow)


class ProcessedSlackEvent(SQLModel, table=True):
    """Slack event ids already handled: a retried event does nothing twice."""

    __tablename__ = "processed_slack_events"

    event_id: str = Field(primary_key=True, max_length=64)
    received_at: datetime = _when(nullable=False, default=utcnow)


class SchedulerLock(SQLModel, table=True):
    """Who runs the one scheduler, on databases without advisory locks (SQLite)."""

    __tablename__ = "scheduler_lock"

    name: str = Field(primary_key=True, max_length=64)
    holder: str
    expires_at: datetime = _when(nullable=False)
