"""Push runs and history: the one run in progress, and each candidate's outcome.

Exactly one run is `running` at a time (a partial unique index on the state): a second
`caretbot push run` finds it and says so. A run whose process died (kill -9) is taken
over by the next one, which the caller decides with `is_stale`.

Before each upsert call, the run records its candidates as `pending` and commits; after
the answer it records each item's outcome. Pending entries left by a run that died are
looked up in Recruit by the next run (`pending_entries`, `settle_pending`), so nothing
is pushed twice.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.models import Candidate
from storage.push.models import PUSH_HISTORY, PUSH_RULES, PUSH_RUNS, PUSHED_STATES

__all__ = [
    "HistoryRow",
    "RunInfo",
    "finish_run",
    "heartbeat",
    "history_rows",
    "pending_entries",
    "record_ignored",
    "record_pending",
    "record_results",
    "running_run",
    "settle_pending",
    "start_run",
]

runs = PUSH_RUNS
history = PUSH_HISTORY
rules = PUSH_RULES
candidates = Candidate.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class RunInfo:
    """A push run as stored."""

    id: int
    state: str
    holder: str
    started_at: datetime
    heartbeat_at: datetime
    finished_at: datetime | None
    summary: dict[str, Any]
    error: str | None


def _run(row: Any) -> RunInfo:
    return RunInfo(
        id=row.id,
        state=row.state,
        holder=row.holder,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
        summary=dict(row.summary or {}),
        error=row.error,
    )


def running_run(*, session: Session) -> RunInfo | None:
    """The run in progress, if any."""
    row = session.execute(sa.select(runs).where(runs.c.state == "running")).first()
    return _run(row) if row is not None else None


def start_run(
    *,
    session: Session,
    holder: str,
    now: datetime,
    is_stale: Callable[[RunInfo], bool],
) -> tuple[int | None, RunInfo | None]:
    """Claim the run: (new run id, None), or (None, the run in progress).

    A running run that `is_stale` (its process is gone) is marked interrupted first.
    Call inside a writing transaction; on PostgreSQL the unique index settles a race.
    """
    current = running_run(session=session)
    if current is not None:
        if not is_stale(current):
            return None, current
        session.execute(
            runs.update()
            .where(runs.c.id == current.id)
            .values(
                state="interrupted",
                finished_at=now,
                error=f"its process ({current.holder}) stopped before the run finished",
            )
        )
    try:
        with session.begin_nested():
            run_id = session.execute(
                runs.insert()
                .values(
                    state="running",
                    holder=holder,
                    started_at=now,
                    heartbeat_at=now,
                    summary={},
                )
                .returning(runs.c.id)
            ).scalar_one()
    except sa.exc.IntegrityError:
        return None, running_run(session=session)
    return int(run_id), None


def heartbeat(*, session: Session, run_id: int, now: datetime) -> None:
    """The run is alive (called after each call to Recruit)."""
    session.execute(runs.update().where(runs.c.id == run_id).values(heartbeat_at=now))


def finish_run(
    *,
    session: Session,
    run_id: int,
    state: str,
    summary: dict[str, Any],
    now: datetime,
    error: str | None = None,
    rule_ids: Iterable[int] = (),
) -> None:
    """Close the run (done, stopped or failed) and mark it as its rules' last run."""
    session.execute(
        runs.update()
        .where(runs.c.id == run_id)
        .values(state=state, summary=summary, finished_at=now, heartbeat_at=now, error=error)
    )
    ids = list(rule_ids)
    if ids:
        session.execute(
            rules.update().where(rules.c.id.in_(ids)).values(last_run_id=run_id, last_run_at=now)
        )


def record_ignored(
    *,
    session: Session,
    run_id: int,
    rule_id: int,
    entries: Sequence[tuple[int, datetime, str]],
    now: datetime,
) -> None:
    """Record (candidate id, engaged at, reason) as Ignored, in one statement."""
    if entries:
        session.execute(
            history.insert(),
            [
                {
                    "rule_id": rule_id,
                    "candidate_id": candidate_id,
                    "run_id": run_id,
                    "engaged_at": engaged_at,
                    "state": "ignored",
                    "reason": reason,
                    "created_at": now,
                    "updated_at": now,
                }
                for candidate_id, engaged_at, reason in entries
            ],
        )


def record_pending(
    *,
    session: Session,
    run_id: int,
    rule_id: int,
    entries: Sequence[tuple[int, datetime, str]],
    now: datetime,
) -> list[int]:
    """Record (candidate id, engaged at, email) as pending just before the call that
    pushes them; the history ids, in the order given."""
    if not entries:
        return []
    rows = [
        {
            "rule_id": rule_id,
            "candidate_id": candidate_id,
            "run_id": run_id,
            "engaged_at": engaged_at,
            "state": "pending",
            "email": email,
            "created_at": now,
            "updated_at": now,
        }
        for candidate_id, engaged_at, email in entries
    ]
    # A plain executemany (RETURNING in parameter order would run row by row on SQLite),
    # then the ids: one pending entry per candidate, rule and run.
    session.execute(history.insert(), rows)
    wanted = [candidate_id for candidate_id, _, _ in entries]
    found = dict(
        session.execute(
            sa.select(history.c.candidate_id, history.c.id).where(
                history.c.run_id == run_id,
                history.c.rule_id == rule_id,
                history.c.state == "pending",
                history.c.candidate_id.in_(wanted),
            )
        ).all()
    )
    return [int(found[candidate_id]) for candidate_id in wanted]


