"""Issue 8 "Duplicates": work claimed by a worker carries its owner and a lease. A
claim of a dead worker is taken back only once its lease has lapsed, never because
another process started; a living worker renews its leases, so a slow call is never
done twice by a second worker on the same database."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.delivery import dispatcher
from storage import conversations, outbox
from storage.models import utcnow
from tests.bot.conftest import CANDIDATE, TEAMMATE, Bridge
from tests.bot.harness import CHANNEL, Caretbot
from tests.fakes.signing import new_ts
from tests.fakes.slack_api import FakeSlack
from tests.fakes.twilio_api import FakeTwilio


@pytest.fixture
def short_leases(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dispatcher, "LEASE_SECONDS", 1.0)
    monkeypatch.setattr(dispatcher, "LEASE_RENEW_SECONDS", 0.2)


def claimed_by_a_dead_worker(caretbot: Caretbot, thread: str, body: str, lease: float) -> int:
    """A reply stored and claimed by a worker that then died (kill -9): in flight, owned
    by someone else, its lease running for `lease` more seconds. Returns the entry id."""
    with caretbot.db.write() as session:
        reply = conversations.record_teammate_reply(
            session=session,
            event_id="Ev" + new_ts().replace(".", ""),
            channel=CHANNEL,
            thread_ts=thread,
            ts=new_ts(),
            user=TEAMMATE,
            text=body,
        )
        assert reply is not None and reply.message_id is not None
    time.sleep(0.5)  # past any settling of the reply
    with caretbot.db.write() as session:
        (entry,) = [
            e
            for e in outbox.entries(session=session, state="pending")
            if e.payload.get("message_id") == reply.message_id
        ]
        assert outbox.claim(
            session=session,
            entry_id=entry.id,
            owner="otherhost:4242:deadbeef",
            lease=timedelta(seconds=lease),
        )
    return entry.id


def test_a_dead_workers_claim_is_taken_back_only_once_its_lease_lapses(
    short_leases: None,
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    caretbot = make_caretbot(database_url)
    bridge = Bridge(caretbot, slack, twilio)
    thread = bridge.open_thread()
    caretbot.stop()
    claimed_by_a_dead_worker(caretbot, thread, "See you at 10am", lease=2.5)
    lapses = time.time() + 2.5

    caretbot.restart()

    time.sleep(1.0)
    assert bridge.creates() == []  # the new worker's start does not take it
    (sent,) = bridge.wait_for_texts(1, timeout=6)
    assert sent["body"] == "See you at 10am"
    (create,) = bridge.creates()
    assert create.at >= lapses - 0.05
    entries = bridge.wait_outbox_settled()
    assert all(e.state == "done" for e in entries)


def test_a_second_worker_never_takes_a_slow_call_that_its_owner_still_works_on(
    short_leases: None,
    make_caretbot: Callable[..., Caretbot],
    database_url: str,
    slack: FakeSlack,
    twilio: FakeTwilio,
):
    first = make_caretbot(database_url)
    bridge = Bridge(first, slack, twilio)
    thread = bridge.open_thread()
    release = twilio.hold_next(to=CANDIDATE, seconds=10)
    try:
        bridge.teammate_says("Can you come in at 9?", thread)
        twilio.wait_for(lambda: twilio._holds == [], timeout=5)
        second = make_caretbot(database_url)  # another worker on the same database

        time.sleep(3 * dispatcher.LEASE_SECONDS)  # three leases long, renewed meanwhile

        with second.db.read() as session:
            (entry,) = outbox.entries(session=session, state="in_flight")
        assert entry.owner == first.workers._running[0].owner  # type: ignore[attr-defined]
        assert entry.lease_until is not None and entry.lease_until > utcnow()
    finally:
        release.set()
    (sent,) = bridge.wait_for_texts(1)
    assert sent["body"] == "Can you come in at 9?"
    bridge.wait_outbox_settled()
    time.sleep(0.5)
    assert len(bridge.creates()) == 1
