"""Applies: every entry of a candidate into caretbot, and which one is active.

The active apply is the candidate's first, unless the team prefers the latest
(`ActivePolicy`). Filters on source, campaign, status and the rest read it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

import sqlalchemy as sa
from sqlmodel import Session

from grammar.statuses import APPLY_STATUSES
from storage.lists_models import APPLIES, APPLY_FIELDS
from storage.models import utcnow

__all__ = ["ActivePolicy", "add_apply", "natural_key", "natural_key_of", "set_status"]

ActivePolicy = Literal["first", "latest"]

applies = APPLIES


def natural_key(origin: str, fields: Mapping[str, Any]) -> int:
    """What makes two applies of one candidate the same: origin and fields, any case.

    A 64-bit digest: it is only ever compared among one candidate's applies.
    """
    return natural_key_of(origin, tuple([fields.get(name) for name in APPLY_FIELDS]))


@lru_cache(maxsize=4096)  # an import's rows mostly share their campaign, source and job
def natural_key_of(origin: str, values: tuple[Any, ...]) -> int:
    """natural_key for the fields as a tuple in APPLY_FIELDS order."""
    parts = [origin, *(str(value or "").strip().lower() for value in values)]
    digest = hashlib.blake2b("\x1f".join(parts).encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def add_apply(
    *,
    session: Session,
    candidate_id: int,
    origin: str,
    fields: Mapping[str, Any],
    policy: ActivePolicy = "first",
    now: datetime | None = None,
) -> int | None:
    """Record an apply; None when the same one is already there (nothing changes then)."""
    now = now or utcnow()
    key = natural_key(origin, fields)
    existing = session.execute(
        sa.select(applies.c.id).where(
            applies.c.candidate_id == candidate_id, applies.c.natural_key == key
        )
    ).first()
    if existing is not None:
        return None
    has_active = session.execute(
        sa.select(applies.c.id).where(applies.c.candidate_id == candidate_id, applies.c.is_active)
    ).first()
    if policy == "latest" and has_active is not None:
        session.execute(
            sa.update(applies)
            .where(applies.c.candidate_id == candidate_id, applies.c.is_active)
            .values(is_active=False, updated_at=now)
        )
    active = policy == "latest" or has_active is None
    values = {name: fields.get(name) for name in APPLY_FIELDS}
    result = session.execute(
        sa.insert(applies)
        .values(
            candidate_id=candidate_id,
            origin=origin,
            status="New",
            is_active=active,
            natural_key=key,
            created_at=now,
            updated_at=now,
            **values,
        )
        .returning(applies.c.id)
    )
    return int(result.scalar_one())


def set_status(*, session: Session, candidate_id: int, status: str) -> bool:
    """Set the active apply's status; False when the candidate has no apply."""
    if status not in APPLY_STATUSES:
        raise ValueError(f"{status} is not an apply status: {', '.join(APPLY_STATUSES)}")
    result = session.execute(
        sa.update(applies)
        .where(applies.c.candidate_id == candidate_id, applies.c.is_active)
        .values(status=status, updated_at=utcnow())
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
