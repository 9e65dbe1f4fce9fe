"""The database: one engine, sessions for reading and for writing, migrations.

SQLite gets WAL, synchronous=NORMAL, a busy timeout and foreign keys, and its writing
transactions start with BEGIN IMMEDIATE: a deferred transaction that reads and then
writes fails with SQLITE_BUSY at once, ignoring the busy timeout. PostgreSQL runs the
same code.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from sqlalchemy.engine import Engine
from sqlmodel import Session

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 10_000
IN_MEMORY_URLS = ("sqlite://", "sqlite:///:memory:")
# SQLite's lower() folds ASCII only: this one is Python's str.lower, on every connection.
SQLITE_LOWER = "caretbot_lower"


class Database:
    """The engine and the two ways in: `read()` and `write()`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        self.engine = make_engine(url)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """A transaction that writes: committed on success, rolled back on error."""
        with Session(self._writer, expire_on_commit=False) as session, session.begin():
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading only."""
        with Session(self.engine, expire_on_commit=False) as session:
            yield session

    @property
    def _writer(self) -> Engine:
        if self.is_sqlite:
            return self.engine.execution_options(sqlite_begin="BEGIN IMMEDIATE")
        return self.engine

    def upgrade(self) -> None:
        """Bring the schema up to date (Alembic `upgrade head`)."""
        upgrade(self.url, engine=self.engine)

    def ping(self) -> bool:
        """True when the database answers a query."""
        try:
            with self.engine.connect() as connection:
                connection.execute(sa.text("SELECT 1"))
            return True
        except sa.exc.SQLAlchemyError:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    """An engine tuned for the database behind `url`."""
    # hide_parameters: an exception's text names the statement, never the values (a
    # message's body, a phone number) that a traceback would print.
    if not url.startswith("sqlite"):
        return sa.create_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True
        )
    connect_args = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
    if url in IN_MEMORY_URLS:
        # One connection shared by every thread: each new one would be another database.
        engine = sa.create_engine(
            url, connect_args=connect_args, poolclass=sa.pool.StaticPool, hide_parameters=True
        )
    else:
        engine = sa.create_engine(
            url, connect_args=connect_args, pool_size=8, max_overflow=8, hide_parameters=True
        )

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from pysqlite so that BEGIN is ours to say.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()
        # str.lower itself, not a Python function around it: a C call a row, which keeps a
        # filter over a million candidates near the built-in lower()'s time. NULL never
        # reaches it (see storage/filter_sql.py's unicode_lower).
        dbapi_connection.create_function(SQLITE_LOWER, 1, str.lower, deterministic=True)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        connection.exec_driver_sql(connection.get_execution_options().get("sqlite_begin", "BEGIN"))

    return engine


def alembic_config(url: str) -> Config:
    """Alembic's configuration, built in code so it works from an installed package."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


def upgrade(url: str, *, engine: Engine | None = None, revision: str = "head") -> None:
    """Migrate the database at `url` to `revision`."""
    config = alembic_config(url)
    if engine is None:
        engine = make_engine(url)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def current_revision(url: str) -> str | None:
    """The migration the database is at (None when it has none)."""
    from alembic.runtime.migration import MigrationContext

    with make_engine(url).connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def read_only_copy(url: str) -> Database:
    """A database to read and never write, for a dry run, migrated to head.

    SQLite: an in-memory copy of the file at `url` (empty when there is no file yet),
    read through a read-only connection, so the file is neither created, migrated nor
    touched; the copy is then migrated. Costs the file's size in memory. Other
    databases: `url` itself, which the caller must only read.
    """
    if not url.startswith("sqlite"):
        return Database(url)
    copy = Database("sqlite://")
    path = sa.engine.make_url(url).database
    if path and path != ":memory:" and Path(path).exists():
        # Read-only still makes -wal and -shm files beside a WAL database; with no -wal
        # file (nobody has it open, all checkpointed) `immutable` reads it touching nothing.
        options = "mode=ro" if Path(f"{path}-wal").exists() else "mode=ro&immutable=1"
        source = sqlite3.connect(f"{Path(path).resolve().as_uri()}?{options}", uri=True)
        try:
            with copy.engine.connect() as connection:
                target = connection.connection.driver_connection
                assert target is not None
                source.backup(target)
        finally:
            source.close()
    copy.upgrade()
    return copy
