"""Blast templates: `{first_name}`, `{city|your area}`, checked when a blast is saved.

A template is text with fields in braces. A field names a candidate or active-apply
field (the same names, and aliases, that filters use: grammar/filters.FIELDS); after a
`|` comes the fallback used when the candidate's field is empty (`{first_name|there}`;
`{first_name|}` means "nothing"). `{{` and `}}` are literal braces. An unknown field, a
stray `}` or an unclosed `{` raise CommandError with the caret under the problem.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedEOF, UnexpectedInput, VisitError

from grammar.errors import CommandError, Refusal
from grammar.filters import FIELDS, Kind, Scope, field_spec

__all__ = [
    "TEMPLATE_FIELDS",
    "Field",
    "MissingField",
    "Template",
    "parse_template",
]

_PARSER = Lark.open("template.lark", rel_to=__file__, parser="lalr", maybe_placeholders=False)

# Fields a template may name: text-like values of the candidate and the active apply.
_TEXT_KINDS = (Kind.TEXT, Kind.PHONE, Kind.STATUS)
TEMPLATE_FIELDS: tuple[str, ...] = tuple(s.name for s in FIELDS if s.kind in _TEXT_KINDS)


@dataclass(frozen=True)
class Field:
    """`{name|fallback}`: `name` is canonical; `fallback` None means "skip if empty"."""

    name: str
    scope: Scope
    column: str
    fallback: str | None
    pos: int


@dataclass(frozen=True)
class MissingField(Exception):
    """A field is empty for this candidate and the template gives no fallback."""

    name: str


@dataclass(frozen=True)
class Template:
    """A parsed template: literal text and fields, in order."""

    text: str
    parts: tuple[str | Field, ...]

    @property
    def fields(self) -> tuple[Field, ...]:
        """The fields it names, in order (a field may appear twice)."""
        return tuple(part for part in self.parts if isinstance(part, Field))

    def render(self, values: Mapping[str, str | None]) -> str:
        """The text for one candidate; `values` maps canonical field names to values.

        Raises MissingField when a field without fallback is empty (None or blank).
        """
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = values.get(part.name)
            value = value.strip() if isinstance(value, str) else None
            if value:
                out.append(value)
            elif part.fallback is not None:
                out.append(part.fallback)
            else:
                raise MissingField(part.name)
        return "".join(out)


@v_args(inline=True)
class _Build(Transformer[Token, object]):
    def start(self, *parts: object) -> tuple[object, ...]:
        return tuple(str(part) if isinstance(part, Token) else part for part in parts)

    def open_brace(self, _token: Token) -> str:
        return "{"

    def close_brace(self, _token: Token) -> str:
        return "}"

    def fallback(self, text: Token | None = None) -> str:
        return str(text) if text is not None else ""

    def field(self, name: Token, fallback: str | None = None) -> Field:
        word = str(name).strip()
        pos = (name.start_pos or 0) + len(str(name)) - len(str(name).lstrip())
        try:
            spec = field_spec(word)
        except KeyError:
            spec = None
        if spec is None or spec.kind not in _TEXT_KINDS:
            raise Refusal(
                pos,
                f"{word!r} is not a field a message can fill in",
                expected="a field such as first_name, last_name, city, job_title",
                suggestion=next(
                    iter(difflib.get_close_matches(word.lower(), TEMPLATE_FIELDS, n=1)), None
                ),
            )
        return Field(spec.name, spec.scope, spec.column, fallback, pos)


def _unclosed_brace(text: str) -> int | None:
    """Where the last `{` that is never closed starts."""
    pos, opened = 0, None
    while pos < len(text):
        if text.startswith("{{", pos) or text.startswith("}}", pos):
            pos += 2
            continue
        if text[pos] == "{":
            opened = pos
        elif text[pos] == "}":
            opened = None
        pos += 1
    return opened


def parse_template(text: str) -> Template:
    """The Template `text` means; CommandError (with a caret) when it is malformed."""
    try:
        tree = _PARSER.parse(text)
        parts = _Build().transform(tree)
    except VisitError as error:
        if isinstance(error.orig_exc, Refusal):
            raise error.orig_exc.at(text) from None
        raise
    except UnexpectedInput as error:
        raise _syntax_error(text, error) from None
    merged: list[str | Field] = []
    for part in parts:  # type: ignore[attr-defined]
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        elif isinstance(part, (str, Field)):
            merged.append(part)
    return Template(text=text, parts=tuple(merged))


def _syntax_error(text: str, error: UnexpectedInput) -> CommandError:
    unclosed = _unclosed_brace(text)
    if (
        isinstance(error, UnexpectedEOF)
        or (unclosed is not None and getattr(error, "pos_in_stream", 0) >= unclosed)
    ) and unclosed is not None:
        return CommandError(
            text,
            pos=unclosed,
            problem="this { is never closed",
            expected="a field name then }, e.g. {first_name|there}; {{ for a brace",
        )
    pos = getattr(error, "pos_in_stream", None) or 0
    char = text[pos : pos + 1]
    if char == "}" and text[:pos].rstrip(" \t").endswith("{"):
        return CommandError(
            text, pos=pos, problem="an empty field", expected="a field name, e.g. {first_name}"
        )
    if char == "}":
        return CommandError(
            text, pos=pos, problem="a } with no { before it", expected="}} for a brace"
        )
    if char == "{":
        return CommandError(
            text, pos=pos, problem="a { inside a field", expected="} to close the field first"
        )
    return CommandError(
        text,
        pos=pos,
        problem="this is not a field",
        expected="{field} or {field|fallback}, e.g. {first_name|there}",
    )
