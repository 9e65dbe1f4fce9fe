"""Shared fixtures: a fresh, migrated database on SQLite and, when TEST_POSTGRES_URL is
set, on PostgreSQL too."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.db import Database

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]


def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """A URL to an empty database of that backend."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'caretbot.db'}"
    assert POSTGRES_URL
    engine = sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.exec_driver_sql("DROP SCHEMA IF EXISTS public CASCADE")
        connection.exec_driver_sql("CREATE SCHEMA public")
    engine.dispose()
    return POSTGRES_URL


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, not yet migrated."""
    return fresh_database_url(request.param, tmp_path)


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    """A migrated database on each backend."""
    db = Database(database_url)
    db.upgrade()
    yield db
    db.dispose()
