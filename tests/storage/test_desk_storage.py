"""The desk in the database, on SQLite and PostgreSQL: assignees and guests are lists
without repeats, a claim is taken by one person, opt-in only undoes a manual opt-out,
a scheduled send is claimed once, and a text from the candidate reopens and cancels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.tables  # noqa: F401 - every table on the metadata
from storage import conversations, desk, messages
from storage.conversations import InboundText
from storage.db import Database
from storage.desk_models import ScheduledSend
from storage.models import Candidate, Conversation

CHANNEL = "C0CARETBOT"
TEAM = "+15005550006"
T0 = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def new_conversation(db: Database, phone: str = "+15125550143", sid: str = "SM1") -> int:
    with db.write() as session:
        (inbound,) = conversations.record_inbound_batch(
            session=session,
            texts=[InboundText(sid=sid, phone=phone, team_number=TEAM, body="Hi", media=[])],
            channel=CHANNEL,
        )
    assert inbound is not None
    return inbound.conversation_id


def conversation(db: Database, conversation_id: int) -> Conversation:
    with db.read() as session:
        found = session.get(Conversation, conversation_id)
        assert found is not None
        return found


def candidate_of(db: Database, conversation_id: int) -> Candidate:
    with db.read() as session:
        found = messages.conversation_view(session=session, conversation_id=conversation_id)
        assert found is not None
        return found[1]


def schedule(db: Database, conversation_id: int, at: datetime, text: str = "Free at 3?") -> int:
    with db.write() as session:
        return desk.schedule_send(
            session=session,
            conversation_id=conversation_id,
            text=text,
            send_at=at,
            send_by=at + timedelta(minutes=15),
            created_by="U0DANA",
            now=T0,
        )


def send_state(db: Database, send_id: int) -> str:
    with db.read() as session:
        send = session.get(ScheduledSend, send_id)
        assert send is not None
        return send.state


DESK_TABLES = {"scheduled_sends", "notes", "deliveries"}
DESK_COLUMNS = {"claimed_by", "assignees", "guests", "last_read_at", "closed_at"}


def test_the_migration_creates_what_the_models_describe(database: Database):
    """Alembic sees no difference between the migrated database and the desk's models."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    def about_desk(change: tuple | list) -> bool:
        names: set[str | None] = set()
        for part in change if isinstance(change, list) else [change]:
            for item in part[1:]:
                names |= {item} if isinstance(item, str) else {getattr(item, "name", None)}
                names.add(getattr(getattr(item, "table", None), "name", None))
        return bool(names & (DESK_TABLES | DESK_COLUMNS))

    assert [change for change in diff if about_desk(change)] == []


def test_a_new_conversation_has_no_assignees_guests_or_claim(database: Database):
    found = conversation(database, new_conversation(database))

    assert (found.assignees, found.guests, found.claimed_by) == ([], [], None)
    assert (found.status, found.closed_at, found.last_read_at) == ("open", None, None)


def test_assign_adds_each_person_once_and_unassign_removes_some_or_all(database: Database):
    conversation_id = new_conversation(database)
    with database.write() as session:
        first = desk.assign(session=session, conversation_id=conversation_id, users=["U1", "U2"])
        again = desk.assign(session=session, conversation_id=conversation_id, users=["U2", "U3"])
    assert (first, again) == (["U1", "U2"], ["U3"])
    assert conversation(database, conversation_id).assignees == ["U1", "U2", "U3"]

    with database.write() as session:
        some = desk.unassign(session=session, conversation_id=conversation_id, users=["U2", "U9"])
    assert some == ["U2"]
    with database.write() as session:
        rest = desk.unassign(session=session, conversation_id=conversation_id)
    assert rest == ["U1", "U3"]
    assert conversation(database, conversation_id).assignees == []


def test_guests_are_invited_once(database: Database):
    conversation_id = new_conversation(database)
    with database.write() as session:
        assert desk.add_guest(session=session, conversation_id=conversation_id, user="U0SAM")
        assert not desk.add_guest(session=session, conversation_id=conversation_id, user="U0SAM")
    assert conversation(database, conversation_id).guests == ["U0SAM"]


