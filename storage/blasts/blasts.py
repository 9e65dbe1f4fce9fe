"""Creating, editing and reading blasts (the rows of `blasts`)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.blast_models import BLAST_RECIPIENTS, BLASTS
from storage.lists import find_list
from storage.lists_models import LISTS
from storage.models import utcnow

__all__ = [
    "BlastError",
    "BlastRow",
    "create_blast",
    "edit_blast",
    "find_blast",
    "list_blasts",
]

# A blast can be changed until it starts.
EDITABLE = ("draft", "scheduled")


class BlastError(ValueError):
    """A blast that is not there, already there, or not in a state for what was asked."""


@dataclass(frozen=True)
class BlastRow:
    """A blast with its list's name, for the command line and the scheduler."""

    id: int
    name: str
    list_id: int
    list_name: str
    message: str
    status: str
    send_at: datetime | None
    timezone: str | None
    started_at: datetime | None
    finished_at: datetime | None
    nudge_after_seconds: int | None
    nudge_message: str | None
    pause_reason: str | None
    team_number: str | None
    slack_channel: str | None
    slack_ts: str | None
    created_at: datetime


def _select() -> sa.Select[Any]:
    return sa.select(*BLASTS.c, LISTS.c.name.label("list_name")).join(
        LISTS, LISTS.c.id == BLASTS.c.list_id
    )


def _row(row: Any) -> BlastRow:
    values = dict(row._mapping)
    return BlastRow(**{name: values[name] for name in BlastRow.__dataclass_fields__})


def find_blast(*, session: Session, name: str) -> BlastRow | None:
    """The blast with this name (exact, then ignoring case), or None."""
    found = session.connection().execute(_select().where(BLASTS.c.name == name)).first()
    if found is None:
        found = (
            session.connection()
            .execute(_select().where(sa.func.lower(BLASTS.c.name) == name.strip().lower()))
            .first()
        )
    return None if found is None else _row(found)


def get_blast(*, session: Session, blast_id: int) -> BlastRow:
    """The blast with this id; BlastError if it is gone."""
    found = session.connection().execute(_select().where(BLASTS.c.id == blast_id)).first()
    if found is None:
        raise BlastError(f"there is no blast #{blast_id}")
    return _row(found)


def list_blasts(*, session: Session) -> list[BlastRow]:
    """Every blast, newest first."""
    rows = session.connection().execute(_select().order_by(BLASTS.c.id.desc()))
    return [_row(row) for row in rows]


def _list_id(session: Session, list_name: str) -> int:
    info = find_list(session=session, name=list_name)
    if info is None:
        raise BlastError(f'there is no list named "{list_name}" (caretbot lists shows them)')
    return info.id


def create_blast(
    *,
    session: Session,
    name: str,
    list_name: str,
    message: str,
    send_at: datetime | None,
    timezone: str | None,
    nudge_after_seconds: int | None = None,
    nudge_message: str | None = None,
) -> BlastRow:
    """Store a new blast: `scheduled` with a send_at, else `draft`.

    BlastError for an empty name, a name in use, or an unknown list. The caller has
    checked the template, the time and the size.
    """
    name = name.strip()
    if not name:
        raise BlastError("a blast needs a name")
    if find_blast(session=session, name=name) is not None:
        raise BlastError(f'there is already a blast named "{name}"')
    list_id = _list_id(session, list_name)
    now = utcnow()
    new_id = (
        session.connection()
        .execute(
            BLASTS.insert()
            .values(
                name=name,
                list_id=list_id,
                message=message,
                status="scheduled" if send_at is not None else "draft",
                send_at=send_at,
                timezone=timezone,
                nudge_after_seconds=nudge_after_seconds,
                nudge_message=nudge_message,
                created_at=now,
                updated_at=now,
            )
            .returning(BLASTS.c.id)
        )
        .scalar_one()
    )
    return get_blast(session=session, blast_id=new_id)


def edit_blast(*, session: Session, blast_id: int, **changes: Any) -> BlastRow:
    """Change a blast that has not started: list_name, message, send_at, timezone,
    nudge_after_seconds, nudge_message (only those given). BlastError once started."""
    blast = get_blast(session=session, blast_id=blast_id)
    if blast.status not in EDITABLE:
        raise BlastError(f'blast "{blast.name}" is {blast.status}: it can no longer be edited')
    values: dict[str, Any] = {}
    if "list_name" in changes:
        values["list_id"] = _list_id(session, changes.pop("list_name"))
    values.update(changes)
    if "send_at" in values:
        values["status"] = "scheduled" if values["send_at"] is not None else "draft"
    values["updated_at"] = utcnow()
    session.connection().execute(BLASTS.update().where(BLASTS.c.id == blast_id).values(values))
    return get_blast(session=session, blast_id=blast_id)


def schedule(*, session: Session, blast_id: int, send_at: datetime) -> BlastRow:
    """`send`: mark a draft (or scheduled) blast due at `send_at` (now, for "start now")."""
    return edit_blast(session=session, blast_id=blast_id, send_at=send_at)


def cancel_blast(*, session: Session, blast_id: int) -> tuple[BlastRow, int]:
    """Stop a blast: nothing not yet handed to Twilio goes out. (blast, texts canceled).

    BlastError when it is done or canceled already. Recipients already queued in the
    outbox are canceled by the sender when it reaches them (it reads the status).
    """
    blast = get_blast(session=session, blast_id=blast_id)
    if blast.status in ("done", "canceled"):
        raise BlastError(f'blast "{blast.name}" is {blast.status} already')
    now = utcnow()
    connection = session.connection()
    connection.execute(
        BLASTS.update()
        .where(BLASTS.c.id == blast_id)
        .values(status="canceled", finished_at=now, updated_at=now)
    )
    canceled = connection.execute(
        BLAST_RECIPIENTS.update()
        .where(BLAST_RECIPIENTS.c.blast_id == blast_id, BLAST_RECIPIENTS.c.state == "pending")
        .values(state="canceled", updated_at=now)
    ).rowcount
    return get_blast(session=session, blast_id=blast_id), int(canceled or 0)


def resume_blast(*, session: Session, blast_id: int) -> BlastRow:
    """Continue a paused blast. BlastError when it is not paused."""
    blast = get_blast(session=session, blast_id=blast_id)
    if blast.status != "paused":
        raise BlastError(f'blast "{blast.name}" is {blast.status}, not paused')
    session.connection().execute(
        BLASTS.update()
        .where(BLASTS.c.id == blast_id)
        .values(status="sending", pause_reason=None, updated_at=utcnow())
    )
    return get_blast(session=session, blast_id=blast_id)
