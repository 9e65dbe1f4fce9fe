"""Seeding candidates and lists, running `caretbot blasts` as typed, reading recipients."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa
from typer.testing import CliRunner

from bot.cli.main import app
from storage.blast_models import BlastRecipient
from storage.db import Database
from storage.lists import add_members, ensure_static_list
from storage.models import Candidate


def seed(db: Database, people: Sequence[dict[str, Any]], list_name: str = "Night nurses") -> None:
    """Candidates (phone, first_name, opt_in ...) on a static list."""
    with db.write() as session:
        ids: list[int] = []
        for person in people:
            candidate = Candidate(**{"opt_in": True, **person})
            session.add(candidate)
            session.flush()
            assert candidate.id is not None
            ids.append(candidate.id)
        info = ensure_static_list(session=session, name=list_name)
        add_members(session=session, list_id=info.id, candidate_ids=ids)


def cli(
    monkeypatch: pytest.MonkeyPatch, database_url: str, *args: str, **env: str
) -> tuple[int, str, str]:
    """`caretbot ARGS` as typed, on that database."""
    monkeypatch.setenv("DATABASE_URL", database_url)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def report(monkeypatch: pytest.MonkeyPatch, database_url: str, name: str) -> dict[str, Any]:
    code, out, err = cli(monkeypatch, database_url, "blasts", "report", name, "--json")
    assert code == 0, err
    # The server under test logs from its own threads into the same captured stdout.
    return json.loads(next(line for line in out.splitlines() if line.startswith("{")))


def recipients(db: Database) -> list[BlastRecipient]:
    with db.read() as session:
        query = sa.select(BlastRecipient).order_by(BlastRecipient.id)  # type: ignore[arg-type]
        return list(session.execute(query).scalars())


def quiet_hours_away_from_now() -> str:
    """A one-minute QUIET_HOURS window twelve hours from now in the US zones: nobody in
    the tests is inside it, whenever they run."""
    local = datetime.now(UTC).astimezone(ZoneInfo("America/Chicago")) + timedelta(hours=12)
    end = local + timedelta(minutes=1)
    return f"{local:%H:%M}-{end:%H:%M}"
