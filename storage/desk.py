"""The desk's reads and writes: who holds a conversation, its state, scheduled sends,
notes and deliveries.

Changes to one conversation's lists (assignees, guests) read the row FOR UPDATE, so two
commands at once on PostgreSQL do not lose one another's change (SQLite's writers are
serialised by BEGIN IMMEDIATE). Scheduled sends are claimed by a conditional UPDATE
(pending -> sending): whoever changes the row did the work, a second job does nothing.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from storage import messages
from storage.desk_models import Delivery, DeskNote, ScheduledSend
from storage.models import Candidate, Conversation, utcnow

_conversations = Conversation.__table__  # type: ignore[attr-defined]
_candidates = Candidate.__table__  # type: ignore[attr-defined]
_sends = ScheduledSend.__table__  # type: ignore[attr-defined]
_notes = DeskNote.__table__  # type: ignore[attr-defined]
_deliveries = Delivery.__table__  # type: ignore[attr-defined]

OPEN = "open"
CLOSED = "closed"


@dataclass(frozen=True)
class DeskView:
    """A conversation, its candidate and its next pending send: what the card shows."""

    conversation: Conversation
    candidate: Candidate
    next_send: ScheduledSend | None


def conversation_in_thread(
    *, session: Session, channel: str, thread_ts: str
) -> tuple[Conversation, Candidate] | None:
    """The conversation whose Slack thread this is, with its candidate."""
    row = session.execute(
        sa.select(Conversation, Candidate)
        .join(Candidate, Candidate.id == Conversation.candidate_id)  # type: ignore[arg-type]
        .where(
            Conversation.slack_channel == channel,  # type: ignore[arg-type]
            Conversation.slack_thread_ts == thread_ts,  # type: ignore[arg-type]
        )
    ).first()
    return None if row is None else (row[0], row[1])


def desk_view(*, session: Session, conversation_id: int) -> DeskView | None:
    """What the candidate card shows about a conversation."""
    found = messages.conversation_view(session=session, conversation_id=conversation_id)
    if found is None:
        return None
    upcoming = pending_sends(session=session, conversation_id=conversation_id)
    return DeskView(found[0], found[1], upcoming[0] if upcoming else None)


def _locked_lists(session: Session, conversation_id: int) -> tuple[list[str], list[str]]:
    row = session.execute(
        sa.select(_conversations.c.assignees, _conversations.c.guests)
        .where(_conversations.c.id == conversation_id)
        .with_for_update()
    ).one()
    return list(row.assignees or []), list(row.guests or [])


def assign(*, session: Session, conversation_id: int, users: Sequence[str]) -> list[str]:
    """Add assignees; returns those who were not assigned already."""
    assignees, _ = _locked_lists(session, conversation_id)
    added = [user for user in dict.fromkeys(users) if user not in assignees]
    if added:
        session.execute(
            _conversations.update()
            .where(_conversations.c.id == conversation_id)
            .values(assignees=assignees + added)
        )
    return added


def unassign(
    *, session: Session, conversation_id: int, users: Sequence[str] | None = None
) -> list[str]:
    """Remove assignees (all of them when `users` is None); returns those removed."""
    assignees, _ = _locked_lists(session, conversation_id)
    removed = list(assignees) if users is None else [u for u in assignees if u in users]
    if removed:
        session.execute(
            _conversations.update()
            .where(_conversations.c.id == conversation_id)
            .values(assignees=[u for u in assignees if u not in removed])
        )
    return removed


def add_guest(*, session: Session, conversation_id: int, user: str) -> bool:
    """Let someone outside the team into this conversation; False if already in."""
    _, guests = _locked_lists(session, conversation_id)
    if user in guests:
        return False
    session.execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id)
        .values(guests=[*guests, user])
    )
    return True


def claimed_by(*, session: Session, conversation_id: int) -> str | None:
    """Who holds the conversation now."""
    return session.execute(
        sa.select(_conversations.c.claimed_by).where(_conversations.c.id == conversation_id)
    ).scalar_one()


def claim_if_unclaimed(*, session: Session, conversation_id: int, user: str) -> bool:
    """Claim for `user` only if nobody holds it; True when this call claimed it."""
    result = session.execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id, _conversations.c.claimed_by.is_(None))
        .values(claimed_by=user)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def unclaim(*, session: Session, conversation_id: int, holder: str) -> bool:
    """Release the claim if `holder` still holds it (no race with a new claim)."""
    result = session.execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id, _conversations.c.claimed_by == holder)
        .values(claimed_by=None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def set_closed(
    *, session: Session, conversation_id: int, closed: bool, now: datetime | None = None
) -> bool:
    """Close or reopen; False when it already was."""
    want, was = (CLOSED, OPEN) if closed else (OPEN, CLOSED)
    result = session.execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id, _conversations.c.status == was)
        .values(status=want, closed_at=(now or utcnow()) if closed else None)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def mark_read(*, session: Session, conversation_id: int, now: datetime | None = None) -> None:
    """The team has seen everything so far: no longer waiting for the team."""
    session.execute(
        _conversations.update()
        .where(_conversations.c.id == conversation_id)
        .values(last_read_at=now or utcnow())
    )


def record_note(
    *, session: Session, conversation_id: int, author: str, text: str, now: datetime | None = None
) -> int:
    """Store an internal note."""
    return int(
        session.execute(
            _notes.insert()
            .values(
                conversation_id=conversation_id,
                author=author,
                text=text,
                created_at=now or utcnow(),
            )
            .returning(_notes.c.id)
        ).scalar_one()
    )


def notes_of(*, session: Session, conversation_id: int) -> list[DeskNote]:
    """A conversation's notes, oldest first."""
    return list(
        session.execute(
            sa.select(DeskNote)
            .where(DeskNote.conversation_id == conversation_id)  # type: ignore[arg-type]
            .order_by(DeskNote.id)  # type: ignore[arg-type]
        ).scalars()
    )


