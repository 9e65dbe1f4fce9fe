"""Import candidates from a CSV or XLSX file.

The header is checked before anything is written (HeaderError lists every problem).
Rows then go in batches, one transaction each, through SQLAlchemy Core: an interrupted
import leaves whole batches, and running it again finishes the job, because a candidate
is found by phone (insert or update) and an apply by its natural key (the same row adds
no second apply). Rejected rows are counted, kept for the report and written to the
rejects file.

A million rows must import in a third of `sqlite-utils insert`'s time, so reading and
checking rows runs in a thread beside the one that writes: sqlite3 and psycopg let go of
the GIL while the database works, and the two overlap. Inserts are statements compiled
by Core, run through the driver's executemany (SQLite) or COPY (PostgreSQL) with values
converted once per column type rather than once per bind parameter.
"""

from __future__ import annotations

import itertools
import json
import queue
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

import sqlalchemy as sa
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection

from storage.applies import ActivePolicy, natural_key
from storage.db import Database
from storage.import_reader import Sheet, open_sheet
from storage.import_rules import (
    CANDIDATE_COLUMNS,
    ColumnPlan,
    Reject,
    RejectsWriter,
    RowRules,
    ValidRow,
    plan_columns,
)
from storage.lists import ListError, ListInfo, ensure_static_list, find_list
from storage.lists_models import APPLIES, APPLY_FIELDS, CANDIDATES, LIST_MEMBERS
from storage.models import utcnow

__all__ = ["ImportOptions", "ImportSummary", "import_file"]

candidates = CANDIDATES
applies = APPLIES
members = LIST_MEMBERS

# Rows looked at before the header is judged (data under a blank heading).
HEADER_SAMPLE = 1000
# Rejects kept in the summary for the report; every one goes to the rejects file.
KEEP_REJECTS = 100
# IN (...) lists stay under SQLite's 32766 bound variables.
CHUNK = 5000

# The candidate columns an import sets; opt-out state is never an import's to change.
_DATA_COLUMNS = tuple(c for c in CANDIDATE_COLUMNS if c != "phone")
_COMPARED = (*_DATA_COLUMNS, "custom_fields")


@dataclass(frozen=True)
class ImportOptions:
    """How to import: the CLI's flags."""

    list_name: str | None = None
    region: str = "US"
    dry_run: bool = False
    update_existing: bool = True
    create_new: bool = True
    custom: bool = False
    rejects_path: Path | None = None
    batch_size: int = 5000
    active_policy: ActivePolicy = "first"
    # Where consent came from when a row does not say: "import:<file name>" by default.
    opt_in_source: str | None = None


@dataclass
class ImportSummary:
    """What an import did (or, on a dry run, would do)."""

    kind: str = ""
    rows: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejected: int = 0
    added_to_list: int = 0
    applies_added: int = 0
    list_name: str | None = None
    dry_run: bool = False
    rejects_path: Path | None = None
    rejects: list[Reject] = field(default_factory=list)

    def lines(self) -> list[str]:
        """The summary as a person reads it."""
        out = [f"{self.rows} rows read ({self.kind})"]
        if self.dry_run:
            out.append("dry run: nothing was written; this is what the import would do")
        out += [
            f"created: {self.created}",
            f"updated: {self.updated}",
            f"unchanged: {self.unchanged}",
            f"rejected: {self.rejected}",
        ]
        if self.skipped:
            out.append(f"skipped (new, and create_new is off): {self.skipped}")
        if self.list_name:
            out.append(f"added to list {self.list_name}: {self.added_to_list}")
        out.append(f"applies added: {self.applies_added}")
        return out