def test_a_claim_is_held_by_one_person_until_the_holder_releases_it(database: Database):
    conversation_id = new_conversation(database)
    with database.write() as session:
        assert desk.claim_if_unclaimed(session=session, conversation_id=conversation_id, user="U1")
        assert not desk.claim_if_unclaimed(
            session=session, conversation_id=conversation_id, user="U2"
        )
        assert desk.claimed_by(session=session, conversation_id=conversation_id) == "U1"
        # A release names the holder it saw: it cannot drop a claim someone else took since.
        assert not desk.unclaim(session=session, conversation_id=conversation_id, holder="U2")
        assert desk.unclaim(session=session, conversation_id=conversation_id, holder="U1")
    assert conversation(database, conversation_id).claimed_by is None


def test_close_and_open_say_whether_they_changed_anything(database: Database):
    conversation_id = new_conversation(database)
    with database.write() as session:
        assert desk.set_closed(
            session=session, conversation_id=conversation_id, closed=True, now=T0
        )
        assert not desk.set_closed(session=session, conversation_id=conversation_id, closed=True)
    closed = conversation(database, conversation_id)
    assert (closed.status, closed.closed_at) == ("closed", T0)

    with database.write() as session:
        assert desk.set_closed(session=session, conversation_id=conversation_id, closed=False)
        assert not desk.set_closed(session=session, conversation_id=conversation_id, closed=False)
    reopened = conversation(database, conversation_id)
    assert (reopened.status, reopened.closed_at) == ("open", None)


def test_read_notes_and_deliveries_are_stored(database: Database):
    conversation_id = new_conversation(database)
    with database.write() as session:
        desk.mark_read(session=session, conversation_id=conversation_id, now=T0)
        desk.record_note(
            session=session, conversation_id=conversation_id, author="U1", text="prefers nights"
        )
        desk.record_delivery(
            session=session,
            conversation_id=conversation_id,
            to_user="U0SAM",
            delivered_by="U1",
            status="Interview Scheduled",
            stars=4,
            summary="Strong ICU background",
        )
    assert conversation(database, conversation_id).last_read_at == T0
    with database.read() as session:
        (note,) = desk.notes_of(session=session, conversation_id=conversation_id)
        (delivery,) = desk.deliveries_of(session=session, conversation_id=conversation_id)
    assert (note.author, note.text) == ("U1", "prefers nights")
    assert (delivery.to_user, delivery.status, delivery.stars, delivery.delivered_by) == (
        "U0SAM",
        "Interview Scheduled",
        4,
        "U1",
    )


@pytest.mark.parametrize("source", ["sms", "carrier"])
def test_opt_in_only_undoes_a_manual_opt_out(database: Database, source: str):
    conversation_id = new_conversation(database)
    candidate_id = candidate_of(database, conversation_id).id
    assert candidate_id is not None
    with database.write() as session:
        messages.opt_out(session=session, candidate_id=candidate_id, source=source, reason="STOP")
        assert not desk.opt_in_manually(session=session, candidate_id=candidate_id)
        assert (
            desk.opt_out_manually(session=session, candidate_id=candidate_id, reason="x") == source
        )
    still = candidate_of(database, conversation_id)
    assert (still.opted_out, still.opt_out_source) == (True, source)


def test_a_manual_opt_out_is_undone_by_opt_in(database: Database):
    conversation_id = new_conversation(database)
    candidate_id = candidate_of(database, conversation_id).id
    assert candidate_id is not None
    with database.write() as session:
        earlier = desk.opt_out_manually(
            session=session, candidate_id=candidate_id, reason="asked by phone"
        )
    assert earlier is None
    out = candidate_of(database, conversation_id)
    assert (out.opted_out, out.opt_out_source, out.opt_out_reason) == (
        True,
        "manual",
        "asked by phone",
    )
    with database.write() as session:
        assert desk.opt_in_manually(session=session, candidate_id=candidate_id)
    back = candidate_of(database, conversation_id)
    assert (back.opted_out, back.opt_out_source) == (False, None)


