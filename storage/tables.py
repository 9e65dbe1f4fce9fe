"""Every table, imported in one place so that the metadata (and Alembic) sees them all."""

from __future__ import annotations

from storage.blast_models import Blast, BlastLink, BlastRecipient
from storage.desk_models import Delivery, DeskNote, ScheduledSend
from storage.lists_models import Apply, CandidateList, ListMember, SavedFilter
from storage.models import (
    Candidate,
    Conversation,
    Message,
    OutboxEntry,
    ProcessedSlackEvent,
    SchedulerLock,
)
from storage.ops_models import IntegrationState
from storage.push.models import PushHistory, PushRule, PushRun, RecruitToken
from storage.slack_models import ImportRun, SlackHome

__all__ = [
    "Apply",
    "Blast",
    "BlastLink",
    "BlastRecipient",
    "Candidate",
    "CandidateList",
    "Conversation",
    "Delivery",
    "DeskNote",
    "ImportRun",
    "IntegrationState",
    "ListMember",
    "Message",
    "OutboxEntry",
    "ProcessedSlackEvent",
    "PushHistory",
    "PushRule",
    "PushRun",
    "RecruitToken",
    "SavedFilter",
    "ScheduledSend",
    "SchedulerLock",
    "SlackHome",
]
