"""Trimming what only needs keeping for a while."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Session

from storage.models import ProcessedSlackEvent

_events = ProcessedSlackEvent.__table__  # type: ignore[attr-defined]


def forget_slack_events(*, session: Session, before: datetime) -> int:
    """Drop processed event ids older than `before` (Slack retries within minutes)."""
    result = session.execute(_events.delete().where(_events.c.received_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]
