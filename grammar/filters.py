"""The list filter language: text in, a typed, frozen filter tree out.

`parse_filter('city:Austin campaign:"Fall 2026" OR campaign:"Spring 2027" -status:archived')`
gives `And((Text('city', 'Austin'), Or(...), Not(Status('Archived'))))`. Pure: no SQL and
no clock; storage/filter_sql.py compiles the tree to one query and resolves relative ages
(`replied:<7d`) against its own `now`.

FIELDS is the one table of the fields a filter can name: the parser, "did you mean",
`has:` and the SQL compiler all read it.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from dataclasses import field as _field
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Literal, TypeAlias

import phonenumbers
from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, VisitError

from grammar.statuses import APPLY_STATUSES

__all__ = [
    "APPLY_STATUSES",
    "FIELDS",
    "Age",
    "And",
    "DateCompare",
    "FieldSpec",
    "FilterError",
    "FilterExpr",
    "Flag",
    "Has",
    "InList",
    "Kind",
    "Not",
    "Or",
    "Scope",
    "Status",
    "Text",
    "field_spec",
    "parse_filter",
    "render",
    "walk",
]


class Kind(StrEnum):
    """What values a field takes, and so how a term on it parses and compiles."""

    TEXT = "text"
    PHONE = "phone"
    DATE = "date"
    BOOL = "bool"
    LIST = "list"
    HAS = "has"
    STATUS = "status"


class Scope(StrEnum):
    """Where a field's value lives: on the candidate or on the candidate's active apply."""

    CANDIDATE = "candidate"
    APPLY = "apply"


@dataclass(frozen=True)
class FieldSpec:
    """One filterable field. `column` names the attribute of the candidate or apply row."""

    name: str
    kind: Kind
    scope: Scope
    column: str
    about: str
    aliases: tuple[str, ...] = ()


def _c(name: str, kind: Kind, about: str, *aliases: str, column: str = "") -> FieldSpec:
    return FieldSpec(name, kind, Scope.CANDIDATE, column or name, about, aliases)


def _a(name: str, about: str, *aliases: str, kind: Kind = Kind.TEXT) -> FieldSpec:
    return FieldSpec(name, kind, Scope.APPLY, name, about, aliases)


T, D, B = Kind.TEXT, Kind.DATE, Kind.BOOL

FIELDS: tuple[FieldSpec, ...] = (
    _c("phone", Kind.PHONE, "mobile number", "mobile", "cell", "phone_number", "tel"),
    _c("first_name", T, "first name", "first", "given_name"),
    _c("middle_name", T, "middle name", "middle"),
    _c("last_name", T, "last name", "last", "surname", "family_name"),
    _c("email", T, "email address", "mail"),
    _c("street", T, "street address", "address"),
    _c("city", T, "city", "town"),
    _c("state", T, "state or province", "province", "region"),
    _c("country", T, "country"),
    _c("postal_code", T, "postal code", "zip", "zip_code", "postcode", "postal"),
    _c("opt_in", B, "consented to texts", "opted_in"),
    _c("opted_out", B, "texted STOP", "opt_out"),
    _c("external_contact_id", T, "contact id in the ATS", "contact_id", "ats_id"),
    _c("created", D, "added to caretbot", "created_at", "added", column="created_at"),
    _c("replied", D, "last text from them", "last_reply", "replied_at", column="last_inbound_at"),
    _c("list", Kind.LIST, "member of a list", "lists", "in_list", column=""),
    _c("has", Kind.HAS, "field is filled in", column=""),
    _a("source", "where the apply came from", "utm_source"),
    _a("medium", "how it came", "utm_medium"),
    _a("campaign", "campaign", "utm_campaign"),
    _a("content", "requisition title", "utm_content", "requisition"),
    _a("job_title", "job title", "job", "title", "position"),
    _a("location", "job location", "job_location"),
    _a("referrer", "referring page", "referer", "ref"),
    _a("keyword", "search keyword", "utm_term"),
    _a("external_job_id", "job id in the ATS", "job_id", "req_id", "requisition_id"),
    _a("status", "apply status", "apply_status", "stage", kind=Kind.STATUS),
)


def _key(name: str) -> str:
    """Field names match ignoring case, hyphens and underscores (firstName, first-name)."""
    return re.sub(r"[-_\s]", "", name.lower())


_BY_KEY: dict[str, FieldSpec] = {}
for _spec in FIELDS:
    for _name in (_spec.name, *_spec.aliases):
        _BY_KEY[_key(_name)] = _spec

_HAS_KINDS = (Kind.TEXT, Kind.PHONE, Kind.DATE)
_STATUS_BY_KEY = {_key(status): status for status in APPLY_STATUSES}


def field_spec(name: str) -> FieldSpec:
    """The field a canonical name or alias stands for; KeyError if there is none."""
    return _BY_KEY[_key(name)]


# --- the tree -----------------------------------------------------------------------

Op = Literal["=", "<", "<=", ">", ">="]


def _span() -> tuple[int, int]:
    return (0, 0)


@dataclass(frozen=True)
class Age:
    """`7d`: a time before now. The compiler subtracts it from its own clock."""

    amount: int
    unit: Literal["h", "d", "w"]

    def as_timedelta(self) -> timedelta:
        return timedelta(hours=self.amount * {"h": 1, "d": 24, "w": 168}[self.unit])

    def __str__(self) -> str:
        return f"{self.amount}{self.unit}"


@dataclass(frozen=True)
class Text:
    """Case-insensitive equality; with `wildcard`, each `*` in value matches any run."""

    field: str
    value: str
    wildcard: bool = False
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class DateCompare:
    """`created:>2026-10-01`; `op` "=" on a date means that whole day.

    With an Age, op reads as the age: `replied:<7d` is "replied less than 7 days ago".
    """

    field: str
    op: Op
    value: date | datetime | Age
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class Flag:
    field: str
    value: bool
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class Has:
    """`has:email`: the field is set and, for text, not blank."""

    field: str
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class InList:
    """`list:"Night nurses"`: a member of that list (static or dynamic)."""

    name: str
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class Status:
    """`status:engaged`: the active apply's status, spelt as in APPLY_STATUSES."""

    value: str
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class Not:
    expr: FilterExpr
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class And:
    parts: tuple[FilterExpr, ...]
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


