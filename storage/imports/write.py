"""Write: shaped chunks go into the database, a batch of them per transaction.

An interrupted import leaves whole batches, and running it again finishes the job: a
candidate is found by phone (insert or update), an apply by its natural key (the same
row adds no second apply). The speed tricks, each for a measured reason:

- Statements are compiled by Core once and run through the driver (`bulk_insert`):
  executemany on SQLite, COPY on PostgreSQL; Core's own executemany spends ~20 µs a
  row on bind parameters, more than the insert itself.
- On SQLite a chunk shaped as all-new goes in with three statements (`Batcher._fast`);
  the insert skips known phones, and only those take the general path.
- One connection for the whole import with a 64 MB page cache (`Batcher._writer`): a
  chunk of random phones touches most pages of the phone index, which SQLite's 2 MB
  default would spill and write again and again; and the WAL is checkpointed every
  80 MB instead of every 4 MB while the import runs.
- IN (...) lists go in chunks of 5,000 (`CHUNK`): under SQLite's 32,766 bound variables.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from storage.applies import natural_key_of
from storage.db import Database
from storage.imports.options import ImportOptions, ImportSummary, Repeat
from storage.imports.shape import (
    ACTIVE_AT,
    APPLY_INSERT,
    CANDIDATE_INSERT,
    COMPARED,
    Compact,
    DriverValues,
    FastChunk,
    FoldRules,
    Pending,
    expand,
    fold,
    insert_row,
    may,
)
from storage.lists_models import APPLIES, CANDIDATES, LIST_MEMBERS

__all__ = ["Batcher", "bulk_insert"]

candidates = CANDIDATES
applies = APPLIES
members = LIST_MEMBERS

# IN (...) lists stay under SQLite's 32766 bound variables.
CHUNK = 5000
# Repeated phones kept in the summary for the report (the count has them all).
KEEP_REPEATS = 100
# WAL pages between checkpoints while an import writes (SQLite's default is 1000).
IMPORT_CHECKPOINT_PAGES = 20_000
# SQLite page cache of the importing connection, in KiB (SQLite's default is 2000).
IMPORT_CACHE_KIB = 65_536


class Batcher:
    """Writes chunks of rows, a batch of them per transaction.

    On SQLite a chunk goes in as the producer shaped it, phones that were there already
    skipped by the insert and then taken the general path: read back, merge, update.
    PostgreSQL and dry runs take the general path for every phone, looking them up
    first. A dry run writes nothing;
    to count a phone that repeats across chunks it remembers a fingerprint (a hash) of
    what it would have created, not the rows, so a million-row dry run stays small.
    """

    def __init__(
        self,
        *,
        db: Database,
        options: ImportOptions,
        summary: ImportSummary,
        list_id: int | None,
        now: datetime,
        opt_in_source: str,
    ) -> None:
        self.db = db
        self.options = options
        self.summary = summary
        self.list_id = list_id
        self.now = now
        self.rules = FoldRules(now, opt_in_source, options.create_new, options.update_existing)
        self._conn: Connection | None = None
        self._transaction: sa.RootTransaction | None = None
        self._in_batch = 0
        # The largest candidate id before this import wrote: above it, created by it.
        self._start_id: int | None = None
        self._dry_seen: dict[int, int] = {}
        self._dry_applies: set[int] = set()
        self._dry_members: set[int] = set()

    def run(self, count: int, rows: list[Compact] | None, fast: FastChunk | None) -> None:
        """Write a chunk of `count` rows in the open batch's transaction; commit a full batch."""
        if self.options.dry_run:
            assert rows is not None
            with self.db.read() as session:
                self._dry_chunk(session.connection(), grouped(rows))
            return
        conn = self._writer()
        if self._transaction is None:
            self._transaction = conn.begin()
        if self._start_id is None:
            self._start_id = conn.execute(sa.select(sa.func.max(candidates.c.id))).scalar() or 0
        try:
            if fast is not None:
                self._fast(conn, fast)
            else:
                assert rows is not None
                self._chunk(conn, rows)
        except BaseException:
            self._transaction.rollback()
            self._transaction = None
            raise
        self._in_batch += count
        if self._in_batch >= self.options.batch_size:
            self._commit()

    def _commit(self) -> None:
        if self._transaction is not None:
            self._transaction.commit()
        self._transaction = None
        self._in_batch = 0

    def _writer(self) -> Connection:
        """One connection for the whole import, each batch its own transaction.

        On SQLite: BEGIN IMMEDIATE (as Database.write does), a page cache that holds the
        phone index (a chunk of random phones touches most of its pages: with SQLite's
        2 MB cache they would be spilled and written again and again), and the WAL
        checkpointed every 80 MB instead of every 4 MB while the import runs.
        """
        if self._conn is None:
            conn = self.db.engine.connect()
            if self.db.is_sqlite:
                conn = conn.execution_options(sqlite_begin="BEGIN IMMEDIATE")
                conn.exec_driver_sql(f"PRAGMA cache_size=-{IMPORT_CACHE_KIB}")
                conn.exec_driver_sql(f"PRAGMA wal_autocheckpoint={IMPORT_CHECKPOINT_PAGES}")
                conn.commit()
            self._conn = conn
        return self._conn

    def close(self, *, ok: bool) -> None:
        """Commit the last batch (or roll it back after a failure) and hand back the line."""
        if self._transaction is not None:
            if ok:
                self._commit()
            else:
                self._transaction.rollback()
                self._transaction = None
        if self._conn is None:
            return
        if self.db.is_sqlite:
            # Back to SQLite's defaults before the connection returns to the pool.
            self._conn.exec_driver_sql("PRAGMA cache_size=-2000")
            self._conn.exec_driver_sql("PRAGMA wal_autocheckpoint=1000")
            self._conn.commit()
        self._conn.close()
        self._conn = None

    # --- the fast path: every phone new -----------------------------------------------

    def _fast(self, conn: Connection, fast: FastChunk) -> None:
        """Write a chunk as the producer shaped it; phones already there go the long way.

        All new (the usual case): three statements and no row-by-row work here. Some
        known (a phone seen in an earlier chunk, a re-import): the new ones keep their
        rows, with the ids the insert gave them, and the known ones are merged.
        """
        last = conn.execute(sa.select(sa.func.max(candidates.c.id))).scalar() or 0
        n = len(fast.inserts)
        inserted = bulk_insert(
            conn, candidates, CANDIDATE_INSERT, fast.inserts, skip_conflicts_on="phone"
        )
        summary = self.summary
        new_phones: Sequence[int]
        if inserted == n:
            bulk_insert(conn, applies, APPLY_INSERT, fast.applies, id_offset=True)
            new_phones = range(n)
            summary.applies_added += len(fast.applies)
        else:
            since = sa.select(candidates.c.phone, candidates.c.id).where(
                candidates.c.id > sa.bindparam("last")
            )
            # The driver's own rows: Core's result objects cost more than this whole loop.
            compiled = since.compile(dialect=conn.dialect)
            cursor = conn.exec_driver_sql(compiled.string, (last,)).cursor
            assert cursor is not None
            ids: dict[str, int] = dict(cursor.fetchall())
            at_of = {phone: at for at, phone in enumerate(fast.phones)}
            new_phones = sorted(at_of[phone] for phone in ids)
            lines = []
            for line in fast.applies:
                cid = ids.get(fast.phones[line[0] + n - 1])
                if cid is not None:
                    lines.append((cid, *line[1:]))
            bulk_insert(conn, applies, APPLY_INSERT, lines)
            summary.applies_added += len(lines)
            self._chunk(conn, fast.rows_of(set(range(n)) - set(new_phones)))
        for at in new_phones:
            outcomes = fast.outcomes.get(at)
            if outcomes is None:
                summary.created += 1
            else:
                self._count(outcomes)
                self._repeats(fast.several[at], earlier_chunk=False)
        if self.list_id is not None:
            added = conn.execute(
                sa.insert(members).from_select(
                    ["list_id", "candidate_id", "added_at"],
                    sa.select(
                        sa.literal(self.list_id),
                        candidates.c.id,
                        sa.literal(self.now, candidates.c.created_at.type),
                    ).where(candidates.c.id > last),
                )
            )
            summary.added_to_list += added.rowcount

    # --- the general path -----------------------------------------------------------

    def _existing(self, conn: Connection, phones: Sequence[str]) -> dict[str, Pending]:
        columns = [candidates.c.id, candidates.c.phone, *(candidates.c[n] for n in COMPARED)]
        found: dict[str, Pending] = {}
        for chunk in chunks(phones, CHUNK):
            for row in conn.execute(sa.select(*columns).where(candidates.c.phone.in_(chunk))):
                values = dict(row._mapping)
                found[values.pop("phone")] = Pending(values.pop("id"), values)
        return found

    def _repeats(self, rows: list[Compact], *, earlier_chunk: bool) -> None:
        """Count the rows of one phone after its first (all of them after an earlier chunk)."""
        first = None if earlier_chunk else rows[0][0]
        for row in rows if earlier_chunk else rows[1:]:
            self.summary.repeated += 1
            if len(self.summary.repeats) < KEEP_REPEATS:
                won = may(row[5], self.options.update_existing)
                self.summary.repeats.append(Repeat(row[0], first, row[1], won))
            first = first or row[0]

    def _count(self, outcomes: list[str]) -> None:
        for outcome in outcomes:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)

    def _chunk(self, conn: Connection, rows: list[Compact]) -> None:
        groups = grouped(rows)
        values = DriverValues(conn.dialect)
        found = self._existing(conn, list(groups))
        state: dict[str, Pending] = {}
        before: set[int] = set()  # candidates that were there before this chunk
        created: dict[str, Pending] = {}
        for phone, group in groups.items():
            existing = found.get(phone)
            if existing is not None:
                before.add(existing.id or 0)
                if (existing.id or 0) > (self._start_id or 0):
                    self._repeats(group, earlier_chunk=True)  # created by an earlier chunk
                elif len(group) > 1:
                    self._repeats(group, earlier_chunk=False)
            elif len(group) > 1:
                self._repeats(group, earlier_chunk=False)
            pending, outcomes = fold([expand(row) for row in group], existing, self.rules)
            self._count(outcomes)
            if pending is None:
                continue
            state[phone] = pending
            if existing is None:
                created[phone] = pending
        if created:
            self._insert_candidates(conn, values, created)
        self._update(conn, [p for p in state.values() if p.changed and p.id in before])
        new = self._new_applies(conn, values, rows, state, before)
        if new:
            self._insert_applies(conn, new)
        if self.list_id is not None:
            ids = [p.id for p in state.values() if p.id is not None]
            self.summary.added_to_list += len(self._members(conn, values, ids))

    def _insert_candidates(
        self, conn: Connection, values: DriverValues, created: dict[str, Pending]
    ) -> None:
        """Insert new candidates (phones known to be new) and set their ids."""
        now = values.when(self.now)
        rows = [insert_row(phone, p.values, values, now) for phone, p in sorted(created.items())]
        bulk_insert(conn, candidates, CANDIDATE_INSERT, rows)
        for chunk in chunks(list(created), CHUNK):
            select = sa.select(candidates.c.phone, candidates.c.id).where(
                candidates.c.phone.in_(chunk)
            )
            for phone, cid in conn.execute(select):
                created[phone].id = cid

    def _update(self, conn: Connection, changed: list[Pending]) -> None:
        if not changed:
            return
        # Bind names differ from column names: SQLAlchemy reserves those for SET.
        values: dict[str, Any] = {name: sa.bindparam(f"v_{name}") for name in COMPARED}
        values["updated_at"] = self.now
        statement = (
            sa.update(candidates).where(candidates.c.id == sa.bindparam("_id")).values(values)
        )
        conn.execute(
            statement,
            [{"_id": p.id, **{f"v_{k}": v for k, v in p.values.items()}} for p in changed],
        )

    def _new_applies(
        self,
        conn: Connection,
        values: DriverValues,
        rows: list[Compact],
        state: dict[str, Pending],
        before: set[int],
    ) -> dict[tuple[int, int], list[Any]]:
        """The applies these rows add: one per row unless the same one is already there."""
        known: set[tuple[int, int]] = set()
        active: set[int] = set()
        # Only candidates that were there before this chunk can have applies already.
        for chunk in chunks(sorted(i for i in before if i > 0), CHUNK):
            found = conn.execute(
                sa.select(applies.c.candidate_id, applies.c.natural_key, applies.c.is_active).where(
                    applies.c.candidate_id.in_(chunk)
                )
            )
            for cid, key, is_active in found:
                known.add((cid, key))
                if is_active:
                    active.add(cid)
        latest = self.options.active_policy == "latest"
        now = values.when(self.now)
        new: dict[tuple[int, int], list[Any]] = {}
        last_for: dict[int, list[Any]] = {}
        for row in rows:
            pending = state.get(row[1])
            if pending is None or pending.id is None:
                continue
            cid = pending.id
            key = natural_key_of("import", row[3])
            if (cid, key) in known or (cid, key) in new:
                continue
            line = [cid, "import", *row[3], "New", latest or cid not in active, key, now, now]
            if latest:
                if cid in last_for:
                    last_for[cid][ACTIVE_AT] = False
                last_for[cid] = line
            active.add(cid)
            new[(cid, key)] = line
        return new

    def _insert_applies(self, conn: Connection, new: dict[tuple[int, int], list[Any]]) -> None:
        if self.options.active_policy == "latest":
            # The newest apply becomes the active one; the one before steps down.
            for chunk in chunks(sorted({cid for cid, _ in new}), CHUNK):
                conn.execute(
                    sa.update(applies)
                    .where(applies.c.candidate_id.in_(chunk), applies.c.is_active)
                    .values(is_active=False, updated_at=self.now)
                )
        bulk_insert(conn, applies, APPLY_INSERT, [tuple(line) for line in new.values()])
        self.summary.applies_added += len(new)

    def _members(
        self, conn: Connection, values: DriverValues, ids: list[int], *, write: bool = True
    ) -> list[int]:
        """Of `ids`, those not on the list yet; added to it unless `write` is off."""
        present: set[int] = set()
        for chunk in chunks(sorted(ids), CHUNK):
            present.update(
                conn.execute(
                    sa.select(members.c.candidate_id).where(
                        members.c.list_id == self.list_id, members.c.candidate_id.in_(chunk)
                    )
                ).scalars()
            )
        new = [i for i in ids if i not in present]
        if new and write:
            at = values.when(self.now)
            rows = [(self.list_id, i, at) for i in new]
            bulk_insert(conn, members, ("list_id", "candidate_id", "added_at"), rows)
        return new

    # --- dry run ----------------------------------------------------------------------

    def _fingerprint(self, row: Compact) -> int:
        return hash((row[2], tuple(sorted((row[4] or {}).items()))))

    def _dry_chunk(self, conn: Connection, groups: dict[str, list[Compact]]) -> None:
        """Count what the chunk would do; remember fingerprints of phones it would create."""
        found = self._existing(conn, list(groups))
        state: dict[str, Pending] = {}
        before: set[int] = set()
        fresh: list[str] = []
        for phone, rows in groups.items():
            existing = found.get(phone)
            if existing is None and hash(phone) in self._dry_seen:
                self._repeats(rows, earlier_chunk=True)
                for row in rows:
                    self._dry_repeat(row)
                continue
            if len(rows) > 1:
                self._repeats(rows, earlier_chunk=False)
            if existing is not None:
                before.add(existing.id or 0)
            pending, outcomes = fold([expand(row) for row in rows], existing, self.rules)
            self._count(outcomes)
            if pending is None:
                continue
            state[phone] = pending
            if existing is None:
                pending.id = -len(fresh) - 1  # stands in for the id an insert would give
                fresh.append(phone)
                self._dry_seen[hash(phone)] = self._fingerprint(rows[-1])
        chunk = [row for rows in groups.values() for row in rows]
        new = self._new_applies(conn, DriverValues(None), chunk, state, before)
        self.summary.applies_added += len(new)
        for cid, key in new:
            if cid < 0:
                self._dry_applies.add(hash((fresh[-cid - 1], key)))
        if self.options.list_name:
            ids = [p.id for p in state.values() if p.id is not None and p.id > 0]
            if self.list_id is not None and ids:
                ids = self._members(conn, DriverValues(None), ids, write=False)
            unseen = set(ids) - self._dry_members
            self._dry_members |= unseen
            self.summary.added_to_list += len(fresh) + len(unseen)

    def _dry_repeat(self, row: Compact) -> None:
        """A phone that an earlier chunk of this dry run would have created."""
        phone = row[1]
        fingerprint = self._fingerprint(row)
        if self._dry_seen[hash(phone)] == fingerprint:
            self.summary.unchanged += 1
        else:
            self.summary.updated += 1
            self._dry_seen[hash(phone)] = fingerprint
        seen = hash((phone, natural_key_of("import", row[3])))
        if seen not in self._dry_applies:
            self._dry_applies.add(seen)
            self.summary.applies_added += 1


