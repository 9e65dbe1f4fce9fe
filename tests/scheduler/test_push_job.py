"""The recurring push job: APScheduler fires it every PUSH_INTERVAL_MINUTES, only in the
process that holds the scheduler lock. APScheduler's clock is controlled by the test."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, tzinfo

import apscheduler.schedulers.base
import apscheduler.triggers.interval
import pytest
from apscheduler.events import EVENT_JOB_EXECUTED

from bot.sandbox.zoho_recruit import FakeZohoRecruit
from scheduler import push
from scheduler.runner import Scheduler
from storage.db import Database
from storage.models import utcnow
from tests.storage.push_data import (
    add_blast,
    add_candidates,
    ago,
    engage,
    make_list,
    recruit_client,
    rule,
)


class Clock:
    """APScheduler's `datetime.now`, moved by the test."""

    def __init__(self) -> None:
        self.now = utcnow()

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()

    class ControlledDatetime(datetime):
        @classmethod
        def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
            return clock.now.astimezone(tz) if tz else clock.now.replace(tzinfo=None)

    monkeypatch.setattr(apscheduler.schedulers.base, "datetime", ControlledDatetime)
    monkeypatch.setattr(apscheduler.triggers.interval, "datetime", ControlledDatetime)
    return clock


@pytest.fixture
def zoho() -> Iterator[FakeZohoRecruit]:
    with FakeZohoRecruit() as fake:
        yield fake


def test_the_push_fires_every_interval_in_the_lock_holder_only(
    database: Database, zoho: FakeZohoRecruit, clock: Clock
) -> None:
    ids = add_candidates(database, [1, 2])
    list_id = make_list(database, "Fall nurses", ids)
    blast_id = add_blast(database, list_id, "Fall nurses", started_at=ago(hours=2))
    engage(database, blast_id, [ids[0]], sent_at=ago(hours=2), replied_at=ago(hours=1))
    rule(database, "Fall nurses")
    push.configure(
        database,
        make_recruit=lambda: recruit_client(zoho, database),
        channel="C0CARETBOT",
        interval_minutes=45,
    )
    leader, follower = Scheduler(db=database), Scheduler(db=database)
    try:
        leader.start()
        follower.start()
        assert leader.leader and not follower.leader
        job = leader.aps.get_job(push.JOB_ID)
        assert job is not None and follower.aps.get_job(push.JOB_ID) is None
        assert job.next_run_time == clock.now + timedelta(minutes=45)
        first_run = job.next_run_time - timedelta(minutes=45)
        runs_done: list[object] = []
        leader.aps.add_listener(
            lambda event: runs_done.append(event) if event.job_id == push.JOB_ID else None,
            EVENT_JOB_EXECUTED,
        )

        clock.advance(minutes=44, seconds=50)
        leader.aps.wakeup()
        follower.aps.wakeup()
        with pytest.raises(AssertionError):
            zoho.wait_for(lambda: zoho.calls("upsert"), timeout=0.5)

        clock.advance(seconds=11)
        leader.aps.wakeup()
        zoho.wait_for(lambda: len(runs_done) == 1, timeout=10)
        assert zoho.upserted_emails() == ["zoe.1@example.com"]

        # Candidate 2 replies; the next tick, 45 minutes on, pushes them.
        engage(database, blast_id, [ids[1]], sent_at=ago(hours=2), replied_at=ago(minutes=1))
        clock.advance(minutes=45)
        leader.aps.wakeup()
        zoho.wait_for(lambda: len(runs_done) == 2, timeout=10)
        assert zoho.upserted_emails() == ["zoe.1@example.com", "zoe.2@example.com"]
        assert leader.aps.get_job(push.JOB_ID).next_run_time == first_run + timedelta(minutes=135)
    finally:
        leader.stop()
        follower.stop()
        push.configure(database, make_recruit=None, channel=None, interval_minutes=60)


def test_no_zoho_settings_no_push_job(database: Database, clock: Clock) -> None:
    push.configure(database, make_recruit=None, channel=None, interval_minutes=60)
    scheduler = Scheduler(db=database)
    try:
        scheduler.start()
        assert scheduler.leader
        assert scheduler.aps.get_job(push.JOB_ID) is None
    finally:
        scheduler.stop()
