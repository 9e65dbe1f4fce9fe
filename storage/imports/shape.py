"""Shape: checked rows become what the writer stores, in the form the driver takes.

A phone's rows fold, in file order, into what its candidate becomes (`fold`: filled
cells win, blank ones keep what is there). The speed tricks, each for a measured reason:

- On SQLite a chunk is shaped as if all its phones were new (`FastChunk`): the writer
  then stores a million new candidates in three statements with no row-by-row work,
  and only a phone that turns out to be known goes the general way.
- Equal values in a chunk are made one object (`Shaper.chunk`): pickle sends each once
  per chunk to the writing process, not once per row.
- Timestamps and JSON are converted once per distinct value (`DriverValues`): Core's
  bind processing per cell costs more than the insert itself.
- A phone with one row (nearly all) is spelt out in `Shaper._fast`'s loop: that loop
  runs a million times, and needs no fold for a single row.
- Rows travel as plain tuples (`Compact`): smaller and quicker to pickle than objects.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeAlias

from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect

from storage.applies import natural_key_of
from storage.imports.check import ValidRow
from storage.imports.header import CANDIDATE_COLUMNS
from storage.imports.options import Job
from storage.lists_models import APPLY_FIELDS, CANDIDATES

__all__ = [
    "ACTIVE_AT",
    "APPLY_INSERT",
    "CANDIDATE_INSERT",
    "COMPARED",
    "Compact",
    "DriverValues",
    "FastChunk",
    "FoldRules",
    "Pending",
    "Shaper",
    "expand",
    "fold",
    "may",
]

candidates = CANDIDATES

# The candidate columns an import sets; opt-out state is never an import's to change.
DATA_COLUMNS = tuple(c for c in CANDIDATE_COLUMNS if c != "phone")
COMPARED = (*DATA_COLUMNS, "custom_fields")
# In the table's column order, which Core's compiled INSERT follows.
CANDIDATE_INSERT = (
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
APPLY_INSERT = (
    "candidate_id",
    "origin",
    *APPLY_FIELDS,
    "status",
    "is_active",
    "natural_key",
    "created_at",
    "updated_at",
)
ACTIVE_AT = APPLY_INSERT.index("is_active")
EXTERNAL_AT = CANDIDATE_INSERT.index("external_contact_id")
# Candidate columns whose values repeat from row to row.
SHARED = ("city", "state", "country", "opt_in_source")

# --- what a phone's rows make of its candidate ---------------------------------------


@dataclass
class Pending:
    """A candidate as this chunk leaves it; id None until inserted."""

    id: int | None
    values: dict[str, Any]
    changed: bool = False


def may(override: bool | None, default: bool) -> bool:
    return default if override is None else override


def _new_values(
    candidate: dict[str, Any], custom: dict[str, str], now: datetime, source: str
) -> dict[str, Any]:
    """A new candidate's columns from a row; consent given gets a where and when."""
    values = dict.fromkeys(DATA_COLUMNS)
    values.update(candidate)
    del values["phone"]
    if values["opt_in"]:
        values["opt_in_source"] = values["opt_in_source"] or source
        values["opt_in_at"] = values["opt_in_at"] or now
    values["custom_fields"] = custom
    return values


def _merge(pending: Pending, row: ValidRow, now: datetime, source: str) -> bool:
    """Fold a row into a candidate: filled cells win, blank ones keep what is there."""
    current = pending.values
    before = dict(current)
    for name in DATA_COLUMNS:
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
class FoldRules:
    """The defaults a phone's rows are folded with."""

    now: datetime
    source: str
    create_new: bool
    update_existing: bool


