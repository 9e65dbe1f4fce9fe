"""A blast on its way: starting it, handing due recipients to the outbox, recording
what Twilio said, and the engagement (replies, clicks, opt-outs) the push reads.

Each recipient moves pending -> queued (an outbound Message and a `blast.send` outbox
entry, in one transaction) -> sending (claimed: from here a crash means "look it up at
Twilio before sending again") -> sent (MessageSid recorded) or failed. The outbox's
dispatcher does the sending (bot/delivery/blast_sends.py); this module is its SQL.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from grammar.quiet_hours import QuietHours
from grammar.template import parse_template
from storage import outbox
from storage.blast_models import BLAST_LINKS, BLAST_RECIPIENTS, BLASTS
from storage.blasts.blasts import get_blast
from storage.blasts.plan import BlastRules, plan_recipients
from storage.conversations import _insert_ignore, sms_pace
from storage.models import Candidate, Conversation, Message, utcnow

__all__ = [
    "BLAST_SEND",
    "BLAST_SLACK",
    "Due",
    "start_blast",
    "queue_due",
]

# The outbox kinds: a blast text (Twilio), and the blast's message in Slack.
BLAST_SEND = "blast.send"
BLAST_SLACK = "blast.slack"
# Carrier filtering: this many 30007s among a blast's first 100 statuses pause it.
FILTERED = 30007
FILTERED_LIMIT = 5
FILTERED_SAMPLE = 100
FINAL_STATUSES = ("delivered", "undelivered", "failed", "read")
_STATUS_RANK = {
    "accepted": 0,
    "scheduled": 0,
    "queued": 1,
    "sending": 2,
    "sent": 3,
    "delivered": 4,
    "undelivered": 4,
    "failed": 4,
    "read": 5,
}
_messages = Message.__table__  # type: ignore[attr-defined]
_conversations = Conversation.__table__  # type: ignore[attr-defined]
_candidates = Candidate.__table__  # type: ignore[attr-defined]
R = BLAST_RECIPIENTS


def blast_lane(recipient_id: int) -> str:
    """Each recipient's text is its own lane: one slow number holds up nobody."""
    return f"blast:{recipient_id}"


def slack_lane(blast_id: int) -> str:
    return f"blast-slack:{blast_id}"


def enqueue_slack(
    *, session: Session, blast_id: int, channel: str, notice: str | None = None
) -> None:
    """Queue an update of the blast's Slack message (or a `notice` posted in the channel)."""
    outbox.enqueue(
        session=session,
        kind=BLAST_SLACK,
        lane=slack_lane(blast_id),
        pace_key=f"slack:{channel}",
        payload={"blast_id": blast_id, "notice": notice},
    )


def start_blast(
    *,
    session: Session,
    blast_id: int,
    rules: BlastRules,
    now: datetime,
    team_number: str,
    channel: str | None,
) -> int:
    """Evaluate the list, store every recipient, and mark the blast sending.

    Returns how many recipients are eligible. Claims the blast by a conditional update
    (scheduled -> sending), so a start that runs twice stores recipients once; 0 and no
    change when another process got there first.
    """
    claimed = session.connection().execute(
        BLASTS.update()
        .where(BLASTS.c.id == blast_id, BLASTS.c.status == "scheduled")
        .values(
            status="sending",
            started_at=now,
            team_number=team_number,
            slack_channel=channel,
            updated_at=now,
        )
    )
    if claimed.rowcount != 1:
        return 0
    blast = get_blast(session=session, blast_id=blast_id)
    plan = plan_recipients(
        session=session,
        list_name=blast.list_name,
        template=parse_template(blast.message),
        rules=rules,
        now=now,
    )
    connection = session.connection()
    batch: list[dict[str, Any]] = []
    link_batch: list[tuple[str, list[tuple[str, str]]]] = []

    def flush() -> None:
        if not batch:
            return
        ids = connection.execute(R.insert().returning(R.c.id, R.c.phone), batch).all()
        by_phone = {phone: rid for rid, phone in ids}
        links = [
            {"code": code, "recipient_id": by_phone[phone], "url": url, "clicks": 0,
             "created_at": now}
            for phone, pairs in link_batch
            for code, url in pairs
        ]  # fmt: skip
        if links:
            connection.execute(BLAST_LINKS.insert(), links)
        batch.clear()
        link_batch.clear()

    for planned in plan.recipients:
        batch.append(
            {
                "blast_id": blast_id,
                "candidate_id": planned.candidate_id,
                "phone": planned.phone,
                "state": "skipped" if planned.skip_reason else "pending",
                "skip_reason": planned.skip_reason,
                "body": planned.body,
                "segments": planned.segments or None,
                "timezone": planned.timezone,
                "created_at": now,
                "updated_at": now,
            }
        )
        if planned.links:
            link_batch.append((planned.phone, planned.links))
        if len(batch) >= 1000:
            flush()
    flush()
    if channel:
        enqueue_slack(session=session, blast_id=blast_id, channel=channel)
    return len(plan.eligible)


