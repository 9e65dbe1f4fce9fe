"""The desk board (what waits for the team, and since when), App Home rows and the record
of imports, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from storage import board, conversations, desk, homes, import_runs, messages
from storage.conversations import InboundText
from storage.db import Database
from storage.locks import SchedulerLease, scheduler_holder
from storage.models import Message

CHANNEL = "C0CARETBOT"
TEAM = "+15005550006"
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def text_in(db: Database, phone: str, sid: str, at: datetime) -> int:
    with db.write() as session:
        (inbound,) = conversations.record_inbound_batch(
            session=session,
            texts=[
                InboundText(
                    sid=sid, phone=phone, team_number=TEAM, body="¿Sigue abierto? 🙏", media=[]
                )
            ],
            channel=CHANNEL,
        )
        assert inbound is not None
        session.execute(
            sa.update(Message).where(Message.id == inbound.message_id).values(created_at=at)  # type: ignore[arg-type]
        )
        messages.set_thread(
            session=session,
            conversation_id=inbound.conversation_id,
            thread_ts=f"1764.{inbound.conversation_id:06d}",
        )
        return inbound.conversation_id


def reply(db: Database, conversation_id: int, at: datetime) -> None:
    with db.write() as session:
        session.execute(
            sa.insert(Message).values(
                conversation_id=conversation_id,
                direction="outbound",
                body="Yes!",
                media=[],
                status="sent",
                created_at=at,
            )
        )


def test_a_conversation_waits_from_its_oldest_unanswered_text(database: Database) -> None:
    ana = text_in(database, "+15125550143", "SM1", T0)
    text_in(database, "+15125550143", "SM2", T0 + timedelta(hours=1))
    bo = text_in(database, "+15125550177", "SM3", T0 + timedelta(hours=2))
    reply(database, bo, T0 + timedelta(hours=3))
    cy = text_in(database, "+15125550188", "SM4", T0 + timedelta(hours=4))
    with database.write() as session:
        desk.claim_if_unclaimed(session=session, conversation_id=cy, user="U0DANA")
        desk.assign(session=session, conversation_id=cy, users=["U0LEE"])
    with database.read() as session:
        rows = board.open_conversations(session=session)
    by_id = {row.conversation_id: row for row in rows}
    assert by_id[ana].waiting_since == T0  # the oldest of two unanswered texts
    assert by_id[bo].waiting_since is None  # answered
    assert (by_id[cy].claimed_by, by_id[cy].assignees) == ("U0DANA", ("U0LEE",))
    assert [row.conversation_id for row in rows] == [ana, cy, bo]  # longest waiting first

    with database.write() as session:
        desk.mark_read(session=session, conversation_id=ana, now=T0 + timedelta(hours=5))
        desk.set_closed(session=session, conversation_id=cy, closed=True, now=T0)
    with database.read() as session:
        rows = board.open_conversations(session=session)
    assert [(r.conversation_id, r.waiting_since) for r in rows] == [(bo, None), (ana, None)]


def test_pending_sends_by_their_author(database: Database) -> None:
    ana = text_in(database, "+15125550143", "SM1", T0)
    with database.write() as session:
        for user, hours in (("U0DANA", 2), ("U0LEE", 1), ("U0DANA", 1)):
            desk.schedule_send(
                session=session,
                conversation_id=ana,
                text=f"À {hours}h — ok?",
                send_at=T0 + timedelta(hours=hours),
                send_by=T0 + timedelta(hours=hours, minutes=15),
                created_by=user,
                now=T0,
            )
    with database.read() as session:
        mine = board.pending_sends_by(session=session, users=["U0DANA"])
    assert [(s.text, s.thread_ts) for s in mine] == [
        ("À 1h — ok?", f"1764.{ana:06d}"),
        ("À 2h — ok?", f"1764.{ana:06d}"),
    ]


def test_homes_remember_the_filter_and_what_was_published(database: Database) -> None:
    with database.write() as session:
        assert homes.open_home(session=session, user_id="U0DANA").filter == "all"
        homes.open_home(session=session, user_id="U0DANA", filter="unclaimed")
        assert homes.open_home(session=session, user_id="U0DANA").filter == "unclaimed"
        homes.mark_published(session=session, user_id="U0DANA", digest="abc", now=T0)
        with pytest.raises(ValueError, match="unknown home filter 'mine'"):
            homes.open_home(session=session, user_id="U0LEE", filter="mine")
    with database.read() as session:
        (home,) = homes.all_homes(session=session)
    assert (home.filter, home.digest, home.published_at) == ("unclaimed", "abc", T0)


def test_the_last_imports_newest_first(database: Database) -> None:
    with database.write() as session:
        for number in range(7):
            import_runs.record_import(
                session=session,
                file_name=f"Enfermeras {number}.csv",
                list_name="Night nurses",
                source="slack",
                user="U0DANA",
                rows=10,
                created=8,
                updated=1,
                rejected=1,
                now=T0 + timedelta(minutes=number),
            )
    with database.read() as session:
        last = import_runs.last_imports(session=session, limit=3)
    assert [r.file_name for r in last] == [
        "Enfermeras 6.csv",
        "Enfermeras 5.csv",
        "Enfermeras 4.csv",
    ]


def test_the_scheduler_holder_is_named_while_held(database: Database) -> None:
    assert scheduler_holder(database) is None
    lease = SchedulerLease(database, "host:123:abcdef")
    assert lease.acquire()
    try:
        holder = scheduler_holder(database)
        assert holder is not None
        assert (
            holder == "host:123:abcdef"
            if database.is_sqlite
            else holder.startswith("PostgreSQL backend")
        )
    finally:
        lease.release()
    assert scheduler_holder(database) is None
