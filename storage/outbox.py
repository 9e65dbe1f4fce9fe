"""The outbox: work for Slack and Twilio, stored in the same transaction as its cause.

A dispatcher takes the first entry of each lane (in `order_key` order) once it is due,
claims it with a conditional update that names the dispatcher and a lease (so two
dispatchers never do one entry twice), renews the lease while it works, and records how
it went. Entries left `in_flight` by a dead dispatcher are handed back only once their
lease has lapsed.
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
    # An earlier attempt may have reached the platform: look before doing it again.
    maybe_done: bool = False
    order_key: str | None = None
    owner: str | None = None  # who holds it while in flight, until lease_until
    lease_until: datetime | None = None
    last_error: str | None = None
    state: str = "pending"


def order_key_at(moment: datetime) -> str:
    """An entry's place in its lane, written as Slack writes a message ts."""
    return f"{moment.timestamp():017.6f}"


_INSERT = _outbox.insert()
# How long a teammate's reply waits before it is due, so that one written just before
# it but stored just after (events are handled concurrently) still goes first.
REPLY_SETTLE = timedelta(milliseconds=300)


def row(
    *,
    kind: str,
    lane: str,
    pace_key: str,
    payload: dict[str, Any],
    now: datetime,
    order_key: str | None = None,
    not_before: datetime | None = None,
) -> dict[str, Any]:
    """The values of a new outbox entry (for `enqueue_many`).

    `order_key`: its place in the lane (default: when it was stored); `not_before`:
    not due until then (default: at once).
    """
    return {
        "kind": kind,
        "lane": lane,
        "pace_key": pace_key,
        "payload": payload,
        "state": "pending",
        "attempts": 0,
        "next_attempt_at": not_before or now,
        "created_at": now,
        "updated_at": now,
        "order_key": order_key or order_key_at(now),
        "maybe_done": False,
    }


def enqueue_many(*, session: Session, rows: list[dict[str, Any]]) -> None:
    """Add several entries in one statement, in order."""
    if rows:
        session.connection().execute(_INSERT, rows)


def enqueue(
    *,
    session: Session,
    kind: str,
    lane: str,
    pace_key: str,
    payload: dict[str, Any],
    order_key: str | None = None,
    settle: timedelta | None = None,
) -> None:
    """Add work; it is done after the current transaction commits.

    `order_key` places it in its lane (a teammate's reply: the Slack message's ts);
    `settle` holds it back that long, so that work stored a moment later but ordered
    before it (a reply written first, stored second) still goes first.
    """
    now = utcnow()
    session.connection().execute(
        _INSERT,
        row(
            kind=kind,
            lane=lane,
            pace_key=pace_key,
            payload=payload,
            now=now,
            order_key=order_key,
            not_before=now + settle if settle else None,
        ),
    )


def due_heads(
    *,
    session: Session,
    kinds: frozenset[str],
    now: datetime,
    limit: int = 200,
    skip_pace_keys: list[str] | None = None,
    low_priority: frozenset[str] = frozenset(),
) -> list[Work]:
    """The oldest undone entry of each lane, where it is due: the next thing to do.

    `skip_pace_keys`: channels or senders that must wait now (their heads are left out,
    so they do not crowd out the heads of others within `limit`). Entries of the
    `low_priority` kinds (blast texts) come after every other kind.
    """
    earlier = _outbox.alias("earlier")
    mine, theirs = (
        sa.func.coalesce(_outbox.c.order_key, ""),
        sa.func.coalesce(earlier.c.order_key, ""),
    )
    blocked = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.lane == _outbox.c.lane,
            sa.or_(theirs < mine, sa.and_(theirs == mine, earlier.c.id < _outbox.c.id)),
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
            *([_outbox.c.pace_key.notin_(skip_pace_keys)] if skip_pace_keys else []),
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


def next_due_at(
    *, session: Session, kinds: frozenset[str], skip_pace_keys: list[str] | None = None
) -> datetime | None:
    """When the earliest pending entry of these kinds (not of `skip_pace_keys`) falls due."""
    return (
        session.connection()
        .execute(
            sa.select(sa.func.min(_outbox.c.next_attempt_at)).where(
                _outbox.c.state == "pending",
                _outbox.c.kind.in_(sorted(kinds)),
                *([_outbox.c.pace_key.notin_(skip_pace_keys)] if skip_pace_keys else []),
            )
        )
        .scalar()
    )


def claim(
    *,
    session: Session,
    entry_id: int,
    owner: str | None = None,
    lease: timedelta | None = None,
) -> bool:
    """Take an entry for doing; False if another dispatcher took it first."""
    return entry_id in claim_many(session=session, entry_ids=[entry_id], owner=owner, lease=lease)


def claim_many(
    *,
    session: Session,
    entry_ids: list[int],
    owner: str | None = None,
    lease: timedelta | None = None,
) -> set[int]:
    """Take several entries at once for `owner`, until `lease` from now; the ids this
    caller got. The entries count as maybe done from here on (a crash mid-call)."""
    if not entry_ids:
        return set()
    now = utcnow()
    claimed = session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id.in_(entry_ids), _outbox.c.state == "pending")
        .values(
            state="in_flight",
            attempts=_outbox.c.attempts + 1,
            updated_at=now,
            owner=owner,
            lease_until=now + lease if lease is not None else None,
            maybe_done=True,
        )
        .returning(_outbox.c.id)
    )
    return set(claimed.scalars())