def record_results(*, session: Session, outcomes: Sequence[dict[str, Any]], now: datetime) -> None:
    """Set each pending entry's outcome: dicts with `id`, `state` and the optional
    `recruit_id`, `error_code`, `error_field`, `reason`."""
    if not outcomes:
        return
    rows = [
        {
            "b_id": outcome["id"],
            "state": outcome["state"],
            "recruit_id": outcome.get("recruit_id"),
            "error_code": outcome.get("error_code"),
            "error_field": outcome.get("error_field"),
            "reason": outcome.get("reason"),
            "updated_at": now,
        }
        for outcome in outcomes
    ]
    session.connection().execute(
        history.update()
        .where(history.c.id == sa.bindparam("b_id"))
        .values(
            state=sa.bindparam("state"),
            recruit_id=sa.bindparam("recruit_id"),
            error_code=sa.bindparam("error_code"),
            error_field=sa.bindparam("error_field"),
            reason=sa.bindparam("reason"),
            updated_at=sa.bindparam("updated_at"),
        ),
        rows,
    )


@dataclass(frozen=True)
class PendingEntry:
    """A pending entry of a run that did not finish: what to look up in Recruit."""

    id: int
    rule_id: int
    module: str
    email: str | None
    created_at: datetime
    pushed_before: bool


def pending_entries(*, session: Session) -> list[PendingEntry]:
    """Entries left pending by runs that are no longer running."""
    earlier = history.alias("earlier")
    pushed_before = (
        sa.select(earlier.c.id)
        .where(
            earlier.c.rule_id == history.c.rule_id,
            earlier.c.candidate_id == history.c.candidate_id,
            earlier.c.id != history.c.id,
            earlier.c.state.in_(PUSHED_STATES),
        )
        .exists()
    )
    rows = session.execute(
        sa.select(
            history.c.id,
            history.c.rule_id,
            rules.c.module,
            history.c.email,
            history.c.created_at,
            pushed_before.label("pushed_before"),
        )
        .select_from(
            history.join(rules, rules.c.id == history.c.rule_id).join(
                runs, runs.c.id == history.c.run_id
            )
        )
        .where(history.c.state == "pending", runs.c.state != "running")
        .order_by(history.c.id)
    )
    return [
        PendingEntry(
            id=row.id,
            rule_id=row.rule_id,
            module=row.module,
            email=row.email,
            created_at=row.created_at,
            pushed_before=bool(row.pushed_before),
        )
        for row in rows
    ]


def settle_pending(
    *,
    session: Session,
    entry_id: int,
    run_id: int,
    outcome: dict[str, Any] | None,
    now: datetime,
) -> None:
    """Settle a pending entry after looking it up: `outcome` (state, recruit_id, reason)
    when Recruit has the record, None when it does not (the entry is dropped, so the
    candidate is planned again)."""
    if outcome is None:
        session.execute(history.delete().where(history.c.id == entry_id))
        return
    session.execute(
        history.update()
        .where(history.c.id == entry_id, history.c.state == "pending")
        .values(
            state=outcome["state"],
            recruit_id=outcome.get("recruit_id"),
            reason=outcome.get("reason"),
            run_id=run_id,
            updated_at=now,
        )
    )


def drop_pending(*, session: Session, entry_ids: Sequence[int]) -> None:
    """Forget pending entries whose call Recruit surely did not take (429/5xx after the
    retries): the candidates are planned again next run."""
    if entry_ids:
        session.execute(
            history.delete().where(history.c.id.in_(list(entry_ids)), history.c.state == "pending")
        )


@dataclass(frozen=True)
class HistoryRow:
    """One history entry as `caretbot push history` shows it."""

    id: int
    at: datetime
    run_id: int
    rule_id: int
    module: str
    engagement: str
    phone: str
    name: str
    state: str
    reason: str | None
    error_code: str | None
    error_field: str | None
    recruit_id: str | None
    engaged_at: datetime


def history_rows(
    *, session: Session, phone: str | None = None, limit: int = 200
) -> list[HistoryRow]:
    """The latest history entries (of one candidate, by E.164 phone), newest first."""
    query = (
        sa.select(
            history,
            rules.c.module,
            rules.c.engagement,
            candidates.c.phone,
            candidates.c.first_name,
            candidates.c.last_name,
        )
        .select_from(
            history.join(rules, rules.c.id == history.c.rule_id).join(
                candidates, candidates.c.id == history.c.candidate_id
            )
        )
        .order_by(history.c.id.desc())
        .limit(limit)
    )
    if phone is not None:
        query = query.where(candidates.c.phone == phone)
    return [
        HistoryRow(
            id=row.id,
            at=row.updated_at,
            run_id=row.run_id,
            rule_id=row.rule_id,
            module=row.module,
            engagement=row.engagement,
            phone=row.phone,
            name=" ".join(p for p in (row.first_name, row.last_name) if p),
            state=row.state,
            reason=row.reason,
            error_code=row.error_code,
            error_field=row.error_field,
            recruit_id=row.recruit_id,
            engaged_at=row.engaged_at,
        )
        for row in session.execute(query)
    ]
