"""The state of each platform caretbot talks to (`integration_state`): written by the
outbox dispatcher and the Slack identity check, read by /healthz, /readyz and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.ops_models import IntegrationState

_state = IntegrationState.__table__  # type: ignore[attr-defined]
SLACK = "slack"
TWILIO = "twilio"
NAMES = (SLACK, TWILIO)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True)
class State:
    """One platform as last seen. `failing_since`: the first failure since it last
    answered (None while it answers)."""

    name: str
    last_success_at: datetime | None = None
    last_error_at: datetime | None = None
    last_error: str | None = None
    failing_since: datetime | None = None
    identity: dict[str, Any] | None = None


def _ensure(session: Session, name: str) -> None:
    exists = (
        session.connection().execute(sa.select(_state.c.name).where(_state.c.name == name)).first()
    )
    if exists is None:
        session.connection().execute(_state.insert().values(name=name))


def record_success(*, session: Session, name: str, at: datetime) -> None:
    """The platform answered (whatever it said): it is reachable."""
    _ensure(session, name)
    session.connection().execute(
        _state.update().where(_state.c.name == name).values(last_success_at=at, failing_since=None)
    )


def record_error(*, session: Session, name: str, at: datetime, error: str) -> None:
    """The platform could not be reached or failed on its side (5xx, 429, timeout)."""
    _ensure(session, name)
    session.connection().execute(
        _state.update()
        .where(_state.c.name == name)
        .values(
            last_error_at=at,
            last_error=error[:MAX_ERROR_CHARS],
            failing_since=sa.func.coalesce(_state.c.failing_since, at),
        )
    )


def save_identity(*, session: Session, name: str, identity: dict[str, Any]) -> None:
    """Keep a platform's last good identity answer (Slack's auth.test)."""
    _ensure(session, name)
    session.connection().execute(
        _state.update().where(_state.c.name == name).values(identity=identity)
    )


def states(*, session: Session) -> dict[str, State]:
    """Every platform, known or not yet seen (then all None)."""
    found = {name: State(name) for name in NAMES}
    for row in session.connection().execute(sa.select(_state)):
        found[row.name] = State(
            name=row.name,
            last_success_at=row.last_success_at,
            last_error_at=row.last_error_at,
            last_error=row.last_error,
            failing_since=row.failing_since,
            identity=dict(row.identity) if row.identity else None,
        )
    return found