def record_delivery(
    *,
    session: Session,
    conversation_id: int,
    to_user: str,
    delivered_by: str,
    status: str | None = None,
    stars: int | None = None,
    summary: str | None = None,
    now: datetime | None = None,
) -> int:
    """Store that the candidate was handed to `to_user`."""
    return int(
        session.execute(
            _deliveries.insert()
            .values(
                conversation_id=conversation_id,
                to_user=to_user,
                status=status,
                stars=stars,
                summary=summary,
                delivered_by=delivered_by,
                created_at=now or utcnow(),
            )
            .returning(_deliveries.c.id)
        ).scalar_one()
    )


def deliveries_of(*, session: Session, conversation_id: int) -> list[Delivery]:
    """A conversation's deliveries, oldest first."""
    return list(
        session.execute(
            sa.select(Delivery)
            .where(Delivery.conversation_id == conversation_id)  # type: ignore[arg-type]
            .order_by(Delivery.id)  # type: ignore[arg-type]
        ).scalars()
    )


def opt_out_manually(*, session: Session, candidate_id: int, reason: str) -> str | None:
    """A teammate's opt-out; returns the earlier source when already opted out (no change)."""
    row = session.execute(
        sa.select(_candidates.c.opted_out, _candidates.c.opt_out_source).where(
            _candidates.c.id == candidate_id
        )
    ).one()
    if row.opted_out:
        return str(row.opt_out_source or "unknown")
    messages.opt_out(session=session, candidate_id=candidate_id, source="manual", reason=reason)
    return None