@dataclass(frozen=True)
class Or:
    parts: tuple[FilterExpr, ...]
    span: tuple[int, int] = _field(default_factory=_span, compare=False, repr=False)


Term: TypeAlias = Text | DateCompare | Flag | Has | InList | Status
FilterExpr: TypeAlias = Term | Not | And | Or


def walk(expr: FilterExpr) -> Iterator[FilterExpr]:
    """Every node of the tree, parents before children."""
    yield expr
    if isinstance(expr, Not):
        yield from walk(expr.expr)
    elif isinstance(expr, And | Or):
        for part in expr.parts:
            yield from walk(part)


# --- errors -------------------------------------------------------------------------


class FilterError(ValueError):
    """A filter that cannot be read, with where: `explain()` puts a caret under it."""

    def __init__(self, message: str, text: str, start: int, end: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.text = text
        self.start = max(0, min(start, len(text)))
        self.end = max(self.start + 1, end if end is not None else self.start + 1)

    @property
    def column(self) -> int:
        """1-based column of the problem on its line."""
        return self.start - self.text.rfind("\n", 0, self.start)

    def explain(self) -> str:
        """The message, the line of the filter, and carets under the problem."""
        line_start = self.text.rfind("\n", 0, self.start) + 1
        line_end = self.text.find("\n", self.start)
        line = self.text[line_start : line_end if line_end >= 0 else len(self.text)]
        width = max(1, min(self.end, line_start + len(line)) - self.start)
        return f"{self.message}\n  {line}\n  {' ' * (self.column - 1)}{'^' * width}"

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})"


def _did_you_mean(word: str, choices: list[str], spelt: dict[str, str] | None = None) -> str:
    close = difflib.get_close_matches(word.lower(), choices, n=1, cutoff=0.6)
    if not close:
        return ""
    return f" (did you mean {(spelt or {}).get(close[0], close[0])}?)"


