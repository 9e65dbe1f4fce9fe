"""Statuses for a SID caretbot has not recorded yet are kept and applied, in order of
progress, when the SID is recorded; the look-up helpers of a send. SQLite and
PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from storage import messages
from storage.db import Database
from storage.models import EarlyStatus, Message, utcnow
from tests.storage.test_conversations_storage import reply, rows, store, text, thread_of


def outbound(database: Database) -> int:
    (inbound,) = store(database, text("SM1"))
    assert inbound is not None
    result = reply(database, "Ev1", thread_of(database, inbound.conversation_id))
    assert result is not None and result.message_id is not None
    return result.message_id


def test_statuses_that_beat_the_sid_are_applied_when_it_is_recorded(database: Database):
    message_id = outbound(database)
    with database.write() as session:
        for status in ("delivered", "sent"):  # out of order, as callbacks can be
            kept = messages.apply_status(
                session=session, sid="SMearly", status=status, error_code=None, keep_early=True
            )
            assert kept is None

    with database.write() as session:
        changes = messages.record_sent(
            session=session, message_id=message_id, sid="SMearly", status="queued", segments=1
        )

    assert [c.status for c in changes] == ["sent", "delivered"]
    assert changes[-1].slack_ts is not None  # the reaction goes on the teammate's message
    (message,) = [m for m in rows(database, Message) if m.id == message_id]
    assert message.status == "delivered"
    assert rows(database, EarlyStatus) == []


def test_a_status_for_an_unknown_sid_is_kept_only_when_asked_and_can_be_forgotten(
    database: Database,
):
    with database.write() as session:
        messages.apply_status(session=session, sid="SMother", status="sent", error_code=None)
        messages.apply_status(
            session=session, sid="SMother", status="sent", error_code=None, keep_early=True
        )
    assert [e.sid for e in rows(database, EarlyStatus)] == ["SMother"]

    with database.write() as session:
        gone = messages.forget_early_statuses(
            session=session, before=utcnow() + timedelta(seconds=1)
        )
    assert gone == 1 and rows(database, EarlyStatus) == []


def test_sending_since_keeps_the_first_attempts_start_and_sids_are_known(database: Database):
    message_id = outbound(database)
    with database.write() as session:
        messages.mark_sending(session=session, message_id=message_id)
    (first,) = [m.sending_since for m in rows(database, Message) if m.id == message_id]
    with database.write() as session:
        messages.mark_sending(session=session, message_id=message_id)
        messages.record_sent(
            session=session, message_id=message_id, sid="SMknown", status="queued", segments=1
        )
    (again,) = [m.sending_since for m in rows(database, Message) if m.id == message_id]
    assert first is not None and again == first
    with database.read() as session:
        assert messages.recorded_sids(session=session, sids=["SMknown", "SMnew"]) == {"SMknown"}
