"""One scheduler per database: of two processes asking for the scheduler lock, one gets
it, and the other only once it is given up (or, on SQLite, once its lease lapses)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from storage.db import Database
from storage.locks import SchedulerLease
from storage.models import SchedulerLock, utcnow


@pytest.fixture
def leases(database: Database):
    """Two would-be schedulers on one database, each with its own engine (as two
    processes would have)."""
    other = Database(database.url)
    first = SchedulerLease(database, "host-a:1")
    second = SchedulerLease(other, "host-b:2")
    yield first, second
    first.release()
    second.release()
    other.dispose()


def test_only_one_of_two_holders_gets_the_lock(leases):
    first, second = leases

    assert first.acquire() is True
    assert second.acquire() is False
    assert first.renew() is True
    assert second.acquire() is False


def test_the_loser_gets_the_lock_once_the_winner_releases_it(leases):
    first, second = leases
    assert first.acquire()
    assert not second.acquire()

    first.release()

    assert second.acquire() is True
    assert first.acquire() is False


def test_asking_again_while_holding_the_lock_keeps_it(leases):
    first, second = leases

    assert first.acquire() and first.acquire()
    assert first.renew()
    assert not second.acquire()


def test_a_lapsed_sqlite_lease_is_taken_over(leases, database: Database):
    """A holder that died without releasing stops renewing; its lease runs out."""
    if not database.is_sqlite:
        pytest.skip("PostgreSQL's advisory lock goes with the holder's connection")
    first, second = leases
    assert first.acquire()
    table = SchedulerLock.__table__  # type: ignore[attr-defined]
    with database.write() as session:
        session.execute(table.update().values(expires_at=utcnow() - timedelta(seconds=1)))

    assert second.acquire() is True
    assert first.renew() is False


def test_a_postgresql_lock_goes_when_its_holders_connection_does(leases, database: Database):
    if database.is_sqlite:
        pytest.skip("SQLite holds a lease row instead")
    first, second = leases
    assert first.acquire()
    assert not second.acquire()

    first._connection.invalidate()  # noqa: SLF001 - the process died
    first._connection = None  # noqa: SLF001

    assert second.acquire() is True
