"""Texting in is an entry into caretbot: a new number's first text adds an apply (origin,
source and medium "sms"), active, and nothing else does: a known number's texts, a
retried webhook, a candidate who came in by import."""

from __future__ import annotations

import sqlalchemy as sa

from storage import applies, conversations
from storage.conversations import InboundText
from storage.db import Database
from storage.lists_models import APPLIES, CANDIDATES

CHANNEL = "C0CARETBOT"
TEAM = "+15005550006"


def text(sid: str, phone: str, body: str = "Hi") -> InboundText:
    return InboundText(sid=sid, phone=phone, team_number=TEAM, body=body, media=[])


def store(db: Database, *texts: InboundText) -> None:
    with db.write() as session:
        conversations.record_inbound_batch(session=session, texts=list(texts), channel=CHANNEL)


def applies_by_phone(db: Database) -> dict[str, list[tuple]]:
    with db.read() as session:
        rows = session.execute(
            sa.select(
                CANDIDATES.c.phone,
                APPLIES.c.origin,
                APPLIES.c.source,
                APPLIES.c.medium,
                APPLIES.c.status,
                APPLIES.c.is_active,
            )
            .join(APPLIES, APPLIES.c.candidate_id == CANDIDATES.c.id)
            .order_by(APPLIES.c.id)
        ).all()
    found: dict[str, list[tuple]] = {}
    for phone, *rest in rows:
        found.setdefault(phone, []).append(tuple(rest))
    return found


SMS_APPLY = ("sms", "sms", "sms", "New", True)


def test_a_first_text_from_a_new_number_adds_an_active_sms_apply(database: Database):
    store(database, text("SM1", "+15125550143"), text("SM2", "+15125550177"))

    assert applies_by_phone(database) == {
        "+15125550143": [SMS_APPLY],
        "+15125550177": [SMS_APPLY],
    }


def test_later_texts_and_retried_webhooks_add_no_apply(database: Database):
    store(database, text("SM1", "+15125550143"), text("SM2", "+15125550143"))
    store(database, text("SM1", "+15125550143"))
    store(database, text("SM3", "+15125550143", "still there?"))

    assert applies_by_phone(database) == {"+15125550143": [SMS_APPLY]}


def test_a_candidate_who_came_in_by_import_gets_no_sms_apply_when_they_text(
    database: Database,
):
    with database.write() as session:
        candidate_id = session.execute(
            sa.insert(CANDIDATES)
            .values(phone="+15125550143", opt_in=True, opted_out=False, custom_fields={})
            .returning(CANDIDATES.c.id)
        ).scalar_one()
        applies.add_apply(
            session=session, candidate_id=candidate_id, origin="import", fields={"source": "csv"}
        )

    store(database, text("SM1", "+15125550143"))

    assert [a[0] for a in applies_by_phone(database)["+15125550143"]] == ["import"]
