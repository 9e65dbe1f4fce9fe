"""Scheduled sends (^at): APScheduler is the clock, the database is the truth.

An interval job every few seconds sends whatever is due; a date job at each send's time
makes it punctual. Both call `send_one`, which claims the row with a conditional UPDATE
(pending -> sending) and queues the text through the outbox in the same transaction, so
a job that fires twice, or in two processes, texts once. A send later than its `send_by`
(caretbot was down past the grace period) is marked missed with a note in the thread
instead. The opt-out is checked again here, and once more by the dispatcher.

Jobs take ids; `now` is a parameter of the functions underneath so tests drive the clock.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler

from grammar.slack_text import slack_time
from storage import conversations, desk
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

DUE_JOB_ID = "scheduled_sends.due"
DUE_EVERY_SECONDS = 5
# A date job that could not fire on time leaves the send to the interval job.
DATE_JOB_MISFIRE_SECONDS = 30

_db: Database | None = None
# The scheduler of this process while it leads (holds the lock); None otherwise.
_aps: BaseScheduler | None = None


def configure(db: Database) -> None:
    """Give the jobs their database."""
    global _db
    _db = db


@dataclass
class Run:
    """What one pass did, by send id."""

    sent: list[int] = field(default_factory=list)
    missed: list[int] = field(default_factory=list)
    blocked: list[int] = field(default_factory=list)


def send_due(db: Database, *, now: datetime, limit: int = 100) -> Run:
    """Send (or mark missed) every pending send due at `now`."""
    with db.read() as session:
        due = desk.due_send_ids(session=session, now=now, limit=limit)
    run = Run()
    for send_id in due:
        outcome = send_one(db, send_id, now=now)
        if outcome is not None:
            getattr(run, outcome).append(send_id)
    return run


def send_one(db: Database, send_id: int, *, now: datetime) -> str | None:
    """Claim one due send and act on it: `sent`, `missed`, `blocked`, or None if taken."""
    with db.write() as session:
        send = desk.claim_send(session=session, send_id=send_id, now=now)
        if send is None:
            return None
        when = slack_time(send.send_at)
        if now > send.send_by:
            outcome = "missed"
            desk.finish_send(session=session, send_id=send.id, state=outcome)
            note = (
                f"Scheduled send #{send.id} (for {when}) was not sent: caretbot was not "
                f"running then, and it is now {_late(now - send.send_at)} late. "
                f"Text it again if it still matters: {send.text}"
            )
        elif send.opted_out:
            outcome = "blocked"
            desk.finish_send(session=session, send_id=send.id, state=outcome)
            note = (
                f"Scheduled send #{send.id} (for {when}) was not sent: "
                f"{conversations.opted_out_reason(send.opt_out_source)}"
            )
        else:
            outcome = "sent"
            message_id = conversations.queue_text(
                session=session, conversation_id=send.conversation_id, body=send.text
            )
            desk.finish_send(session=session, send_id=send.id, state=outcome, message_id=message_id)
            note = f"Scheduled send #{send.id} by <@{send.created_by}> is going out: {send.text}"
        conversations.add_note(
            session=session, conversation_id=send.conversation_id, channel=send.channel, text=note
        )
        # The card shows the next scheduled send; this one is no longer it.
        conversations.refresh_card(
            session=session, conversation_id=send.conversation_id, channel=send.channel
        )
    log.info(
        "scheduled_send.done", outcome=outcome, send=send_id, conversation=send.conversation_id
    )
    return outcome


def _late(delay: timedelta) -> str:
    minutes = int(delay.total_seconds() // 60)
    if minutes < 120:
        return f"{minutes} min"
    hours = minutes // 60
    return f"{hours} hours" if hours < 48 else f"{hours // 24} days"


# The jobs.


def fire_due_sends() -> None:
    """Interval job: everything due now."""
    assert _db is not None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job=DUE_JOB_ID)
    run = send_due(_db, now=utcnow())
    if run.sent or run.missed or run.blocked:
        log.info("job.done", sent=len(run.sent), missed=len(run.missed), blocked=len(run.blocked))


def fire_send(send_id: int) -> None:
    """Date job: one send, at its time."""
    assert _db is not None
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job="scheduled_sends.at", send=send_id)
    send_one(_db, send_id, now=utcnow())


def date_job_id(send_id: int) -> str:
    return f"scheduled_send:{send_id}"


def start(aps: BaseScheduler) -> None:
    """This process leads: run the interval job now and then every few seconds, and arm
    a date job for each pending send."""
    global _aps
    assert _db is not None
    aps.add_job(
        fire_due_sends,
        "interval",
        seconds=DUE_EVERY_SECONDS,
        id=DUE_JOB_ID,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=DUE_EVERY_SECONDS * 6,
        next_run_time=utcnow(),  # sends that fell due while caretbot was down: now
    )
    _aps = aps
    with _db.read() as session:
        upcoming = desk.upcoming_sends(session=session)
    now = utcnow()
    for send_id, send_at in upcoming:
        if send_at > now:
            arm(send_id, send_at)


def stop(aps: BaseScheduler) -> None:
    """This process no longer leads: drop the jobs (the next leader arms its own)."""
    global _aps
    _aps = None
    for job in aps.get_jobs():
        if job.id == DUE_JOB_ID or job.id.startswith("scheduled_send:"):
            aps.remove_job(job.id)


def arm(send_id: int, send_at: datetime) -> None:
    """Fire the send at its time, if this process runs the scheduler; otherwise the
    leader's interval job finds it within seconds."""
    aps = _aps
    if aps is None:
        return
    try:
        aps.add_job(
            fire_send,
            "date",
            run_date=send_at,
            args=[send_id],
            id=date_job_id(send_id),
            replace_existing=True,
            coalesce=True,
            misfire_grace_time=DATE_JOB_MISFIRE_SECONDS,
        )
    except Exception:  # the interval job sends it anyway, a few seconds later at most
        log.exception("scheduled_send.arm_failed", send=send_id)


def disarm(send_id: int) -> None:
    """Drop a cancelled send's date job (firing it would do nothing anyway)."""
    aps = _aps
    if aps is None:
        return
    with contextlib.suppress(JobLookupError):
        aps.remove_job(date_job_id(send_id))
