"""Filters run as one SQL query: a table of filters and the candidates each finds."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from grammar.filters import FIELDS, FieldSpec, FilterError, Kind, Scope, parse_filter
from storage.applies import add_apply, set_status
from storage.db import Database
from storage.filter_sql import compile_filter, count_query, select_query
from storage.lists import (
    add_members,
    compile_text,
    count_matching,
    create_list,
    ensure_static_list,
    resolver,
)
from storage.lists_models import CANDIDATES

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)

PEOPLE: list[dict[str, Any]] = [
    {
        "first_name": "Ana",
        "last_name": "López",
        "phone": "+15125550101",
        "email": "ana@gmail.com",
        "city": "Austin",
        "opt_in": True,
        "created_at": datetime(2026, 9, 15, 10, tzinfo=UTC),
        "last_inbound_at": NOW - timedelta(days=2),
        "apply": {"source": "indeed", "campaign": "Fall 2026", "job_title": "RN"},
        "status": "Engaged",
    },
    {
        "first_name": "Ben",
        "last_name": "Ruiz",
        "phone": "+15125550102",
        "email": "ben@yahoo.com",
        "city": "austin",
        "opt_in": False,
        "created_at": datetime(2026, 10, 1, 23, 30, tzinfo=UTC),
        "last_inbound_at": NOW - timedelta(days=20),
        "apply": {"source": "LinkedIn", "campaign": "Spring 2027", "job_title": "LPN"},
        "status": "Archived",
    },
    {
        "first_name": "Cy",
        "last_name": "Diaz",
        "phone": "+14155550103",
        "email": None,
        "city": "Dallas",
        "opt_in": True,
        "opted_out": True,
        "created_at": datetime(2026, 10, 2, tzinfo=UTC),
        "last_inbound_at": None,
        "apply": {"source": "indeed", "campaign": "Fall 2026", "job_title": "Night nurse"},
        "status": "New",
    },
    {
        "first_name": "Dee",
        "last_name": "Park",
        "phone": "+447911123456",
        "email": " ",
        "city": None,
        "opt_in": True,
        "created_at": datetime(2026, 11, 20, tzinfo=UTC),
        "last_inbound_at": NOW - timedelta(hours=3),
        "apply": None,  # came in some way that recorded no apply
        "status": None,
    },
]


@pytest.fixture
def people(database: Database) -> Iterator[Database]:
    with database.write() as session:
        for person in PEOPLE:
            values = {k: v for k, v in person.items() if k not in ("apply", "status")}
            values.setdefault("opted_out", False)
            values["updated_at"] = values["created_at"]
            cid = session.execute(
                sa.insert(CANDIDATES).values(custom_fields={}, **values).returning(CANDIDATES.c.id)
            ).scalar_one()
            person_id = int(cid)
            if person["apply"] is not None:
                add_apply(
                    session=session,
                    candidate_id=person_id,
                    origin="import",
                    fields={"source": "old"},
                )
                add_apply(
                    session=session,
                    candidate_id=person_id,
                    origin="sms",
                    fields=person["apply"],
                    policy="latest",
                )
                set_status(session=session, candidate_id=person_id, status=person["status"])
        nurses = ensure_static_list(session=session, name="Night nurses")
        ids = session.execute(
            sa.select(CANDIDATES.c.id).where(CANDIDATES.c.first_name.in_(["Ana", "Cy"]))
        ).scalars()
        add_members(session=session, list_id=nurses.id, candidate_ids=list(ids))
        create_list(session=session, name="Austin", filter_text="city:austin", dynamic=True)
        create_list(
            session=session,
            name="Austin nurses",
            filter_text='list:austin list:"night nurses"',
            dynamic=True,
        )
    yield database


FOUND: list[tuple[str, set[str]]] = [
    ("city:Austin", {"Ana", "Ben"}),
    ("city:AUSTIN first_name:ana", {"Ana"}),
    ("city:Austin source:indeed -status:archived", {"Ana"}),
    ("-city:Austin", {"Cy", "Dee"}),
    ('campaign:"Fall 2026" OR campaign:"Spring 2027"', {"Ana", "Ben", "Cy"}),
    ("(city:Dallas OR city:Austin) job_title:RN", {"Ana"}),
    ("source:linkedin", {"Ben"}),
    ("-source:indeed", {"Ben", "Dee"}),
    ("status:engaged", {"Ana"}),
    ("-status:archived", {"Ana", "Cy", "Dee"}),
    ("created:>2026-10-01", {"Cy", "Dee"}),
    ("created:>=2026-10-01", {"Ben", "Cy", "Dee"}),
    ("created:2026-10-01", {"Ben"}),
    ("created:<2026-10-01", {"Ana"}),
    ("created:<=2026-10-01", {"Ana", "Ben"}),
    ("created:>=2026-10-01T23:30 created:<2026-10-02", {"Ben"}),
    ("created:2026-10-01T23:30", {"Ben"}),
    ("replied:<7d", {"Ana", "Dee"}),
    ("replied:<4h", {"Dee"}),
    ("replied:>1w", {"Ben"}),
    ("-replied:<7d", {"Ben", "Cy"}),
    ("has:replied", {"Ana", "Ben", "Dee"}),
    ("has:email", {"Ana", "Ben"}),
    ("-has:email", {"Cy", "Dee"}),
    ("has:campaign", {"Ana", "Ben", "Cy"}),
    ("opt_in:true opted_out:false", {"Ana", "Dee"}),
    ("opted_out:true", {"Cy"}),
    ("email:*@gmail.com", {"Ana"}),
    ("email:*_*", set()),
    ("job_title:*nurse", {"Cy"}),
    ("phone:+1512*", {"Ana", "Ben"}),
    ("phone:415-555-0103", {"Cy"}),
    ('phone:"+44 7911 123456"', {"Dee"}),
    ('list:"Night nurses"', {"Ana", "Cy"}),
    ("list:austin", {"Ana", "Ben"}),
    ('list:"austin nurses"', {"Ana"}),
    ('-list:"night nurses"', {"Ben", "Dee"}),
]


@pytest.mark.parametrize(("text", "names"), FOUND, ids=[t for t, _ in FOUND])
def test_filter_finds(people: Database, text: str, names: set[str]) -> None:
    with people.read() as session:
        compiled = compile_text(session=session, text=text, now=NOW)
        found = session.execute(select_query(compiled, CANDIDATES.c.first_name)).scalars()
        assert set(found) == names
        assert count_matching(session=session, text=text, now=NOW) == len(names)


def test_a_filter_is_one_select(people: Database) -> None:
    with people.read() as session:
        compiled = compile_text(
            session=session, text="list:austin source:indeed -status:new replied:<7d", now=NOW
        )
    sql = str(count_query(compiled).compile(people.engine))
    assert sql.lstrip().upper().startswith("SELECT")
    assert sql.upper().count("JOIN") == 1  # the active apply, once


@pytest.mark.parametrize(
    ("text", "inner"),
    [
        ("source:indeed", True),
        ("city:x source:indeed", True),
        ("source:a OR campaign:b", True),
        ("source:a OR city:b", False),
        ("-status:new", False),
        ("has:campaign", True),
        ("list:austin source:a", True),
    ],
)
def test_the_apply_join_is_inner_when_a_match_needs_an_apply(
    people: Database, text: str, inner: bool
) -> None:
    with people.read() as session:
        compiled = compile_text(session=session, text=text, now=NOW)
    sql = str(count_query(compiled).compile(people.engine)).upper()
    assert ("LEFT OUTER JOIN" not in sql) == inner


def test_candidate_only_filters_do_not_join_applies(people: Database) -> None:
    with people.read() as session:
        compiled = compile_text(session=session, text="city:Austin", now=NOW)
    assert not compiled.uses_apply
    assert "applies" not in str(count_query(compiled).compile(people.engine))


@pytest.mark.parametrize(
    ("text", "message", "column"),
    [
        ('city:x list:"Day nurses"', 'there is no list named "Day nurses"', 8),
        ("list:loop", "list loop refers to itself (loop -> loop)", 1),
    ],
)
def test_list_errors_point_at_the_term(
    people: Database, text: str, message: str, column: int
) -> None:
    with people.write() as session:
        from storage.lists_models import LISTS, SAVED_FILTERS

        saved = session.execute(
            sa.insert(SAVED_FILTERS)
            .values(name="loop", text="list:loop", created_at=NOW)
            .returning(SAVED_FILTERS.c.id)
        ).scalar_one()
        session.execute(
            sa.insert(LISTS).values(
                name="loop", name_key="loop", saved_filter_id=saved, created_at=NOW
            )
        )
    with people.read() as session, pytest.raises(FilterError) as caught:
        compile_filter(parse_filter(text), text=text, lists=resolver(session), now=NOW)
    assert caught.value.message == message
    assert caught.value.column == column


def test_now_must_be_aware(people: Database) -> None:
    with people.read() as session, pytest.raises(ValueError, match="aware"):
        compile_text(session=session, text="replied:<7d", now=datetime(2026, 1, 1))


# --- issue 7, item 7: case-insensitive matching is Unicode-aware on both databases ----

TEXT_FIELDS = [spec for spec in FIELDS if spec.kind is Kind.TEXT]


@pytest.mark.parametrize("spec", TEXT_FIELDS, ids=[spec.name for spec in TEXT_FIELDS])
def test_every_text_field_matches_accented_capitals_in_any_case(
    database: Database, spec: FieldSpec
) -> None:
    """`MONTRÉAL` is found by MONTRÉAL, montréal and Montr*; `MONTREAL` is not."""
    with database.write() as session:
        for at, value in enumerate(["MONTRÉAL ÇA ÑANDÚ", "MONTREAL", "Zürich"]):
            values: dict[str, Any] = {
                "last_name": "X",
                "phone": f"+1512555020{at}",
                "opt_in": True,
                "opted_out": False,
                "custom_fields": {},
                "created_at": NOW,
                "updated_at": NOW,
            }
            if spec.scope is Scope.CANDIDATE:
                values[spec.column] = value
            cid = session.execute(
                sa.insert(CANDIDATES).values(**values).returning(CANDIDATES.c.id)
            ).scalar_one()
            if spec.scope is Scope.APPLY:
                add_apply(
                    session=session,
                    candidate_id=int(cid),
                    origin="import",
                    fields={spec.column: value},
                )
    for text in ('"MONTRÉAL ÇA ÑANDÚ"', '"montréal ça ñandú"', '"Montréal Ça Ñandú"', "montr*"):
        with database.read() as session:
            compiled = compile_text(session=session, text=f"{spec.name}:{text}", now=NOW)
            found = session.execute(select_query(compiled, CANDIDATES.c.phone)).scalars()
            expected = {"+15125550200", "+15125550201"} if text == "montr*" else {"+15125550200"}
            assert set(found) == expected, text
    with database.read() as session:
        assert count_matching(session=session, text=f"{spec.name}:ZÜRICH", now=NOW) == 1
        assert count_matching(session=session, text=f"-{spec.name}:zürich", now=NOW) == 2