def opt_in_manually(*, session: Session, candidate_id: int) -> bool:
    """Undo a teammate's opt-out; False unless the opt-out was manual (STOP needs START)."""
    result = session.execute(
        _candidates.update()
        .where(
            _candidates.c.id == candidate_id,
            _candidates.c.opted_out.is_(True),
            _candidates.c.opt_out_source == "manual",
        )
        .values(
            opted_out=False,
            opted_out_at=None,
            opt_out_source=None,
            opt_out_reason=None,
            updated_at=utcnow(),
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


# Scheduled sends.


def schedule_send(
    *,
    session: Session,
    conversation_id: int,
    text: str,
    send_at: datetime,
    send_by: datetime,
    created_by: str,
    now: datetime | None = None,
) -> int:
    """Store a text to send at `send_at`, and no later than `send_by`."""
    now = now or utcnow()
    return int(
        session.execute(
            _sends.insert()
            .values(
                conversation_id=conversation_id,
                text=text,
                send_at=send_at,
                send_by=send_by,
                created_by=created_by,
                state="pending",
                created_at=now,
                updated_at=now,
            )
            .returning(_sends.c.id)
        ).scalar_one()
    )


def pending_sends(*, session: Session, conversation_id: int) -> list[ScheduledSend]:
    """A conversation's pending sends, soonest first."""
    return list(
        session.execute(
            sa.select(ScheduledSend)
            .where(
                ScheduledSend.conversation_id == conversation_id,  # type: ignore[arg-type]
                ScheduledSend.state == "pending",  # type: ignore[arg-type]
            )
            .order_by(ScheduledSend.send_at, ScheduledSend.id)  # type: ignore[arg-type]
        ).scalars()
    )


def get_send(*, session: Session, send_id: int) -> ScheduledSend | None:
    """One scheduled send."""
    return session.get(ScheduledSend, send_id)


def cancel_send(*, session: Session, conversation_id: int, send_id: int) -> bool:
    """Cancel a pending send of this conversation; False if there is none by that id."""
    result = session.execute(
        _sends.update()
        .where(
            _sends.c.id == send_id,
            _sends.c.conversation_id == conversation_id,
            _sends.c.state == "pending",
        )
        .values(state="cancelled", updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def due_send_ids(*, session: Session, now: datetime, limit: int = 100) -> list[int]:
    """Pending sends whose time has come, oldest first."""
    return list(
        session.execute(
            sa.select(_sends.c.id)
            .where(_sends.c.state == "pending", _sends.c.send_at <= now)
            .order_by(_sends.c.send_at, _sends.c.id)
            .limit(limit)
        ).scalars()
    )


def upcoming_sends(*, session: Session, limit: int = 1000) -> list[tuple[int, datetime]]:
    """Pending sends (id, send_at), soonest first: what the scheduler arms on start."""
    rows = session.execute(
        sa.select(_sends.c.id, _sends.c.send_at)
        .where(_sends.c.state == "pending")
        .order_by(_sends.c.send_at)
        .limit(limit)
    )
    return [(row.id, row.send_at) for row in rows]


@dataclass(frozen=True)
class ClaimedSend:
    """A send this caller now owns (state `sending`), with what is needed to send it."""

    id: int
    conversation_id: int
    channel: str
    text: str
    send_at: datetime
    send_by: datetime
    created_by: str
    opted_out: bool
    opt_out_source: str | None


def claim_send(*, session: Session, send_id: int, now: datetime) -> ClaimedSend | None:
    """Take a due pending send (pending -> sending); None if it is not pending and due."""
    claimed = session.execute(
        _sends.update()
        .where(_sends.c.id == send_id, _sends.c.state == "pending", _sends.c.send_at <= now)
        .values(state="sending", updated_at=now)
    )
    if not claimed.rowcount:  # type: ignore[attr-defined]
        return None
    row = session.execute(
        sa.select(
            _sends.c.id,
            _sends.c.conversation_id,
            _sends.c.text,
            _sends.c.send_at,
            _sends.c.send_by,
            _sends.c.created_by,
            _conversations.c.slack_channel,
            _candidates.c.opted_out,
            _candidates.c.opt_out_source,
        )
        .join(_conversations, _conversations.c.id == _sends.c.conversation_id)
        .join(_candidates, _candidates.c.id == _conversations.c.candidate_id)
        .where(_sends.c.id == send_id)
    ).one()
    return ClaimedSend(
        id=row.id,
        conversation_id=row.conversation_id,
        channel=row.slack_channel,
        text=row.text,
        send_at=row.send_at,
        send_by=row.send_by,
        created_by=row.created_by,
        opted_out=bool(row.opted_out),
        opt_out_source=row.opt_out_source,
    )


def finish_send(
    *, session: Session, send_id: int, state: str, message_id: int | None = None
) -> None:
    """Record how a claimed send ended: sent (with its message), missed or blocked."""
    session.execute(
        _sends.update()
        .where(_sends.c.id == send_id, _sends.c.state == "sending")
        .values(state=state, message_id=message_id, updated_at=utcnow())
    )


@dataclass(frozen=True)
class CancelledSend:
    id: int
    conversation_id: int
    send_at: datetime
    text: str


@dataclass(frozen=True)
class AfterTexts:
    """What texts from candidates changed: conversations reopened, sends cancelled."""

    reopened: list[int]
    cancelled: list[CancelledSend]


def after_candidate_texts(
    *, session: Session, conversation_ids: Collection[int], cancel_scheduled: bool
) -> AfterTexts:
    """Reopen closed conversations that got a text and, if asked, cancel their pending sends.

    One query for the whole batch finds the few conversations with anything to do.
    """
    if not conversation_ids:
        return AfterTexts([], [])
    ids = sorted(conversation_ids)
    pending = (
        sa.select(_sends.c.id)
        .where(_sends.c.conversation_id == _conversations.c.id, _sends.c.state == "pending")
        .exists()
    )
    wanted = _conversations.c.status == CLOSED
    if cancel_scheduled:
        wanted = sa.or_(wanted, pending)
    rows = session.execute(
        sa.select(_conversations.c.id, _conversations.c.status).where(
            _conversations.c.id.in_(ids), wanted
        )
    ).all()
    if not rows:
        return AfterTexts([], [])
    reopened = [row.id for row in rows if row.status == CLOSED]
    if reopened:
        session.execute(
            _conversations.update()
            .where(_conversations.c.id.in_(reopened))
            .values(status=OPEN, closed_at=None)
        )
    cancelled: list[CancelledSend] = []
    if cancel_scheduled:
        found = session.execute(
            _sends.update()
            .where(
                _sends.c.conversation_id.in_([row.id for row in rows]),
                _sends.c.state == "pending",
            )
            .values(state="cancelled", updated_at=utcnow())
            .returning(_sends.c.id, _sends.c.conversation_id, _sends.c.send_at, _sends.c.text)
        ).all()
        cancelled = sorted(
            (CancelledSend(r.id, r.conversation_id, r.send_at, r.text) for r in found),
            key=lambda send: send.id,
        )
    return AfterTexts(reopened, cancelled)
