"""Planning a push run: who of a rule's list is pushed, who is ignored and why.

A candidate is planned for a rule when they engaged (replied to, or clicked a link of) a
blast sent to the rule's list at or after the rule's window start (5 days before it was
enabled), later than the engagement the rule last handled for them. Each planned
candidate is either pushed (a Recruit record built from the field map) or ignored with
a reason, as Zoho Campaigns' push does: came from Recruit, missing a required value
(first name, last name, email; and company for Contacts), opted out. Two reasons are
about the whole list and are counted, not stored per candidate: the list was never sent
a blast, and recipients with no engagement.

One query per rule: the engaged recipients grouped by candidate, joined to the
candidate, the active apply and the rule's history.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.blast_models import BLAST_RECIPIENTS, BLASTS
from storage.lists_models import APPLIES, APPLY_FIELDS
from storage.models import Candidate
from storage.push.models import PUSH_HISTORY, PUSHED_STATES
from storage.push.rules import CANDIDATE_FIELDS, CUSTOM_PREFIX, RuleView

__all__ = [
    "CAME_FROM_RECRUIT",
    "NEVER_SENT",
    "NO_ENGAGEMENT",
    "OPTED_OUT",
    "Ignored",
    "Plan",
    "Planned",
    "plan_rule",
]

candidates = Candidate.__table__  # type: ignore[attr-defined]
history = PUSH_HISTORY
recipients = BLAST_RECIPIENTS
blasts = BLASTS
applies = APPLIES

# Ignored reasons (the history's `reason` and the report's words).
CAME_FROM_RECRUIT = "came from Recruit"
OPTED_OUT = "opted out"
NEVER_SENT = "the list was never sent a blast"
NO_ENGAGEMENT = "no engagement"


def missing(names: list[str]) -> str:
    """The reason for missing required values, naming them: "missing email, company"."""
    return "missing " + ", ".join(names)


# Came from Recruit: an apply synced from the ATS (origin "ats") or whose source says
# Recruit (checked in SQL), or an external_contact_id shaped like Recruit's record ids
# (846336000000600001) or its Candidate_ID / Contact_ID values (ZR_12_CAND, ZR_3_CONT).
_RECRUIT_ID = re.compile(r"^(\d{15,19}|ZR_\d+_[A-Z]+)$", re.IGNORECASE)


@dataclass(frozen=True)
class Planned:
    """A candidate to push: the record to send and what it will be recorded as."""

    candidate_id: int
    engaged_at: datetime
    readd: bool  # pushed before for this rule: a success is recorded as Re-added
    email: str
    phone: str
    record: dict[str, Any]


@dataclass(frozen=True)
class Ignored:
    """A candidate the rule does not push, and why."""

    candidate_id: int
    engaged_at: datetime
    phone: str
    reason: str


@dataclass
class Plan:
    """What one rule's run will do."""

    rule: RuleView
    pushes: list[Planned] = field(default_factory=list)
    ignored: list[Ignored] = field(default_factory=list)
    never_sent: bool = False
    no_engagement: int = 0


def _engagement_column(rule: RuleView) -> sa.ColumnElement[Any]:
    return recipients.c.replied_at if rule.engagement == "replied" else recipients.c.clicked_at


