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


# Leases (issue 8, "Duplicates"): a dead worker's claim is taken back only once lapsed.


def test_a_claim_with_a_lease_is_not_taken_back_until_the_lease_lapses(database: Database):
    add(database, "thread:1", 1)
    (work,) = heads(database)
    with database.write() as session:
        assert outbox.claim(
            session=session, entry_id=work.id, owner="host:41:dead", lease=timedelta(seconds=60)
        )

    with database.write() as session:
        assert outbox.take_back_in_flight(session=session, kinds=SLACK) == []
    assert heads(database) == []

    with database.write() as session:
        taken = outbox.take_back_in_flight(
            session=session, kinds=SLACK, now=utcnow() + timedelta(seconds=61)
        )
    assert [w.id for w in taken] == [work.id]
    assert taken[0].maybe_done  # claimed once: look before doing it again
    (again,) = heads(database)
    assert again.id == work.id and again.maybe_done


def test_a_living_owner_renews_its_leases_and_keeps_its_work(database: Database):
    add(database, "thread:1", 1)
    add(database, "thread:2", 2)
    first, second = heads(database)
    with database.write() as session:
        outbox.claim(session=session, entry_id=first.id, owner="me", lease=timedelta(seconds=1))
        outbox.claim(session=session, entry_id=second.id, owner="other", lease=timedelta(seconds=1))
        renewed = outbox.renew_leases(session=session, owner="me", lease=timedelta(seconds=120))

    with database.write() as session:
        taken = outbox.take_back_in_flight(
            session=session, kinds=SLACK, now=utcnow() + timedelta(seconds=5)
        )
    assert renewed == 1
    assert [w.payload["n"] for w in taken] == [2]


def test_a_retry_that_surely_did_nothing_needs_no_look_up(database: Database):
    add(database, "thread:1", 1)
    (work,) = heads(database)
    assert not work.maybe_done
    assert claim(database, work.id)
    with database.write() as session:
        outbox.retry_later(
            session=session, entry_id=work.id, delay=timedelta(0), error="refused", maybe_done=False
        )
    (again,) = heads(database)
    assert not again.maybe_done


def test_a_lane_goes_in_order_key_order_whatever_the_order_entries_were_stored(
    database: Database,
):
    """A teammate's two replies: the one written second (later ts) was stored first."""
    with database.write() as session:
        outbox.enqueue(
            session=session,
            kind="twilio.send",
            lane="sms:1",
            pace_key="twilio:+1",
            payload={"n": 2},
            order_key="1764790000.200000",
        )
    with database.write() as session:
        outbox.enqueue(
            session=session,
            kind="twilio.send",
            lane="sms:1",
            pace_key="twilio:+1",
            payload={"n": 1},
            order_key="1764790000.100000",
        )
    (head,) = heads(database)
    assert head.payload["n"] == 1


def test_due_again_brings_a_channels_waiting_retries_forward(database: Database):
    add(database, "thread:1", 1)
    add(database, "thread:2", 2)
    for work in heads(database):
        assert claim(database, work.id)
        with database.write() as session:
            outbox.retry_later(
                session=session, entry_id=work.id, delay=timedelta(minutes=5), error="slack 503"
            )
    assert heads(database) == []

    with database.write() as session:
        assert outbox.due_again(session=session, pace_key="slack:C1") == 2
    assert [w.payload["n"] for w in heads(database)] == [1, 2]


def test_platform_state_gives_the_last_success_the_last_error_and_the_backlog(
    database: Database,
):
    add(database, "thread:1", 1)
    add(database, "thread:2", 2)
    add(database, "sms:1", 3, kind="twilio.send")
    first, second, _sms = heads(database)
    for work in (first, second):
        assert claim(database, work.id)
    with database.write() as session:
        outbox.mark_done(session=session, entry_id=first.id)
        outbox.retry_later(
            session=session, entry_id=second.id, delay=timedelta(seconds=30), error="slack 503"
        )

    with database.read() as session:
        slack = outbox.platform_state(session=session, kinds=SLACK)
        sms = outbox.platform_state(session=session, kinds=SMS)

    assert slack.last_success_at is not None and slack.last_error == "slack 503"
    assert slack.last_error_at is not None and slack.backlog == 1
    assert slack.oldest_at == second.created_at
    assert (sms.last_success_at, sms.last_error, sms.backlog) == (None, None, 1)


def test_release_owned_gives_back_only_that_owners_claims(database: Database):
    add(database, "thread:1", 1)
    add(database, "thread:2", 2)
    first, second = heads(database)
    with database.write() as session:
        outbox.claim(session=session, entry_id=first.id, owner="me", lease=timedelta(seconds=60))
        outbox.claim(
            session=session, entry_id=second.id, owner="other", lease=timedelta(seconds=60)
        )
        assert outbox.release_owned(session=session, owner="me") == 1
    (again,) = heads(database)
    assert again.id == first.id and again.attempts == 0
