"""blasts.tick on a controlled clock: a due blast starts once, recipients inside their
own quiet hours (two time zones) are held and queued when their window opens."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from grammar.quiet_hours import parse_quiet_hours
from scheduler.blasts import BlastConfig, tick
from storage import blasts
from storage.blast_models import BlastRecipient
from storage.blasts import BlastRules
from storage.db import Database
from storage.models import Message, OutboxEntry
from tests.bot.blasts.helpers import seed

CHICAGO = "+13125550101"
LOS_ANGELES = "+12135550102"
RULES = BlastRules(
    opt_out_line="Reply STOP to opt out.",
    public_url="https://caret.example.com",
    track_links=True,
    default_timezone="America/Chicago",
    quiet_hours=parse_quiet_hours("21:00-08:00"),
    price_per_segment=0.0083,
    segments_per_second=1.0,
)
T0 = datetime(2026, 12, 4, 14, 30, tzinfo=UTC)  # 08:30 in Chicago, 06:30 in Los Angeles


def _config() -> BlastConfig:
    return BlastConfig(rules=RULES, team_number="+15005550006", channel="C0CARETBOT")


def _states(db: Database) -> dict[str, tuple[str, datetime | None]]:
    with db.read() as session:
        rows = session.execute(sa.select(BlastRecipient)).scalars()
        return {r.phone: (r.state, r.hold_until) for r in rows}


def _blast_sends(db: Database) -> int:
    with db.read() as session:
        return len(
            session.execute(
                sa.select(OutboxEntry).where(OutboxEntry.kind == blasts.BLAST_SEND)  # type: ignore[arg-type]
            ).all()
        )


def _create(db: Database, send_at: datetime) -> None:
    seed(db, [{"phone": CHICAGO, "first_name": "Zoë"}, {"phone": LOS_ANGELES, "state": "CA"}])
    with db.write() as session:
        blasts.create_blast(
            session=session,
            name="Nights",
            list_name="Night nurses",
            message="Hi {first_name|there}",
            send_at=send_at,
            timezone="America/Chicago",
        )


def test_quiet_hours_hold_each_recipient_in_their_own_time_zone(database: Database) -> None:
    _create(database, T0)
    config = _config()
    assert tick(database, config, now=T0)["started"] == 1
    states = _states(database)
    assert states[CHICAGO][0] == "queued"
    # 06:30 in Los Angeles: held until 08:00 there, 16:00 UTC.
    assert states[LOS_ANGELES] == ("pending", datetime(2026, 12, 4, 16, 0, tzinfo=UTC))
    assert _blast_sends(database) == 1

    assert tick(database, config, now=datetime(2026, 12, 4, 15, 59, tzinfo=UTC))["queued"] == 0
    assert tick(database, config, now=datetime(2026, 12, 4, 16, 0, tzinfo=UTC))["queued"] == 1
    assert _states(database)[LOS_ANGELES][0] == "queued"
    assert _blast_sends(database) == 2


def test_the_evening_holds_the_east_first(database: Database) -> None:
    """21:05 in Chicago is quiet there while Los Angeles (19:05) is texted."""
    evening = datetime(2026, 12, 5, 3, 5, tzinfo=UTC)
    _create(database, evening)
    tick(database, _config(), now=evening)
    states = _states(database)
    assert states[LOS_ANGELES][0] == "queued"
    assert states[CHICAGO] == ("pending", datetime(2026, 12, 5, 14, 0, tzinfo=UTC))


def test_a_tick_that_runs_twice_starts_the_blast_once(database: Database) -> None:
    _create(database, T0)
    config = _config()
    tick(database, config, now=T0)
    tick(database, config, now=T0)
    assert len(_states(database)) == 2
    assert _blast_sends(database) == 1


def test_a_canceled_blast_queues_nothing_more(database: Database) -> None:
    _create(database, T0)
    config = _config()
    tick(database, config, now=T0)
    with database.write() as session:
        blast = blasts.find_blast(session=session, name="Nights")
        assert blast is not None
        _, canceled = blasts.cancel_blast(session=session, blast_id=blast.id)
    assert canceled == 1  # Los Angeles, still held
    assert tick(database, config, now=datetime(2026, 12, 4, 16, 0, tzinfo=UTC))["queued"] == 0
    assert _states(database)[LOS_ANGELES][0] == "canceled"


def test_the_nudge_goes_once_to_those_who_stayed_silent(database: Database) -> None:
    seed(database, [{"phone": CHICAGO, "first_name": "Zoë"}, {"phone": "+13125550109"}])
    with database.write() as session:
        blasts.create_blast(
            session=session, name="Nights", list_name="Night nurses", message="Hi",
            send_at=T0, timezone="America/Chicago", nudge_after_seconds=2 * 86400,
            nudge_message="Still interested, {first_name|there}?",
        )  # fmt: skip
    config = _config()
    tick(database, config, now=T0)
    with database.write() as session:
        for recipient_id in (1, 2):
            view = blasts.send_view(session=session, recipient_id=recipient_id)
            assert view is not None
            blasts.record_sent(
                session=session, view=view, sid=f"SM{recipient_id}", status="sent",
                segments=1, now=T0,
            )  # fmt: skip
        blasts.record_replies(session=session, phones=[CHICAGO], now=T0, window_days=7)
    assert tick(database, config, now=datetime(2026, 12, 6, 14, 29, tzinfo=UTC))["nudged"] == 0
    later = datetime(2026, 12, 6, 14, 31, tzinfo=UTC)
    assert tick(database, config, now=later)["nudged"] == 1
    assert tick(database, config, now=later)["nudged"] == 0  # once
    with database.read() as session:
        messages = Message.__table__  # type: ignore[attr-defined]
        entries = OutboxEntry.__table__  # type: ignore[attr-defined]
        bodies = session.execute(
            sa.select(messages.c.body).where(messages.c.direction == "outbound")
        ).scalars()
        assert "Still interested, there?" in list(bodies)
        sends = session.execute(
            sa.select(entries.c.kind).where(entries.c.kind == "twilio.send")
        ).all()
    assert len(sends) == 1
