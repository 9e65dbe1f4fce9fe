"""The outbox tables' functions, on SQLite and PostgreSQL: lanes hand out their oldest
entry first, a claim is conditional, a crash's in-flight work is handed back."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage import outbox
from storage.db import Database
from storage.models import utcnow

SLACK = frozenset({"slack.post"})
SMS = frozenset({"twilio.send"})
BOTH = SLACK | SMS


def add(db: Database, lane: str, n: int, kind: str = "slack.post") -> None:
    with db.write() as session:
        outbox.enqueue(session=session, kind=kind, lane=lane, pace_key="slack:C1", payload={"n": n})


def heads(db: Database, kinds: frozenset[str] = BOTH, *, later: float = 0.0) -> list[outbox.Work]:
    with db.read() as session:
        return outbox.due_heads(
            session=session, kinds=kinds, now=utcnow() + timedelta(seconds=later)
        )


def claim(db: Database, entry_id: int) -> bool:
    with db.write() as session:
        return outbox.claim(session=session, entry_id=entry_id)


def test_each_lane_gives_its_oldest_entry_and_lanes_go_side_by_side(database: Database):
    add(database, "thread:1", 1)
    add(database, "thread:2", 2)
    add(database, "thread:1", 3)
    add(database, "thread:2", 4)

    assert [(w.lane, w.payload["n"]) for w in heads(database)] == [
        ("thread:1", 1),
        ("thread:2", 2),
    ]


def test_a_lane_waits_while_its_head_is_in_flight_or_waiting_to_retry(database: Database):
    add(database, "thread:1", 1)
    add(database, "thread:1", 2)
    (first,) = heads(database)
    assert claim(database, first.id)

    assert heads(database) == []  # in flight

    with database.write() as session:
        outbox.retry_later(
            session=session, entry_id=first.id, delay=timedelta(seconds=60), error="slack 500"
        )
    assert heads(database) == []  # not due yet, and the next one must wait for it
    assert [w.payload["n"] for w in heads(database, later=61)] == [1]


def test_done_and_failed_entries_let_the_lane_move_on_in_order(database: Database):
    for n in (1, 2, 3):
        add(database, "thread:1", n)
    seen = []
    for finish in (outbox.mark_done, outbox.mark_failed):
        (head,) = heads(database)
        seen.append(head.payload["n"])
        assert claim(database, head.id)
        with database.write() as session:
            if finish is outbox.mark_failed:
                finish(session=session, entry_id=head.id, error="channel_not_found")
            else:
                finish(session=session, entry_id=head.id)
    (last,) = heads(database)
    assert seen + [last.payload["n"]] == [1, 2, 3]


def test_heads_are_filtered_by_kind(database: Database):
    add(database, "thread:1", 1, kind="slack.post")
    add(database, "sms:1", 2, kind="twilio.send")

    assert [w.payload["n"] for w in heads(database, SLACK)] == [1]
    assert [w.payload["n"] for w in heads(database, SMS)] == [2]


def test_a_claim_is_conditional_so_a_second_claim_of_the_same_entry_fails(database: Database):
    add(database, "thread:1", 1)
    (work,) = heads(database)

    assert claim(database, work.id) is True
    assert claim(database, work.id) is False
    with database.read() as session:
        (entry,) = outbox.entries(session=session)
    assert entry.attempts == 1


def test_claim_many_gives_each_entry_to_one_caller(database: Database):
    for lane in ("a", "b", "c"):
        add(database, lane, 0)
    ids = [w.id for w in heads(database)]

    with database.write() as session:
        first = outbox.claim_many(session=session, entry_ids=ids[:2])
    with database.write() as session:
        second = outbox.claim_many(session=session, entry_ids=ids)

    assert first == set(ids[:2])
    assert second == {ids[2]}


def test_take_back_in_flight_returns_a_crashs_work_to_pending(database: Database):
    add(database, "thread:1", 1)
    add(database, "sms:1", 2, kind="twilio.send")
    for work in heads(database):
        assert claim(database, work.id)
    assert heads(database) == []

    with database.write() as session:
        taken = outbox.take_back_in_flight(session=session, kinds=SLACK)

    assert [w.payload["n"] for w in taken] == [1]
    assert [w.payload["n"] for w in heads(database)] == [1]  # the SMS stays in flight
    with database.read() as session:
        states = {
            e.payload["n"]: e.lane for e in outbox.entries(session=session, state="in_flight")
        }
    assert states == {2: "sms:1"}


def test_backlog_counts_pending_and_in_flight_but_not_finished_work(database: Database):
    for n in range(4):
        add(database, f"lane:{n}", n)
    a, b, c, _ = heads(database)
    assert claim(database, a.id) and claim(database, b.id) and claim(database, c.id)
    with database.write() as session:
        outbox.mark_done(session=session, entry_id=a.id)
        outbox.mark_failed(session=session, entry_id=b.id, error="no")
        assert outbox.backlog(session=session) == 2


def test_next_due_at_is_the_earliest_pending_entry(database: Database):
    with database.read() as session:
        assert outbox.next_due_at(session=session, kinds=BOTH) is None
    add(database, "thread:1", 1)
    (work,) = heads(database)
    assert claim(database, work.id)
    with database.write() as session:
        outbox.retry_later(
            session=session, entry_id=work.id, delay=timedelta(seconds=30), error="429"
        )
    with database.read() as session:
        due = outbox.next_due_at(session=session, kinds=BOTH)
    assert due is not None
    assert timedelta(seconds=25) < due - utcnow() <= timedelta(seconds=30)


@pytest.mark.parametrize("payload", [{"message_id": 7}, {"text": "héllo ✓", "n": [1, 2]}])
def test_payload_round_trips(database: Database, payload: dict):
    with database.write() as session:
        outbox.enqueue(session=session, kind="slack.post", lane="l", pace_key="p", payload=payload)
    (work,) = heads(database)
    assert work.payload == payload
