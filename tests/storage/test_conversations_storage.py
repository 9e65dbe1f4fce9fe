"""Conversations in the database, on SQLite and PostgreSQL: an inbound text is stored once
per MessageSid with its Slack post, a teammate's reply once per Slack event, and a
delivery status only moves forward."""

from __future__ import annotations

import threading
import time

import pytest
import sqlalchemy as sa

from grammar.keywords import Keyword
from storage import conversations, messages, outbox
from storage.conversations import InboundText
from storage.db import Database
from storage.models import Candidate, Conversation, Message

CHANNEL = "C0CARETBOT"
TEAM = "+15005550006"
PHONE = "+15125550143"


def text(sid: str, body: str = "Hi", phone: str = PHONE, team: str = TEAM) -> InboundText:
    return InboundText(sid=sid, phone=phone, team_number=team, body=body, media=[])


def store(db: Database, *texts: InboundText):
    with db.write() as session:
        return conversations.record_inbound_batch(
            session=session, texts=list(texts), channel=CHANNEL
        )


def rows(db: Database, model: type) -> list:
    with db.read() as session:
        return list(session.execute(sa.select(model)).scalars())


def all_entries(db: Database) -> list[outbox.Work]:
    with db.read() as session:
        return outbox.entries(session=session)


def test_an_inbound_text_is_stored_with_its_slack_post_in_one_go(database: Database):
    (inbound,) = store(database, text("SM1", "Is the job open?"))

    assert inbound is not None and inbound.new_conversation and inbound.keyword is None
    (message,) = rows(database, Message)
    assert (message.direction, message.body, message.twilio_sid, message.status) == (
        "inbound",
        "Is the job open?",
        "SM1",
        "received",
    )
    (entry,) = all_entries(database)
    assert entry.kind == conversations.POST_INBOUND
    assert entry.payload == {"message_id": inbound.message_id}
    assert entry.lane == conversations.slack_lane(inbound.conversation_id)


def test_the_same_message_sid_is_stored_once(database: Database):
    (first,) = store(database, text("SM1"))
    (again,) = store(database, text("SM1"))
    in_one_batch = store(database, text("SM2"), text("SM2"))

    assert first is not None and again is None
    assert in_one_batch[0] is not None and in_one_batch[1] is None
    assert len(rows(database, Message)) == 2
    assert len(all_entries(database)) == 2


def test_the_same_message_sid_stored_by_two_transactions_at_once_is_stored_once(
    database: Database,
):
    """Twilio's retry can arrive while the first delivery is still being stored (two
    web processes): the second gets 'already stored', not an error."""
    outcome: dict[str, object] = {}

    def second() -> None:
        try:
            outcome["result"] = store(database, text("SM1"))
        except Exception as error:  # what must not happen
            outcome["error"] = error

    with database.write() as session:
        conversations.record_inbound_batch(session=session, texts=[text("SM1")], channel=CHANNEL)
        racer = threading.Thread(target=second)
        racer.start()
        time.sleep(0.3)  # the racer is now waiting on this transaction
    racer.join(15)

    assert "error" not in outcome, repr(outcome.get("error"))
    assert outcome["result"] == [None]
    assert len(rows(database, Message)) == 1


def test_one_number_is_one_candidate_and_one_conversation(database: Database):
    (first,) = store(database, text("SM1"))
    (second,) = store(database, text("SM2"))
    (elsewhere,) = store(database, text("SM3", team="+15125550199"))

    assert first and second and elsewhere
    assert first.conversation_id == second.conversation_id and not second.new_conversation
    assert elsewhere.conversation_id != first.conversation_id and elsewhere.new_conversation
    assert len(rows(database, Candidate)) == 1
    assert len(rows(database, Conversation)) == 2


def test_texts_of_one_conversation_share_a_lane_in_the_order_received(database: Database):
    store(database, text("SM1", "one"), text("SM2", "two"))
    store(database, text("SM3", "three"))

    entries = all_entries(database)
    assert len({e.lane for e in entries}) == 1
    with database.read() as session:
        bodies = [
            messages.view(session=session, message_id=e.payload["message_id"]).message.body
            for e in entries
        ]
    assert bodies == ["one", "two", "three"]


def test_stop_opts_out_and_start_opts_back_in(database: Database):
    (stop,) = store(database, text("SM1", " stop "))
    (candidate,) = rows(database, Candidate)
    assert stop is not None and stop.keyword is Keyword.OPT_OUT
    assert candidate.opted_out and candidate.opt_out_source == "sms"

    (start,) = store(database, text("SM2", "Start"))
    (candidate,) = rows(database, Candidate)
    assert start is not None and start.keyword is Keyword.OPT_IN
    assert not candidate.opted_out


def test_a_sentence_with_stop_in_it_does_not_opt_out(database: Database):
    (inbound,) = store(database, text("SM1", "please stop texting me"))

    assert inbound is not None and inbound.keyword is None
    (candidate,) = rows(database, Candidate)
    assert not candidate.opted_out


