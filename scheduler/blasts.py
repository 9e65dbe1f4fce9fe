"""Blasts on the clock: start due blasts, feed their recipients to the outbox, nudge.

One job, `blasts.tick`, every second in the process that holds the scheduler lock. It
starts scheduled blasts whose time has come (the start is claimed by a conditional
update, so it happens once), hands each sending blast's due recipients to the outbox
(at most a window of them at a time, held back while their quiet hours last), queues
the follow-up nudges, and refreshes each blast's Slack message now and then. The
sending itself is the outbox dispatcher's (bot/delivery/blast_sends.py).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import datetime

import structlog
from apscheduler.schedulers.base import BaseScheduler

from storage import blasts
from storage.blasts import BlastRules
from storage.blasts.nudges import queue_nudges
from storage.db import Database
from storage.models import utcnow

log = structlog.get_logger(__name__)

JOB_ID = "blasts.tick"
TICK_SECONDS = 1.0
# How often a sending blast's Slack message is refreshed.
PROGRESS_SECONDS = 15.0


@dataclass
class BlastConfig:
    """What the job needs from the settings (the scheduler does not read them)."""

    rules: BlastRules
    team_number: str
    channel: str | None
    # Recipients queued in the outbox at once: about 30 seconds of the sender's pace.
    window: int = 0
    last_progress: dict[int, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.window:
            self.window = max(20, int(self.rules.segments_per_second * 30))


_db: Database | None = None
_config: BlastConfig | None = None


def configure(db: Database | None = None, config: BlastConfig | None = None) -> None:
    """Give the job its database (scheduler.jobs) and its settings (the workers)."""
    global _db, _config
    if db is not None:
        _db = db
    if config is not None:
        _config = config


def tick(db: Database, config: BlastConfig, *, now: datetime) -> dict[str, int]:
    """One pass at `now`: started blasts, recipients queued and held, nudges queued."""
    done = {"started": 0, "queued": 0, "held": 0, "nudged": 0}
    with db.read() as session:
        due = blasts.due_blasts(session=session, now=now)
    for blast_id in due:
        with db.write() as session:
            eligible = blasts.start_blast(
                session=session,
                blast_id=blast_id,
                rules=config.rules,
                now=now,
                team_number=config.team_number,
                channel=config.channel,
            )
        done["started"] += 1
        log.info("blast.started", blast=blast_id, eligible=eligible)
    with db.read() as session:
        sending = blasts.sending_blasts(session=session)
    for blast_id in sending:
        with db.write() as session:
            fed = blasts.queue_due(
                session=session,
                blast_id=blast_id,
                now=now,
                quiet=config.rules.quiet_hours,
                window=config.window,
                channel=config.channel or "",
            )
        done["queued"] += fed.queued
        done["held"] += fed.held
        if fed.finished:
            log.info("blast.finished", blast=blast_id)
            config.last_progress.pop(blast_id, None)
        elif config.channel:
            _progress(db, config, blast_id)
    with db.write() as session:
        done["nudged"] = queue_nudges(session=session, now=now, quiet=config.rules.quiet_hours)
    return done


def _progress(db: Database, config: BlastConfig, blast_id: int) -> None:
    last = config.last_progress.get(blast_id)
    stamp = time.monotonic()
    if last is None:
        config.last_progress[blast_id] = stamp  # the start already queued one
        return
    if stamp - last < PROGRESS_SECONDS:
        return
    config.last_progress[blast_id] = stamp
    assert config.channel
    with db.write() as session:
        blasts.enqueue_slack(session=session, blast_id=blast_id, channel=config.channel)


def run_tick() -> None:
    """The APScheduler job."""
    if _db is None or _config is None:
        return
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(job=JOB_ID)
    done = tick(_db, _config, now=utcnow())
    if any(done.values()):
        log.info("job.done", **done)


def start(aps: BaseScheduler) -> None:
    """Add the job (the lock holder only)."""
    aps.add_job(
        run_tick,
        "interval",
        seconds=TICK_SECONDS,
        id=JOB_ID,
        replace_existing=True,
        coalesce=True,
        max_instances=1,
        misfire_grace_time=30,
    )


def stop(aps: BaseScheduler) -> None:
    """Remove the job (the lock was lost)."""
    if aps.get_job(JOB_ID):
        aps.remove_job(JOB_ID)