def fold(
    rows: list[ValidRow], pending: Pending | None, rules: FoldRules
) -> tuple[Pending | None, list[str]]:
    """Fold one phone's rows, in file order, into what its candidate becomes.

    Returns the candidate (None if not created) and each row's outcome: created,
    updated, unchanged or skipped. Rows that leave a known candidate as it was are all
    unchanged, though one of them changed it and a later one changed it back.
    """
    # What a known candidate was, when several rows could change it and change it back.
    stored = dict(pending.values) if pending is not None and len(rows) > 1 else None
    outcomes: list[str] = []
    for row in rows:
        if pending is None:
            if not may(row.create_new, rules.create_new):
                outcomes.append("skipped")
                continue
            values = _new_values(row.candidate, row.custom, rules.now, rules.source)
            pending = Pending(None, values)
            outcomes.append("created")
        elif may(row.update_existing, rules.update_existing) and _merge(
            pending, row, rules.now, rules.source
        ):
            outcomes.append("updated")
        else:
            outcomes.append("unchanged")
    if stored is not None and pending is not None and pending.values == stored:
        # The same file imported again: its rows leave the candidate as it was.
        pending.changed = False
        outcomes = ["unchanged" if outcome == "updated" else outcome for outcome in outcomes]
    return pending, outcomes


class DriverValues:
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


def insert_row(phone: str, v: dict[str, Any], values: DriverValues, now: Any) -> tuple[Any, ...]:
    """A candidate as the driver takes it, in CANDIDATE_INSERT order."""
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


# --- the rows as they travel to the writer -------------------------------------------

# A checked row as it travels: (row number, phone, candidate values in DATA_COLUMNS
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
class FastChunk:
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
            cand = (*insert[1:11], raw_source, raw_at, insert[EXTERNAL_AT])
            rows.append((number, insert[0], cand, apply_of[at], custom, update, create))
        return rows


class Shaper:
    """Turns a chunk of checked rows into what travels to the writer."""

    def __init__(self, job: Job) -> None:
        self.job = job
        self.rules = FoldRules(job.now, job.opt_in_source, job.create_new, job.update_existing)
        self.values = DriverValues(sqlite.dialect() if job.fast else None)
        self.now_db = self.values.when(job.now)

    def chunk(self, rows: list[ValidRow]) -> tuple[list[Compact] | None, FastChunk | None]:
        """The chunk as compact rows, or (on SQLite, when it can) shaped for the fast path."""
        # Equal values made one object: pickle then sends each once per chunk.
        same: dict[Any, Any] = {}
        groups: dict[str, list[tuple[ValidRow, tuple[Any, ...]]]] = {}
        pairs: list[tuple[ValidRow, tuple[Any, ...]]] = []
        for row in rows:
            c = row.candidate
            for name in SHARED:
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
        if self.job.fast and all(may(g[0][0].create_new, create) for g in groups.values()):
            return None, self._fast(groups)
        return [compact(row, apply) for row, apply in pairs], None

    def _fast(self, groups: dict[str, list[tuple[ValidRow, tuple[Any, ...]]]]) -> FastChunk:
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
            pending, outcomes[at] = fold([row for row, _ in group], None, rules)
            assert pending is not None
            inserts.append(insert_row(phone, pending.values, values, now))
            extras.append(None)
            several[at] = [compact(row, apply) for row, apply in group]
            keys: list[int] = []
            mine: list[list[Any]] = []
            for _, apply in group:
                key = natural_key_of("import", apply)
                if key not in keys:
                    keys.append(key)
                    mine.append([offset, "import", *apply, "New", False, key, now, now])
            mine[-1 if latest else 0][ACTIVE_AT] = True
            lines.extend(tuple(line) for line in mine)
            offset += 1
        return FastChunk(phones, inserts, lines, extras, outcomes, several)


def compact(row: ValidRow, apply: tuple[Any, ...]) -> Compact:
    """A checked row as it travels, its apply values as a tuple in APPLY_FIELDS order."""
    c = row.candidate
    cand = tuple([c.get(name) for name in DATA_COLUMNS])
    return (
        row.row,
        c["phone"],
        cand,
        apply,
        row.custom or None,
        row.update_existing,
        row.create_new,
    )


def expand(row: Compact) -> ValidRow:
    """The full form of a travelled row, for the paths that merge field by field."""
    candidate = dict(zip(DATA_COLUMNS, row[2], strict=True))
    candidate["phone"] = row[1]
    apply = dict(zip(APPLY_FIELDS, row[3], strict=True))
    return ValidRow(row[0], candidate, apply, row[4] or {}, row[5], row[6])
