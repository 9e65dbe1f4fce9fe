"""Scheduled sends (^at) with a controlled clock, on SQLite and PostgreSQL: a send texts
once however often its job fires, survives a restart, goes out late within the grace
period and is missed after it, is blocked by an opt-out in between, and is cancelled
by a text from the candidate. The scheduler sends only while it holds the lock."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot import bridge
from bot.settings import load_settings
from scheduler import scheduled_sends
from scheduler.runner import Scheduler
from storage import conversations, desk, messages, outbox
from storage.conversations import InboundText
from storage.db import Database
from storage.desk_models import ScheduledSend
from storage.models import Message, utcnow

CHANNEL = "C0CARETBOT"
TEAM = "+15005550006"
PHONE = "+15125550143"
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
GRACE = timedelta(minutes=15)


def text_in(sid: str, body: str = "Hi") -> InboundText:
    return InboundText(sid=sid, phone=PHONE, team_number=TEAM, body=body, media=[])


def new_conversation(db: Database) -> int:
    with db.write() as session:
        (inbound,) = conversations.record_inbound_batch(
            session=session, texts=[text_in("SM0")], channel=CHANNEL
        )
    assert inbound is not None
    return inbound.conversation_id


def schedule(db: Database, conversation_id: int, at: datetime, text: str = "Free at 3?") -> int:
    with db.write() as session:
        return desk.schedule_send(
            session=session,
            conversation_id=conversation_id,
            text=text,
            send_at=at,
            send_by=at + GRACE,
            created_by="U0DANA",
            now=at - timedelta(hours=1),
        )


def the_send(db: Database, send_id: int) -> ScheduledSend:
    with db.read() as session:
        found = session.get(ScheduledSend, send_id)
        assert found is not None
        return found


def texts_queued(db: Database) -> list[str]:
    """Bodies of the texts put in the outbox for Twilio."""
    with db.read() as session:
        entries = outbox.entries(session=session)
        bodies = []
        for entry in entries:
            if entry.kind == conversations.SEND_SMS:
                message = session.get(Message, entry.payload["message_id"])
                assert message is not None
                bodies.append(message.body)
        return bodies


def notes(db: Database) -> list[str]:
    with db.read() as session:
        return [
            entry.payload["text"]
            for entry in outbox.entries(session=session)
            if entry.kind == conversations.POST_NOTE
        ]


@pytest.fixture
def conversation_id(database: Database) -> int:
    return new_conversation(database)


def test_a_due_send_texts_once_however_often_its_jobs_fire(
    database: Database, conversation_id: int
):
    send_id = schedule(database, conversation_id, T0)

    first = scheduled_sends.send_due(database, now=T0)
    again = scheduled_sends.send_due(database, now=T0 + timedelta(seconds=5))
    by_date_job = scheduled_sends.send_one(database, send_id, now=T0 + timedelta(seconds=1))

    assert (first.sent, again.sent, by_date_job) == ([send_id], [], None)
    assert texts_queued(database) == ["Free at 3?"]
    send = the_send(database, send_id)
    assert send.state == "sent" and send.message_id is not None
    (note,) = notes(database)
    assert f"#{send_id}" in note and "<@U0DANA>" in note and "Free at 3?" in note


def test_two_processes_firing_at_once_text_once(database: Database, conversation_id: int):
    """Two schedulers would be a bug the lock prevents; even then the row claim holds."""
    send_id = schedule(database, conversation_id, T0)
    other = Database(database.url)
    start = threading.Barrier(2)
    outcomes: list[str | None] = []

    def fire(db: Database) -> None:
        start.wait()
        outcomes.append(scheduled_sends.send_one(db, send_id, now=T0))

    threads = [threading.Thread(target=fire, args=(db,)) for db in (database, other)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    other.dispose()

    assert sorted(outcomes, key=str) == [None, "sent"]
    assert texts_queued(database) == ["Free at 3?"]


def test_a_send_is_not_sent_before_its_time(database: Database, conversation_id: int):
    send_id = schedule(database, conversation_id, T0)

    run = scheduled_sends.send_due(database, now=T0 - timedelta(seconds=1))

    assert run.sent == []
    assert scheduled_sends.send_one(database, send_id, now=T0 - timedelta(seconds=1)) is None
    assert the_send(database, send_id).state == "pending"
    assert texts_queued(database) == []


def test_a_pending_send_survives_a_restart(database: Database, conversation_id: int):
    send_id = schedule(database, conversation_id, T0)
    url = database.url
    database.dispose()

    restarted = Database(url)
    try:
        run = scheduled_sends.send_due(restarted, now=T0 + timedelta(minutes=1))
        assert run.sent == [send_id]
        assert texts_queued(restarted) == ["Free at 3?"]
    finally:
        restarted.dispose()


@pytest.mark.parametrize(
    ("late", "outcome"),
    [(timedelta(minutes=14), "sent"), (GRACE, "sent"), (timedelta(minutes=16), "missed")],
)
def test_a_late_send_goes_out_within_the_grace_period_and_is_missed_after_it(
    database: Database, conversation_id: int, late: timedelta, outcome: str
):
    """caretbot was down at send time; on start, the first pass decides."""
    send_id = schedule(database, conversation_id, T0)

    run = scheduled_sends.send_due(database, now=T0 + late)

    assert getattr(run, outcome) == [send_id]
    assert the_send(database, send_id).state == outcome
    if outcome == "missed":
        assert texts_queued(database) == []
        (note,) = notes(database)
        assert f"#{send_id}" in note and "was not sent" in note and "Free at 3?" in note
        assert "16 min late" in note
    else:
        assert texts_queued(database) == ["Free at 3?"]


def test_an_opt_out_in_between_blocks_the_send(database: Database, conversation_id: int):
    send_id = schedule(database, conversation_id, T0)
    with database.write() as session:
        found = messages.conversation_view(session=session, conversation_id=conversation_id)
        assert found is not None and found[1].id is not None
        messages.opt_out(session=session, candidate_id=found[1].id, source="sms", reason="STOP")

    run = scheduled_sends.send_due(database, now=T0)

    assert run.blocked == [send_id]
    assert the_send(database, send_id).state == "blocked"
    assert texts_queued(database) == []
    (note,) = notes(database)
    assert "was not sent" in note and "texted STOP" in note


@pytest.mark.parametrize("cancel_on_reply", [True, False])
def test_a_text_from_the_candidate_cancels_the_send_unless_the_team_turned_that_off(
    database: Database, conversation_id: int, cancel_on_reply: bool
):
    send_id = schedule(database, conversation_id, T0)
    settings = load_settings(
        DATABASE_URL=database.url,
        SLACK_CHANNEL_ID=CHANNEL,
        CANCEL_SCHEDULED_ON_REPLY=cancel_on_reply,
    )

    bridge.receive_texts(database, settings, [text_in("SM1", "Actually I can talk now")])
    run = scheduled_sends.send_due(database, now=T0)

    if cancel_on_reply:
        assert run.sent == [] and the_send(database, send_id).state == "cancelled"
        assert texts_queued(database) == []
        (note,) = notes(database)
        assert f"#{send_id}" in note and "the candidate texted first" in note
    else:
        assert run.sent == [send_id]
        assert texts_queued(database) == ["Free at 3?"]


def wait_for(predicate, timeout: float = 8.0):  # noqa: ANN001, ANN201
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_the_leading_scheduler_sends_on_start_and_at_the_send_time(
    database: Database, conversation_id: int
):
    """A send that fell due while caretbot was down goes out on start; a send armed for
    a second from now goes out then, by its date job."""
    now = utcnow()
    overdue = schedule(database, conversation_id, now - timedelta(minutes=2), "overdue")
    soon = schedule(database, conversation_id, now + timedelta(seconds=1.5), "soon")
    leader, standby = Scheduler(db=database), Scheduler(db=Database(database.url))
    try:
        leader.start()
        standby.start()
        assert leader.leader and not standby.leader
        assert standby.aps.get_job(scheduled_sends.DUE_JOB_ID) is None
        assert leader.aps.get_job(scheduled_sends.date_job_id(soon)) is not None

        wait_for(lambda: the_send(database, overdue).state == "sent")
        wait_for(lambda: the_send(database, soon).state == "sent")
    finally:
        standby.stop()
        leader.stop()
        standby.db.dispose()
    assert sorted(texts_queued(database)) == ["overdue", "soon"]


def test_a_send_armed_by_a_standby_process_is_left_to_the_leader(database: Database):
    """arm() in a process that does not run the scheduler does nothing."""
    aps = scheduled_sends._aps  # noqa: SLF001
    scheduled_sends._aps = None  # noqa: SLF001
    try:
        scheduled_sends.arm(1, utcnow() + timedelta(hours=1))
        scheduled_sends.disarm(1)
    finally:
        scheduled_sends._aps = aps  # noqa: SLF001


def test_sends_in_the_database_are_what_counts_not_jobs(database: Database, conversation_id: int):
    """A date job for a send cancelled since fires harmlessly."""
    send_id = schedule(database, conversation_id, T0)
    with database.write() as session:
        desk.cancel_send(session=session, conversation_id=conversation_id, send_id=send_id)

    assert scheduled_sends.send_one(database, send_id, now=T0) is None
    assert the_send(database, send_id).state == "cancelled"
    with database.read() as session:
        assert session.execute(sa.select(sa.func.count()).select_from(Message)).scalar() == 1