def test_pending_sends_are_listed_soonest_first_and_cancelled_only_here(database: Database):
    here, elsewhere = new_conversation(database), new_conversation(database, "+15125550177", "SM2")
    later = schedule(database, here, T0 + timedelta(hours=2))
    sooner = schedule(database, here, T0 + timedelta(hours=1))
    other = schedule(database, elsewhere, T0 + timedelta(hours=1))

    with database.read() as session:
        pending = desk.pending_sends(session=session, conversation_id=here)
    assert [send.id for send in pending] == [sooner, later]
    with database.write() as session:
        assert not desk.cancel_send(session=session, conversation_id=here, send_id=other)
        assert desk.cancel_send(session=session, conversation_id=here, send_id=sooner)
        assert not desk.cancel_send(session=session, conversation_id=here, send_id=sooner)
    assert (send_state(database, sooner), send_state(database, other)) == ("cancelled", "pending")


def test_a_send_is_claimed_once_and_only_when_due(database: Database):
    conversation_id = new_conversation(database)
    send_id = schedule(database, conversation_id, T0 + timedelta(minutes=5))

    with database.write() as session:
        early = desk.claim_send(session=session, send_id=send_id, now=T0)
    assert early is None
    due = T0 + timedelta(minutes=5)
    with database.write() as session:
        claimed = desk.claim_send(session=session, send_id=send_id, now=due)
        twice = desk.claim_send(session=session, send_id=send_id, now=due)
    assert claimed is not None and twice is None
    assert (claimed.conversation_id, claimed.text, claimed.channel) == (
        conversation_id,
        "Free at 3?",
        CHANNEL,
    )
    assert claimed.send_by == due + timedelta(minutes=15)
    assert send_state(database, send_id) == "sending"
    with database.write() as session:
        desk.finish_send(session=session, send_id=send_id, state="missed")
    assert send_state(database, send_id) == "missed"


def test_due_sends_are_the_pending_ones_whose_time_came(database: Database):
    conversation_id = new_conversation(database)
    due = schedule(database, conversation_id, T0 - timedelta(minutes=1))
    schedule(database, conversation_id, T0 + timedelta(minutes=1))
    cancelled = schedule(database, conversation_id, T0 - timedelta(minutes=2))
    with database.write() as session:
        desk.cancel_send(session=session, conversation_id=conversation_id, send_id=cancelled)
    with database.read() as session:
        assert desk.due_send_ids(session=session, now=T0) == [due]


def test_a_text_reopens_its_closed_conversation_and_cancels_its_pending_sends(
    database: Database,
):
    closed, quiet, busy = (
        new_conversation(database, phone, sid)
        for phone, sid in (
            ("+15125550101", "SM1"),
            ("+15125550102", "SM2"),
            ("+15125550103", "SM3"),
        )
    )
    with database.write() as session:
        desk.set_closed(session=session, conversation_id=closed, closed=True)
    pending = schedule(database, busy, T0 + timedelta(hours=1))
    untouched = schedule(database, quiet, T0 + timedelta(hours=1))

    with database.write() as session:
        effects = desk.after_candidate_texts(
            session=session, conversation_ids={closed, busy}, cancel_scheduled=True
        )

    assert effects.reopened == [closed]
    assert [(send.id, send.conversation_id) for send in effects.cancelled] == [(pending, busy)]
    assert conversation(database, closed).status == "open"
    assert (send_state(database, pending), send_state(database, untouched)) == (
        "cancelled",
        "pending",
    )


def test_a_text_leaves_sends_alone_when_the_team_says_so(database: Database):
    conversation_id = new_conversation(database)
    pending = schedule(database, conversation_id, T0 + timedelta(hours=1))

    with database.write() as session:
        effects = desk.after_candidate_texts(
            session=session, conversation_ids={conversation_id}, cancel_scheduled=False
        )

    assert (effects.reopened, effects.cancelled) == ([], [])
    assert send_state(database, pending) == "pending"


def test_nothing_to_do_after_texts_is_one_cheap_query(database: Database):
    conversation_id = new_conversation(database)
    statements: list[str] = []

    def count(_conn, _cursor, statement, *_args) -> None:  # noqa: ANN001
        statements.append(statement)

    sa.event.listen(database.engine, "before_cursor_execute", count)
    try:
        with database.write() as session:
            desk.after_candidate_texts(
                session=session, conversation_ids={conversation_id}, cancel_scheduled=True
            )
    finally:
        sa.event.remove(database.engine, "before_cursor_execute", count)
    assert len([s for s in statements if "conversations" in s]) == 1