_SYNTAX_EXAMPLES: dict[str, list[str]] = {
    "a value is missing after the colon: write field:value, e.g. city:Austin": [
        "city:",
        "city: )",
        "city:>",
        "(city:)",
        "city:>=",
        "city: OR",
    ],
    "a term is field:value, e.g. city:Austin": [
        "Austin",
        "city:a Austin",
        "city:a Austin)",
        "city:a (Austin)",
        "Austin city:a",
        "city city:a",
        "city OR city:a",
    ],
    "OR needs a term on each side": [
        "OR city:a",
        "city:a OR",
        "city:a OR OR city:b",
        "(city:a OR)",
        "city:a OR AND city:b",
    ],
    "AND needs a term on each side": ["AND city:a", "city:a AND", "(city:a AND)"],
    "this ( is never closed": ["(city:a", "(city:a city:b", "((city:a)"],
    "this ) has no ( before it": ["city:a)", ")", "city:a OR city:b)"],
    "the parentheses are empty": ["()", "city:a ()"],
    "- (or NOT) must come right before a term, e.g. -status:archived": [
        "-",
        "city:a -",
        "NOT",
        "city:a NOT",
        "-)",
    ],
    "the filter is empty": [""],
}


# --- parsing ------------------------------------------------------------------------

_PARSER = Lark.open("filters.lark", rel_to=__file__, parser="lalr", cache=True)

_AGE = re.compile(r"(\d+)\s*(h|hours?|d|days?|w|weeks?)", re.IGNORECASE)
_UNITS: dict[str, Literal["h", "d", "w"]] = {"h": "h", "d": "d", "w": "w"}
_BOOLS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}
_PHONE_PATTERN = re.compile(r"\+?[\d*]+")


