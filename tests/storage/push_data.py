"""Candidates, lists, blasts and engaged recipients for the push tests, written with
SQLAlchemy Core (the blast developer's storage functions are not there yet)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.applies import add_apply
from storage.blast_models import BLAST_RECIPIENTS, BLASTS
from storage.db import Database
from storage.lists import add_members, ensure_static_list
from storage.models import Candidate, utcnow
from storage.push.rules import RuleView, add_rule, set_enabled

candidates = Candidate.__table__  # type: ignore[attr-defined]


def add_candidate(db: Database, n: int, **fields: Any) -> int:
    """A candidate numbered n: phone +1512555nnnn, email zoe.n@example.com by default."""
    with db.write() as session:
        return _insert_candidate(session, n, **fields)


def add_candidates(db: Database, numbers: Sequence[int], **fields: Any) -> list[int]:
    """Candidates numbered as given, in one transaction."""
    with db.write() as session:
        return [_insert_candidate(session, n, **fields) for n in numbers]


def _insert_candidate(
    session: Any,
    n: int,
    *,
    first_name: str | None = "Zoë",
    last_name: str | None = None,
    email: str | None = "",
    city: str | None = "São Paulo",
    opted_out: bool = False,
    custom: dict[str, Any] | None = None,
    external_contact_id: str | None = None,
    source: str | None = "indeed",
    origin: str = "import",
) -> int:
    candidate_id = session.execute(
        candidates.insert()
        .values(
            phone=f"+1512555{n:04d}",
            first_name=first_name,
            last_name=f"Núñez-{n}" if last_name is None else last_name,
            email=f"zoe.{n}@example.com" if email == "" else email,
            city=city,
            opted_out=opted_out,
            custom_fields=custom or {},
            external_contact_id=external_contact_id,
            created_at=utcnow(),
            updated_at=utcnow(),
        )
        .returning(candidates.c.id)
    ).scalar_one()
    add_apply(
        session=session,
        candidate_id=candidate_id,
        origin=origin,
        fields={"source": source, "campaign": "Fall 2026"},
    )
    return int(candidate_id)


def make_list(db: Database, name: str, candidate_ids: Sequence[int]) -> int:
    with db.write() as session:
        info = ensure_static_list(session=session, name=name)
        add_members(session=session, list_id=info.id, candidate_ids=candidate_ids)
    return info.id


def add_blast(
    db: Database, list_id: int, name: str, *, started_at: datetime | None, status: str = "done"
) -> int:
    """A blast to the list (started_at None: never sent)."""
    with db.write() as session:
        blast_id = session.execute(
            BLASTS.insert()
            .values(
                name=name,
                list_id=list_id,
                message="Hi {first_name}, night shifts open at St. Luke’s 🏥 Reply YES",
                status=status if started_at else "draft",
                started_at=started_at,
                finished_at=started_at,
                created_at=utcnow(),
                updated_at=utcnow(),
            )
            .returning(BLASTS.c.id)
        ).scalar_one()
    return int(blast_id)


def engage(
    db: Database,
    blast_id: int,
    candidate_ids: Sequence[int],
    *,
    sent_at: datetime,
    replied_at: datetime | None = None,
    clicked_at: datetime | None = None,
) -> None:
    """Recipients of the blast (texted at sent_at), with their engagement."""
    with db.write() as session:
        phones = dict(
            session.execute(
                sa.select(candidates.c.id, candidates.c.phone).where(
                    candidates.c.id.in_(list(candidate_ids))
                )
            ).all()
        )
        session.execute(
            BLAST_RECIPIENTS.insert(),
            [
                {
                    "blast_id": blast_id,
                    "candidate_id": cid,
                    "phone": phones[cid],
                    "state": "sent",
                    "sent_at": sent_at,
                    "replied_at": replied_at,
                    "clicked_at": clicked_at,
                    "created_at": sent_at,
                    "updated_at": sent_at,
                }
                for cid in candidate_ids
            ],
        )


def rule(
    db: Database,
    list_name: str,
    *,
    module: str = "candidates",
    engagement: str = "replied",
    enabled_at: datetime | None = None,
    maps: list[str] | None = None,
    status_field: str | None = None,
) -> RuleView:
    """A rule, enabled at `enabled_at` (default: now) unless that is None... always enabled."""
    with db.write() as session:
        view = add_rule(
            session=session,
            module=module,
            engagement=engagement,
            list_name=list_name,
            map_pairs=maps,
            status_field=status_field,
        )
        view, _ = set_enabled(
            session=session, rule_id=view.id, enabled=True, now=enabled_at or utcnow()
        )
    return view


def ago(**delta: float) -> datetime:
    return utcnow() - timedelta(**delta)


def recruit_client(zoho: Any, db: Database | None = None, **options: Any) -> Any:
    """The production client pointed at the stand-in, with quick backoff; tokens in the
    database when `db` is given."""
    from bot.recruit.client import Credentials, MemoryTokens, RecruitClient
    from bot.sandbox.zoho_recruit import CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN
    from storage.push.tokens import DatabaseTokens

    settings: dict[str, Any] = {"backoff": 0.001, "timeout": 5.0}
    settings.update(options)
    return RecruitClient(
        credentials=Credentials(CLIENT_ID, CLIENT_SECRET, REFRESH_TOKEN),
        accounts_url=zoho.url,
        recruit_url=zoho.url,
        tokens=DatabaseTokens(db) if db is not None else MemoryTokens(),
        **settings,
    )
