"""Who a blast texts and what each recipient gets: the plan the preview shows and the
start stores.

For every candidate on the list (a static list's members, or a dynamic list's filter
evaluated now) the plan says either why they are skipped (opted out, no opt-in, no
valid mobile number, an empty template field without fallback) or the exact text they
get: fields filled in, links rewritten to `PUBLIC_URL/l/CODE`, and the opt-out line if
caretbot never texted them before. Segments are counted on that text
(grammar/segments.py).
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import phonenumbers
import sqlalchemy as sa
from sqlmodel import Session

from grammar.filters import Scope
from grammar.quiet_hours import QuietHours, candidate_timezone
from grammar.segments import measure
from grammar.template import Field, MissingField, Template
from storage.lists import ListError, list_query
from storage.lists_models import APPLIES, CANDIDATES
from storage.models import Conversation, Message

__all__ = ["BlastRules", "Planned", "Plan", "plan_recipients", "LINK"]

# http(s) links as people type them; a trailing full stop or bracket is not part of it.
LINK = re.compile(r"https?://[^\s<>\"']+[^\s<>\"'.,;:!?)\]]")
CODE_LENGTH = 8  # secrets.token_urlsafe(6): 48 random bits, 8 characters
_MOBILE_TYPES = {
    phonenumbers.PhoneNumberType.MOBILE,
    phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE,
    phonenumbers.PhoneNumberType.PERSONAL_NUMBER,
    phonenumbers.PhoneNumberType.VOIP,
}
_messages = Message.__table__  # type: ignore[attr-defined]
_conversations = Conversation.__table__  # type: ignore[attr-defined]


@dataclass(frozen=True)
class BlastRules:
    """The settings a blast follows (from bot.settings, passed in)."""

    opt_out_line: str
    public_url: str | None
    track_links: bool
    default_timezone: str
    quiet_hours: QuietHours
    price_per_segment: float
    segments_per_second: float


@dataclass
class Planned:
    """One recipient of the plan: skipped with a reason, or the text they get."""

    candidate_id: int
    phone: str
    skip_reason: str | None
    body: str | None = None
    segments: int = 0
    encoding: str | None = None
    timezone: str | None = None
    links: list[tuple[str, str]] = field(default_factory=list)  # (code, url)
    ucs2_chars: tuple[tuple[str, int], ...] = ()


@dataclass
class Plan:
    """The recipients, in candidate id order."""

    recipients: list[Planned]

    @property
    def eligible(self) -> list[Planned]:
        return [r for r in self.recipients if r.skip_reason is None]


def new_code() -> str:
    """A short, unguessable link code."""
    return secrets.token_urlsafe(6)


# North American numbers: libphonenumber cannot tell a mobile from a landline there
# (FIXED_LINE_OR_MOBILE; Twilio's 21614 does), so the shape and the area code decide:
# toll-free and premium area codes cannot receive texts. Parsing each number would
# cost about a millisecond, too slow for a preview of ten thousand.
_NANP = re.compile(r"^\+1[2-9]\d{2}[2-9]\d{6}$")
_NANP_NOT_MOBILE = frozenset({"800", "833", "844", "855", "866", "877", "888", "900"})


def _mobile(phone: str) -> bool:
    if phone.startswith("+1"):
        return bool(_NANP.match(phone)) and phone[2:5] not in _NANP_NOT_MOBILE
    try:
        number = phonenumbers.parse(phone, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.number_type(number) in _MOBILE_TYPES
    )


class _Link:
    """A link in the template's own text: rewritten per recipient."""

    __slots__ = ("url",)

    def __init__(self, url: str) -> None:
        self.url = url


Piece = str | Field | _Link


def template_pieces(template: Template, track_links: bool) -> list[Piece]:
    """The template's parts with every http(s) link in its text split out (to rewrite
    per recipient). Links that come from a candidate's field are not rewritten."""
    pieces: list[Piece] = []
    for part in template.parts:
        if isinstance(part, Field) or not track_links:
            pieces.append(part)
            continue
        at = 0
        for match in LINK.finditer(part):
            pieces.extend((part[at : match.start()], _Link(match.group(0))))
            at = match.end()
        pieces.append(part[at:])
    return [piece for piece in pieces if piece != ""]