def plan_rule(*, session: Session, rule: RuleView, now: datetime) -> Plan:
    """Plan one enabled rule at `now` (UTC)."""
    plan = Plan(rule=rule)
    start = rule.window_start
    if start is None:
        return plan
    sent = session.execute(
        sa.select(blasts.c.id)
        .where(blasts.c.list_id == rule.list_id, blasts.c.started_at.is_not(None))
        .limit(1)
    ).first()
    if sent is None:
        plan.never_sent = True
        return plan
    engaged_col = _engagement_column(rule)
    on_list = sa.and_(
        blasts.c.id == recipients.c.blast_id,
        blasts.c.list_id == rule.list_id,
    )
    engaged = (
        sa.select(
            recipients.c.candidate_id.label("candidate_id"),
            sa.func.max(engaged_col).label("engaged_at"),
        )
        .select_from(recipients.join(blasts, on_list))
        .where(engaged_col >= start, engaged_col <= now)
        .group_by(recipients.c.candidate_id)
        .subquery("engaged")
    )
    handled = (
        sa.select(
            history.c.candidate_id.label("candidate_id"),
            sa.func.max(history.c.engaged_at).label("last_at"),
            sa.func.max(sa.case((history.c.state.in_(PUSHED_STATES), 1), else_=0)).label(
                "pushed_before"
            ),
        )
        .where(history.c.rule_id == rule.id)
        .group_by(history.c.candidate_id)
        .subquery("handled")
    )
    active = applies.alias("active")
    origin_ats = (
        sa.select(applies.c.id)
        .where(
            applies.c.candidate_id == candidates.c.id,
            sa.or_(applies.c.origin == "ats", sa.func.lower(applies.c.source).like("%recruit%")),
        )
        .exists()
    )
    reader = _Reader(rule)
    columns: dict[str, Any] = {
        "candidate_id": engaged.c.candidate_id,
        "engaged_at": engaged.c.engaged_at,
        "pushed_before": handled.c.pushed_before,
        "opted_out": candidates.c.opted_out,
        "origin_ats": origin_ats,
    }
    for name in reader.fields:
        if name == "custom_fields":
            columns[name] = candidates.c.custom_fields
            continue
        column = candidates.c[name] if name in CANDIDATE_FIELDS else active.c[name]
        # Every mapped column is text. Blank or spaces-only comes back as NULL, trimmed
        # in SQL: 50,000 rows then need no str.strip in Python.
        columns[name] = sa.func.nullif(sa.func.trim(column), "")
    query = (
        sa.select(*(column.label(name) for name, column in columns.items()))
        .select_from(
            engaged.join(candidates, candidates.c.id == engaged.c.candidate_id)
            .outerjoin(handled, handled.c.candidate_id == engaged.c.candidate_id)
            .outerjoin(
                active,
                sa.and_(active.c.candidate_id == engaged.c.candidate_id, active.c.is_active),
            )
        )
        .where(sa.or_(handled.c.last_at.is_(None), engaged.c.engaged_at > handled.c.last_at))
        .order_by(engaged.c.candidate_id)
    )
    reader.locate(list(columns))
    blast_names = _latest_blast_names(session, rule, start, now) if rule.status_field else {}
    for row in session.execute(query).all():
        candidate_id, engaged_at = row[0], row[1]
        reason = reader.ignored_reason(row)
        if reason is not None:
            plan.ignored.append(Ignored(candidate_id, engaged_at, row[reader.phone], reason))
            continue
        record = reader.record(row)
        if rule.status_field:
            record[rule.status_field] = status_text(
                rule.engagement, blast_names.get(candidate_id, "")
            )
        plan.pushes.append(
            Planned(
                candidate_id=candidate_id,
                engaged_at=engaged_at,
                readd=bool(row[2]),
                email=row[reader.email],
                phone=row[reader.phone],
                record=record,
            )
        )
    plan.no_engagement = _no_engagement(session, rule, engaged_col, start, now)
    return plan


def status_text(engagement: str, blast_name: str) -> str:
    """What `--status-field` receives: "Replied to SMS blast Fall nurses"."""
    verb = "Replied to" if engagement == "replied" else "Clicked a link in"
    return f"{verb} SMS blast {blast_name}".strip()


def _filled(value: Any) -> bool:
    return value is not None and (not isinstance(value, str) or value.strip() != "")


def _custom(custom_fields: Any, name: str) -> Any:
    if not isinstance(custom_fields, dict):
        return None
    wanted = name.strip().lower()
    return next((v for k, v in custom_fields.items() if str(k).strip().lower() == wanted), None)