def due_blasts(*, session: Session, now: datetime) -> list[int]:
    """Scheduled blasts whose time has come."""
    rows = session.connection().execute(
        sa.select(BLASTS.c.id).where(BLASTS.c.status == "scheduled", BLASTS.c.send_at <= now)
    )
    return [row.id for row in rows]


def sending_blasts(*, session: Session) -> list[int]:
    """Blasts that are sending (their recipients are fed to the outbox)."""
    rows = session.connection().execute(
        sa.select(BLASTS.c.id).where(BLASTS.c.status == "sending").order_by(BLASTS.c.id)
    )
    return [row.id for row in rows]


@dataclass(frozen=True)
class Due:
    """What one feeding round did for a blast."""

    queued: int
    held: int
    finished: bool


def _conversation_ids(
    session: Session, candidate_ids: list[int], team_number: str, channel: str, now: datetime
) -> dict[int, int]:
    connection = session.connection()
    query = sa.select(_conversations.c.candidate_id, _conversations.c.id).where(
        _conversations.c.candidate_id.in_(candidate_ids),
        _conversations.c.team_number == team_number,
    )
    found: dict[int, int] = dict(connection.execute(query).all())
    missing = [c for c in candidate_ids if c not in found]
    if missing:
        connection.execute(
            _insert_ignore(session, _conversations, ["candidate_id", "team_number"]),
            [
                {"candidate_id": c, "team_number": team_number, "slack_channel": channel,
                 "status": "open", "created_at": now}
                for c in missing
            ],
        )  # fmt: skip
        found = dict(connection.execute(query).all())
    return found


