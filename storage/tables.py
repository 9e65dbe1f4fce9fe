"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from __future__ import annotations

from storage.desk_models import Delivery, DeskNote, ScheduledSend
from storage.lists_models import Apply, CandidateList, ListMember, SavedFilter
from storage.models import (
    Candidate,
    Conversation,
    EarlyStatus,
    Message,
    OutboxEntry,
    ProcessedSlackEvent,
    SchedulerLock,
)

__all__ = [
    "Apply",
    "Candidate",
    "CandidateList",
    "Conversation",
    "Delivery",
    "DeskNote",
    "EarlyStatus",
    "ListMember",
    "Message",
    "OutboxEntry",
    "ProcessedSlackEvent",
    "SavedFilter",
    "ScheduledSend",
    "SchedulerLock",
]