def render(
    pieces: list[Piece], values: dict[str, Any], public_url: str | None, make_code: Any
) -> tuple[str, list[tuple[str, str]]]:
    """One recipient's text and its (code, url) links; MissingField as Template.render."""
    out: list[str] = []
    links: list[tuple[str, str]] = []
    for piece in pieces:
        if isinstance(piece, str):
            out.append(piece)
        elif isinstance(piece, _Link):
            if public_url:
                code = make_code()
                links.append((code, piece.url))
                out.append(f"{public_url}/l/{code}")
            else:
                out.append(piece.url)
        else:
            value = values.get(piece.name)
            value = value.strip() if isinstance(value, str) else None
            if value:
                out.append(value)
            elif piece.fallback is not None:
                out.append(piece.fallback)
            else:
                raise MissingField(piece.name)
    return "".join(out), links


def _rows(session: Session, list_name: str, now: datetime, fields: dict[str, Any]) -> Iterator[Any]:
    try:
        ids = list_query(session=session, name=list_name, now=now).order_by(None).subquery()
    except ListError:
        raise
    texted = (
        sa.select(_conversations.c.candidate_id)
        .join(_messages, _messages.c.conversation_id == _conversations.c.id)
        .where(
            _messages.c.direction == "outbound",
            _messages.c.status.notin_(("blocked", "failed", "pending")),
        )
        .distinct()
        .subquery()
    )
    query = (
        sa.select(
            CANDIDATES.c.id,
            CANDIDATES.c.opt_in,
            CANDIDATES.c.opted_out,
            CANDIDATES.c.phone,
            CANDIDATES.c.state,
            (texted.c.candidate_id.is_not(None)).label("texted_before"),
            *(column.label(f"field_{name}") for name, column in fields.items()),
        )
        .select_from(CANDIDATES)
        .outerjoin(APPLIES, sa.and_(APPLIES.c.candidate_id == CANDIDATES.c.id, APPLIES.c.is_active))
        .outerjoin(texted, texted.c.candidate_id == CANDIDATES.c.id)
        .where(CANDIDATES.c.id.in_(sa.select(ids.c[0])))
        .order_by(CANDIDATES.c.id)
    )
    yield from session.connection().execute(query.execution_options(yield_per=2000))


def plan_recipients(
    *,
    session: Session,
    list_name: str,
    template: Template,
    rules: BlastRules,
    now: datetime,
    make_code: Any = new_code,
) -> Plan:
    """Evaluate the list now and work out every recipient's text or skip reason.

    Raises storage.lists.ListError for a list that is not there (or whose filter no
    longer reads). `make_code` makes link codes (the preview passes a stand-in of the
    same length, so segments match without storing anything).
    """
    planned: list[Planned] = []
    seen: set[str] = set()
    # Only the columns the template names are read.
    fields = {
        field.name: (CANDIDATES if field.scope == Scope.CANDIDATE else APPLIES).c[field.column]
        for field in template.fields
    }
    names = list(fields)
    pieces = template_pieces(template, rules.track_links)
    zones: dict[tuple[str, str | None], str] = {}
    first_field = 6  # id, opt_in, opted_out, phone, state, texted_before
    for row in _rows(session, list_name, now, fields):
        values = dict(zip(names, row[first_field:], strict=True))
        phone = row.phone
        reason: str | None = None
        if phone in seen:
            reason = "duplicate_phone"
        elif row.opted_out:
            reason = "opted_out"
        elif not row.opt_in:
            reason = "no_opt_in"
        elif not _mobile(phone):
            reason = "invalid_phone"
        body = None
        links: list[tuple[str, str]] = []
        if reason is None:
            try:
                body, links = render(pieces, values, rules.public_url, make_code)
            except MissingField as missing:
                reason = f"empty_field:{missing.name}"
        if reason is not None or body is None:
            planned.append(Planned(row.id, phone, reason))
            continue
        seen.add(phone)
        # North American time zones go by area code and exchange: one look-up each.
        zone_key = (phone[:8] if phone.startswith("+1") else phone, row.state)
        zone = zones.get(zone_key)
        if zone is None:
            zone = zones[zone_key] = candidate_timezone(phone, row.state, rules.default_timezone)
        if not row.texted_before and rules.opt_out_line:
            body = f"{body}\n{rules.opt_out_line}"
        counted = measure(body)
        planned.append(
            Planned(
                candidate_id=row.id,
                phone=phone,
                skip_reason=None,
                body=body,
                segments=counted.segments,
                encoding=counted.encoding,
                timezone=zone,
                links=links,
                ucs2_chars=counted.ucs2_chars,
            )
        )
    return Plan(planned)