def import_file(
    path: Path | str,
    *,
    db: Database,
    options: ImportOptions | None = None,
    progress: Callable[[float], None] | None = None,
    now: datetime | None = None,
) -> ImportSummary:
    """Import a spreadsheet; HeaderError, SheetError or ListError (nothing written) if not.

    `progress` is called after each batch with the fraction of the file read.
    """
    options = options or ImportOptions()
    path = Path(path)
    now = now or utcnow()
    summary = ImportSummary(dry_run=options.dry_run, list_name=options.list_name)
    with open_sheet(path) as sheet, _Rejects(options.rejects_path) as rejects:
        summary.kind = sheet.kind
        sample = list(itertools.islice(sheet.rows, HEADER_SAMPLE))
        plan = plan_columns(sheet.header, [values for _, values in sample], custom=options.custom)
        rules = RowRules(plan, region=options.region)
        target = _target_list(db, options, now)
        if target is not None:
            summary.list_name = target.name
        batcher = _Batcher(
            db=db,
            options=options,
            summary=summary,
            list_id=target.id if target else None,
            now=now,
            opt_in_source=options.opt_in_source or f"import:{path.name}",
        )
        reader = _Reader(sheet, sample, rules, plan, summary, rejects, options.batch_size)
        for batch, fraction in reader.batches():
            batcher.run(batch)
            if progress is not None:
                progress(fraction)
        summary.rejects_path = rejects.path if rejects.opened else None
    return summary


class _Reader:
    """Reads and checks rows in a thread of its own, handing on batches of valid rows.

    The queue holds two batches at most, so memory stays flat however long the file.
    """

    _DONE = object()

    def __init__(
        self,
        sheet: Sheet,
        sample: list[tuple[int, list[str]]],
        rules: RowRules,
        plan: ColumnPlan,
        summary: ImportSummary,
        rejects: _Rejects,
        size: int,
    ) -> None:
        self._sheet = sheet
        self._sample = sample
        self._rules = rules
        self._plan = plan
        self._summary = summary
        self._rejects = rejects
        self._size = size
        self._queue: queue.Queue[Any] = queue.Queue(maxsize=2)
        self._stop = threading.Event()

    def _put(self, item: Any) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        summary, check, rejects, plan = self._summary, self._rules.check, self._rejects, self._plan
        batch: list[ValidRow] = []
        try:
            for row, values in itertools.chain(self._sample, self._sheet.rows):
                summary.rows += 1
                checked = check(row, values)
                if isinstance(checked, Reject):
                    summary.rejected += 1
                    if len(summary.rejects) < KEEP_REJECTS:
                        summary.rejects.append(checked)
                    rejects.write(plan, checked)
                    continue
                batch.append(checked)
                if len(batch) >= self._size:
                    if not self._put((batch, self._sheet.progress())):
                        return
                    batch = []
            if batch and not self._put((batch, 1.0)):
                return
            self._put(self._DONE)
        except BaseException as error:  # handed to the writing thread, which raises it
            self._put(error)

    def batches(self) -> Iterator[tuple[list[ValidRow], float]]:
        thread = threading.Thread(target=self._work, name="import-reader", daemon=True)
        thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is self._DONE:
                    break
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            self._stop.set()
            thread.join()


class _Rejects:
    """The rejects file, opened at the first reject so a clean import leaves none."""

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.opened = False
        self._stream: IO[str] | None = None
        self._writer: RejectsWriter | None = None

    def __enter__(self) -> _Rejects:
        return self

    def __exit__(self, *_: object) -> None:
        if self._stream is not None:
            self._stream.close()

    def write(self, plan: ColumnPlan, reject: Reject) -> None:
        if self.path is None:
            return
        if self._writer is None:
            self._stream = self.path.open("w", encoding="utf-8", newline="")
            self._writer = RejectsWriter(self._stream, plan.header)
            self.opened = True
        self._writer.write(reject)


def _target_list(db: Database, options: ImportOptions, now: datetime) -> ListInfo | None:
    """The static list rows join; created now unless this is a dry run."""
    if not options.list_name:
        return None
    if options.dry_run:
        with db.read() as session:
            info = find_list(session=session, name=options.list_name)
        if info is not None and info.dynamic:
            raise ListError(f'list "{info.name}" is dynamic (a saved filter): it takes no rows')
        return info
    with db.write() as session:
        return ensure_static_list(session=session, name=options.list_name, now=now)


