"""The record of finished imports, newest first: what `/caretbot import` shows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import Session

from storage.db import Database
from storage.imports import ImportSummary
from storage.models import utcnow
from storage.slack_models import ImportRun

_runs = ImportRun.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class ImportRecord:
    file_name: str
    list_name: str | None
    source: str
    user: str | None
    rows: int
    created: int
    updated: int
    rejected: int
    finished_at: datetime


def record_import(
    *,
    session: Session,
    file_name: str,
    list_name: str | None,
    source: str,
    user: str | None,
    rows: int,
    created: int,
    updated: int,
    rejected: int,
    now: datetime | None = None,
) -> None:
    """Remember a finished import (`source`: "slack" or "cli")."""
    session.execute(
        _runs.insert().values(
            file_name=file_name,
            list_name=list_name,
            source=source,
            user=user,
            rows=rows,
            created=created,
            updated=updated,
            rejected=rejected,
            finished_at=now or utcnow(),
        )
    )


def last_imports(*, session: Session, limit: int = 5) -> list[ImportRecord]:
    """The latest finished imports, newest first."""
    rows = session.execute(
        sa.select(_runs).order_by(_runs.c.finished_at.desc(), _runs.c.id.desc()).limit(limit)
    )
    return [
        ImportRecord(
            r.file_name,
            r.list_name,
            r.source,
            r.user,
            r.rows,
            r.created,
            r.updated,
            r.rejected,
            r.finished_at,
        )
        for r in rows
    ]


def record_summary(
    db: Database, summary: ImportSummary, *, file_name: str, source: str, user: str | None
) -> None:
    """Remember a finished import from its summary (a dry run is not remembered)."""
    if summary.dry_run:
        return
    with db.write() as session:
        record_import(
            session=session,
            file_name=file_name,
            list_name=summary.list_name,
            source=source,
            user=user,
            rows=summary.rows,
            created=summary.created,
            updated=summary.updated,
            rejected=summary.rejected,
        )