def grouped(rows: list[Compact]) -> dict[str, list[Compact]]:
    """The rows by phone, in file order."""
    groups: dict[str, list[Compact]] = {}
    for row in rows:
        group = groups.get(row[1])
        if group is None:
            groups[row[1]] = [row]
        else:
            group.append(row)
    return groups


def bulk_insert(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    skip_conflicts_on: str | None = None,
    id_offset: bool = False,
) -> int:
    """Insert many rows at driver speed: COPY on PostgreSQL, executemany on SQLite.

    Core's own executemany spends ~20 µs a row processing bind parameters, more than the
    insert itself; here the statement is still compiled by Core, and the rows come with
    their values already as the driver takes them (see `DriverValues`). With `id_offset`,
    the first value is added to the largest candidate id (see `FastChunk`). Returns how many
    rows went in.
    """
    if not rows:
        return 0
    dialect = conn.dialect
    if dialect.name == "postgresql":
        assert skip_conflicts_on is None and not id_offset, "PostgreSQL looks phones up first"
        names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return len(rows)
    statement: Any = sa.insert(table)
    if skip_conflicts_on is not None:
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    binds: dict[str, Any] = {name: sa.bindparam(name) for name in columns}
    if id_offset:
        largest = sa.select(sa.func.max(candidates.c.id)).scalar_subquery()
        binds[columns[0]] = largest + sa.bindparam(columns[0])
    compiled = statement.values(binds).compile(dialect=dialect)
    assert list(compiled.positiontup or ()) == list(columns), compiled.positiontup
    result = conn.exec_driver_sql(compiled.string, rows)
    return int(result.rowcount)


def chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
