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
    "came_from_recruit",
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


# Recruit's record ids (846336000000600001) and its Candidate_ID / Contact_ID values
# (ZR_12_CAND, ZR_3_CONT): an external_contact_id shaped so came from Recruit.
_RECRUIT_ID = re.compile(r"^(\d{15,19}|ZR_\d+_[A-Z]+)$", re.IGNORECASE)
_RECRUIT_SOURCE = re.compile(r"\brecruit\b", re.IGNORECASE)


def came_from_recruit(
    external_contact_id: str | None, sources: list[str | None], origins: list[str]
) -> bool:
    """Whether a candidate came into caretbot from Recruit: an apply synced from the ATS
    (origin "ats") or whose source says Recruit, or a Recruit id as external_contact_id."""
    if external_contact_id and _RECRUIT_ID.match(external_contact_id.strip()):
        return True
    if any(origin == "ats" for origin in origins):
        return True
    return any(source and _RECRUIT_SOURCE.search(source) for source in sources)


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
    query = (
        sa.select(
            engaged.c.candidate_id,
            engaged.c.engaged_at,
            handled.c.pushed_before,
            candidates.c.opted_out,
            candidates.c.custom_fields,
            *(candidates.c[name] for name in CANDIDATE_FIELDS),
            *(active.c[name].label(f"apply_{name}") for name in (*APPLY_FIELDS, "status")),
            origin_ats.label("origin_ats"),
        )
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
    rows = list(session.execute(query))
    blast_names = _latest_blast_names(session, rule, start, now) if rule.status_field else {}
    for row in rows:
        reason = _ignored_reason(rule, row)
        if reason is not None:
            plan.ignored.append(Ignored(row.candidate_id, row.engaged_at, row.phone, reason))
            continue
        record = build_record(rule, row)
        if rule.status_field:
            record[rule.status_field] = status_text(
                rule.engagement, blast_names.get(row.candidate_id, "")
            )
        plan.pushes.append(
            Planned(
                candidate_id=row.candidate_id,
                engaged_at=row.engaged_at,
                readd=bool(row.pushed_before),
                email=row.email.strip(),
                phone=row.phone,
                record=record,
            )
        )
    plan.no_engagement = _no_engagement(session, rule, engaged_col, start, now)
    return plan


def status_text(engagement: str, blast_name: str) -> str:
    """What `--status-field` receives: "Replied to SMS blast Fall nurses"."""
    verb = "Replied to" if engagement == "replied" else "Clicked a link in"
    return f"{verb} SMS blast {blast_name}".strip()


def _ignored_reason(rule: RuleView, row: Any) -> str | None:
    if came_from_recruit(row.external_contact_id, [row.apply_source], []) or row.origin_ats:
        return CAME_FROM_RECRUIT
    required = {"first name": row.first_name, "last name": row.last_name, "email": row.email}
    if rule.module == "Contacts":
        required["company"] = _custom(row.custom_fields, "company")
    absent = [name for name, value in required.items() if not _filled(value)]
    if absent:
        return missing(absent)
    if row.opted_out:
        return OPTED_OUT
    return None


def _filled(value: Any) -> bool:
    return value is not None and str(value).strip() != ""


def _custom(custom_fields: Any, name: str) -> Any:
    if not isinstance(custom_fields, dict):
        return None
    wanted = name.strip().lower()
    return next((v for k, v in custom_fields.items() if str(k).strip().lower() == wanted), None)


def field_value(row: Any, caretbot_field: str) -> Any:
    """A caretbot field's value on a planned row (candidate, active apply, custom)."""
    if caretbot_field.startswith(CUSTOM_PREFIX):
        return _custom(row.custom_fields, caretbot_field[len(CUSTOM_PREFIX) :])
    if caretbot_field == "company":
        return _custom(row.custom_fields, "company")
    if caretbot_field in CANDIDATE_FIELDS:
        return getattr(row, caretbot_field)
    return getattr(row, f"apply_{caretbot_field}")


def build_record(rule: RuleView, row: Any) -> dict[str, Any]:
    """The Recruit record for a row: mapped fields that have a value (a blank never
    overwrites what Recruit holds); Client_Name as a lookup by name."""
    record: dict[str, Any] = {}
    for caretbot_field, recruit_field in rule.field_map.items():
        value = field_value(row, caretbot_field)
        if not _filled(value):
            continue
        value = value.strip() if isinstance(value, str) else value
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