class _Build(Transformer[Token, FilterExpr]):
    """Turns the parse tree into the frozen tree, checking fields and values."""

    def __init__(self, text: str, region: str) -> None:
        super().__init__()
        self._text = text
        self._region = region

    def _error(self, message: str, start: int, end: int) -> FilterError:
        return FilterError(message, self._text, start, end)

    @v_args(inline=True)
    def negation(self, not_token: Token, expr: FilterExpr) -> Not:
        return Not(expr, span=(_start(not_token), _span_of(expr)[1]))

    def conjunction(self, parts: list[FilterExpr]) -> And:
        flat = tuple(
            p for part in parts for p in (part.parts if isinstance(part, And) else (part,))
        )
        return And(flat, span=(_span_of(flat[0])[0], _span_of(flat[-1])[1]))

    def disjunction(self, parts: list[FilterExpr]) -> Or:
        flat = tuple(p for part in parts for p in (part.parts if isinstance(part, Or) else (part,)))
        return Or(flat, span=(_span_of(flat[0])[0], _span_of(flat[-1])[1]))

    def term(self, children: list[Token]) -> Term:
        name, *rest = children
        op_token = rest[0] if len(rest) == 2 else None
        value_token = rest[-1]
        spec = _BY_KEY.get(_key(name))
        if spec is None:
            hint = _did_you_mean(str(name), sorted(_BY_KEY_NAMES))
            raise self._error(f"unknown field {name}{hint}", _start(name), _end(name))
        if any(c.isspace() for c in self._text[_end(name) : _start(value_token)]):
            # `city: source:indeed` would otherwise read as city = "source:indeed".
            raise self._error(
                "write the value right after the colon, e.g. "
                + re.sub(r"\s+", "", self._text[_start(name) : _end(value_token)]),
                _end(name),
                _start(value_token),
            )
        span = (_start(name), _end(value_token))
        quoted = value_token.type == "STRING"
        value = _unquote(value_token) if quoted else str(value_token)
        value_at = (_start(value_token), _end(value_token))
        op: Op = "=" if op_token is None else _as_op(str(op_token))
        if op != "=" and spec.kind is not Kind.DATE:
            assert op_token is not None
            raise self._error(
                f"only dates compare with {op}; write {spec.name}:value",
                _start(op_token),
                _end(op_token),
            )
        if not value.strip():
            raise self._error(
                f"the value is empty; for candidates without a {spec.name} write -has:{spec.name}",
                *value_at,
            )
        return self._term(spec, op, value, quoted, value_at, span)

    def _term(
        self,
        spec: FieldSpec,
        op: Op,
        value: str,
        quoted: bool,
        value_at: tuple[int, int],
        span: tuple[int, int],
    ) -> Term:
        if spec.kind is Kind.TEXT:
            return Text(spec.name, value, wildcard=not quoted and "*" in value, span=span)
        if spec.kind is Kind.PHONE:
            return Text(spec.name, *self._phone(value, quoted, value_at), span=span)
        if spec.kind is Kind.DATE:
            return DateCompare(spec.name, op, self._when(spec, op, value, value_at), span=span)
        if spec.kind is Kind.BOOL:
            flag = _BOOLS.get(value.strip().lower())
            if flag is None:
                raise self._error(f"{spec.name} is true or false, not {value}", *value_at)
            return Flag(spec.name, flag, span=span)
        if spec.kind is Kind.STATUS:
            status = _STATUS_BY_KEY.get(_key(value))
            if status is None:
                hint = _did_you_mean(_key(value), sorted(_STATUS_BY_KEY), _STATUS_BY_KEY)
                known = ", ".join(APPLY_STATUSES)
                raise self._error(f"no apply status {value}{hint}; statuses: {known}", *value_at)
            return Status(status, span=span)
        if spec.kind is Kind.HAS:
            target = _BY_KEY.get(_key(value))
            if target is None or target.kind not in _HAS_KINDS:
                names = sorted(s.name for s in FIELDS if s.kind in _HAS_KINDS)
                hint = _did_you_mean(value, names)
                raise self._error(f"has: takes a field such as email or replied{hint}", *value_at)
            return Has(target.name, span=span)
        return InList(value.strip(), span=span)

    def _phone(self, value: str, quoted: bool, at: tuple[int, int]) -> tuple[str, bool]:
        compact = re.sub(r"[\s().-]", "", value)
        if "*" in compact and not quoted:
            if not _PHONE_PATTERN.fullmatch(compact):
                raise self._error("a phone pattern holds digits and *, e.g. +1512*", *at)
            return compact, True
        try:
            number = phonenumbers.parse(value, self._region)
        except phonenumbers.NumberParseException:
            number = None
        if number is None or not phonenumbers.is_possible_number(number):
            raise self._error(f"{value} is not a phone number", *at)
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164), False

    def _when(
        self, spec: FieldSpec, op: Op, value: str, at: tuple[int, int]
    ) -> date | datetime | Age:
        age = _AGE.fullmatch(value.strip())
        if age:
            if op == "=":
                raise self._error(
                    f"say {spec.name}:<{value} (less than {value} ago) "
                    f"or {spec.name}:>{value} (more than {value} ago)",
                    *at,
                )
            return Age(int(age.group(1)), _UNITS[age.group(2)[0].lower()])
        try:
            if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
                return date.fromisoformat(value)
            return datetime.fromisoformat(value)
        except ValueError:
            raise self._error(
                f"{value} is not a date: write 2026-10-01, 2026-10-01T09:00 or an age like 7d",
                *at,
            ) from None


_BY_KEY_NAMES = {_name for _spec in FIELDS for _name in (_spec.name, *_spec.aliases)}


def _as_op(text: str) -> Op:
    assert text in ("=", "<", "<=", ">", ">=")
    return text  # type: ignore[return-value]


def _start(token: Token) -> int:
    return token.start_pos or 0


def _end(token: Token) -> int:
    return token.end_pos or 0


def _span_of(expr: FilterExpr) -> tuple[int, int]:
    return expr.span


def _unquote(token: Token) -> str:
    text = str(token)
    if text.startswith("“"):
        return text[1:-1]
    return re.sub(r"\\(.)", r"\1", text[1:-1])


