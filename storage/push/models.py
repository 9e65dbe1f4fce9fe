"""Tables of the push into Zoho Recruit: rules, runs, per-candidate history, tokens.

Timestamps are timezone-aware UTC; states are plain strings checked in code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import JSON, Column, Field, SQLModel

from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = ["PushHistory", "PushRule", "PushRun", "RecruitToken"]

# History states: pending (recorded just before the upsert call that carries it), new
# (action insert), updated (action update: Recruit already had them), readded (pushed
# again after a new engagement), failed (an item error), ignored (with a reason).
HISTORY_STATES = ("pending", "new", "updated", "readded", "failed", "ignored")
PUSHED_STATES = ("new", "updated", "readded")
# Run states: running (the one in progress), done, stopped (Recruit could not take the
# rest: left for the next run), interrupted (its process died; a later run took over),
# failed (a bug or the database).
RUN_STATES = ("running", "done", "stopped", "interrupted", "failed")


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class PushRule(SQLModel, table=True):
    """Push the candidates of a list who engaged (replied or clicked) with its blasts
    into a Recruit module (Candidates or Contacts), with a field map."""

    __tablename__ = "push_rules"
    __table_args__ = (
        sa.UniqueConstraint("list_id", "module", "engagement", name="uq_push_rules_rule"),
    )

    id: int | None = Field(default=None, primary_key=True)
    module: str  # "Candidates" | "Contacts" (Recruit's module API names)
    engagement: str  # "replied" | "clicked"
    list_id: int = Field(foreign_key="candidate_lists.id", index=True)
    # caretbot field -> Recruit field API name, the defaults included.
    field_map: dict[str, str] = Field(default_factory=dict, sa_column=Column(JSON))
    # A Recruit field that receives the engagement ("Replied to SMS blast Fall nurses").
    status_field: str | None = None
    enabled: bool = False
    # When it was last enabled: engagement from 5 days before counts (the backfill).
    enabled_at: datetime | None = _when(nullable=True)
    last_run_id: int | None = None
    last_run_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False, default=utcnow)


class PushRun(SQLModel, table=True):
    """One run of the push. At most one is `running`: a partial unique index says so."""

    __tablename__ = "push_runs"
    __table_args__ = (
        sa.Index(
            "ux_push_runs_running",
            "state",
            unique=True,
            sqlite_where=sa.text("state = 'running'"),
            postgresql_where=sa.text("state = 'running'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    state: str = "running"
    # host:pid:nonce of the process running it (a dead pid on this host frees it).
    holder: str
    started_at: datetime = _when(nullable=False, default=utcnow)
    # Touched after every call to Recruit: a run silent for long has died elsewhere.
    heartbeat_at: datetime = _when(nullable=False, default=utcnow)
    finished_at: datetime | None = _when(nullable=True)
    # Per rule id: {"new": n, "updated": n, "readded": n, "failed": n, "ignored": {reason: n}}.
    summary: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON))
    error: str | None = None


class PushHistory(SQLModel, table=True):
    """What the push did with one candidate for one rule and one engagement."""

    __tablename__ = "push_history"
    __table_args__ = (
        sa.Index("ix_push_history_rule_candidate", "rule_id", "candidate_id", "engaged_at"),
        sa.Index("ix_push_history_state", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    rule_id: int = Field(foreign_key="push_rules.id")
    candidate_id: int = Field(foreign_key="candidates.id", index=True)
    run_id: int = Field(foreign_key="push_runs.id", index=True)
    # The latest engagement this entry covers (UTC): a later one pushes them again.
    engaged_at: datetime = _when(nullable=False)
    state: str
    # Ignored: why. Failed: Zoho's message.
    reason: str | None = None
    error_code: str | None = None
    error_field: str | None = None
    recruit_id: str | None = None
    # The Email sent: a pending entry is looked up by it after an interrupted run.
    email: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow)


class RecruitToken(SQLModel, table=True):
    """A Zoho access token, shared by every process until it expires (Zoho throttles
    refreshes: about 5 a minute, 10 tokens a refresh token in 10 minutes)."""

    __tablename__ = "recruit_tokens"

    # accounts URL | client id: new credentials never reuse an old client's token.
    key: str = Field(sa_column=Column(sa.String(300), primary_key=True))
    access_token: str
    expires_at: datetime = _when(nullable=False)
    updated_at: datetime = _when(nullable=False, default=utcnow)


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


PUSH_RULES = _table("push_rules")
PUSH_RUNS = _table("push_runs")
PUSH_HISTORY = _table("push_history")
RECRUIT_TOKENS = _table("recruit_tokens")