def renew_leases(*, session: Session, owner: str, lease: timedelta) -> int:
    """Extend every claim `owner` holds to `lease` from now; how many."""
    result = session.connection().execute(
        _outbox.update()
        .where(_outbox.c.owner == owner, _outbox.c.state == "in_flight")
        .values(lease_until=utcnow() + lease)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def release(*, session: Session, entry_ids: list[int]) -> None:
    """Give claimed entries back, untried (the dispatcher is stopping)."""
    if entry_ids:
        session.connection().execute(
            _outbox.update()
            .where(_outbox.c.id.in_(entry_ids), _outbox.c.state == "in_flight")
            .values(state="pending", attempts=_outbox.c.attempts - 1, owner=None, lease_until=None)
        )


def release_owned(*, session: Session, owner: str) -> int:
    """Give back every entry `owner` still holds (it stops before starting them)."""
    result = session.connection().execute(
        _outbox.update()
        .where(_outbox.c.owner == owner, _outbox.c.state == "in_flight")
        .values(state="pending", attempts=_outbox.c.attempts - 1, owner=None, lease_until=None)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_done(*, session: Session, entry_id: int) -> None:
    """The work reached its platform."""
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(state="done", last_error=None, updated_at=utcnow(), owner=None, lease_until=None)
    )


def retry_later(
    *,
    session: Session,
    entry_id: int,
    delay: timedelta,
    error: str,
    maybe_done: bool = True,
) -> None:
    """Put the entry back, due after `delay`; its lane waits for it.

    `maybe_done=False` when the platform surely did not do it (it answered with an
    error, or the connection was refused): no look-up is needed before the next try.
    """
    now = utcnow()
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(
            state="pending",
            next_attempt_at=now + delay,
            last_error=error,
            updated_at=now,
            owner=None,
            lease_until=None,
            maybe_done=maybe_done,
        )
    )


def due_again(*, session: Session, pace_key: str) -> int:
    """Make every waiting retry of a channel or sender due now (it is back after an
    outage: catch up at its rate rather than at each entry's backoff); how many."""
    now = utcnow()
    result = session.connection().execute(
        _outbox.update()
        .where(
            _outbox.c.pace_key == pace_key,
            _outbox.c.state == "pending",
            _outbox.c.next_attempt_at > now,
            _outbox.c.last_error.is_not(None),
        )
        .values(next_attempt_at=now)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def mark_failed(*, session: Session, entry_id: int, error: str) -> None:
    """Give the entry up for good; the lane moves on."""
    session.connection().execute(
        _outbox.update()
        .where(_outbox.c.id == entry_id)
        .values(state="failed", last_error=error, updated_at=utcnow(), owner=None, lease_until=None)
    )


def take_back_in_flight(
    *, session: Session, kinds: frozenset[str], now: datetime | None = None
) -> list[Work]:
    """Entries in flight whose claim has lapsed (their dispatcher died), put back to
    pending and returned; they stay marked maybe done, so they are looked up first.
    A claim with no lease (made before leases existed) has lapsed."""
    now = now or utcnow()
    lapsed = sa.and_(
        _outbox.c.state == "in_flight",
        _outbox.c.kind.in_(sorted(kinds)),
        sa.or_(_outbox.c.lease_until.is_(None), _outbox.c.lease_until < now),
    )
    rows = list(session.connection().execute(sa.select(_outbox).where(lapsed)))
    if rows:
        session.connection().execute(
            _outbox.update()
            .where(_outbox.c.id.in_([row.id for row in rows]), lapsed)
            .values(state="pending", next_attempt_at=utcnow(), owner=None, lease_until=None)
        )
    return [_work(row) for row in rows]


def backlog(*, session: Session) -> int:
    """How many entries are waiting to be done."""
    return (
        session.connection()
        .execute(sa.select(sa.func.count()).where(_outbox.c.state.in_(("pending", "in_flight"))))
        .scalar_one()
    )


@dataclass(frozen=True)
class PlatformState:
    """How delivery to one platform stands (for /healthz and `caretbot outbox`)."""

    last_success_at: datetime | None
    last_error: str | None  # the latest error of work still waiting or given up
    last_error_at: datetime | None
    backlog: int  # pending or in flight
    oldest_at: datetime | None  # when the oldest waiting entry was stored


def platform_state(*, session: Session, kinds: frozenset[str]) -> PlatformState:
    """The last success, the last error, the backlog and its oldest entry, for the
    work of these kinds (conversations.SLACK_KINDS or TWILIO_KINDS)."""
    connection = session.connection()
    of_kinds = _outbox.c.kind.in_(sorted(kinds))
    last_success = connection.execute(
        sa.select(sa.func.max(_outbox.c.updated_at)).where(of_kinds, _outbox.c.state == "done")
    ).scalar()
    error = connection.execute(
        sa.select(_outbox.c.last_error, _outbox.c.updated_at)
        .where(of_kinds, _outbox.c.last_error.is_not(None), _outbox.c.state != "done")
        .order_by(_outbox.c.updated_at.desc())
        .limit(1)
    ).first()
    backlog, oldest = connection.execute(
        sa.select(sa.func.count(), sa.func.min(_outbox.c.created_at)).where(
            of_kinds, _outbox.c.state.in_(("pending", "in_flight"))
        )
    ).one()
    return PlatformState(
        last_success_at=last_success,
        last_error=error.last_error if error else None,
        last_error_at=error.updated_at if error else None,
        backlog=int(backlog),
        oldest_at=oldest,
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
        maybe_done=bool(row.maybe_done),
        order_key=row.order_key,
        owner=row.owner,
        lease_until=row.lease_until,
        last_error=row.last_error,
        state=row.state,
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
