"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from __future__ import annotations

from storage.models import (
    Candidate,
    Conversation,
    Message,
    OutboxEntry,
    ProcessedSlackEvent,
    SchedulerLock,
)

__all__ = [
    "Candidate",
    "Conversation",
    "Message",
    "OutboxEntry",
    "ProcessedSlackEvent",
    "SchedulerLock",
]
