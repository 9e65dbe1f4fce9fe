"""Tables for applies, lists and saved filters.

Every entry into caretbot (an import row, a first text, an ATS sync) is an Apply. One
apply per candidate is active (the first, or the latest if the team says so): filters
on source, campaign, status and the rest read the active apply. `is_active` is kept on
the row, with a partial unique index, so a filter joins one apply per candidate without
working out "the first" for a million candidates on every query.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = ["Apply", "CandidateList", "ListMember", "SavedFilter", "APPLY_FIELDS"]

# The apply's descriptive columns, in the order the natural key is built from.
APPLY_FIELDS: tuple[str, ...] = (
    "source",
    "medium",
    "campaign",
    "content",
    "job_title",
    "location",
    "referrer",
    "keyword",
    "external_job_id",
)


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Apply(SQLModel, table=True):
    """A candidate's entry into caretbot for a job, with where it came from."""

    __tablename__ = "applies"
    __table_args__ = (
        # Re-importing a file adds no apply twice: same candidate, origin and fields.
        sa.UniqueConstraint("candidate_id", "natural_key", name="uq_applies_natural_key"),
        sa.Index(
            "ux_applies_active",
            "candidate_id",
            unique=True,
            sqlite_where=sa.text("is_active"),
            postgresql_where=sa.text("is_active"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    candidate_id: int = Field(foreign_key="candidates.id")
    # "import", "sms", "ats": how the candidate came in this time.
    origin: str = "import"
    source: str | None = None
    medium: str | None = None
    campaign: str | None = None
    # The requisition title.
    content: str | None = None
    job_title: str | None = None
    location: str | None = None
    referrer: str | None = None
    keyword: str | None = None
    external_job_id: str | None = None
    # One of grammar.filters.APPLY_STATUSES.
    status: str = "New"
    is_active: bool = False
    # A digest of origin and the fields above, lower-cased: what "the same apply" means.
    natural_key: int = Field(sa_column=Column(sa.BigInteger(), nullable=False))
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)


class SavedFilter(SQLModel, table=True):
    """A named filter, re-evaluated whenever it is used (a dynamic list)."""

    __tablename__ = "saved_filters"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String(200), nullable=False, unique=True))
    text: str
    created_at: datetime = _when(nullable=False, default=utcnow)


class CandidateList(SQLModel, table=True):
    """A list of candidates: static (members stored) or dynamic (a saved filter).

    `name_key` is the name lower-cased and trimmed: "Night nurses" and "night nurses " are
    one list.
    """

    __tablename__ = "candidate_lists"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String(200), nullable=False))
    name_key: str = Field(sa_column=Column(sa.String(200), nullable=False, unique=True))
    # Set for a dynamic list; a static list keeps the filter that built it in `filter_text`.
    saved_filter_id: int | None = Field(default=None, foreign_key="saved_filters.id")
    filter_text: str | None = None
    created_by: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)


class ListMember(SQLModel, table=True):
    """A candidate on a static list."""

    __tablename__ = "list_members"
    __table_args__ = (sa.Index("ix_list_members_candidate", "candidate_id"),)

    list_id: int = Field(foreign_key="candidate_lists.id", primary_key=True)
    candidate_id: int = Field(foreign_key="candidates.id", primary_key=True)
    added_at: datetime = _when(nullable=False, default=utcnow)


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


# The Core tables, typed, for the bulk paths (import, filters, lists).
CANDIDATES = _table("candidates")
APPLIES = _table("applies")
LISTS = _table("candidate_lists")
LIST_MEMBERS = _table("list_members")
SAVED_FILTERS = _table("saved_filters")
