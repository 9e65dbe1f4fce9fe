"""The scheduler's jobs: module-level functions that find their work in the database."""

from __future__ import annotations

from datetime import timedelta

import structlog
from apscheduler.schedulers.base import BaseScheduler

from scheduler import blasts, push, scheduled_sends
from storage.db import Database
from storage.housekeeping import forget_slack_events
from storage.models import utcnow

log = structlog.get_logger(__name__)

_db: Database | None = None

# Slack retries an event within minutes; a day of ids is plenty.
KEEP_SLACK_EVENT_IDS = timedelta(days=1)


def configure(db: Database) -> None:
    """Give the jobs their database (APScheduler jobs take ids, not objects)."""
    global _db
    _db = db
    scheduled_sends.configure(db)
    blasts.configure(db)


def forget_old_slack_events() -> None:
    """Drop processed Slack event ids older than a day."""
    assert _db is not None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job="forget_old_slack_events")
    with _db.write() as session:
        dropped = forget_slack_events(session=session, before=utcnow() - KEEP_SLACK_EVENT_IDS)
    log.info("job.done", dropped=dropped)


STARTUP_JOBS = {"housekeeping.slack_events": (forget_old_slack_events, {"hours": 1})}


def add_startup_jobs(aps: BaseScheduler) -> None:
    for job_id, (function, interval) in STARTUP_JOBS.items():
        aps.add_job(
            function,
            "interval",
            id=job_id,
            replace_existing=True,
            misfire_grace_time=600,
            **interval,
        )
    scheduled_sends.start(aps)
    blasts.start(aps)
    push.start(aps)


def remove_startup_jobs(aps: BaseScheduler) -> None:
    scheduled_sends.stop(aps)
    blasts.stop(aps)
    push.stop(aps)
    for job_id in STARTUP_JOBS:
        if aps.get_job(job_id):
            aps.remove_job(job_id)
