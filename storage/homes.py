"""App Home tabs: who opened one, their filter, and what was last published to them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session

from storage.models import utcnow
from storage.slack_models import HOME_FILTERS, SlackHome

_homes = SlackHome.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class Home:
    user_id: str
    filter: str
    digest: str | None
    published_at: datetime | None


def _home(row: sa.Row) -> Home:
    return Home(row.user_id, row.filter, row.digest, row.published_at)


def open_home(*, session: Session, user_id: str, filter: str | None = None) -> Home:
    """Remember that `user_id` opened the App Home (keeping their filter unless a new one
    is given); returns the home. ValueError for a filter not in HOME_FILTERS."""
    if filter is not None and filter not in HOME_FILTERS:
        raise ValueError(f"unknown home filter {filter!r}: one of {', '.join(HOME_FILTERS)}")
    insert = (
        postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    )(_homes).values(user_id=user_id, filter=filter or "all", opened_at=utcnow())
    if filter is None:
        statement = insert.on_conflict_do_nothing(index_elements=["user_id"])
    else:
        statement = insert.on_conflict_do_update(
            index_elements=["user_id"], set_={"filter": filter}
        )
    session.execute(statement)
    found = get_home(session=session, user_id=user_id)
    assert found is not None
    return found


def get_home(*, session: Session, user_id: str) -> Home | None:
    row = session.execute(sa.select(_homes).where(_homes.c.user_id == user_id)).first()
    return _home(row) if row is not None else None


def all_homes(*, session: Session) -> list[Home]:
    """Every home opened so far, by user id."""
    return [_home(row) for row in session.execute(sa.select(_homes).order_by(_homes.c.user_id))]


def mark_published(*, session: Session, user_id: str, digest: str, now: datetime) -> None:
    """What was published to the home, and when."""
    session.execute(
        _homes.update().where(_homes.c.user_id == user_id).values(digest=digest, published_at=now)
    )