class _Reader:
    """Reads a rule's planned rows (plain tuples, for speed at 50,000 rows): the
    columns it needs, why a row is ignored, and the Recruit record it becomes."""

    REQUIRED = (("first name", "first_name"), ("last name", "last_name"), ("email", "email"))

    def __init__(self, rule: RuleView) -> None:
        self.rule = rule
        wanted = ["phone", "first_name", "last_name", "email", "external_contact_id"]
        self.needs_custom = rule.module == "Contacts" or any(
            name == "company" or name.startswith(CUSTOM_PREFIX) for name in rule.field_map
        )
        for name in rule.field_map:
            if name in CANDIDATE_FIELDS or name in APPLY_FIELDS or name == "status":
                wanted.append(name)
        if self.needs_custom:
            wanted.append("custom_fields")
        self.fields = list(dict.fromkeys(wanted))

    def locate(self, columns: list[str]) -> None:
        at = {name: index for index, name in enumerate(columns)}
        self.opted_out, self.origin_ats = at["opted_out"], at["origin_ats"]
        self.phone, self.email = at["phone"], at["email"]
        self.external_id = at["external_contact_id"]
        self.custom = at.get("custom_fields")
        self.required = [(label, at[name]) for label, name in self.REQUIRED]
        # (column index or a custom field's name, Recruit field)
        self.getters: list[tuple[int | str, str]] = []
        for caretbot_field, recruit_field in self.rule.field_map.items():
            if caretbot_field == "company":
                self.getters.append(("company", recruit_field))
            elif caretbot_field.startswith(CUSTOM_PREFIX):
                self.getters.append((caretbot_field[len(CUSTOM_PREFIX) :], recruit_field))
            else:
                self.getters.append((at[caretbot_field], recruit_field))

    def ignored_reason(self, row: Sequence[Any]) -> str | None:
        external_id = row[self.external_id]
        if row[self.origin_ats] or (external_id and _RECRUIT_ID.match(external_id)):
            return CAME_FROM_RECRUIT
        required = self.required
        if (
            row[required[0][1]] is None
            or row[required[1][1]] is None
            or row[required[2][1]] is None
        ):
            absent = [label for label, index in required if row[index] is None]
        else:
            absent = []
        if self.rule.module == "Contacts" and not _filled(
            _custom(row[self.custom] if self.custom is not None else None, "company")
        ):
            absent.append("company")
        if absent:
            return missing(absent)
        if row[self.opted_out]:
            return OPTED_OUT
        return None

    def record(self, row: Sequence[Any]) -> dict[str, Any]:
        """Mapped fields that have a value (a blank never overwrites what Recruit
        holds); Client_Name as a lookup by name."""
        record: dict[str, Any] = {}
        custom = row[self.custom] if self.custom is not None else None
        for source, recruit_field in self.getters:
            if isinstance(source, int):
                value = row[source]  # trimmed in SQL, None when blank
            else:
                value = _custom(custom, source)
                if isinstance(value, str):
                    value = value.strip() or None
            if value is None:
                continue
            if recruit_field == "Client_Name":
                value = {"name": str(value)}
            record[recruit_field] = value
        return record


def _latest_blast_names(
    session: Session, rule: RuleView, start: datetime, now: datetime
) -> dict[int, str]:
    """The name of the blast of each candidate's latest engagement on the rule's list."""
    engaged_col = _engagement_column(rule)
    rows = session.execute(
        sa.select(recipients.c.candidate_id, engaged_col.label("at"), blasts.c.name)
        .select_from(recipients.join(blasts, blasts.c.id == recipients.c.blast_id))
        .where(blasts.c.list_id == rule.list_id, engaged_col >= start, engaged_col <= now)
        .order_by(engaged_col)
    )
    return {row.candidate_id: row.name for row in rows}


def _no_engagement(
    session: Session,
    rule: RuleView,
    engaged_col: sa.ColumnElement[Any],
    start: datetime,
    now: datetime,
) -> int:
    """Candidates texted a blast of the list in the window who did not engage."""
    on_list = sa.and_(blasts.c.id == recipients.c.blast_id, blasts.c.list_id == rule.list_id)
    engaged_ids = (
        sa.select(recipients.c.candidate_id)
        .select_from(recipients.join(blasts, on_list))
        .where(engaged_col >= start, engaged_col <= now)
    )
    count = session.execute(
        sa.select(sa.func.count(sa.distinct(recipients.c.candidate_id)))
        .select_from(recipients.join(blasts, on_list))
        .where(
            recipients.c.sent_at >= start,
            recipients.c.sent_at <= now,
            recipients.c.candidate_id.not_in(engaged_ids),
        )
    ).scalar_one()
    return int(count)