def thread_of(database: Database, conversation_id: int, ts: str = "1700000000.000100") -> str:
    with database.write() as session:
        messages.set_thread(session=session, conversation_id=conversation_id, thread_ts=ts)
    return ts


def reply(database: Database, event_id: str, thread_ts: str, body: str = "Hello"):
    with database.write() as session:
        return conversations.record_teammate_reply(
            session=session,
            event_id=event_id,
            channel=CHANNEL,
            thread_ts=thread_ts,
            ts="1700000100.000200",
            user="U0DANA",
            text=body,
        )


def test_a_teammate_reply_is_stored_once_per_slack_event(database: Database):
    (inbound,) = store(database, text("SM1"))
    assert inbound is not None
    thread = thread_of(database, inbound.conversation_id)

    first = reply(database, "Ev1", thread)
    again = reply(database, "Ev1", thread)

    assert first is not None and first.outcome == "sent"
    assert again is None
    outbound = [m for m in rows(database, Message) if m.direction == "outbound"]
    assert [(m.body, m.status, m.slack_ts) for m in outbound] == [
        ("Hello", "pending", "1700000100.000200")
    ]
    sends = [e for e in all_entries(database) if e.kind == conversations.SEND_SMS]
    assert [e.payload["message_id"] for e in sends] == [first.message_id]


def test_a_reply_in_a_thread_that_is_no_conversation_is_ignored(database: Database):
    store(database, text("SM1"))

    result = reply(database, "Ev1", "1600000000.000001")

    assert result is not None and result.outcome == "ignored"
    assert [m.direction for m in rows(database, Message)] == ["inbound"]


def test_a_reply_to_an_opted_out_candidate_is_blocked_with_a_note(database: Database):
    (inbound,) = store(database, text("SM1", "STOP"))
    assert inbound is not None
    thread = thread_of(database, inbound.conversation_id)

    result = reply(database, "Ev1", thread)

    assert result is not None and result.outcome == "blocked"
    (outbound,) = [m for m in rows(database, Message) if m.direction == "outbound"]
    assert outbound.status == "blocked"
    kinds = [e.kind for e in all_entries(database)]
    assert conversations.SEND_SMS not in kinds
    note = [e for e in all_entries(database) if e.kind == conversations.POST_NOTE][-1]
    assert "STOP" in note.payload["text"]


def sent_message(database: Database, sid: str = "SMout") -> int:
    (inbound,) = store(database, text("SM1"))
    assert inbound is not None
    result = reply(database, "Ev1", thread_of(database, inbound.conversation_id))
    assert result is not None and result.message_id is not None
    with database.write() as session:
        messages.record_sent(
            session=session, message_id=result.message_id, sid=sid, status="queued", segments=1
        )
    return result.message_id


def apply(database: Database, status: str, error_code: int | None = None):
    with database.write() as session:
        return messages.apply_status(
            session=session, sid="SMout", status=status, error_code=error_code
        )


def status(database: Database, message_id: int) -> str:
    with database.read() as session:
        found = session.get(Message, message_id)
        assert found is not None
        return found.status


def test_status_moves_forward_only(database: Database):
    message_id = sent_message(database)

    assert apply(database, "sent") is not None
    assert apply(database, "delivered") is not None
    assert apply(database, "sent") is None
    assert apply(database, "queued") is None
    assert apply(database, "delivered") is None  # a repeat changes nothing

    assert status(database, message_id) == "delivered"


def test_a_failure_keeps_its_error_code_and_names_the_slack_message(database: Database):
    message_id = sent_message(database)

    change = apply(database, "undelivered", 30007)

    assert change is not None
    assert (change.status, change.error_code, change.slack_ts) == (
        "undelivered",
        30007,
        "1700000100.000200",
    )
    with database.read() as session:
        found = session.get(Message, message_id)
        assert found is not None and (found.status, found.error_code) == ("undelivered", 30007)


def test_a_status_for_an_unknown_sid_changes_nothing(database: Database):
    sent_message(database)

    with database.write() as session:
        assert (
            messages.apply_status(
                session=session, sid="SMunknown", status="delivered", error_code=None
            )
            is None
        )


def test_postgresql_tests_work_only_in_their_own_schema(database: Database) -> None:
    """Issue 7: the tests never touch the schemas of the database TEST_POSTGRES_URL names;
    they migrate into this run's own schema (tests/conftest.py) and drop only that."""
    from tests.conftest import TEST_SCHEMA

    if database.is_sqlite:
        pytest.skip("a schema of its own is PostgreSQL's")
    with database.read() as session:
        current = session.execute(sa.text("SELECT current_schema()")).scalar_one()
        schemas = set(
            session.execute(
                sa.text("SELECT table_schema FROM information_schema.tables WHERE table_name = :t"),
                {"t": "candidates"},
            ).scalars()
        )
    assert current == TEST_SCHEMA
    assert TEST_SCHEMA in schemas
