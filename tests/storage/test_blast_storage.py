"""Blast storage on both databases: the plan's rules, the engagement the push reads
(first reply within the window, first click, the opt-out), 30007 pausing."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from grammar.quiet_hours import parse_quiet_hours
from storage import blasts
from storage.blast_models import BLAST_LINKS, BLAST_RECIPIENTS, BlastRecipient
from storage.blasts import BlastRules
from storage.db import Database
from storage.models import Conversation, Message
from tests.bot.blasts.helpers import seed

T0 = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)  # 10:00 in Chicago
ZOE, BEN, OLD = "+13125550101", "+13125550102", "+13125550103"
RULES = BlastRules(
    opt_out_line="Reply STOP to opt out.",
    public_url="https://caret.example.com",
    track_links=True,
    default_timezone="America/Chicago",
    quiet_hours=parse_quiet_hours("21:00-08:00"),
    price_per_segment=0.0083,
    segments_per_second=1.0,
)


def start(db: Database, message: str, rules: BlastRules = RULES) -> int:
    with db.write() as session:
        blast = blasts.create_blast(
            session=session, name="Nights", list_name="Night nurses", message=message,
            send_at=T0, timezone="America/Chicago",
        )  # fmt: skip
        blasts.start_blast(
            session=session, blast_id=blast.id, rules=rules, now=T0,
            team_number="+15005550006", channel="C0CARETBOT",
        )  # fmt: skip
        blasts.queue_due(
            session=session, blast_id=blast.id, now=T0, quiet=rules.quiet_hours,
            window=100, channel="C0CARETBOT",
        )  # fmt: skip
        return blast.id


def send_all(db: Database, at: datetime = T0) -> dict[str, str]:
    """Record every queued recipient as sent (what the dispatcher does); phone -> sid."""
    sids = {}
    with db.write() as session:
        ids = session.execute(
            sa.select(BLAST_RECIPIENTS.c.id).where(BLAST_RECIPIENTS.c.state == "queued")
        ).scalars()
        for recipient_id in list(ids):
            view = blasts.send_view(session=session, recipient_id=recipient_id)
            assert view is not None
            sid = f"SM{recipient_id:032d}"
            blasts.record_sent(
                session=session, view=view, sid=sid, status="queued", segments=1, now=at
            )
            sids[view.phone] = sid
    return sids


def by_phone(db: Database) -> dict[str, BlastRecipient]:
    with db.read() as session:
        return {r.phone: r for r in session.execute(sa.select(BlastRecipient)).scalars()}


def test_the_opt_out_line_goes_only_on_the_first_text_and_links_are_tracked(
    database: Database,
) -> None:
    seed(database, [{"phone": ZOE, "first_name": "Zoë"}, {"phone": OLD, "first_name": "Old"}])
    with database.write() as session:  # caretbot texted OLD before
        conversation = Conversation(candidate_id=2, team_number="+15005550006", slack_channel="C")
        session.add(conversation)
        session.flush()
        assert conversation.id is not None
        session.add(
            Message(
                conversation_id=conversation.id, direction="outbound", body="Hi", status="delivered"
            )
        )
    start(database, "Hi {first_name}: https://jobs.example.com/n?x=1.")
    recipients = by_phone(database)
    zoe, old = str(recipients[ZOE].body), str(recipients[OLD].body)
    assert zoe.endswith(".\nReply STOP to opt out.")
    assert old.startswith("Hi Old: https://caret.example.com/l/")
    assert "STOP" not in old
    with database.read() as session:
        links = session.execute(sa.select(BLAST_LINKS.c.code, BLAST_LINKS.c.url)).all()
    assert {url for _, url in links} == {"https://jobs.example.com/n?x=1"}
    assert all(f"/l/{code}." in (zoe + old) for code, _ in links)


def test_track_links_off_leaves_links_as_written(database: Database) -> None:
    seed(database, [{"phone": ZOE, "first_name": "Zoë"}])
    start(database, "See https://jobs.example.com/n", replace(RULES, track_links=False))
    assert by_phone(database)[ZOE].body == "See https://jobs.example.com/n\nReply STOP to opt out."


def test_replies_count_once_within_the_window_and_stop_is_the_opt_out(database: Database):
    seed(database, [{"phone": ZOE}, {"phone": BEN}])
    start(database, "Hi {first_name|there}")
    send_all(database)
    with database.write() as session:
        assert (
            blasts.record_replies(
                session=session, phones=[ZOE], now=T0 + timedelta(days=1), window_days=7
            )
            == 1
        )
        # A second reply changes nothing; Ben's, after the window, is not this blast's.
        assert (
            blasts.record_replies(
                session=session, phones=[ZOE], now=T0 + timedelta(days=2), window_days=7
            )
            == 0
        )
        assert (
            blasts.record_replies(
                session=session, phones=[BEN], now=T0 + timedelta(days=8), window_days=7
            )
            == 0
        )
        assert (
            blasts.record_opt_outs(session=session, phones=[BEN], now=T0 + timedelta(days=8)) == 1
        )
    recipients = by_phone(database)
    assert recipients[ZOE].replied_at == T0 + timedelta(days=1)
    assert recipients[BEN].replied_at is None
    assert recipients[BEN].opted_out_at == T0 + timedelta(days=8)


def test_a_click_is_recorded_once_and_an_unknown_code_is_none(database: Database) -> None:
    seed(database, [{"phone": ZOE}])
    start(database, "Apply: https://jobs.example.com/a")
    with database.read() as session:
        code = session.execute(sa.select(BLAST_LINKS.c.code)).scalar_one()
    with database.write() as session:
        assert (
            blasts.record_click(session=session, code=code, now=T0) == "https://jobs.example.com/a"
        )
        assert blasts.record_click(session=session, code=code, now=T0 + timedelta(hours=1))
        assert blasts.record_click(session=session, code="nope", now=T0) is None
        clicks = session.execute(sa.select(BLAST_LINKS.c.clicks)).scalar_one()
    assert clicks == 2
    assert by_phone(database)[ZOE].clicked_at == T0


def test_statuses_move_forward_and_30007_on_five_pauses(database: Database) -> None:
    phones = [f"+1312555{n:04d}" for n in range(300, 310)]
    seed(database, [{"phone": phone} for phone in phones])
    blast_id = start(database, "Hi")
    sids = send_all(database)
    with database.write() as session:
        blasts.record_delivery(
            session=session, sid=sids[phones[0]], status="delivered", error_code=None
        )
        assert (
            blasts.record_delivery(
                session=session, sid=sids[phones[0]], status="sent", error_code=None
            )
            is None
        )
        for phone in phones[1:5]:
            assert blasts.record_delivery(
                session=session, sid=sids[phone], status="undelivered", error_code=30007
            ) == (blast_id, "")
        paused = blasts.record_delivery(
            session=session, sid=sids[phones[5]], status="undelivered", error_code=30007
        )
        assert paused is not None and "30007" in paused[1]
        assert blasts.get_blast(session=session, blast_id=blast_id).status == "paused"
        figures = blasts.report(
            session=session, blast=blasts.get_blast(session=session, blast_id=blast_id),
            rules=RULES, now=T0,
        )  # fmt: skip
    assert figures.delivered == 1 and figures.failed == {"30007": 5}


def test_the_preview_warns_past_twilios_ten_hour_queue(database: Database) -> None:
    seed(database, [{"phone": f"+1312555{n:04d}"} for n in range(400, 420)])
    with database.write() as session:
        blast = blasts.create_blast(
            session=session, name="Slow", list_name="Night nurses", message="Hi " * 200,
            send_at=None, timezone=None,
        )  # fmt: skip
        slow = replace(RULES, segments_per_second=0.001)
        figures = blasts.preview(session=session, blast=blast, rules=slow, now=T0)
    assert figures.segments == 20 * 5  # 600 characters and the opt-out line: 5 parts of 153
    assert any("10 hours" in warning for warning in figures.warnings)


def test_scheduler_running_says_whether_a_server_holds_the_lock(database: Database) -> None:
    """What `caretbot blasts` reads to say "`caretbot serve` will send it"."""
    from storage.locks import SchedulerLease, scheduler_running

    assert not scheduler_running(database)
    lease = SchedulerLease(database, "test:1")
    assert lease.acquire()
    try:
        assert scheduler_running(database)
    finally:
        lease.release()
    assert not scheduler_running(database)


def test_a_dynamic_list_is_evaluated_when_the_blast_starts_and_recorded(
    database: Database,
) -> None:
    from storage.lists import create_list
    from storage.models import Candidate

    seed(database, [{"phone": ZOE, "city": "Austin"}, {"phone": BEN, "city": "Dallas"}])
    with database.write() as session:
        create_list(session=session, name="Austin", filter_text="city:Austin", dynamic=True)
        blast = blasts.create_blast(
            session=session, name="Austin nights", list_name="Austin", message="Hi",
            send_at=T0, timezone=None,
        )  # fmt: skip
        session.add(Candidate(phone=OLD, city="Austin", opt_in=True))  # joins before the start
        session.flush()
        blasts.start_blast(
            session=session, blast_id=blast.id, rules=RULES, now=T0,
            team_number="+15005550006", channel=None,
        )  # fmt: skip
        session.add(Candidate(phone="+13125550111", city="Austin", opt_in=True))  # too late
    assert set(by_phone(database)) == {ZOE, OLD}
    with database.read() as session:
        figures = blasts.report(
            session=session, blast=blasts.get_blast(session=session, blast_id=blast.id),
            rules=RULES, now=T0,
        )  # fmt: skip
    assert figures.recipients == 2
