"""Push rules: which list's engaged candidates go to which Recruit module, and how.

A rule is (module, engagement, list) with a field map (caretbot field -> Recruit field
API name). The defaults follow Zoho Campaigns' push: first name, last name, email,
phone (Mobile), city and source, and for Contacts the company (Client_Name, a lookup to
the Clients module). Zoho advises against one list in both modules, so a list already
in a Candidates rule is refused for a Contacts rule and the other way round.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from storage.lists import find_list
from storage.lists_models import APPLY_FIELDS, LISTS
from storage.models import utcnow
from storage.push.models import PUSH_RULES, PUSH_RUNS

__all__ = [
    "BACKFILL",
    "CARETBOT_FIELDS",
    "ENGAGEMENTS",
    "RuleError",
    "RuleView",
    "add_rule",
    "default_map",
    "get_rule",
    "list_rules",
    "parse_map",
    "set_enabled",
]

rules = PUSH_RULES
runs = PUSH_RUNS

# Zoho Campaigns pushes the engagement of the 5 days before a push was enabled.
BACKFILL = timedelta(days=5)
ENGAGEMENTS = ("replied", "clicked")
MODULE_NAMES = {"candidates": "Candidates", "contacts": "Contacts"}

# The candidate's own fields, then the active apply's, then the company (a custom field).
CANDIDATE_FIELDS: tuple[str, ...] = (
    "first_name",
    "middle_name",
    "last_name",
    "email",
    "phone",
    "street",
    "city",
    "state",
    "country",
    "postal_code",
    "external_contact_id",
)
CARETBOT_FIELDS: tuple[str, ...] = (*CANDIDATE_FIELDS, *APPLY_FIELDS, "status", "company")
CUSTOM_PREFIX = "custom."
_RECRUIT_FIELD = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")

_DEFAULT_MAP = {
    "first_name": "First_Name",
    "last_name": "Last_Name",
    "email": "Email",
    "phone": "Mobile",
    "city": "City",
    "source": "Source",
}


class RuleError(ValueError):
    """A rule that cannot be added, found or changed; the message says why."""


@dataclass(frozen=True)
class RuleView:
    """A rule as the CLI, the planner and the report read it."""

    id: int
    module: str
    engagement: str
    list_id: int
    list_name: str
    field_map: dict[str, str]
    status_field: str | None
    enabled: bool
    enabled_at: datetime | None
    last_run_id: int | None
    last_run_at: datetime | None
    last_run_state: str | None
    last_summary: dict[str, Any] | None

    @property
    def window_start(self) -> datetime | None:
        """Engagement from here on counts (UTC): 5 days before the rule was enabled."""
        return self.enabled_at - BACKFILL if self.enabled_at is not None else None

    @property
    def label(self) -> str:
        return f"#{self.id} {self.module}, {self.engagement}, list {self.list_name}"


def default_map(module: str) -> dict[str, str]:
    """The field map a rule starts from (caretbot field -> Recruit field)."""
    mapping = dict(_DEFAULT_MAP)
    if module == "Contacts":
        mapping["company"] = "Client_Name"
    return mapping


def _field_help() -> str:
    return ", ".join(CARETBOT_FIELDS) + f", or {CUSTOM_PREFIX}NAME for a custom field"


def check_caretbot_field(name: str) -> str:
    """The field, normalised; RuleError listing the fields when it is not one."""
    clean = name.strip()
    if clean.lower().startswith(CUSTOM_PREFIX) and len(clean) > len(CUSTOM_PREFIX):
        return CUSTOM_PREFIX + clean[len(CUSTOM_PREFIX) :]
    if clean.lower() in CARETBOT_FIELDS:
        return clean.lower()
    raise RuleError(f'"{name}" is not a caretbot field. The fields: {_field_help()}')


def check_recruit_field(name: str) -> str:
    """A Recruit field API name (First_Name, Candidate_Status...); RuleError otherwise."""
    clean = name.strip()
    if not _RECRUIT_FIELD.match(clean):
        raise RuleError(
            f'"{name}" is not a Recruit field API name: letters, digits and underscores, '
            "starting with a letter (Setup > Developer Space > APIs > API names in Recruit)"
        )
    return clean


def parse_map(module: str, pairs: list[str]) -> dict[str, str]:
    """The default map with `caretbot_field=Recruit_Field` pairs added or overriding."""
    mapping = default_map(module)
    for pair in pairs:
        if "=" not in pair:
            raise RuleError(f'"{pair}" is not caretbot_field=Recruit_Field (e.g. state=State)')
        left, right = pair.split("=", 1)
        mapping[check_caretbot_field(left)] = check_recruit_field(right)
    seen: dict[str, str] = {}
    for caretbot_field, recruit_field in mapping.items():
        if recruit_field in seen:
            raise RuleError(
                f"{recruit_field} would get both {seen[recruit_field]} and {caretbot_field}: "
                "map each Recruit field from one caretbot field"
            )
        seen[recruit_field] = caretbot_field
    if "Email" not in seen:
        raise RuleError("the map must fill Email: Recruit matches records on it (upsert)")
    return mapping


def _select() -> sa.Select[Any]:
    return sa.select(
        rules,
        LISTS.c.name.label("list_name"),
        runs.c.state.label("run_state"),
        runs.c.summary.label("run_summary"),
    ).select_from(
        rules.join(LISTS, LISTS.c.id == rules.c.list_id).outerjoin(
            runs, runs.c.id == rules.c.last_run_id
        )
    )


def _view(row: Any) -> RuleView:
    summary = row.run_summary or {}
    return RuleView(
        id=row.id,
        module=row.module,
        engagement=row.engagement,
        list_id=row.list_id,
        list_name=row.list_name,
        field_map=dict(row.field_map or {}),
        status_field=row.status_field,
        enabled=bool(row.enabled),
        enabled_at=row.enabled_at,
        last_run_id=row.last_run_id,
        last_run_at=row.last_run_at,
        last_run_state=row.run_state,
        last_summary=summary.get(str(row.id)),
    )


def list_rules(*, session: Session, enabled_only: bool = False) -> list[RuleView]:
    """Every rule (or the enabled ones), by id."""
    query = _select().order_by(rules.c.id)
    if enabled_only:
        query = query.where(rules.c.enabled)
    return [_view(row) for row in session.execute(query)]


def get_rule(*, session: Session, rule_id: int) -> RuleView:
    """One rule; RuleError when there is none with that id."""
    row = session.execute(_select().where(rules.c.id == rule_id)).first()
    if row is None:
        raise RuleError(f"there is no push rule #{rule_id} (caretbot push lists them)")
    return _view(row)


def add_rule(
    *,
    session: Session,
    module: str,
    engagement: str,
    list_name: str,
    map_pairs: list[str] | None = None,
    status_field: str | None = None,
    now: datetime | None = None,
) -> RuleView:
    """Add a rule, disabled (`set_enabled` starts it). RuleError: an unknown module,
    engagement, list, caretbot or Recruit field; the list already in the other module;
    the same rule twice."""
    module_name = MODULE_NAMES.get(module.strip().lower())
    if module_name is None:
        raise RuleError(f'"{module}" is not a module: candidates or contacts')
    engagement = engagement.strip().lower()
    if engagement not in ENGAGEMENTS:
        raise RuleError(f'"{engagement}" is not an engagement: replied or clicked')
    info = find_list(session=session, name=list_name)
    if info is None:
        raise RuleError(f'there is no list named "{list_name}" (caretbot lists shows them)')
    mapping = parse_map(module_name, list(map_pairs or []))
    status = check_recruit_field(status_field) if status_field else None
    if status is not None and status in mapping.values():
        raise RuleError(f"{status} is already filled from {_key_of(mapping, status)}")
    for other in list_rules(session=session):
        if other.list_id != info.id:
            continue
        if other.module != module_name:
            raise RuleError(
                f"list {info.name} is already pushed to {other.module} by rule {other.label}; "
                "Zoho advises against one list in both modules: use another list"
            )
        if other.engagement == engagement:
            raise RuleError(f"rule {other.label} already does this")
    rule_id = session.execute(
        sa.insert(rules)
        .values(
            module=module_name,
            engagement=engagement,
            list_id=info.id,
            field_map=mapping,
            status_field=status,
            enabled=False,
            created_at=now or utcnow(),
        )
        .returning(rules.c.id)
    ).scalar_one()
    return get_rule(session=session, rule_id=int(rule_id))


def _key_of(mapping: dict[str, str], value: str) -> str:
    return next(key for key, mapped in mapping.items() if mapped == value)


def set_enabled(
    *, session: Session, rule_id: int, enabled: bool, now: datetime | None = None
) -> tuple[RuleView, bool]:
    """Enable (from now, with 5 days of backfill) or disable a rule: (rule, changed)."""
    rule = get_rule(session=session, rule_id=rule_id)
    if rule.enabled == enabled:
        return rule, False
    values: dict[str, Any] = {"enabled": enabled}
    if enabled:
        values["enabled_at"] = now or utcnow()
    session.execute(sa.update(rules).where(rules.c.id == rule_id).values(**values))
    return get_rule(session=session, rule_id=rule_id), True


def any_enabled(*, session: Session) -> bool:
    """Whether some rule is enabled (then `serve` needs the Zoho settings)."""
    return (
        session.execute(sa.select(rules.c.id).where(rules.c.enabled).limit(1)).first() is not None
    )