@dataclass
class _Pending:
    """A candidate as this batch leaves it; id None until inserted."""

    id: int | None
    values: dict[str, Any]
    changed: bool = False


class _Values:
    """Values as the driver takes them, made once per distinct value, not once per cell.

    SQLite stores timestamps as text and JSON as text, through the column types' own bind
    processors; psycopg's COPY takes aware datetimes as they are and JSON as text.
    """

    def __init__(self, conn: Connection) -> None:
        self.sqlite = conn.dialect.name == "sqlite"
        dialect = conn.dialect
        self._ts = candidates.c.created_at.type._cached_bind_processor(dialect)
        self._json = candidates.c.custom_fields.type._cached_bind_processor(dialect)
        self._memo: dict[datetime, Any] = {}

    def when(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite or self._ts is None:
            return value
        try:
            return self._memo[value]
        except KeyError:
            converted = self._memo[value] = self._ts(value)
            return converted

    def json(self, value: dict[str, Any]) -> Any:
        if not value:
            return "{}"
        if self.sqlite and self._json is not None:
            return self._json(value)
        return json.dumps(value)


# In the table's column order, which Core's compiled INSERT follows.
_CANDIDATE_INSERT = (
    "phone",
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "street",
    "city",
    "state",
    "country",
    "postal_code",
    "opt_in",
    "opt_in_source",
    "opt_in_at",
    "opted_out",
    "external_contact_id",
    "custom_fields",
    "created_at",
    "updated_at",
)
_APPLY_INSERT = (
    "candidate_id",
    "origin",
    *APPLY_FIELDS,
    "status",
    "is_active",
    "natural_key",
    "created_at",
    "updated_at",
)


class _Batcher:
    """Decides and writes one batch of valid rows, in one transaction.

    On SQLite the batch's new phones are inserted first (INSERT ... ON CONFLICT DO
    NOTHING, in phone order for index locality) and only the phones that were already
    there are read back and merged: a fresh import of a million rows then probes the
    phone index once per row instead of twice. PostgreSQL and dry runs look the phones
    up first. A dry run writes nothing; to count a phone that repeats across batches it
    remembers a fingerprint (a hash) of what it would have created, not the rows, so a
    million-row dry run stays small.
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
        self.opt_in_source = opt_in_source
        self._dry_seen: dict[int, int] = {}
        self._dry_applies: set[int] = set()

    def run(self, batch: list[ValidRow]) -> None:
        if self.options.dry_run:
            with self.db.read() as session:
                self._batch(session.connection(), batch)
        else:
            with self.db.write() as session:
                self._batch(session.connection(), batch)

    # --- deciding -------------------------------------------------------------------

    def _existing(self, conn: Connection, phones: Sequence[str]) -> dict[str, _Pending]:
        columns = [candidates.c.id, candidates.c.phone, *(candidates.c[n] for n in _COMPARED)]
        found: dict[str, _Pending] = {}
        for chunk in _chunks(phones, CHUNK):
            for row in conn.execute(sa.select(*columns).where(candidates.c.phone.in_(chunk))):
                values = dict(row._mapping)
                found[values.pop("phone")] = _Pending(values.pop("id"), values)
        return found

    def _may(self, override: bool | None, default: bool) -> bool:
        return default if override is None else override

    def _decide(
        self, rows: list[ValidRow], pending: _Pending | None
    ) -> tuple[_Pending | None, list[str]]:
        """Fold one phone's rows, in file order, into what the candidate becomes.

        Returns the candidate (None if not created) and each row's outcome.
        """
        outcomes: list[str] = []
        options = self.options
        for row in rows:
            if pending is None:
                if not self._may(row.create_new, options.create_new):
                    outcomes.append("skipped")
                    continue
                pending = _Pending(None, self._new_values(row))
                outcomes.append("created")
            elif self._may(row.update_existing, options.update_existing) and self._merge(
                pending, row
            ):
                outcomes.append("updated")
            else:
                outcomes.append("unchanged")
        return pending, outcomes

    def _count(self, outcomes: list[str]) -> None:
        for outcome in outcomes:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)

    def _batch(self, conn: Connection, batch: list[ValidRow]) -> None:
        groups: dict[str, list[ValidRow]] = {}
        for row in batch:
            groups.setdefault(row.candidate["phone"], []).append(row)
        values = _Values(conn)
        if self.options.dry_run:
            self._dry_batch(conn, groups)
            return
        state: dict[str, _Pending] = {}
        before: set[int] = set()  # candidates that were there before this batch
        lookup = list(groups)
        if values.sqlite:
            lookup = self._insert_new(conn, values, groups, state)
        found = self._existing(conn, lookup)
        created: dict[str, _Pending] = {}
        for phone in lookup:
            existing = found.get(phone)
            if existing is not None:
                before.add(existing.id or 0)
            pending, outcomes = self._decide(groups[phone], existing)
            self._count(outcomes)
            if pending is None:
                continue
            state[phone] = pending
            if existing is None:
                created[phone] = pending
        if created:
            self._insert_candidates(conn, values, created)
        self._update(conn, [p for p in state.values() if p.changed and p.id in before])
        kept = [row for phone, rows in groups.items() if phone in state for row in rows]
        new = self._new_applies(conn, values, kept, state, before)
        if new:
            self._insert_applies(conn, new)
        if self.list_id is not None:
            ids = [p.id for p in state.values() if p.id is not None]
            self.summary.added_to_list += self._members(conn, values, ids)

    def _insert_new(
        self,
        conn: Connection,
        values: _Values,
        groups: dict[str, list[ValidRow]],
        state: dict[str, _Pending],
    ) -> list[str]:
        """Insert the phones this batch may create, skipping ones already there.

        Fills `state` with what was inserted and returns the phones left to look up.
        """
        folded: dict[str, tuple[_Pending, list[str]]] = {}
        rest: list[str] = []
        for phone in sorted(groups):
            rows = groups[phone]
            if not self._may(rows[0].create_new, self.options.create_new):
                rest.append(phone)
                continue
            pending, outcomes = self._decide(rows, None)
            assert pending is not None
            folded[phone] = (pending, outcomes)
        if not folded:
            return rest
        last = conn.execute(sa.select(sa.func.max(candidates.c.id))).scalar() or 0
        self._insert_candidates(
            conn, values, {phone: p for phone, (p, _) in folded.items()}, ignore_known=True
        )
        inserted = conn.execute(
            sa.select(candidates.c.phone, candidates.c.id).where(candidates.c.id > last)
        )
        for phone, cid in inserted:
            pending, outcomes = folded.pop(phone)
            pending.id = cid
            pending.changed = False
            state[phone] = pending
            self._count(outcomes)
        return rest + list(folded)  # the phones that were there already

    def _new_values(self, row: ValidRow) -> dict[str, Any]:
        values = dict.fromkeys(_DATA_COLUMNS)
        values.update(row.candidate)
        del values["phone"]
        if values["opt_in"]:
            values["opt_in_source"] = values["opt_in_source"] or self.opt_in_source
            values["opt_in_at"] = values["opt_in_at"] or self.now
        values["custom_fields"] = row.custom
        return values

    def _merge(self, pending: _Pending, row: ValidRow) -> bool:
        """Fold a row into a candidate: filled cells win, blank ones keep what is there."""
        current = pending.values
        before = dict(current)
        for name in _DATA_COLUMNS:
            value = row.candidate.get(name)
            if value is not None:
                current[name] = value
        if row.candidate["opt_in"] and not before.get("opt_in"):
            # Consent given now: record where and when, unless the row says.
            current["opt_in_source"] = row.candidate.get("opt_in_source") or self.opt_in_source
            current["opt_in_at"] = row.candidate.get("opt_in_at") or self.now
        if row.custom:
            current["custom_fields"] = {**(before.get("custom_fields") or {}), **row.custom}
        if current != before:
            pending.changed = True
            return True
        return False

    # --- writing --------------------------------------------------------------------

    def _insert_candidates(
        self,
        conn: Connection,
        values: _Values,
        created: dict[str, _Pending],
        *,
        ignore_known: bool = False,
    ) -> None:
        """Insert new candidates; without `ignore_known`, set their ids on `created`."""
        now = values.when(self.now)
        when, as_json = values.when, values.json
        rows = []
        for phone, pending in created.items():
            v = pending.values
            rows.append(
                (
                    phone,
                    v["first_name"],
                    v["middle_name"],
                    v["last_name"],
                    v["email"],
                    v["street"],
                    v["city"],
                    v["state"],
                    v["country"],
                    v["postal_code"],
                    v["opt_in"],
                    v["opt_in_source"],
                    when(v["opt_in_at"]),
                    False,
                    v["external_contact_id"],
                    as_json(v["custom_fields"]),
                    now,
                    now,
                )
            )
        _bulk_insert(
            conn,
            candidates,
            _CANDIDATE_INSERT,
            rows,
            skip_conflicts_on="phone" if ignore_known else None,
        )
        if ignore_known:
            return
        for chunk in _chunks(list(created), CHUNK):
            select = sa.select(candidates.c.phone, candidates.c.id).where(
                candidates.c.phone.in_(chunk)
            )
            for phone, cid in conn.execute(select):
                created[phone].id = cid

    def _update(self, conn: Connection, changed: list[_Pending]) -> None:
        if not changed:
            return
        # Bind names differ from column names: SQLAlchemy reserves those for SET.
        values: dict[str, Any] = {name: sa.bindparam(f"v_{name}") for name in _COMPARED}
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
        values: _Values,
        kept: list[ValidRow],
        state: dict[str, _Pending],
        before: set[int],
    ) -> dict[tuple[int, int], list[Any]]:
        """The applies these rows add: one per row unless the same one is already there."""
        known: set[tuple[int, int]] = set()
        active: set[int] = set()
        # Only candidates that were there before this batch can have applies already.
        for chunk in _chunks(sorted(i for i in before if i > 0), CHUNK):
            rows = conn.execute(
                sa.select(applies.c.candidate_id, applies.c.natural_key, applies.c.is_active).where(
                    applies.c.candidate_id.in_(chunk)
                )
            )
            for cid, key, is_active in rows:
                known.add((cid, key))
                if is_active:
                    active.add(cid)
        latest = self.options.active_policy == "latest"
        now = values.when(self.now)
        new: dict[tuple[int, int], list[Any]] = {}
        last_for: dict[int, list[Any]] = {}
        at_active = _APPLY_INSERT.index("is_active")
        for row in kept:
            cid = state[row.candidate["phone"]].id
            if cid is None:
                continue
            apply = row.apply
            key = natural_key("import", apply)
            if (cid, key) in known or (cid, key) in new:
                continue
            line = [cid, "import", *[apply.get(name) for name in APPLY_FIELDS]]
            line += ["New", latest or cid not in active, key, now, now]
            if latest and cid in last_for:
                last_for[cid][at_active] = False
            last_for[cid] = line
            active.add(cid)
            new[(cid, key)] = line
        return new

    def _insert_applies(self, conn: Connection, new: dict[tuple[int, int], list[Any]]) -> None:
        if self.options.active_policy == "latest":
            # The newest apply becomes the active one; the one before steps down.
            for chunk in _chunks(sorted({cid for cid, _ in new}), CHUNK):
                conn.execute(
                    sa.update(applies)
                    .where(applies.c.candidate_id.in_(chunk), applies.c.is_active)
                    .values(is_active=False, updated_at=self.now)
                )
        _bulk_insert(conn, applies, _APPLY_INSERT, [tuple(line) for line in new.values()])
        self.summary.applies_added += len(new)

    def _members(
        self, conn: Connection, values: _Values, ids: list[int], *, write: bool = True
    ) -> int:
        present: set[int] = set()
        for chunk in _chunks(sorted(ids), CHUNK):
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
            _bulk_insert(conn, members, ("list_id", "candidate_id", "added_at"), rows)
        return len(new)

    # --- dry run ----------------------------------------------------------------------

    def _fingerprint(self, row: ValidRow) -> int:
        return hash((tuple(row.candidate.values()), tuple(sorted(row.custom.items()))))

    def _dry_batch(self, conn: Connection, groups: dict[str, list[ValidRow]]) -> None:
        """Count what the batch would do; remember fingerprints of phones it would create."""
        found = self._existing(conn, list(groups))
        state: dict[str, _Pending] = {}
        before: set[int] = set()
        fresh: list[str] = []
        for phone, rows in groups.items():
            existing = found.get(phone)
            if existing is None and hash(phone) in self._dry_seen:
                for row in rows:
                    self._dry_repeat(row)
                continue
            if existing is not None:
                before.add(existing.id or 0)
            pending, outcomes = self._decide(rows, existing)
            self._count(outcomes)
            if pending is None:
                continue
            state[phone] = pending
            if existing is None:
                pending.id = -len(fresh) - 1  # stands in for the id an insert would give
                fresh.append(phone)
                self._dry_seen[hash(phone)] = self._fingerprint(rows[-1])
        kept = [row for phone, rows in groups.items() if phone in state for row in rows]
        new = self._new_applies(conn, _Values(conn), kept, state, before)
        self.summary.applies_added += len(new)
        for cid, key in new:
            if cid < 0:
                self._dry_applies.add(hash((fresh[-cid - 1], key)))
        if self.options.list_name:
            existing_ids = [p.id for p in state.values() if p.id is not None and p.id > 0]
            added = len(fresh)
            if existing_ids and self.list_id is not None:
                added += self._members(conn, _Values(conn), existing_ids, write=False)
            else:
                added += len(existing_ids)
            self.summary.added_to_list += added

    def _dry_repeat(self, row: ValidRow) -> None:
        """A phone that an earlier batch of this dry run would have created."""
        phone = row.candidate["phone"]
        fingerprint = self._fingerprint(row)
        if self._dry_seen[hash(phone)] == fingerprint:
            self.summary.unchanged += 1
        else:
            self.summary.updated += 1
            self._dry_seen[hash(phone)] = fingerprint
        seen = hash((phone, natural_key("import", row.apply)))
        if seen not in self._dry_applies:
            self._dry_applies.add(seen)
            self.summary.applies_added += 1


def _bulk_insert(
    conn: Connection,
    table: sa.Table,
    columns: Sequence[str],
    rows: list[tuple[Any, ...]],
    *,
    skip_conflicts_on: str | None = None,
) -> None:
    """Insert many rows at driver speed: COPY on PostgreSQL, executemany on SQLite.

    Core's own executemany spends ~20 µs a row processing bind parameters, more than the
    insert itself; here the statement is still compiled by Core, and the rows come with
    their values already as the driver takes them (see `_Values`).
    """
    if not rows:
        return
    dialect = conn.dialect
    if dialect.name == "postgresql":
        assert skip_conflicts_on is None, "PostgreSQL imports look phones up first"
        names = ", ".join(dialect.identifier_preparer.quote(name) for name in columns)
        raw = conn.connection.driver_connection
        assert raw is not None
        with (
            raw.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    statement: Any = sa.insert(table)
    if skip_conflicts_on is not None:
        statement = sqlite_insert(table).on_conflict_do_nothing(index_elements=[skip_conflicts_on])
    statement = statement.values({name: sa.bindparam(name) for name in columns})
    compiled = statement.compile(dialect=dialect)
    assert list(compiled.positiontup or ()) == list(columns), compiled.positiontup
    conn.exec_driver_sql(compiled.string, rows)


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
