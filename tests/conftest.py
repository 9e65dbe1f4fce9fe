"""Shared fixtures: a fresh, migrated database on SQLite and, when TEST_POSTGRES_URL is
set, on PostgreSQL too.

On PostgreSQL the tests work in a schema of their own, ``caretbot_test_<random>``, in
the database TEST_POSTGRES_URL names (their connections put it first on search_path),
and drop only that schema: nothing else in that database is read or changed.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from storage.db import Database

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL")
BACKENDS = ["sqlite", *(["postgresql"] if POSTGRES_URL else [])]
# This run's own schema (one per process, so parallel runs never share one).
TEST_SCHEMA = f"caretbot_test_{secrets.token_hex(4)}"


def _postgres_engine() -> sa.Engine:
    assert POSTGRES_URL
    return sa.create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")


def own_postgres_url() -> str:
    """TEST_POSTGRES_URL with this run's schema first on every connection's search_path."""
    assert POSTGRES_URL
    url = make_url(POSTGRES_URL)
    return url.update_query_dict({"options": f"-csearch_path={TEST_SCHEMA}"}).render_as_string(
        hide_password=False
    )


def fresh_database_url(backend: str, tmp_path: Path) -> str:
    """A URL to an empty database of that backend (on PostgreSQL: this run's schema,
    emptied by dropping and creating it again)."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'caretbot.db'}"
    engine = _postgres_engine()
    with engine.connect() as connection:
        connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{TEST_SCHEMA}" CASCADE')
        connection.exec_driver_sql(f'CREATE SCHEMA "{TEST_SCHEMA}"')
    engine.dispose()
    return own_postgres_url()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Drop this run's schema (only it) when the tests used PostgreSQL."""
    if not POSTGRES_URL:
        return
    engine = _postgres_engine()
    try:
        with engine.connect() as connection:
            connection.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{TEST_SCHEMA}" CASCADE')
    except sa.exc.OperationalError:
        pass  # the server went away; there is nothing of ours to drop there now
    finally:
        engine.dispose()


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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "needs_specs(*files): checks against the vendor API descriptions in "
        "../shared/specs (or CARETBOT_SPECS_DIR); skipped when they are missing",
    )


def missing_specs_line() -> str | None:
    """One line when the vendor specs are missing: which, and where they come from."""
    from bot.sandbox import openapi

    missing = openapi.missing_specs()
    if not missing:
        return None
    return (
        f"vendor specs: {', '.join(missing)} not in {openapi.specs_dir()}; the conformance "
        f"checks were skipped. Get {openapi.SPECS_SOURCE}, and put them in ../shared/specs "
        "or set CARETBOT_SPECS_DIR."
    )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Said at the end, after the dots (the suite runs with -q, which hides headers)."""
    line = missing_specs_line()
    if line is not None:
        terminalreporter.write_line(line)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    from bot.sandbox import openapi

    for item in items:
        marker = item.get_closest_marker("needs_specs")
        if marker is None:
            continue
        files = marker.args or (openapi.TWILIO_SPEC_FILE, openapi.SLACK_EVENTS_SPEC_FILE)
        missing = [name for name in files if not openapi.has_spec(name)]
        if missing:
            item.add_marker(pytest.mark.skip(reason=f"needs the vendor spec {', '.join(missing)}"))
