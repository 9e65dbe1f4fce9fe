"""The scheduler lock: exactly one process runs the scheduler per database.

PostgreSQL holds an advisory lock on a connection kept open for it (released when the
process dies). SQLite has none: a lease row, renewed while held, taken over when it
lapses.
"""

from __future__ import annotations

from datetime import timedelta

import sqlalchemy as sa

from storage.db import Database
from storage.models import SchedulerLock, utcnow

_locks = SchedulerLock.__table__  # type: ignore[attr-defined]
ADVISORY_KEY = 0x63617265  # "care"
LEASE = timedelta(seconds=30)


class SchedulerLease:
    """Held by the one scheduler; `renew` keeps it, `release` gives it up."""

    def __init__(self, db: Database, holder: str, name: str = "scheduler") -> None:
        self.db = db
        self.holder = holder
        self.name = name
        self._connection: sa.Connection | None = None

    def acquire(self) -> bool:
        """Take the lock if nobody holds it (or renew it if we do)."""
        if self.db.is_sqlite:
            return self._lease()
        if self._connection is None:
            connection = self.db.engine.connect()
            got = connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": ADVISORY_KEY}
            ).scalar()
            connection.commit()
            if not got:
                connection.close()
                return False
            self._connection = connection
        return True

    def renew(self) -> bool:
        """Keep the lock; False if it was lost."""
        if self.db.is_sqlite:
            return self._lease()
        if self._connection is None:
            return False
        try:
            self._connection.execute(sa.text("SELECT 1"))
            self._connection.commit()
            return True
        except sa.exc.SQLAlchemyError:
            self._connection = None
            return False

    def release(self) -> None:
        if self.db.is_sqlite:
            with self.db.write() as session:
                session.execute(
                    _locks.delete().where(
                        _locks.c.name == self.name, _locks.c.holder == self.holder
                    )
                )
            return
        if self._connection is not None:
            try:
                self._connection.execute(
                    sa.text("SELECT pg_advisory_unlock(:key)"), {"key": ADVISORY_KEY}
                )
                self._connection.commit()
            finally:
                self._connection.close()
                self._connection = None

    def _lease(self) -> bool:
        now = utcnow()
        with self.db.write() as session:
            row = session.execute(sa.select(_locks).where(_locks.c.name == self.name)).first()
            if row is None:
                session.execute(
                    _locks.insert().values(
                        name=self.name, holder=self.holder, expires_at=now + LEASE
                    )
                )
                return True
            if row.holder != self.holder and row.expires_at > now:
                return False
            session.execute(
                _locks.update()
                .where(_locks.c.name == self.name)
                .values(holder=self.holder, expires_at=now + LEASE)
            )
            return True


def scheduler_holder(db: Database, name: str = "scheduler") -> str | None:
    """Who holds the scheduler lock now: the SQLite lease's holder, or on PostgreSQL the
    server process id that holds the advisory lock; None when nobody does."""
    with db.read() as session:
        if db.is_sqlite:
            row = session.execute(
                sa.select(_locks.c.holder, _locks.c.expires_at).where(_locks.c.name == name)
            ).first()
            if row is None or row.expires_at <= utcnow():
                return None
            return str(row.holder)
        pid = session.execute(
            sa.text(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
                "AND ((classid::bigint << 32) | objid::bigint) = :key"
            ),
            {"key": ADVISORY_KEY},
        ).scalar()
        return f"PostgreSQL backend {pid}" if pid is not None else None


def scheduler_running(db: Database, name: str = "scheduler") -> bool:
    """Whether some process holds the scheduler lock now (a `caretbot serve` runs)."""
    return scheduler_holder(db, name) is not None