def queue_due(
    *,
    session: Session,
    blast_id: int,
    now: datetime,
    quiet: QuietHours,
    window: int,
    channel: str,
) -> Due:
    """Hand the blast's due recipients to the outbox, keeping at most `window` queued.

    A recipient inside their quiet hours is held (hold_until = when they end) instead.
    A blast with nothing left pending, queued or sending is marked done.
    """
    blast = get_blast(session=session, blast_id=blast_id)
    if blast.status != "sending":
        return Due(0, 0, False)
    connection = session.connection()
    in_flight = connection.execute(
        sa.select(sa.func.count()).where(
            R.c.blast_id == blast_id, R.c.state.in_(("queued", "sending"))
        )
    ).scalar_one()
    room = max(0, window - int(in_flight))
    queued = held = 0
    if room:
        rows = connection.execute(
            sa.select(R.c.id, R.c.candidate_id, R.c.body, R.c.timezone, R.c.message_id)
            .where(
                R.c.blast_id == blast_id,
                R.c.state == "pending",
                sa.or_(R.c.hold_until.is_(None), R.c.hold_until <= now),
            )
            .order_by(R.c.id)
            .limit(room)
        ).all()
        go: list[Any] = []
        for row in rows:
            opens = quiet.opens_at(now, row.timezone or "UTC")
            if opens is None:
                go.append(row)
                continue
            held += 1
            connection.execute(
                R.update().where(R.c.id == row.id).values(hold_until=opens, updated_at=now)
            )
        team = blast.team_number or ""
        if go:
            conversation_of = _conversation_ids(
                session, sorted({row.candidate_id for row in go}), team, channel, now
            )
            new_messages = [row for row in go if row.message_id is None]
            message_ids: dict[int, int] = {row.id: row.message_id for row in go if row.message_id}
            if new_messages:
                inserted = connection.execute(
                    _messages.insert().returning(
                        _messages.c.id, sa.literal_column("0"), sort_by_parameter_order=True
                    ),
                    [
                        {"conversation_id": conversation_of[row.candidate_id],
                         "direction": "outbound", "body": row.body, "media": [],
                         "status": "pending", "created_at": now}
                        for row in new_messages
                    ],
                ).all()  # fmt: skip
                for row, (message_id, _) in zip(new_messages, inserted, strict=True):
                    message_ids[row.id] = message_id
            connection.execute(
                R.update()
                .where(R.c.id == sa.bindparam("recipient_id"))
                .values(state="queued", message_id=sa.bindparam("new_message_id"), updated_at=now),
                [{"recipient_id": row.id, "new_message_id": message_ids[row.id]} for row in go],
            )
            outbox.enqueue_many(
                session=session,
                rows=[
                    outbox.row(
                        kind=BLAST_SEND,
                        lane=blast_lane(row.id),
                        pace_key=sms_pace(team),
                        payload={"recipient_id": row.id, "message_id": message_ids[row.id]},
                        now=now,
                    )
                    for row in go
                ],
            )
            queued = len(go)
    left = connection.execute(
        sa.select(sa.func.count()).where(
            R.c.blast_id == blast_id, R.c.state.in_(("pending", "queued", "sending"))
        )
    ).scalar_one()
    finished = int(left) == 0
    if finished:
        connection.execute(
            BLASTS.update()
            .where(BLASTS.c.id == blast_id, BLASTS.c.status == "sending")
            .values(status="done", finished_at=now, updated_at=now)
        )
        if blast.slack_channel:
            enqueue_slack(session=session, blast_id=blast_id, channel=blast.slack_channel)
    return Due(queued, held, finished)


@dataclass(frozen=True)
class SendView:
    """What the sender needs about one queued recipient."""

    recipient_id: int
    blast_id: int
    blast_status: str
    state: str
    phone: str
    body: str
    segments: int
    timezone: str | None
    team_number: str
    message_id: int
    message_status: str
    message_created_at: datetime
    candidate_id: int
    opted_out: bool


def send_view(*, session: Session, recipient_id: int) -> SendView | None:
    """The recipient, its blast and its Message, or None if gone."""
    row = (
        session.connection()
        .execute(
            sa.select(
                R.c.id,
                R.c.blast_id,
                R.c.state,
                R.c.phone,
                R.c.body,
                R.c.segments,
                R.c.timezone,
                R.c.message_id,
                R.c.candidate_id,
                BLASTS.c.status.label("blast_status"),
                BLASTS.c.team_number,
                _messages.c.status.label("message_status"),
                _messages.c.created_at.label("message_created_at"),
                _candidates.c.opted_out,
            )  # fmt: skip
            .join(BLASTS, BLASTS.c.id == R.c.blast_id)
            .join(_messages, _messages.c.id == R.c.message_id)
            .join(_candidates, _candidates.c.id == R.c.candidate_id)
            .where(R.c.id == recipient_id)
        )
        .first()
    )
    if row is None:
        return None
    return SendView(
        recipient_id=row.id,
        blast_id=row.blast_id,
        blast_status=row.blast_status,
        state=row.state,
        phone=row.phone,
        body=row.body or "",
        segments=row.segments or 1,
        timezone=row.timezone,
        team_number=row.team_number or "",
        message_id=row.message_id,
        message_status=row.message_status,
        message_created_at=row.message_created_at,
        candidate_id=row.candidate_id,
        opted_out=bool(row.opted_out),
    )


