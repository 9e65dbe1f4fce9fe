"""Tables of the Slack surface: who has opened caretbot's App Home (with their filter and
what was last published), and the imports run so far (what `/caretbot import` lists)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlmodel import Column, Field, SQLModel

from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = ["HOME_FILTERS", "ImportRun", "SlackHome"]

# The App Home's filter select: what each person chose to see.
HOME_FILTERS = ("all", "waiting", "claimed", "unclaimed", "assigned")


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class SlackHome(SQLModel, table=True):
    """A person's App Home tab: their filter, and a digest of the view last published,
    so a view is published again only when what it shows has changed."""

    __tablename__ = "slack_homes"

    user_id: str = Field(primary_key=True, max_length=32)
    filter: str = "all"
    digest: str | None = None
    opened_at: datetime = _when(nullable=False, default=utcnow)
    published_at: datetime | None = _when(nullable=True)


class ImportRun(SQLModel, table=True):
    """One finished import of a file (from Slack or the command line) and its counts."""

    __tablename__ = "import_runs"

    id: int | None = Field(default=None, primary_key=True)
    file_name: str
    list_name: str | None = None
    # "slack" (^import) or "cli" (caretbot import).
    source: str
    user: str | None = None
    rows: int = 0
    created: int = 0
    updated: int = 0
    rejected: int = 0
    finished_at: datetime = _when(nullable=False, default=utcnow, index=True)