def parse_filter(text: str, *, region: str = "US") -> FilterExpr:
    """Parse a filter; FilterError says what is wrong and where. `region` reads phones."""
    try:
        tree = _PARSER.parse(text)
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    try:
        return _Build(text, region).transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, FilterError):
            raise error.orig_exc from None
        raise


def _syntax_error(text: str, error: UnexpectedInput) -> FilterError:
    start = error.pos_in_stream if error.pos_in_stream is not None else len(text)
    token = getattr(error, "token", None)
    if isinstance(token, Token) and token.type == "$END":
        start = len(text.rstrip())  # the caret goes where the missing part would be
    if isinstance(error, UnexpectedCharacters):
        char = text[start : start + 1]
        if char in ('"', "“"):
            return FilterError("this quote is never closed", text, start, len(text))
    label = error.match_examples(_PARSER.parse, _SYNTAX_EXAMPLES, use_accepts=True)
    expected = getattr(error, "expected", None) or set()
    if label is None and isinstance(token, Token) and token.type == "$END" and "RPAR" in expected:
        label = "this ( is never closed"
    if label is None:
        label = "unexpected text here" if start < len(text) else "the filter ends too soon"
    end = start + 1
    if isinstance(token, Token) and token.end_pos is not None and token.type != "$END":
        end = token.end_pos
    history = getattr(error, "token_history", None) or []
    if history and str(history[-1]).upper() in ("OR", "AND") and history[-1].type == "FIELD":
        # A leading OR/AND lexes as a field name, since no keyword can start a filter.
        keyword = history[-1]
        label = f"{str(keyword).upper()} needs a term on each side"
        start, end = _start(keyword), _end(keyword)
    elif label.startswith("a value is missing") and text[start : start + 1] == "(":
        label = 'quote a value that holds spaces or parentheses, e.g. phone:"(512) 555-0100"'
    elif label == "this ( is never closed":
        start = _unclosed_paren(text)
        end = start + 1
    if not text.strip():
        start, end = 0, 1
    return FilterError(label, text, start, end)


def _unclosed_paren(text: str) -> int:
    """Where the last ( that no ) closes is, skipping quoted values."""
    opened: list[int] = []
    quote = ""
    for at, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in ('"', "“"):
            quote = '"' if char == '"' else "”"
        elif char == "(":
            opened.append(at)
        elif char == ")" and opened:
            opened.pop()
    return opened[-1] if opened else len(text)


# --- rendering ----------------------------------------------------------------------

_BARE = re.compile(r"[^\s()\"“”<>=|&][^\s()\"“”]*")


def _quote(value: str, *, wildcard: bool) -> str:
    """Bare when the text reads back the same, quoted otherwise."""
    bare = _BARE.fullmatch(value) and (wildcard or "*" not in value)
    if bare and _key(value) not in ("or", "and", "not"):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(expr: FilterExpr) -> str:
    """The filter as text that parses back to the same tree (for showing saved filters)."""
    if isinstance(expr, Text):
        return f"{expr.field}:{_quote(expr.value, wildcard=expr.wildcard)}"
    if isinstance(expr, DateCompare):
        op = "" if expr.op == "=" else expr.op
        value = expr.value if isinstance(expr.value, Age) else expr.value.isoformat()
        return f"{expr.field}:{op}{value}"
    if isinstance(expr, Flag):
        return f"{expr.field}:{'true' if expr.value else 'false'}"
    if isinstance(expr, Has):
        return f"has:{expr.field}"
    if isinstance(expr, InList):
        return f"list:{_quote(expr.name, wildcard=False)}"
    if isinstance(expr, Status):
        return f"status:{_quote(expr.value, wildcard=False)}"
    if isinstance(expr, Not):
        inner = render(expr.expr)
        return f"-({inner})" if isinstance(expr.expr, And | Or) else f"-{inner}"
    if isinstance(expr, Or):
        return " OR ".join(
            f"({render(p)})" if isinstance(p, And | Or) else render(p) for p in expr.parts
        )
    return " ".join(f"({render(p)})" if isinstance(p, And) else render(p) for p in expr.parts)
