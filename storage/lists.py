"""Lists of candidates and the filters that build them.

A static list stores its members (`lists create NAME --filter ...` adds whoever matches
at that moment; an import with `--list` adds its rows). A dynamic list is a saved filter,
evaluated whenever the list is used. Both answer `list_query`, which blasts and the
recruit push read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from grammar.filters import FilterError, parse_filter
from storage.filter_sql import (
    Compiled,
    ListRef,
    ListResolver,
    candidates,
    compile_filter,
    count_query,
    select_query,
)
from storage.lists_models import LIST_MEMBERS, LISTS, SAVED_FILTERS
from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = [
    "CandidateRow",
    "ListError",
    "ListInfo",
    "add_members",
    "candidate_rows",
    "compile_text",
    "count_matching",
    "create_list",
    "ensure_static_list",
    "find_list",
    "ROW_COLUMNS",
    "list_count",
    "list_lists",
    "list_query",
    "name_key",
    "remove_members",
    "resolver",
]

lists_table = LISTS
members = LIST_MEMBERS
saved_filters = SAVED_FILTERS

# What `candidates --filter` and `lists show` print for each candidate.
ROW_COLUMNS = ("id", "phone", "first_name", "last_name", "email", "city", "state", "opted_out")


class ListError(ValueError):
    """A list that is not there, already there, or cannot take members."""


@dataclass(frozen=True)
class ListInfo:
    id: int
    name: str
    dynamic: bool
    filter_text: str | None
    created_at: datetime

    @property
    def kind(self) -> str:
        return "dynamic" if self.dynamic else "static"


CandidateRow = dict[str, Any]


def name_key(name: str) -> str:
    """Lists are one list whatever the case and surrounding spaces of their name."""
    return " ".join(name.split()).lower()


def _info(row: Any) -> ListInfo:
    return ListInfo(
        id=row.id,
        name=row.name,
        dynamic=row.saved_filter_id is not None,
        filter_text=row.text if row.saved_filter_id is not None else row.filter_text,
        created_at=row.created_at,
    )


def _lists_select() -> sa.Select[Any]:
    return sa.select(
        lists_table.c.id,
        lists_table.c.name,
        lists_table.c.saved_filter_id,
        lists_table.c.filter_text,
        lists_table.c.created_at,
        saved_filters.c.text,
    ).select_from(
        lists_table.outerjoin(saved_filters, saved_filters.c.id == lists_table.c.saved_filter_id)
    )


def find_list(*, session: Session, name: str) -> ListInfo | None:
    """The list with that name (any case), or None."""
    row = session.execute(_lists_select().where(lists_table.c.name_key == name_key(name))).first()
    return _info(row) if row is not None else None


def resolver(session: Session) -> ListResolver:
    """What `list:NAME` in a filter looks up, reading this session."""

    def resolve(name: str) -> ListRef | None:
        info = find_list(session=session, name=name)
        if info is None:
            return None
        return ListRef(
            name=info.name, id=info.id, filter_text=info.filter_text if info.dynamic else None
        )

    return resolve


def compile_text(
    *, session: Session, text: str, now: datetime | None = None, tz: tzinfo = UTC
) -> Compiled:
    """Parse and compile a filter; FilterError says what is wrong and where."""
    expr = parse_filter(text)
    return compile_filter(expr, text=text, lists=resolver(session), now=now or utcnow(), tz=tz)


def count_matching(*, session: Session, text: str, now: datetime | None = None) -> int:
    """How many candidates a filter matches (one COUNT query)."""
    compiled = compile_text(session=session, text=text, now=now)
    return int(session.execute(count_query(compiled)).scalar_one())


def candidate_rows(
    *, session: Session, query: sa.Select[Any], limit: int = 10
) -> list[CandidateRow]:
    """The first `limit` candidates whose ids `query` selects, by id."""
    ids = query.order_by(None).subquery()
    select = (
        sa.select(*(candidates.c[name] for name in ROW_COLUMNS))
        .where(candidates.c.id.in_(sa.select(ids.c[0])))
        .order_by(candidates.c.id)
        .limit(limit)
    )
    return [dict(row._mapping) for row in session.execute(select)]


def list_query(*, session: Session, name: str, now: datetime | None = None) -> sa.Select[Any]:
    """SELECT the ids of a list's candidates: stored members, or the saved filter's matches."""
    info = find_list(session=session, name=name)
    if info is None:
        raise ListError(f'there is no list named "{name}"')
    if not info.dynamic:
        return sa.select(members.c.candidate_id).where(members.c.list_id == info.id)
    assert info.filter_text is not None
    try:
        compiled = compile_text(session=session, text=info.filter_text, now=now)
    except FilterError as error:
        raise ListError(f"list {info.name}'s filter no longer reads:\n{error.explain()}") from None
    return select_query(compiled)


def list_count(*, session: Session, info: ListInfo, now: datetime | None = None) -> int:
    """How many candidates are on a list now."""
    query = list_query(session=session, name=info.name, now=now).subquery()
    return int(session.execute(sa.select(sa.func.count()).select_from(query)).scalar_one())


def list_lists(*, session: Session) -> list[ListInfo]:
    """Every list, by name."""
    rows = session.execute(_lists_select().order_by(lists_table.c.name_key))
    return [_info(row) for row in rows]


def _check_name(name: str) -> str:
    clean = " ".join(name.split())
    if not clean:
        raise ListError("a list needs a name")
    if len(clean) > 200:
        raise ListError("a list name is at most 200 characters")
    return clean


def create_list(
    *,
    session: Session,
    name: str,
    filter_text: str,
    dynamic: bool = False,
    created_by: str | None = None,
    now: datetime | None = None,
) -> tuple[ListInfo, int]:
    """Create a list from a filter: (the list, how many candidates are on it).

    Static: the candidates matching now, copied in one INSERT ... SELECT. Dynamic: the
    filter is saved and checked (it must compile now, lists it names included).
    """
    name = _check_name(name)
    now = now or utcnow()
    if find_list(session=session, name=name) is not None:
        raise ListError(f'a list named "{name}" already exists')
    compiled = compile_text(session=session, text=filter_text, now=now)
    saved_id = None
    if dynamic:
        if session.execute(
            sa.select(saved_filters.c.id).where(saved_filters.c.name == name)
        ).first():
            raise ListError(f'a saved filter named "{name}" already exists')
        saved_id = session.execute(
            sa.insert(saved_filters)
            .values(name=name, text=filter_text, created_at=now)
            .returning(saved_filters.c.id)
        ).scalar_one()
    list_id = session.execute(
        sa.insert(lists_table)
        .values(
            name=name,
            name_key=name_key(name),
            saved_filter_id=saved_id,
            filter_text=filter_text,
            created_by=created_by,
            created_at=now,
        )
        .returning(lists_table.c.id)
    ).scalar_one()
    if dynamic:
        count = int(session.execute(count_query(compiled)).scalar_one())
    else:
        matching = select_query(
            compiled, candidates.c.id, sa.literal(list_id), sa.literal(now, UTCDateTime())
        )
        session.execute(
            sa.insert(members).from_select(["candidate_id", "list_id", "added_at"], matching)
        )
        count = int(
            session.execute(
                sa.select(sa.func.count()).where(members.c.list_id == list_id)
            ).scalar_one()
        )
    info = find_list(session=session, name=name)
    assert info is not None
    return info, count


def ensure_static_list(
    *, session: Session, name: str, created_by: str | None = None, now: datetime | None = None
) -> ListInfo:
    """The static list with that name, created empty if there is none."""
    name = _check_name(name)
    info = find_list(session=session, name=name)
    if info is not None:
        if info.dynamic:
            raise ListError(
                f'list "{info.name}" is dynamic (a saved filter): candidates join it by '
                "matching its filter, not by being added"
            )
        return info
    session.execute(
        sa.insert(lists_table).values(
            name=name, name_key=name_key(name), created_by=created_by, created_at=now or utcnow()
        )
    )
    info = find_list(session=session, name=name)
    assert info is not None
    return info


def add_members(
    *, session: Session, list_id: int, candidate_ids: Iterable[int], now: datetime | None = None
) -> int:
    """Add candidates to a static list; returns how many were not on it already."""
    wanted = set(candidate_ids)
    if not wanted:
        return 0
    present = set(
        session.execute(
            sa.select(members.c.candidate_id).where(
                members.c.list_id == list_id, members.c.candidate_id.in_(wanted)
            )
        ).scalars()
    )
    new = sorted(wanted - present)
    if new:
        at = now or utcnow()
        session.execute(
            sa.insert(members),
            [{"list_id": list_id, "candidate_id": cid, "added_at": at} for cid in new],
        )
    return len(new)


def remove_members(*, session: Session, list_id: int, candidate_ids: Sequence[int]) -> int:
    """Take candidates off a static list; returns how many were on it."""
    result = session.execute(
        sa.delete(members).where(
            members.c.list_id == list_id, members.c.candidate_id.in_(list(candidate_ids))
        )
    )
    return int(result.rowcount)  # type: ignore[attr-defined]