def _set(session: Session, recipient_id: int, **values: Any) -> None:
    values["updated_at"] = utcnow()
    session.connection().execute(R.update().where(R.c.id == recipient_id).values(values))


def set_aside(
    *, session: Session, view: SendView, state: str, hold_until: datetime | None = None,
    skip_reason: str | None = None,
) -> None:  # fmt: skip
    """The sender will not text this recipient now: back to pending (paused blast,
    quiet hours: `hold_until`), canceled, or skipped (opted out since the start)."""
    _set(session, view.recipient_id, state=state, hold_until=hold_until, skip_reason=skip_reason)
    if state in ("canceled", "skipped"):
        session.connection().execute(
            _messages.update().where(_messages.c.id == view.message_id).values(status="blocked")
        )


def mark_sending(*, session: Session, view: SendView) -> None:
    """Claim: the text is about to go to Twilio."""
    _set(session, view.recipient_id, state="sending")
    session.connection().execute(
        _messages.update().where(_messages.c.id == view.message_id).values(status="sending")
    )


def record_sent(
    *, session: Session, view: SendView, sid: str, status: str, segments: int | None,
    now: datetime,
) -> None:  # fmt: skip
    """Twilio took the text: its MessageSid, on the recipient and on the Message."""
    _set(
        session, view.recipient_id, state="sent", message_sid=sid, sent_at=now,
        delivery_status=status,
    )  # fmt: skip
    session.connection().execute(
        _messages.update()
        .where(_messages.c.id == view.message_id)
        .values(twilio_sid=sid, status=status, segments=segments)
    )


def record_failed(*, session: Session, view: SendView, error_code: int | None) -> None:
    """Twilio refused the text for good (21211, 21614, 21610 ...)."""
    _set(session, view.recipient_id, state="failed", error_code=error_code)
    session.connection().execute(
        _messages.update()
        .where(_messages.c.id == view.message_id)
        .values(status="failed", error_code=error_code)
    )


def record_delivery(
    *, session: Session, sid: str, status: str, error_code: int | None
) -> tuple[int, str] | None:
    """A status callback for a blast text: (blast id, pause reason or "") or None.

    The status only moves forward. Carrier filtering (Twilio 30007) on FILTERED_LIMIT
    or more of a blast's first FILTERED_SAMPLE final statuses pauses the blast; the
    reason is returned so the caller can say it in Slack.
    """
    connection = session.connection()
    row = connection.execute(
        sa.select(R.c.id, R.c.blast_id, R.c.delivery_status).where(R.c.message_sid == sid)
    ).first()
    if row is None:
        return None
    if _STATUS_RANK.get(status, -1) <= _STATUS_RANK.get(row.delivery_status or "", -1):
        return None
    values: dict[str, Any] = {"delivery_status": status, "updated_at": utcnow()}
    if error_code is not None:
        values["error_code"] = error_code
    connection.execute(R.update().where(R.c.id == row.id).values(values))
    if error_code != FILTERED:
        return row.blast_id, ""
    finals = connection.execute(
        sa.select(sa.func.count()).where(
            R.c.blast_id == row.blast_id, R.c.delivery_status.in_(FINAL_STATUSES)
        )
    ).scalar_one()
    filtered = connection.execute(
        sa.select(sa.func.count()).where(R.c.blast_id == row.blast_id, R.c.error_code == FILTERED)
    ).scalar_one()
    if finals > FILTERED_SAMPLE or filtered < FILTERED_LIMIT:
        return row.blast_id, ""
    reason = (
        f"carriers filtered {filtered} of the first {finals} texts (Twilio error 30007): "
        "check the message for spam-like wording or links, then `caretbot blasts resume`"
    )
    paused = connection.execute(
        BLASTS.update()
        .where(BLASTS.c.id == row.blast_id, BLASTS.c.status == "sending")
        .values(status="paused", pause_reason=reason, updated_at=utcnow())
    ).rowcount
    if not paused:
        return row.blast_id, ""
    blast = get_blast(session=session, blast_id=row.blast_id)
    if blast.slack_channel:
        notice = f'Blast "{blast.name}" is paused: {reason}.'
        enqueue_slack(
            session=session, blast_id=blast.id, channel=blast.slack_channel, notice=notice
        )
        enqueue_slack(session=session, blast_id=blast.id, channel=blast.slack_channel)
    return row.blast_id, reason


