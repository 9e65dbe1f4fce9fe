"""APScheduler inside `serve`: the clock for caretbot's jobs, one per database.

A job store is never shared between schedulers (APScheduler's FAQ), so a process only
runs the scheduler while it holds the scheduler lock; the others stand by and take
over when the holder's lease lapses.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC

import structlog
from apscheduler.schedulers.background import BackgroundScheduler

from scheduler import jobs
from storage.db import Database
from storage.locks import SchedulerLease

log = structlog.get_logger(__name__)

LOCK_CHECK_SECONDS = 10


class Scheduler:
    """Starts the jobs once this process holds the lock."""

    def __init__(self, *, db: Database) -> None:
        self.db = db
        self.holder = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"
        self.lease = SchedulerLease(db, self.holder)
        self.leader = False
        self.aps = BackgroundScheduler(
            timezone=UTC,
            job_defaults={"coalesce": True, "max_instances": 1, "misfire_grace_time": 60},
        )

    def start(self) -> None:
        jobs.configure(self.db)
        self.aps.add_job(
            self._keep_lock,
            "interval",
            seconds=LOCK_CHECK_SECONDS,
            id="scheduler.lock",
            replace_existing=True,
        )
        self.aps.start()
        self._keep_lock()

    def _keep_lock(self) -> None:
        held = self.lease.renew() if self.leader else self.lease.acquire()
        if held and not self.leader:
            self.leader = True
            jobs.add_startup_jobs(self.aps)
            log.info("scheduler.leading", holder=self.holder)
        elif not held and self.leader:
            self.leader = False
            jobs.remove_startup_jobs(self.aps)
            log.warning("scheduler.lock_lost", holder=self.holder)

    def stop(self) -> None:
        if self.aps.running:
            self.aps.shutdown(wait=False)
        if self.leader:
            self.lease.release()
            self.leader = False
