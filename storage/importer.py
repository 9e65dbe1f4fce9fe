"""Import candidates from a CSV or XLSX file.

The header is checked before anything is written (HeaderError lists every problem).
Rows then go in batches, one transaction each, through SQLAlchemy Core: an interrupted
import leaves whole batches, and running it again finishes the job, because a candidate
is found by phone (insert or update) and an apply by its natural key (the same row adds
no second apply). Rejected rows are counted, kept for the report and written to the
rejects file.

A million rows must import in a third of `sqlite-utils insert`'s time on two cores, so
the work is split in two. A producer reads, checks and shapes rows (in a process of its
own for a big file, in a thread for a small one); this process writes them. On SQLite
the producer shapes each chunk as if all its phones were new: candidate rows in phone
order, and apply rows that find their candidate's id from the ids the insert hands out.
The writer runs those through the driver in three statements; only when a phone was
already there does it fall back to reading the candidates and merging field by field.
Statements are compiled by Core and run through the driver's executemany (SQLite) or
COPY (PostgreSQL).
"""

from __future__ import annotations

import gc
import itertools
import json
import multiprocessing
import queue
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any, TypeAlias

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Dialect

from grammar.counts import counted
from storage.applies import ActivePolicy, natural_key_of
from storage.db import Database
from storage.import_reader import SheetError, open_sheet
from storage.import_rules import (
    CANDIDATE_COLUMNS,
    ColumnPlan,
    Reject,
    RejectsWriter,
    RowRules,
    ValidRow,
    check_region,
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
# Rows the producer hands over at a time; a batch (a transaction) is one or more.
CHUNK_ROWS = 5000
# Files at least this big are read and checked in a process of their own.
PROCESS_FROM_BYTES = 4_000_000
# WAL pages between checkpoints while an import writes (SQLite's default is 1000).
IMPORT_CHECKPOINT_PAGES = 20_000
# SQLite page cache of the importing connection, in KiB (SQLite's default is 2000).
IMPORT_CACHE_KIB = 65_536

# The candidate columns an import sets; opt-out state is never an import's to change.
_DATA_COLUMNS = tuple(c for c in CANDIDATE_COLUMNS if c != "phone")
_COMPARED = (*_DATA_COLUMNS, "custom_fields")
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
_ACTIVE_AT = _APPLY_INSERT.index("is_active")
_EXTERNAL_AT = _CANDIDATE_INSERT.index("external_contact_id")
# Candidate columns whose values repeat from row to row.
_SHARED = ("city", "state", "country", "opt_in_source")


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
    # Rows per transaction: an interrupted import keeps whole batches of this size.
    batch_size: int = 50_000
    active_policy: ActivePolicy = "first"
    # Where consent came from when a row does not say: "import:<file name>" by default.
    opt_in_source: str | None = None
    # Read and check in another process: None decides by the file's size.
    parallel: bool | None = None


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
        out = [f"{counted(self.rows, 'row')} read ({self.kind})"]
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

    `progress` is called after each chunk of rows with the fraction of the file read.
    """
    options = options or ImportOptions()
    path = Path(path)
    now = now or utcnow()
    summary = ImportSummary(dry_run=options.dry_run, list_name=options.list_name)
    with open_sheet(path) as sheet:
        summary.kind = sheet.kind
        sample = [values for _, values in itertools.islice(sheet.rows, HEADER_SAMPLE)]
        plan_columns(sheet.header, sample, custom=options.custom)  # HeaderError: stop here
    check_region(options.region)
    target = _target_list(db, options, now)
    if target is not None:
        summary.list_name = target.name
    job = _Job(
        path=path,
        region=options.region,
        custom=options.custom,
        chunk_rows=min(options.batch_size, CHUNK_ROWS),
        rejects_path=options.rejects_path,
        now=now,
        opt_in_source=options.opt_in_source or f"import:{path.name}",
        fast=db.is_sqlite and not options.dry_run,
        create_new=options.create_new,
        update_existing=options.update_existing,
        active_policy=options.active_policy,
    )
    parallel = options.parallel
    if parallel is None:
        parallel = path.stat().st_size >= PROCESS_FROM_BYTES
    parallel = parallel and _can_spawn()
    batcher = _Batcher(
        db=db,
        options=options,
        summary=summary,
        list_id=target.id if target else None,
        now=now,
        opt_in_source=job.opt_in_source,
    )
    ok = False
    with _GC_PAUSE:
        try:
            for item in (_in_process if parallel else _in_thread)(job):
                if item[0] == "rows":
                    _, count, rows, fast, fraction = item
                    batcher.run(count, rows, fast)
                    if progress is not None:
                        progress(fraction)
                else:
                    _, summary.rows, summary.rejected, summary.rejects, opened = item
                    summary.rejects_path = options.rejects_path if opened else None
            ok = True
        finally:
            batcher.close(ok=ok)
    if progress is not None:
        progress(1.0)
    return summary


class _GcPause:
    """No cyclic garbage collection while rows stream through.

    A chunk is some 100,000 fresh objects with no cycles among them; collections that
    walk them cost a fifth of an import. Imports running at once share the pause, and
    the collector comes back as it was when the last one ends.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holders = 0
        self._was_enabled = False

    def __enter__(self) -> None:
        with self._lock:
            if self._holders == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._holders += 1

    def __exit__(self, *_: object) -> None:
        with self._lock:
            self._holders -= 1
            if self._holders == 0 and self._was_enabled:
                gc.enable()


_GC_PAUSE = _GcPause()


# --- deciding what a phone's rows make of its candidate ------------------------------


@dataclass
class _Pending:
    """A candidate as this chunk leaves it; id None until inserted."""

    id: int | None
    values: dict[str, Any]
    changed: bool = False


def _may(override: bool | None, default: bool) -> bool:
    return default if override is None else override


def _new_values(
    candidate: dict[str, Any], custom: dict[str, str], now: datetime, source: str
) -> dict[str, Any]:
    """A new candidate's columns from a row; consent given gets a where and when."""
    values = dict.fromkeys(_DATA_COLUMNS)
    values.update(candidate)
    del values["phone"]
    if values["opt_in"]:
        values["opt_in_source"] = values["opt_in_source"] or source
        values["opt_in_at"] = values["opt_in_at"] or now
    values["custom_fields"] = custom
    return values


def _merge(pending: _Pending, row: ValidRow, now: datetime, source: str) -> bool:
    """Fold a row into a candidate: filled cells win, blank ones keep what is there."""
    current = pending.values
    before = dict(current)
    for name in _DATA_COLUMNS:
        value = row.candidate.get(name)
        if value is not None:
            current[name] = value
    if row.candidate["opt_in"] and not before.get("opt_in"):
        # Consent given now: record where and when, unless the row says.
        current["opt_in_source"] = row.candidate.get("opt_in_source") or source
        current["opt_in_at"] = row.candidate.get("opt_in_at") or now
    if row.custom:
        current["custom_fields"] = {**(before.get("custom_fields") or {}), **row.custom}
    if current != before:
        pending.changed = True
        return True
    return False


@dataclass(frozen=True)
class _Rules:
    """The defaults a phone's rows are folded with."""

    now: datetime
    source: str
    create_new: bool
    update_existing: bool


def _fold(
    rows: list[ValidRow], pending: _Pending | None, rules: _Rules
) -> tuple[_Pending | None, list[str]]:
    """Fold one phone's rows, in file order, into what its candidate becomes.

    Returns the candidate (None if not created) and each row's outcome: created,
    updated, unchanged or skipped.
    """
    outcomes: list[str] = []
    for row in rows:
        if pending is None:
            if not _may(row.create_new, rules.create_new):
                outcomes.append("skipped")
                continue
            values = _new_values(row.candidate, row.custom, rules.now, rules.source)
            pending = _Pending(None, values)
            outcomes.append("created")
        elif _may(row.update_existing, rules.update_existing) and _merge(
            pending, row, rules.now, rules.source
        ):
            outcomes.append("updated")
        else:
            outcomes.append("unchanged")
    return pending, outcomes


class _Values:
    """Values as the driver takes them, made once per distinct value, not once per cell.

    SQLite stores timestamps and JSON as text, through the column types' own bind
    processors; psycopg's COPY takes aware datetimes as they are and JSON as text.
    """

    def __init__(self, dialect: Dialect | None) -> None:
        self.sqlite = dialect is not None and dialect.name == "sqlite"
        self._ts = self._json = None
        if dialect is not None:
            self._ts = candidates.c.created_at.type._cached_bind_processor(dialect)
            self._json = candidates.c.custom_fields.type._cached_bind_processor(dialect)
        self._memo: dict[datetime, Any] = {}

    def when(self, value: datetime | None) -> Any:
        if value is None or not self.sqlite or self._ts is None:
            return value
        try:
            return self._memo[value]
        except KeyError:
            converted = self._ts(value)
            if len(self._memo) < 1024:  # the import's `now` and a few more, not every cell
                self._memo[value] = converted
            return converted

    def json(self, value: dict[str, Any]) -> Any:
        if not value:
            return "{}"
        if self.sqlite and self._json is not None:
            return self._json(value)
        return json.dumps(value)


def _insert_row(phone: str, v: dict[str, Any], values: _Values, now: Any) -> tuple[Any, ...]:
    """A candidate as the driver takes it, in _CANDIDATE_INSERT order."""
    return (
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
        values.when(v["opt_in_at"]),
        False,
        v["external_contact_id"],
        values.json(v["custom_fields"]),
        now,
        now,
    )


# --- the producer: read, check, shape -----------------------------------------------

# A checked row as it travels: (row number, phone, candidate values in _DATA_COLUMNS
# order, apply values in APPLY_FIELDS order, custom fields or None, update_existing,
# create_new).
Compact: TypeAlias = tuple[
    int,
    str,
    tuple[Any, ...],
    tuple[Any, ...],
    "dict[str, str] | None",
    "bool | None",
    "bool | None",
]


@dataclass
class _Fast:
    """A chunk shaped for SQLite as if all its phones were new, nothing sent twice.

    `inserts`: one candidate row per phone, in phone order. `applies`: apply rows whose
    first value is an offset from the largest candidate id once the inserts are in (the
    k-th of n new candidates gets id max - n + 1 + k). Should a phone turn out to be
    there already, `rows_of` rebuilds its rows from these, `extras` (row number, the
    opt-in cells before defaults, custom fields, overrides) and `several` (the rows of
    phones that come more than once in the chunk).
    """

    phones: list[str]
    inserts: list[tuple[Any, ...]]
    applies: list[tuple[Any, ...]]
    extras: list[tuple[Any, ...] | None]
    # Row outcomes of phones with more than one row here, by index; the others: created.
    outcomes: dict[int, list[str]]
    several: dict[int, list[Compact]]

    def rows_of(self, indexes: set[int]) -> list[Compact]:
        """The travelling rows of the phones at these indexes."""
        n = len(self.phones)
        apply_of = {line[0] + n - 1: line[2 : 2 + len(APPLY_FIELDS)] for line in self.applies}
        rows: list[Compact] = []
        for at in sorted(indexes):
            if at in self.several:
                rows.extend(self.several[at])
                continue
            insert, extra = self.inserts[at], self.extras[at]
            assert extra is not None
            number, raw_source, raw_at, custom, update, create = extra
            cand = (*insert[1:11], raw_source, raw_at, insert[_EXTERNAL_AT])
            rows.append((number, insert[0], cand, apply_of[at], custom, update, create))
        return rows


@dataclass(frozen=True)
class _Job:
    """What the producer needs; plain values, so it crosses to another process."""

    path: Path
    region: str
    custom: bool
    chunk_rows: int
    rejects_path: Path | None
    now: datetime
    opt_in_source: str
    fast: bool
    create_new: bool
    update_existing: bool
    active_policy: ActivePolicy


class _Shaper:
    """Turns a chunk of checked rows into what travels to the writer."""

    def __init__(self, job: _Job) -> None:
        self.job = job
        self.rules = _Rules(job.now, job.opt_in_source, job.create_new, job.update_existing)
        self.values = _Values(sqlite.dialect() if job.fast else None)
        self.now_db = self.values.when(job.now)

    def chunk(self, rows: list[ValidRow]) -> tuple[list[Compact] | None, _Fast | None]:
        """The chunk as compact rows, or (on SQLite, when it can) shaped for the fast path."""
        # Equal values made one object: pickle then sends each once per chunk.
        same: dict[Any, Any] = {}
        groups: dict[str, list[tuple[ValidRow, tuple[Any, ...]]]] = {}
        pairs: list[tuple[ValidRow, tuple[Any, ...]]] = []
        for row in rows:
            c = row.candidate
            for name in _SHARED:
                value = c.get(name)
                if value is not None:
                    c[name] = same.setdefault(value, value)
            apply = tuple([row.apply.get(name) for name in APPLY_FIELDS])
            pair = (row, same.setdefault(apply, apply))
            pairs.append(pair)
            group = groups.get(c["phone"])
            if group is None:
                groups[c["phone"]] = [pair]
            else:
                group.append(pair)
        create = self.job.create_new
        if self.job.fast and all(_may(g[0][0].create_new, create) for g in groups.values()):
            return None, self._fast(groups)
        return [_compact(row, apply) for row, apply in pairs], None

    def _fast(self, groups: dict[str, list[tuple[ValidRow, tuple[Any, ...]]]]) -> _Fast:
        phones = sorted(groups)
        values, now, rules = self.values, self.now_db, self.rules
        latest = self.job.active_policy == "latest"
        inserts: list[tuple[Any, ...]] = []
        lines: list[tuple[Any, ...]] = []
        extras: list[tuple[Any, ...] | None] = []
        outcomes: dict[int, list[str]] = {}
        several: dict[int, list[Compact]] = {}
        offset = 1 - len(phones)
        when, as_json, source, today = values.when, values.json, rules.source, rules.now
        key_of: dict[int, int] = {}  # natural keys by apply tuple (shared objects, see chunk)
        for at, phone in enumerate(phones):
            group = groups[phone]
            if len(group) == 1:
                # The common case, spelt out: this loop runs a million times.
                row, apply = group[0]
                c = row.candidate
                opt_in, raw_source, raw_at = c["opt_in"], c.get("opt_in_source"), c.get("opt_in_at")
                custom = row.custom
                inserts.append(
                    (
                        phone,
                        c["first_name"],
                        c["middle_name"],
                        c["last_name"],
                        c["email"],
                        c.get("street"),
                        c.get("city"),
                        c.get("state"),
                        c.get("country"),
                        c.get("postal_code"),
                        opt_in,
                        (raw_source or source) if opt_in else raw_source,
                        when((raw_at or today) if opt_in else raw_at),
                        False,
                        c.get("external_contact_id"),
                        as_json(custom),
                        now,
                        now,
                    )
                )
                extras.append(
                    (
                        row.row,
                        raw_source,
                        raw_at,
                        custom or None,
                        row.update_existing,
                        row.create_new,
                    )
                )
                key = key_of.get(id(apply))
                if key is None:
                    key = key_of[id(apply)] = natural_key_of("import", apply)
                lines.append((offset, "import", *apply, "New", True, key, now, now))
                offset += 1
                continue
            pending, outcomes[at] = _fold([row for row, _ in group], None, rules)
            assert pending is not None
            inserts.append(_insert_row(phone, pending.values, values, now))
            extras.append(None)
            several[at] = [_compact(row, apply) for row, apply in group]
            keys: list[int] = []
            mine: list[list[Any]] = []
            for _, apply in group:
                key = natural_key_of("import", apply)
                if key not in keys:
                    keys.append(key)
                    mine.append([offset, "import", *apply, "New", False, key, now, now])
            mine[-1 if latest else 0][_ACTIVE_AT] = True
            lines.extend(tuple(line) for line in mine)
            offset += 1
        return _Fast(phones, inserts, lines, extras, outcomes, several)


def _compact(row: ValidRow, apply: tuple[Any, ...]) -> Compact:
    """A checked row as it travels, its apply values as a tuple in APPLY_FIELDS order."""
    c = row.candidate
    cand = tuple([c.get(name) for name in _DATA_COLUMNS])
    return (
        row.row,
        c["phone"],
        cand,
        apply,
        row.custom or None,
        row.update_existing,
        row.create_new,
    )


def _produce(job: _Job, put: Callable[[Any], bool]) -> None:
    """Read and check every row, handing on chunks, then ("end", counts, rejects)."""
    try:
        with open_sheet(job.path) as sheet, _Rejects(job.rejects_path) as rejects:
            sample = list(itertools.islice(sheet.rows, HEADER_SAMPLE))
            plan = plan_columns(sheet.header, [v for _, v in sample], custom=job.custom)
            check = RowRules(plan, region=job.region).check
            shaper = _Shaper(job)
            read = rejected = 0
            kept: list[Reject] = []
            chunk: list[ValidRow] = []
            for number, cells in itertools.chain(sample, sheet.rows):
                read += 1
                row = check(number, cells)
                if isinstance(row, Reject):
                    rejected += 1
                    if len(kept) < KEEP_REJECTS:
                        kept.append(row)
                    rejects.write(plan, row)
                    continue
                chunk.append(row)
                if len(chunk) >= job.chunk_rows:
                    if not put(("rows", len(chunk), *shaper.chunk(chunk), sheet.progress())):
                        return
                    chunk = []
            if chunk and not put(("rows", len(chunk), *shaper.chunk(chunk), 1.0)):
                return
            put(("end", read, rejected, kept, rejects.opened))
    except BaseException as error:  # the writing side raises it
        put(("error", error))


def _valid(row: Compact) -> ValidRow:
    """The full form of a travelled row, for the paths that merge field by field."""
    candidate = dict(zip(_DATA_COLUMNS, row[2], strict=True))
    candidate["phone"] = row[1]
    apply = dict(zip(APPLY_FIELDS, row[3], strict=True))
    return ValidRow(row[0], candidate, apply, row[4] or {}, row[5], row[6])


def _in_thread(job: _Job) -> Iterator[Any]:
    """The producer in a thread: for small files, where a process costs more than it saves."""
    items: queue.Queue[Any] = queue.Queue(maxsize=2)
    stop = threading.Event()

    def put(item: Any) -> bool:
        while not stop.is_set():
            try:
                items.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    thread = threading.Thread(target=_produce, args=(job, put), name="import-reader", daemon=True)
    thread.start()
    try:
        yield from _drain(items.get, thread.is_alive)
    finally:
        stop.set()
        thread.join()


def _produce_in_process(job: _Job, items: Any) -> None:
    gc.disable()  # this process only makes short-lived rows (see _GcPause)

    def put(item: Any) -> bool:
        if item[0] == "error":
            item = ("error", _portable(item[1]))
        items.put(item)
        return True

    _produce(job, put)


def _portable(error: BaseException) -> BaseException:
    """An error that survives pickling back to the writing process."""
    if isinstance(error, SheetError):
        return SheetError(str(error))
    return RuntimeError(f"the import's reader failed: {error!r}")


def _can_spawn() -> bool:
    """A spawned process re-imports __main__ from its file: it must have one (not stdin)."""
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return path is None or Path(path).exists()


def _in_process(job: _Job) -> Iterator[Any]:
    """The producer in a process of its own ("spawn": safe beside the server's threads)."""
    context = multiprocessing.get_context("spawn")
    items = context.Queue(maxsize=4)
    process = context.Process(
        target=_produce_in_process, args=(job, items), name="import-reader", daemon=True
    )
    process.start()
    try:
        yield from _drain(items.get, process.is_alive)
    finally:
        if process.is_alive():
            process.terminate()
        process.join(10)
        items.close()


def _drain(get: Callable[..., Any], alive: Callable[[], bool]) -> Iterator[Any]:
    while True:
        try:
            item = get(timeout=1.0)
        except queue.Empty:
            if not alive():
                raise RuntimeError("the import's reader stopped without a word") from None
            continue
        if item[0] == "error":
            raise item[1]
        yield item
        if item[0] == "end":
            return


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


# --- the writer ---------------------------------------------------------------------


class _Batcher:
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
        self.rules = _Rules(now, opt_in_source, options.create_new, options.update_existing)
        self._conn: Connection | None = None
        self._transaction: sa.RootTransaction | None = None
        self._in_batch = 0
        self._dry_seen: dict[int, int] = {}
        self._dry_applies: set[int] = set()
        self._dry_members: set[int] = set()

    def run(self, count: int, rows: list[Compact] | None, fast: _Fast | None) -> None:
        """Write a chunk of `count` rows in the open batch's transaction; commit a full batch."""
        if self.options.dry_run:
            assert rows is not None
            with self.db.read() as session:
                self._dry_chunk(session.connection(), _grouped(rows))
            return
        conn = self._writer()
        if self._transaction is None:
            self._transaction = conn.begin()
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

    def _fast(self, conn: Connection, fast: _Fast) -> None:
        """Write a chunk as the producer shaped it; phones already there go the long way.

        All new (the usual case): three statements and no row-by-row work here. Some
        known (a phone seen in an earlier chunk, a re-import): the new ones keep their
        rows, with the ids the insert gave them, and the known ones are merged.
        """
        last = conn.execute(sa.select(sa.func.max(candidates.c.id))).scalar() or 0
        n = len(fast.inserts)
        inserted = _bulk_insert(
            conn, candidates, _CANDIDATE_INSERT, fast.inserts, skip_conflicts_on="phone"
        )
        summary = self.summary
        new_phones: Sequence[int]
        if inserted == n:
            _bulk_insert(conn, applies, _APPLY_INSERT, fast.applies, id_offset=True)
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
            _bulk_insert(conn, applies, _APPLY_INSERT, lines)
            summary.applies_added += len(lines)
            self._chunk(conn, fast.rows_of(set(range(n)) - set(new_phones)))
        for at in new_phones:
            outcomes = fast.outcomes.get(at)
            if outcomes is None:
                summary.created += 1
            else:
                self._count(outcomes)
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

    def _existing(self, conn: Connection, phones: Sequence[str]) -> dict[str, _Pending]:
        columns = [candidates.c.id, candidates.c.phone, *(candidates.c[n] for n in _COMPARED)]
        found: dict[str, _Pending] = {}
        for chunk in _chunks(phones, CHUNK):
            for row in conn.execute(sa.select(*columns).where(candidates.c.phone.in_(chunk))):
                values = dict(row._mapping)
                found[values.pop("phone")] = _Pending(values.pop("id"), values)
        return found

    def _count(self, outcomes: list[str]) -> None:
        for outcome in outcomes:
            setattr(self.summary, outcome, getattr(self.summary, outcome) + 1)

    def _chunk(self, conn: Connection, rows: list[Compact]) -> None:
        groups = _grouped(rows)
        values = _Values(conn.dialect)
        found = self._existing(conn, list(groups))
        state: dict[str, _Pending] = {}
        before: set[int] = set()  # candidates that were there before this chunk
        created: dict[str, _Pending] = {}
        for phone, group in groups.items():
            existing = found.get(phone)
            if existing is not None:
                before.add(existing.id or 0)
            pending, outcomes = _fold([_valid(row) for row in group], existing, self.rules)
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
        self, conn: Connection, values: _Values, created: dict[str, _Pending]
    ) -> None:
        """Insert new candidates (phones known to be new) and set their ids."""
        now = values.when(self.now)
        rows = [_insert_row(phone, p.values, values, now) for phone, p in sorted(created.items())]
        _bulk_insert(conn, candidates, _CANDIDATE_INSERT, rows)
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
        rows: list[Compact],
        state: dict[str, _Pending],
        before: set[int],
    ) -> dict[tuple[int, int], list[Any]]:
        """The applies these rows add: one per row unless the same one is already there."""
        known: set[tuple[int, int]] = set()
        active: set[int] = set()
        # Only candidates that were there before this chunk can have applies already.
        for chunk in _chunks(sorted(i for i in before if i > 0), CHUNK):
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
                    last_for[cid][_ACTIVE_AT] = False
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
    ) -> list[int]:
        """Of `ids`, those not on the list yet; added to it unless `write` is off."""
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
        return new

    # --- dry run ----------------------------------------------------------------------

    def _fingerprint(self, row: Compact) -> int:
        return hash((row[2], tuple(sorted((row[4] or {}).items()))))

    def _dry_chunk(self, conn: Connection, groups: dict[str, list[Compact]]) -> None:
        """Count what the chunk would do; remember fingerprints of phones it would create."""
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
            pending, outcomes = _fold([_valid(row) for row in rows], existing, self.rules)
            self._count(outcomes)
            if pending is None:
                continue
            state[phone] = pending
            if existing is None:
                pending.id = -len(fresh) - 1  # stands in for the id an insert would give
                fresh.append(phone)
                self._dry_seen[hash(phone)] = self._fingerprint(rows[-1])
        chunk = [row for rows in groups.values() for row in rows]
        new = self._new_applies(conn, _Values(None), chunk, state, before)
        self.summary.applies_added += len(new)
        for cid, key in new:
            if cid < 0:
                self._dry_applies.add(hash((fresh[-cid - 1], key)))
        if self.options.list_name:
            ids = [p.id for p in state.values() if p.id is not None and p.id > 0]
            if self.list_id is not None and ids:
                ids = self._members(conn, _Values(None), ids, write=False)
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


def _grouped(rows: list[Compact]) -> dict[str, list[Compact]]:
    """The rows by phone, in file order."""
    groups: dict[str, list[Compact]] = {}
    for row in rows:
        group = groups.get(row[1])
        if group is None:
            groups[row[1]] = [row]
        else:
            group.append(row)
    return groups


def _bulk_insert(
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
    their values already as the driver takes them (see `_Values`). With `id_offset`,
    the first value is added to the largest candidate id (see `_Fast`). Returns how many
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


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
