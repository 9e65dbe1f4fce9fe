"""What a blast will do (the preview) and what it did (the report), as one shape."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from grammar.segments import GSM7, UCS2, measure
from grammar.template import parse_template
from storage.blast_models import BLAST_RECIPIENTS as R
from storage.blasts.blasts import BlastRow
from storage.blasts.plan import CODE_LENGTH, BlastRules, plan_recipients

__all__ = ["BlastFigures", "TWILIO_QUEUE_SECONDS", "preview", "report"]

# Twilio holds a message in its queue for at most 10 hours (then 30001/21611).
TWILIO_QUEUE_SECONDS = 10 * 3600
REPORT_KEYS = (
    "name", "status", "recipients", "skipped", "held", "pending", "sent", "delivered",
    "failed", "replied", "opted_out", "clicked", "segments", "encoding", "cost",
)  # fmt: skip


@dataclass
class BlastFigures:
    """The counts of `--json` (REPORT_KEYS), and for people: a sample text, the
    characters that force UCS-2 (with their 1-based position in the sample), how long
    sending takes at the sender's pace (seconds), and warnings."""

    name: str
    status: str
    recipients: int = 0
    skipped: dict[str, int] = field(default_factory=dict)
    held: int = 0
    pending: int = 0
    sent: int = 0
    delivered: int = 0
    failed: dict[str, int] = field(default_factory=dict)
    replied: int = 0
    opted_out: int = 0
    clicked: int = 0
    segments: int = 0
    encoding: str = GSM7
    cost: float = 0.0
    sample: str | None = None
    ucs2_chars: tuple[tuple[str, int], ...] = ()
    max_segments: int = 0
    duration_seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Exactly the keys `caretbot blasts report --json` prints."""
        return {key: getattr(self, key) for key in REPORT_KEYS}


def _pace(figures: BlastFigures, rules: BlastRules, outstanding_segments: int) -> None:
    figures.cost = round(figures.segments * rules.price_per_segment, 4)
    figures.duration_seconds = outstanding_segments / rules.segments_per_second
    if figures.duration_seconds > TWILIO_QUEUE_SECONDS:
        hours = figures.duration_seconds / 3600
        figures.warnings.append(
            f"at {rules.segments_per_second:g} segments a second this blast takes "
            f"{hours:.1f} hours, past the 10 hours Twilio keeps a message queued: caretbot "
            "paces it itself, but consider a faster sender (toll-free, short code)"
        )


def preview(*, session: Session, blast: BlastRow, rules: BlastRules, now: datetime) -> BlastFigures:
    """What the blast would do if it started at its send_at (or now): nothing stored."""
    at = blast.send_at if blast.send_at and blast.send_at > now else now
    plan = plan_recipients(
        session=session,
        list_name=blast.list_name,
        template=parse_template(blast.message),
        rules=rules,
        now=at,
        make_code=lambda: "x" * CODE_LENGTH,
    )
    figures = BlastFigures(name=blast.name, status=blast.status)
    figures.recipients = len(plan.recipients)
    figures.skipped = dict(
        Counter(r.skip_reason for r in plan.recipients if r.skip_reason is not None)
    )
    eligible = plan.eligible
    zones = Counter(r.timezone for r in eligible)
    quiet_zones = {z for z in zones if z and rules.quiet_hours.opens_at(at, z) is not None}
    figures.held = sum(count for zone, count in zones.items() if zone in quiet_zones)
    figures.pending = len(eligible) - figures.held
    figures.segments = sum(r.segments for r in eligible)
    figures.max_segments = max((r.segments for r in eligible), default=0)
    figures.encoding = UCS2 if any(r.encoding == UCS2 for r in eligible) else GSM7
    if eligible:
        sample = next((r for r in eligible if r.ucs2_chars), eligible[0])
        figures.sample = sample.body
        figures.ucs2_chars = tuple((char, index + 1) for char, index in sample.ucs2_chars)
    _pace(figures, rules, figures.segments)
    return figures


def report(*, session: Session, blast: BlastRow, rules: BlastRules, now: datetime) -> BlastFigures:
    """What a started blast did, from its stored recipients (stable once evaluated)."""
    if blast.started_at is None:
        return preview(session=session, blast=blast, rules=rules, now=now)
    connection = session.connection()
    figures = BlastFigures(name=blast.name, status=blast.status)
    rows = connection.execute(
        sa.select(
            R.c.state, R.c.skip_reason, R.c.hold_until, R.c.delivery_status, R.c.error_code,
            R.c.segments, R.c.replied_at, R.c.clicked_at, R.c.opted_out_at, R.c.body,
        ).where(R.c.blast_id == blast.id)
    )  # fmt: skip
    skipped: Counter[str] = Counter()
    failed: Counter[str] = Counter()
    outstanding = 0
    ucs2 = False
    for row in rows:
        figures.recipients += 1
        if row.state == "skipped":
            skipped[row.skip_reason or "unknown"] += 1
            continue
        if row.state != "canceled":
            figures.segments += row.segments or 0
            if not ucs2 and row.body and measure(row.body).encoding == UCS2:
                ucs2 = True
        if row.state == "pending" and row.hold_until is not None and row.hold_until > now:
            figures.held += 1
            outstanding += row.segments or 0
        elif row.state in ("pending", "queued", "sending"):
            figures.pending += 1
            outstanding += row.segments or 0
        elif row.state == "sent":
            figures.sent += 1
            if row.delivery_status in ("delivered", "read"):
                figures.delivered += 1
            elif row.delivery_status in ("failed", "undelivered"):
                failed[str(row.error_code or "unknown")] += 1
        elif row.state == "failed":
            failed[str(row.error_code or "unknown")] += 1
        figures.replied += row.replied_at is not None
        figures.clicked += row.clicked_at is not None
        figures.opted_out += row.opted_out_at is not None
    figures.skipped = dict(skipped)
    figures.failed = dict(failed)
    figures.encoding = UCS2 if ucs2 else GSM7
    _pace(figures, rules, outstanding)
    return figures
