"""Lists: static ones keep who matched, dynamic ones are their filter."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from grammar.filters import FilterError
from storage.db import Database
from storage.lists import (
    ListError,
    add_members,
    candidate_rows,
    create_list,
    ensure_static_list,
    find_list,
    list_count,
    list_lists,
    list_query,
    remove_members,
)
from storage.lists_models import CANDIDATES, LIST_MEMBERS, SAVED_FILTERS

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def add_candidate(db: Database, phone: str, city: str) -> int:
    with db.write() as session:
        return int(
            session.execute(
                sa.insert(CANDIDATES)
                .values(
                    phone=phone,
                    last_name="Doe",
                    city=city,
                    opt_in=True,
                    opted_out=False,
                    custom_fields={},
                    created_at=NOW,
                    updated_at=NOW,
                )
                .returning(CANDIDATES.c.id)
            ).scalar_one()
        )


def test_a_static_list_keeps_who_matched_then(database: Database) -> None:
    add_candidate(database, "+15125550101", "Austin")
    add_candidate(database, "+15125550102", "Dallas")
    with database.write() as session:
        info, count = create_list(session=session, name="Austin now", filter_text="city:austin")
    assert (info.kind, info.filter_text, count) == ("static", "city:austin", 1)
    add_candidate(database, "+15125550103", "Austin")
    with database.read() as session:
        assert list_count(session=session, info=info) == 1
        rows = candidate_rows(session=session, query=list_query(session=session, name="austin NOW"))
    assert [row["phone"] for row in rows] == ["+15125550101"]


def test_a_dynamic_list_is_its_filter(database: Database) -> None:
    add_candidate(database, "+15125550101", "Austin")
    with database.write() as session:
        info, count = create_list(
            session=session, name="Austin", filter_text="city:austin", dynamic=True
        )
    assert (info.kind, count) == ("dynamic", 1)
    add_candidate(database, "+15125550103", "Austin")
    with database.read() as session:
        assert list_count(session=session, info=info) == 2
        saved = session.execute(sa.select(SAVED_FILTERS.c.name, SAVED_FILTERS.c.text)).all()
    assert [tuple(row) for row in saved] == [("Austin", "city:austin")]


def test_list_names_are_one_whatever_their_case(database: Database) -> None:
    with database.write() as session:
        create_list(session=session, name="Night  nurses", filter_text="city:x")
    with database.write() as session, pytest.raises(ListError, match="already exists"):
        create_list(session=session, name=" night nurses", filter_text="city:y")
    with database.read() as session:
        info = find_list(session=session, name="NIGHT NURSES")
        assert info is not None and info.name == "Night nurses"


def test_a_bad_filter_creates_no_list(database: Database) -> None:
    with database.write() as session, pytest.raises(FilterError) as caught:
        create_list(session=session, name="x", filter_text="cty:Austin")
    assert "did you mean city" in caught.value.explain()
    with database.read() as session:
        assert list_lists(session=session) == []


def test_lists_come_by_name(database: Database) -> None:
    with database.write() as session:
        create_list(session=session, name="b", filter_text="city:x")
        create_list(session=session, name="A", filter_text="city:x", dynamic=True)
    with database.read() as session:
        assert [(i.name, i.kind) for i in list_lists(session=session)] == [
            ("A", "dynamic"),
            ("b", "static"),
        ]


def test_members_come_and_go(database: Database) -> None:
    one = add_candidate(database, "+15125550101", "Austin")
    two = add_candidate(database, "+15125550102", "Austin")
    with database.write() as session:
        info = ensure_static_list(session=session, name="Picked", now=NOW)
        assert add_members(session=session, list_id=info.id, candidate_ids=[one, two]) == 2
        assert add_members(session=session, list_id=info.id, candidate_ids=[one]) == 0
        assert remove_members(session=session, list_id=info.id, candidate_ids=[one]) == 1
        assert ensure_static_list(session=session, name="picked").id == info.id
    with database.read() as session:
        members = session.execute(sa.select(LIST_MEMBERS.c.candidate_id)).scalars().all()
    assert members == [two]


def test_a_dynamic_list_takes_no_members(database: Database) -> None:
    with database.write() as session:
        create_list(session=session, name="Austin", filter_text="city:austin", dynamic=True)
        with pytest.raises(ListError, match="dynamic"):
            ensure_static_list(session=session, name="austin")


def test_an_unknown_list_says_so(database: Database) -> None:
    with database.read() as session, pytest.raises(ListError, match='no list named "Nope"'):
        list_query(session=session, name="Nope")


def test_a_saved_filter_that_no_longer_reads_says_why(database: Database) -> None:
    with database.write() as session:
        create_list(session=session, name="Old", filter_text="city:x", dynamic=True)
        session.execute(sa.update(SAVED_FILTERS).values(text="shoe_size:9"))
    with database.read() as session, pytest.raises(ListError, match="no longer reads"):
        list_query(session=session, name="old")


def test_the_migration_creates_what_the_list_models_describe(database: Database) -> None:
    """Alembic sees no difference between the migrated database and these tables."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext
    from sqlmodel import SQLModel

    mine = {"applies", "candidate_lists", "list_members", "saved_filters"}
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    def about_lists(change: Any) -> bool:
        parts = change if isinstance(change, list) else [change]
        for part in parts:
            for item in part[1:]:
                table = getattr(item, "table", item)
                if getattr(table, "name", item) in mine:
                    return True
        return False

    assert [change for change in diff if about_lists(change)] == []
