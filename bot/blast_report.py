"""A blast's preview or report as a person reads it: the command line and Slack."""

from __future__ import annotations

from datetime import datetime, timedelta

from bot.sms import twilio_errors
from grammar.when import describe_local
from storage.blasts import BlastFigures, BlastRow


def local_time(moment: datetime | None, zone: str) -> str:
    """`Fri 04 Dec 2026 09:00 EST`, or "" for no time."""
    return describe_local(moment, zone) if moment else ""


def describe(blast: BlastRow, figures: BlastFigures, zone: str) -> list[str]:
    """The report (or preview) for a person, line by line (also used in Slack)."""
    lines = [f'Blast "{figures.name}" to list "{blast.list_name}": {figures.status}']
    if blast.pause_reason and figures.status == "paused":
        lines.append(f"Paused: {blast.pause_reason}")
    when = blast.started_at or blast.send_at
    if when:
        lines.append(f"{'Started' if blast.started_at else 'Sends'} {local_time(when, zone)}")
    skipped = ", ".join(
        f"{count} {why.replace('_', ' ')}" for why, count in figures.skipped.items()
    )
    lines.append(
        f"{figures.recipients} recipients; skipped {sum(figures.skipped.values())}"
        + (f" ({skipped})" if skipped else "")
    )
    lines.append(
        f"held for quiet hours {figures.held}, pending {figures.pending}, sent {figures.sent}, "
        f"delivered {figures.delivered}"
    )
    if figures.failed:
        lines.append(
            "failed: "
            + ", ".join(
                f"{n} (Twilio {code}: {twilio_errors.explain(int(code))})"
                if code.isdigit()
                else f"{n} ({code})"
                for code, n in figures.failed.items()
            )
        )
    lines.append(
        f"replied {figures.replied}, clicked {figures.clicked}, opted out {figures.opted_out}"
    )
    lines.append(
        f"{figures.segments} segments, {figures.encoding}, estimated cost {figures.cost:.2f}"
    )
    if figures.ucs2_chars:
        chars = ", ".join(f"{char!r} at {pos}" for char, pos in figures.ucs2_chars)
        lines.append(f"UCS-2 (70 characters a segment, not 160) because of: {chars}")
    if figures.duration_seconds:
        lines.append(f"about {timedelta(seconds=round(figures.duration_seconds))} to send")
    lines.extend(f"warning: {warning}" for warning in figures.warnings)
    if figures.sample:
        lines.append("sample:")
        lines.extend(f"  {line}" for line in figures.sample.splitlines())
    return lines
