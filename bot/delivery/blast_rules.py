"""The blast rules (storage.blasts.BlastRules) as the settings say them."""

from __future__ import annotations

from bot.settings import Settings
from grammar.quiet_hours import parse_quiet_hours
from storage.blasts import BlastRules


def blast_rules(settings: Settings) -> BlastRules:
    """OPT_OUT_LINE, PUBLIC_URL, TRACK_LINKS, DEFAULT_TIMEZONE, QUIET_HOURS,
    PRICE_PER_SEGMENT and TWILIO_SEGMENTS_PER_SECOND, for storage and the scheduler."""
    return BlastRules(
        opt_out_line=settings.OPT_OUT_LINE.strip(),
        public_url=settings.PUBLIC_URL,
        track_links=settings.TRACK_LINKS and bool(settings.PUBLIC_URL),
        default_timezone=settings.DEFAULT_TIMEZONE,
        quiet_hours=parse_quiet_hours(settings.QUIET_HOURS),
        price_per_segment=settings.PRICE_PER_SEGMENT,
        segments_per_second=settings.TWILIO_SEGMENTS_PER_SECOND,
    )
