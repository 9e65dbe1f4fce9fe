"""The blast tables: the migration matches the models, and the contract the push reads."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlmodel import SQLModel

import storage.tables  # noqa: F401 - every table on the metadata
from storage.blast_models import Blast, BlastRecipient
from storage.db import Database
from storage.lists_models import CandidateList
from storage.models import Candidate

BLAST_TABLES = {"blasts", "blast_recipients", "blast_links"}


def test_the_migration_creates_what_the_blast_models_describe(database: Database):
    """Alembic sees no difference between the migrated database and the blast models."""
    with database.engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)

    def about_blasts(change: tuple | list) -> bool:
        names: set[str | None] = set()
        for part in change if isinstance(change, list) else [change]:
            for item in part[1:]:
                names |= {item} if isinstance(item, str) else {getattr(item, "name", None)}
                names.add(getattr(getattr(item, "table", None), "name", None))
        return bool(names & BLAST_TABLES)

    assert [change for change in diff if about_blasts(change)] == []


def test_one_text_per_phone_per_blast(database: Database):
    """(blast_id, phone) is unique: a phone number is texted once by a blast."""
    with database.write() as session:
        candidate = Candidate(phone="+13125550101", first_name="Zoë")
        listed = CandidateList(name="Night nurses", name_key="night nurses")
        session.add_all([candidate, listed])
        session.flush()
        assert listed.id is not None and candidate.id is not None
        blast = Blast(name="Nights", list_id=listed.id, message="Hi {first_name|there}")
        session.add(blast)
        session.flush()
        assert blast.id is not None
        session.add(
            BlastRecipient(blast_id=blast.id, candidate_id=candidate.id, phone=candidate.phone)
        )
    with pytest.raises(sa.exc.IntegrityError), database.write() as session:
        session.add(
            BlastRecipient(
                blast_id=blast.id,
                candidate_id=candidate.id,
                phone=candidate.phone,
                sent_at=datetime(2026, 12, 3, tzinfo=UTC),
            )
        )