def record_replies(
    *, session: Session, phones: Iterable[str], now: datetime, window_days: int
) -> int:
    """Inbound texts from these numbers: the first reply within the window after a blast
    text counts as `replied` for that blast. Returns how many recipients it marked."""
    phones = sorted(set(phones))
    if not phones:
        return 0
    result = session.connection().execute(
        R.update()
        .where(
            R.c.phone.in_(phones),
            R.c.sent_at.is_not(None),
            R.c.sent_at <= now,
            R.c.sent_at >= now - timedelta(days=window_days),
            R.c.replied_at.is_(None),
        )
        .values(replied_at=now, updated_at=now)
    )
    return int(result.rowcount or 0)


def record_opt_outs(*, session: Session, phones: Iterable[str], now: datetime) -> int:
    """Opt-out words from these numbers: each one's latest blast text counts the opt-out."""
    phones = sorted(set(phones))
    if not phones:
        return 0
    latest = (
        sa.select(R.c.phone, sa.func.max(R.c.sent_at).label("sent_at"))
        .where(R.c.phone.in_(phones), R.c.sent_at.is_not(None), R.c.sent_at <= now)
        .group_by(R.c.phone)
        .subquery()
    )
    ids = [
        row.id
        for row in session.connection().execute(
            sa.select(R.c.id)
            .join(latest, sa.and_(latest.c.phone == R.c.phone, latest.c.sent_at == R.c.sent_at))
            .where(R.c.opted_out_at.is_(None))
        )
    ]
    if ids:
        session.connection().execute(
            R.update().where(R.c.id.in_(ids)).values(opted_out_at=now, updated_at=now)
        )
    return len(ids)


def record_click(*, session: Session, code: str, now: datetime) -> str | None:
    """A tracked link was opened: the original URL, or None for an unknown code."""
    connection = session.connection()
    link = connection.execute(
        sa.select(BLAST_LINKS.c.id, BLAST_LINKS.c.url, BLAST_LINKS.c.recipient_id).where(
            BLAST_LINKS.c.code == code
        )
    ).first()
    if link is None:
        return None
    connection.execute(
        BLAST_LINKS.update()
        .where(BLAST_LINKS.c.id == link.id)
        .values(
            clicks=BLAST_LINKS.c.clicks + 1,
            first_clicked_at=sa.func.coalesce(BLAST_LINKS.c.first_clicked_at, now),
        )
    )
    connection.execute(
        R.update()
        .where(R.c.id == link.recipient_id, R.c.clicked_at.is_(None))
        .values(clicked_at=now, updated_at=now)
    )
    return str(link.url)


def blast_name_for(*, session: Session, candidate_id: int) -> str | None:
    """The blast most recently texted to this candidate, for their conversation card."""
    row = (
        session.connection()
        .execute(
            sa.select(BLASTS.c.name)
            .join(R, R.c.blast_id == BLASTS.c.id)
            .where(R.c.candidate_id == candidate_id, R.c.sent_at.is_not(None))
            .order_by(R.c.sent_at.desc())
            .limit(1)
        )
        .first()
    )
    return None if row is None else str(row.name)


def set_slack_ts(*, session: Session, blast_id: int, channel: str, ts: str) -> None:
    """Remember the blast's progress message in Slack."""
    session.connection().execute(
        BLASTS.update()
        .where(BLASTS.c.id == blast_id)
        .values(slack_channel=channel, slack_ts=ts, updated_at=utcnow())
    )
