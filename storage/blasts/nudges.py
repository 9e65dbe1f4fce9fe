"""The nudge: one follow-up text to blast recipients who stayed silent.

A recipient is nudged once, `nudge_after_seconds` after their blast text, when they
have not replied, clicked or opted out by then and are outside their quiet hours. The
nudge is an ordinary text of their conversation (the outbox's `twilio.send`), so it
shares the sender's pace and the look-up before resending.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlmodel import Session

from grammar.quiet_hours import QuietHours
from grammar.template import MissingField, parse_template
from storage.blast_models import BLAST_RECIPIENTS as R
from storage.blast_models import BLASTS
from storage.conversations import queue_text
from storage.lists_models import CANDIDATES
from storage.models import Conversation, utcnow

_conversations = Conversation.__table__  # type: ignore[attr-defined]
_FIELDS = ("first_name", "middle_name", "last_name", "email", "city", "state", "country")


def queue_nudges(*, session: Session, now: datetime, quiet: QuietHours, limit: int = 500) -> int:
    """Queue the nudges due at `now`; how many were queued."""
    connection = session.connection()
    rows = connection.execute(
        sa.select(
            R.c.id,
            R.c.candidate_id,
            R.c.timezone,
            R.c.sent_at,
            BLASTS.c.nudge_message,
            BLASTS.c.nudge_after_seconds,
            BLASTS.c.team_number,
            *(CANDIDATES.c[name] for name in _FIELDS),
            CANDIDATES.c.opted_out,
        )  # fmt: skip
        .join(BLASTS, BLASTS.c.id == R.c.blast_id)
        .join(CANDIDATES, CANDIDATES.c.id == R.c.candidate_id)
        .where(
            BLASTS.c.nudge_after_seconds.is_not(None),
            BLASTS.c.status.in_(("sending", "done")),
            R.c.state == "sent",
            R.c.nudge_state.is_(None),
            R.c.replied_at.is_(None),
            R.c.clicked_at.is_(None),
            R.c.opted_out_at.is_(None),
        )
        .order_by(R.c.id)
        .limit(limit)
    ).all()
    queued = 0
    for row in rows:
        if row.sent_at + timedelta(seconds=row.nudge_after_seconds) > now:
            continue
        if quiet.opens_at(now, row.timezone or "UTC") is not None:
            continue
        state, message_id = "skipped", None
        if not row.opted_out:
            try:
                body = parse_template(row.nudge_message).render(
                    {name: getattr(row, name) for name in _FIELDS}
                )
            except MissingField:
                body = None
            conversation_id = connection.execute(
                sa.select(_conversations.c.id).where(
                    _conversations.c.candidate_id == row.candidate_id,
                    _conversations.c.team_number == (row.team_number or ""),
                )
            ).scalar()
            if body and conversation_id is not None:
                message_id = queue_text(session=session, conversation_id=conversation_id, body=body)
                state = "queued"
                queued += 1
        connection.execute(
            R.update()
            .where(R.c.id == row.id)
            .values(
                nudge_state=state, nudge_message_id=message_id, nudged_at=now, updated_at=utcnow()
            )
        )
    return queued
