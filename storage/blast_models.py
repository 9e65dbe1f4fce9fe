"""The tables of blasts: one message texted to every candidate on a list.

`blasts` is the blast itself; `blast_recipients` is one row per phone number it reaches
(or skips, with the reason), carrying what happened to that text and how the recipient
engaged with it: the first reply, the first click of a tracked link, an opt-out. The
campaign-to-recruit push reads those engagement timestamps. `blast_links` maps each
tracked link's short code (`PUBLIC_URL/l/CODE`) to its recipient and original URL.

Timestamps are timezone-aware UTC; states are plain strings checked in code.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Column, Field, SQLModel

from storage.models import utcnow
from storage.types import UTCDateTime

__all__ = [
    "BLAST_STATUSES",
    "RECIPIENT_STATES",
    "Blast",
    "BlastLink",
    "BlastRecipient",
]

# draft -> scheduled (send_at set) -> sending -> done; paused (carrier filtering, 30007)
# <-> sending; canceled from any state before done.
BLAST_STATUSES = ("draft", "scheduled", "sending", "paused", "done", "canceled")

# skipped (never texted, see skip_reason); pending (eligible, not handed to the outbox
# yet; "held" when hold_until is in the future: the recipient's quiet hours); queued (in
# the outbox); sending (claimed: the text may have reached Twilio); sent (Twilio took it,
# message_sid recorded); failed (Twilio refused it, error_code says why); canceled.
RECIPIENT_STATES = ("skipped", "pending", "queued", "sending", "sent", "failed", "canceled")


def _when(**kwargs: Any) -> Any:
    return Field(sa_column=Column(UTCDateTime(), **kwargs))


class Blast(SQLModel, table=True):
    """One message to every candidate on a list, now or at `send_at`."""

    __tablename__ = "blasts"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column=Column(sa.String(200), nullable=False, unique=True))
    list_id: int = Field(foreign_key="candidate_lists.id", index=True)
    # The template text, as typed: `{first_name|there}` fields, links not yet rewritten.
    message: str
    status: str = Field(default="draft", index=True)
    # When it is to start (UTC); None sends when `send` is run.
    send_at: datetime | None = _when(nullable=True)
    # The time zone `--at` was read in (Area/City), kept to show the time back.
    timezone: str | None = None
    started_at: datetime | None = _when(nullable=True)
    finished_at: datetime | None = _when(nullable=True)
    # The follow-up for recipients who neither replied, clicked nor opted out.
    nudge_after_seconds: int | None = None
    nudge_message: str | None = None
    # Why the blast is paused (e.g. carrier filtering, Twilio error 30007).
    pause_reason: str | None = None
    # The number the texts go out from (E.164); "" when a Messaging Service picks it.
    team_number: str | None = None
    # The progress message in Slack (channel and ts), kept up to date while sending.
    slack_channel: str | None = None
    slack_ts: str | None = None
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)


class BlastRecipient(SQLModel, table=True):
    """One phone number a blast reaches or skips, and how that recipient engaged."""

    __tablename__ = "blast_recipients"
    __table_args__ = (
        sa.UniqueConstraint("blast_id", "phone", name="uq_blast_recipients_phone"),
        sa.Index("ix_blast_recipients_state", "blast_id", "state"),
    )

    id: int | None = Field(default=None, primary_key=True)
    blast_id: int = Field(foreign_key="blasts.id")
    candidate_id: int = Field(foreign_key="candidates.id", index=True)
    # E.164.
    phone: str = Field(sa_column=Column(sa.String(20), nullable=False, index=True))
    state: str = "pending"
    # opted_out, no_opt_in, invalid_phone, empty_field:<name>, duplicate_phone.
    skip_reason: str | None = None
    # The text as sent: fields filled, links rewritten, the opt-out line if first text.
    body: str | None = None
    segments: int | None = None
    # The recipient's time zone (from the area code, the state, or DEFAULT_TIMEZONE).
    timezone: str | None = None
    # Held by quiet hours until then.
    hold_until: datetime | None = _when(nullable=True)
    # The conversation's outbound Message this text is (its status callbacks land there).
    message_id: int | None = Field(default=None, foreign_key="messages.id")
    message_sid: str | None = Field(
        default=None, sa_column=Column(sa.String(64), unique=True, nullable=True)
    )
    # Twilio's latest delivery status (queued, sent, delivered, undelivered, failed).
    delivery_status: str | None = None
    error_code: int | None = None
    sent_at: datetime | None = _when(nullable=True)
    # Engagement: the first time each happened (the push reads these).
    replied_at: datetime | None = _when(nullable=True)
    clicked_at: datetime | None = _when(nullable=True)
    opted_out_at: datetime | None = _when(nullable=True)
    # The nudge: None (not due or not wanted), queued, sent, skipped.
    nudge_state: str | None = None
    nudge_message_id: int | None = Field(default=None, foreign_key="messages.id")
    nudged_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False, default=utcnow)
    updated_at: datetime = _when(nullable=False, default=utcnow, onupdate=utcnow)


class BlastLink(SQLModel, table=True):
    """A tracked link: `PUBLIC_URL/l/<code>` redirects one recipient to `url`."""

    __tablename__ = "blast_links"

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(sa_column=Column(sa.String(32), nullable=False, unique=True))
    recipient_id: int = Field(foreign_key="blast_recipients.id", index=True)
    url: str
    clicks: int = 0
    first_clicked_at: datetime | None = _when(nullable=True)
    created_at: datetime = _when(nullable=False, default=utcnow)


def _table(name: str) -> sa.Table:
    return SQLModel.metadata.tables[name]


# The Core tables, for the bulk paths (recipients are written in batches).
BLASTS = _table("blasts")
BLAST_RECIPIENTS = _table("blast_recipients")
BLAST_LINKS = _table("blast_links")
