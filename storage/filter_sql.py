"""Compile a parsed filter (grammar.filters) into one SQL query over candidates.

One SELECT, no row-by-row Python: candidates, LEFT JOINed to their active apply only
when the filter names an apply field. Every term compiles to a condition that is true or
false, never NULL (`col IS NOT NULL AND ...`), so `-status:archived` includes candidates
with no apply and `NOT` means what it says.

Lists: `list:"Night nurses"` is a membership test for a static list and, for a dynamic
list, its saved filter compiled in place (a list that refers to itself is an error).
Relative ages (`replied:<7d`) are measured from the `now` the caller passes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from grammar.filters import (
    Age,
    And,
    DateCompare,
    FilterError,
    FilterExpr,
    Flag,
    Has,
    InList,
    Kind,
    Not,
    Or,
    Scope,
    Status,
    Text,
    field_spec,
    parse_filter,
)
from storage.db import SQLITE_LOWER
from storage.lists_models import APPLIES, CANDIDATES, LIST_MEMBERS

__all__ = ["ListRef", "ListResolver", "compile_filter", "count_query", "select_query"]

candidates = CANDIDATES
applies = APPLIES
list_members = LIST_MEMBERS


class unicode_lower(FunctionElement[str]):
    """lower() that folds every letter, `MONTRÉAL` to `montréal`, on both databases.

    PostgreSQL's lower() does (it follows the database's LC_CTYPE, a UTF-8 locale);
    SQLite's folds ASCII only, so there it is Python's str.lower, which storage/db.py
    registers on every connection, given '' for NULL (str.lower takes only text; the
    filter's `col IS NOT NULL AND` already decides those rows). The value compared is
    folded with str.lower too, so both sides agree.
    """

    type = sa.String()
    name = "unicode_lower"
    inherit_cache = True


@compiles(unicode_lower)
def _lower_default(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"lower({compiler.process(element.clauses, **kw)})"


@compiles(unicode_lower, "sqlite")
def _lower_sqlite(element: unicode_lower, compiler: SQLCompiler, **kw: Any) -> str:
    return f"{SQLITE_LOWER}(coalesce({compiler.process(element.clauses, **kw)}, ''))"


@dataclass(frozen=True)
class ListRef:
    """What `list:NAME` names: a static list's id, or a dynamic list's filter text."""

    name: str
    id: int
    filter_text: str | None = None  # set for a dynamic list


ListResolver = Callable[[str], ListRef | None]


@dataclass(frozen=True)
class Compiled:
    """The WHERE condition, and how it reads the active apply.

    `uses_apply`: the query joins the active apply. `requires_apply`: only candidates
    with an active apply can match, so the join can be an inner one, which lets the
    database start from the applies (twice as fast over a million rows as probing one
    apply per candidate).
    """

    where: ColumnElement[bool]
    uses_apply: bool
    requires_apply: bool = False


def compile_filter(
    expr: FilterExpr,
    *,
    text: str,
    lists: ListResolver,
    now: datetime,
    tz: tzinfo = UTC,
) -> Compiled:
    """The condition for `expr`; FilterError (with the caret) for a list that is not there."""
    compiler = _Compiler(lists=lists, now=now, tz=tz)
    where = compiler.compile(expr, text)
    return Compiled(where, compiler.uses_apply, compiler.uses_apply and _requires_apply(expr))


def _requires_apply(expr: FilterExpr) -> bool:
    """Whether every match has an active apply: a term on an apply field must hold.

    Terms compile to `col IS NOT NULL AND ...`, false without an apply; under NOT they
    hold without one, and dynamic lists are not looked into (False is always safe).
    """
    if isinstance(expr, And):
        return any(_requires_apply(part) for part in expr.parts)
    if isinstance(expr, Or):
        return all(_requires_apply(part) for part in expr.parts)
    if isinstance(expr, Status):
        return True
    if isinstance(expr, Text | DateCompare | Flag | Has):
        return field_spec(expr.field).scope is Scope.APPLY
    return False


def _from(compiled: Compiled) -> sa.FromClause:
    if not compiled.uses_apply:
        return candidates
    on = sa.and_(applies.c.candidate_id == candidates.c.id, applies.c.is_active)
    if compiled.requires_apply:
        return candidates.join(applies, on)
    return candidates.outerjoin(applies, on)


def select_query(compiled: Compiled, *columns: Any) -> sa.Select[Any]:
    """SELECT columns (default: candidate ids) of the candidates the filter matches."""
    chosen = columns or (candidates.c.id,)
    return sa.select(*chosen).select_from(_from(compiled)).where(compiled.where)


def count_query(compiled: Compiled) -> sa.Select[Any]:
    """SELECT count(*) of the candidates the filter matches."""
    return sa.select(sa.func.count()).select_from(_from(compiled)).where(compiled.where)


class _Compiler:
    def __init__(self, *, lists: ListResolver, now: datetime, tz: tzinfo) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        self._lists = lists
        self._now = now
        self._tz = tz
        self._expanding: list[str] = []
        self.uses_apply = False

    def _column(self, name: str) -> sa.ColumnElement[Any]:
        spec = field_spec(name)
        if spec.scope is Scope.APPLY:
            self.uses_apply = True
            return applies.c[spec.column]
        return candidates.c[spec.column]

    def compile(self, expr: FilterExpr, text: str) -> ColumnElement[bool]:
        if isinstance(expr, And):
            return sa.and_(*(self.compile(part, text) for part in expr.parts))
        if isinstance(expr, Or):
            return sa.or_(*(self.compile(part, text) for part in expr.parts))
        if isinstance(expr, Not):
            return sa.not_(self.compile(expr.expr, text))
        if isinstance(expr, Text):
            return self._text(expr)
        if isinstance(expr, DateCompare):
            return self._date(expr)
        if isinstance(expr, Flag):
            column = self._column(expr.field)
            return sa.and_(column.is_not(None), column == expr.value)
        if isinstance(expr, Has):
            column = self._column(expr.field)
            if field_spec(expr.field).kind is Kind.DATE:
                return column.is_not(None)
            return sa.and_(column.is_not(None), sa.func.trim(column) != "")
        if isinstance(expr, Status):
            column = self._column("status")
            return sa.and_(column.is_not(None), column == expr.value)
        assert isinstance(expr, InList)
        return self._list(expr, text)

    def _text(self, term: Text) -> ColumnElement[bool]:
        column = self._column(term.field)
        exact = field_spec(term.field).kind is Kind.PHONE  # stored in E.164: no case
        if term.wildcard:
            escaped = term.value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            pattern = escaped.replace("*", "%")
            target = column if exact else unicode_lower(column)
            value = pattern if exact else pattern.lower()
            return sa.and_(column.is_not(None), target.like(value, escape="\\"))
        if exact:
            return sa.and_(column.is_not(None), column == term.value)
        return sa.and_(column.is_not(None), unicode_lower(column) == term.value.lower())

    def _date(self, term: DateCompare) -> ColumnElement[bool]:
        column = self._column(term.field)
        value, op = term.value, term.op
        if isinstance(value, Age):
            # `replied:<7d` is an age under 7 days: a time after now - 7 days.
            edge = self._now - value.as_timedelta()
            flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}[op]
            return sa.and_(column.is_not(None), _compare(column, flipped, edge))
        if isinstance(value, datetime):
            start = value if value.tzinfo else value.replace(tzinfo=self._tz)
            # A time given to the minute covers that minute.
            step = timedelta(minutes=1) if start.second == start.microsecond == 0 else None
            end = start + step if step else None
        else:
            start = datetime.combine(value, time(0), tzinfo=self._tz)
            end = datetime.combine(value + timedelta(days=1), time(0), tzinfo=self._tz)
        start = start.astimezone(UTC)
        end = end.astimezone(UTC) if end else None
        if op == "=":
            if end is None:
                return sa.and_(column.is_not(None), column == start)
            return sa.and_(column.is_not(None), column >= start, column < end)
        if op in (">", "<=") and end is not None:
            # After a day is from the next day on; up to a day includes all of it.
            return sa.and_(column.is_not(None), _compare(column, ">=" if op == ">" else "<", end))
        return sa.and_(column.is_not(None), _compare(column, op, start))

    def _list(self, term: InList, text: str) -> ColumnElement[bool]:
        start, end = term.span
        ref = self._lists(term.name)
        if ref is None:
            raise FilterError(f'there is no list named "{term.name}"', text, start, end)
        if ref.filter_text is None:
            members = sa.select(list_members.c.candidate_id).where(list_members.c.list_id == ref.id)
            return candidates.c.id.in_(members)
        if ref.name.lower() in self._expanding:
            chain = " -> ".join([*self._expanding, ref.name.lower()])
            raise FilterError(f"list {ref.name} refers to itself ({chain})", text, start, end)
        try:
            inner = parse_filter(ref.filter_text)
        except FilterError as error:
            raise FilterError(
                f"list {ref.name}'s saved filter no longer reads: {error.message}",
                text,
                start,
                end,
            ) from None
        self._expanding.append(ref.name.lower())
        try:
            return self.compile(inner, ref.filter_text)
        except FilterError as error:
            if error.text == text:
                raise
            raise FilterError(
                f"in list {ref.name}'s filter: {error.message}", text, start, end
            ) from None
        finally:
            self._expanding.pop()


def _compare(column: sa.ColumnElement[Any], op: str, value: datetime | date) -> ColumnElement[bool]:
    if op == "<":
        return column < value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == ">=":
        return column >= value
    return column == value
