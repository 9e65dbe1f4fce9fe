"""The outbox: work for Slack and Twilio, stored in the same transaction as its cause.

A dispatcher takes the oldest entry of each lane once it is due, claims it with a
conditional update (so two dispatchers never do one entry twice), and records how it
went. Entries left `in_flight` by a crash are handed back on start.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.models import OutboxEntry, utcnow

_outbox = OutboxEntry.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Work:
    """A claimed outbox entry, as the dispatcher sees it."""

    id: int
    kind: str
    lane: str
    pace_key: str
    payload: dict[str, Any]
    attempts: int
    created_at: datetime
    updated_at: datetime


_INSERT = _outbox.insert()


def row(
    *, kind: str, lane: str, pace_key: str, payload: dict[str, Any], now: datetime
) -> dict[str, Any]:
    """The values of a new outbox entry (for `enqueue_many`)."""
    return {
        "kind": kind,
        "lane": lane,
        "pace_key": pace_key,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        "updated_at": now,
    }


def enqueue_many(*, session: Session, rows: list[dict[str, Any]]) -> None:
    """Add several entries in one statement, in order."""
    if rows:
        session.connection().execute(_INSERT, rows)


def enqueue(
    *, session: Session, kind: str, lane: str, pace_key: str, payload: dict[str, Any]
) -> None:
    """Add work; it is done after the current transaction commits."""
    session.connection().execute(
        _INSERT, row(kind=kind, lane=lane, pace_key=pace_key, payload=payload, now=utcnow())
    )


def due_heads(
    *,
    session: Session,
    kinds: frozenset[str],
    now: datetime,
    limit: int = 200,
    low_priority: frozenset[str] = frozenset(),
) -> list[Work]:
    """The oldest undone entry of each lane, where it is due: the next thing to do.

    Entries of the `low_priority` kinds (blast texts) come after every other kind.
    """
    earlier = _outbox.alias("earlier")
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.lane == _outbox.c.lane,
            earlier.c.id < _outbox.c.id,
            earlier.c.state.in_(("pending", "in_flight")),
        )
        .exists()
    )
    rows = session.connection().execute(
        sa.select(_outbox)
        .where(
            _outbox.c.state == "pending",
            _outbox.c.next_attempt_at <= now,
            _outbox.c.kind.in_(sorted(kinds)),
            ~blocked,
        )
        .order_by(
            sa.case((_outbox.c.kind.in_(sorted(low_priority)), 1), else_=0)
            if low_priority
            else sa.literal(0),
            _outbox.c.id,
        )
        .limit(limit)
    )
    return [_work(row) for row in rows]


def next_due_at(*, session: Session, kinds: frozenset[str]) -> datetime | None:
    """When the earliest pending entry of these kinds falls due."""
    return (
        session.connection()
        .execute(
            sa.select(sa.func.min(_outbox.c.next_attempt_at)).where(
                _outbox.c.state == "pending", _outbox.c.kind.in_(sorted(kinds))
            )
        )
        .scalar()
    )


def claim(*, session: Session, entry_id: int) -> bool:
    """Take an entry for doing; False if another dispatcher took it first."""
    result = session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id, _outbox.c.state == "pending")
        .values(state="in_flight", attempts=_outbox.c.attempts + 1, updated_at=utcnow())
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def claim_many(*, session: Session, entry_ids: list[int]) -> set[int]:
    """Take several entries at once; the ids this caller got."""
    if not entry_ids:
        return set()
    claimed = session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id.in_(entry_ids), _outbox.c.state == "pending")
        .values(state="in_flight", attempts=_outbox.c.attempts + 1, updated_at=utcnow())
        .returning(_outbox.c.id)
    )
    return set(claimed.scalars())


def release(*, session: Session, entry_ids: list[int]) -> None:
    """Give claimed entries back, untried (the dispatcher is stopping)."""
    if entry_ids:
        session.connection().execute(
            _outbox.update()
            .where(_outbox.c.id.in_(entry_ids), _outbox.c.state == "in_flight")
            .values(state="pending", attempts=_outbox.c.attempts - 1)
        )


def mark_done(*, session: Session, entry_id: int) -> None:
    """The work reached its platform."""
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(state="done", last_error=None, updated_at=utcnow())
    )


def retry_later(*, session: Session, entry_id: int, delay: timedelta, error: str) -> None:
    """Put the entry back, due after `delay`; its lane waits for it."""
    now = utcnow()
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(state="pending", next_attempt_at=now + delay, last_error=error, updated_at=now)
    )


def mark_failed(*, session: Session, entry_id: int, error: str) -> None:
    """Give the entry up for good; the lane moves on."""
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(state="failed", last_error=error, updated_at=utcnow())
    )


def take_back_in_flight(*, session: Session, kinds: frozenset[str]) -> list[Work]:
    """Entries a crash left in flight, put back to pending; returned for a look first."""
    rows = list(
        session.connection().execute(
            sa.select(_outbox).where(
                _outbox.c.state == "in_flight", _outbox.c.kind.in_(sorted(kinds))
            )
        )
    )
    if rows:
        session.connection().execute(
            _outbox.update()
            .where(_outbox.c.id.in_([row.id for row in rows]))
            .values(state="pending", next_attempt_at=utcnow())
        )
    return [_work(row) for row in rows]


def backlog(*, session: Session) -> int:
    """How many entries are waiting to be done."""
    return (
        session.connection()
        .execute(sa.select(sa.func.count()).where(_outbox.c.state.in_(("pending", "in_flight"))))
        .scalar_one()
    )


def entries(*, session: Session, state: str | None = None) -> list[Work]:
    """Every entry (in a state), oldest first: for tests and `caretbot outbox`."""
    query = sa.select(_outbox).order_by(_outbox.c.id)
    if state is not None:
        query = query.where(_outbox.c.state == state)
    return [_work(row) for row in session.connection().execute(query)]


def _work(row: Any) -> Work:
    return Work(
        id=row.id,
        kind=row.kind,
        lane=row.lane,
        pace_key=row.pace_key,
        payload=dict(row.payload or {}),
        attempts=row.attempts,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


@dataclass(frozen=True)
class Waiting:
    """Work waiting for one platform: how many entries, and when the oldest was stored."""

    count: int = 0
    oldest_created_at: datetime | None = None


def waiting_by_platform(*, session: Session) -> dict[str, Waiting]:
    """Pending and in-flight entries per platform (the kind's prefix: slack, twilio)."""
    rows = session.connection().execute(
        sa.select(_outbox.c.kind, sa.func.count(), sa.func.min(_outbox.c.created_at))
        .where(_outbox.c.state.in_(("pending", "in_flight")))
        .group_by(_outbox.c.kind)
    )
    found: dict[str, Waiting] = {}
    for kind, count, oldest in rows:
        platform = kind.split(".", 1)[0]
        # min() keeps the column's type, so the value comes back aware, in UTC.
        known = found.get(platform, Waiting())
        earliest = min(
            (t for t in (known.oldest_created_at, oldest) if t is not None), default=None
        )
        found[platform] = Waiting(known.count + count, earliest)
    return found


@dataclass(frozen=True)
class Problem:
    """An entry that is given up, or waiting longer than it should, with why."""

    id: int
    kind: str
    state: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    last_error: str | None
    payload: dict[str, Any]


def problems(*, session: Session, stuck_before: datetime) -> list[Problem]:
    """Given-up entries, and waiting ones stored before `stuck_before` or already
    retried; oldest first."""
    rows = session.connection().execute(
        sa.select(_outbox)
        .where(
            sa.or_(
                _outbox.c.state == "failed",
                sa.and_(
                    _outbox.c.state.in_(("pending", "in_flight")),
                    sa.or_(_outbox.c.created_at < stuck_before, _outbox.c.attempts > 0),
                ),
            )
        )
        .order_by(_outbox.c.id)
    )
    return [
        Problem(
            id=row.id,
            kind=row.kind,
            state=row.state,
            attempts=row.attempts,
            created_at=row.created_at,
            next_attempt_at=row.next_attempt_at,
            last_error=row.last_error,
            payload=dict(row.payload or {}),
        )
        for row in rows
    ]


def put_back(*, session: Session, entry_ids: list[int] | None, now: datetime) -> list[Work]:
    """Make given-up entries (and waiting ones) due now with a fresh count of tries:
    `entry_ids`, or every given-up and pending entry when None. Entries done or in
    flight are left alone. Returns the entries put back."""
    query = sa.select(_outbox).where(_outbox.c.state.in_(("failed", "pending")))
    if entry_ids is not None:
        query = query.where(_outbox.c.id.in_(entry_ids))
    rows = list(session.connection().execute(query.order_by(_outbox.c.id)))
    if rows:
        session.connection().execute(
            _outbox.update()
            .where(_outbox.c.id.in_([row.id for row in rows]))
            .values(state="pending", attempts=0, next_attempt_at=now, updated_at=now)
        )
    return [_work(row) for row in rows]
