"""The desk's tables: scheduled sends, internal notes and deliveries of candidates.

The conversation's own desk state (assignees, claim, guests, read, closed) lives on the
Conversation row in storage/models.py.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = ["SEND_STATES", "Delivery", "DeskNote", "ScheduledSend"]

# pending -> sending -> sent; or cancelled (^cancel, the candidate texted first), missed
# (caretbot was down past the grace period), blocked (opted out by send time).
SEND_STATES = ("pending", "sending", "sent", "cancelled", "missed", "blocked")


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class ScheduledSend(SQLModel, table=True):
    """A text to send later (^at); the scheduler claims it when it falls due."""

    __tablename__ = "scheduled_sends"
    __table_args__ = (sa.Index("ix_scheduled_sends_due", "state", "send_at"),)

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    text: str
    send_at: datetime = _when(nullable=False)
    # The latest moment it may still go out (send_at plus the grace period when it was
    # set): later than that, caretbot was down too long and the send is missed.
    send_by: datetime = _when(nullable=False)
    created_by: str
    state: str = "pending"
    # The outbound text it became, once sent.
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)


class DeskNote(SQLModel, table=True):
    """An internal note (^note): shown in the thread, never texted."""

    __tablename__ = "notes"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    author: str
    text: str
    created_at: datetime = _when(nullable=False, default=utcnow)


class Delivery(SQLModel, table=True):
    """A candidate handed to someone (^deliver), with the card they were sent."""

    __tablename__ = "deliveries"

    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversations.id", index=True)
    to_user: str
    status: str | None = None
    stars: int | None = None
    summary: str | None = None
    delivered_by: str
    created_at: datetime = _when(nullable=False, default=utcnow)
