"""<when> on its own: a fixed now, several time zones, and across DST changes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from grammar import At, CommandError, parse_command, parse_when
from grammar.errors import Refusal
from grammar.when import Clock, Moment, Offset, Tomorrow, Weekday, read_when

# Monday 23 November 2026, 13:00 UTC: 08:00 in New York, 13:00 in London, 18:30 in Kolkata.
NOW = datetime(2026, 11, 23, 13, 0, tzinfo=UTC)
NY, LONDON, KOLKATA = "America/New_York", "Europe/London", "Asia/Kolkata"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


READS: list[tuple[str, str, str]] = [
    # (when, zone, the UTC moment)
    ("3pm", NY, "2026-11-23 20:00"),
    ("3pm", LONDON, "2026-11-23 15:00"),
    ("3 PM", NY, "2026-11-23 20:00"),
    ("3 p.m.", NY, "2026-11-23 20:00"),
    ("3:30pm tomorrow", NY, "2026-11-24 20:30"),
    ("3:30pm tomorrow", KOLKATA, "2026-11-24 10:00"),
    ("tomorrow 9am", NY, "2026-11-24 14:00"),
    ("tomorrow 9am", LONDON, "2026-11-24 09:00"),
    ("tomorrow 9am", KOLKATA, "2026-11-24 03:30"),
    ("tomorrow at 9am", NY, "2026-11-24 14:00"),
    ("tmrw 9am", NY, "2026-11-24 14:00"),
    ("9am on tuesday", NY, "2026-11-24 14:00"),
    ("today 5pm", NY, "2026-11-23 22:00"),
    ("5pm today", LONDON, "2026-11-23 17:00"),
    ("monday 10:00", NY, "2026-11-23 15:00"),  # today is Monday and 10:00 is ahead
    ("next monday 10:00", NY, "2026-11-30 15:00"),
    ("next tuesday 10:00", NY, "2026-11-24 15:00"),
    ("fri 17:30", NY, "2026-11-27 22:30"),
    ("Sunday noon", KOLKATA, "2026-11-29 06:30"),
    ("dec 1 9am", NY, "2026-12-01 14:00"),
    ("Dec. 1st 9am", NY, "2026-12-01 14:00"),
    ("december 1 at 9:00", LONDON, "2026-12-01 09:00"),
    ("1 dec 9am", KOLKATA, "2026-12-01 03:30"),
    ("1st of december 9am", NY, "2026-12-01 14:00"),
    ("jan 5 9am", NY, "2027-01-05 14:00"),  # a date without a year: the nearest from today on
    ("nov 23 5pm", NY, "2026-11-23 22:00"),  # today counts
    ("nov 22 5pm", NY, "2027-11-22 22:00"),
    ("2026-12-01 09:00", NY, "2026-12-01 14:00"),
    ("2026-12-01T09:00", LONDON, "2026-12-01 09:00"),
    ("9am 2026-12-01", KOLKATA, "2026-12-01 03:30"),
    ("noon", NY, "2026-11-23 17:00"),
    ("midday", NY, "2026-11-23 17:00"),
    ("midnight", NY, "2026-11-24 05:00"),  # the end of today
    ("midnight", KOLKATA, "2026-11-23 18:30"),
    ("tomorrow midnight", NY, "2026-11-25 05:00"),
    ("12pm", NY, "2026-11-23 17:00"),
    ("tomorrow 12am", NY, "2026-11-24 05:00"),
    ("15:00", NY, "2026-11-23 20:00"),
    ("9:05", NY, "2026-11-23 14:05"),
    ("23:59", KOLKATA, "2026-11-23 18:29"),
    ("in 20 min", KOLKATA, "2026-11-23 13:20"),
    ("in 20min", NY, "2026-11-23 13:20"),
    ("in 2 hours", NY, "2026-11-23 15:00"),
    ("in 1 hour", NY, "2026-11-23 14:00"),
    ("in an hour", NY, "2026-11-23 14:00"),
    ("in a day", NY, "2026-11-24 13:00"),
    ("in 90 m", NY, "2026-11-23 14:30"),
    ("in 1 hr 30 mins", NY, "2026-11-23 14:30"),
    ("in 1h30m", NY, "2026-11-23 14:30"),
    ("in 2 days", NY, "2026-11-25 13:00"),
    ("in 2 wks", NY, "2026-12-07 13:00"),
    ("in 1 week", NY, "2026-11-30 13:00"),
    ("+3d", NY, "2026-11-26 13:00"),
    ("+2h", NY, "2026-11-23 15:00"),
    ("+1w", LONDON, "2026-11-30 13:00"),
    ("+1d2h", NY, "2026-11-24 15:00"),
]


@pytest.mark.parametrize(("text", "zone", "expected"), READS, ids=[f"{r[0]} {r[1]}" for r in READS])
def test_a_when_expression_is_a_utc_moment(text: str, zone: str, expected: str) -> None:
    moment = parse_when(text, now=NOW, tz=zone)
    assert moment == utc(expected)
    assert moment.tzinfo is UTC


# Across DST changes. US 2026: clocks go forward Sun 8 March 02:00, back Sun 1 November
# 02:00. UK 2026: forward Sun 29 March 01:00, back Sun 25 October 02:00.
DST: list[tuple[str, str, str, str]] = [
    # (now UTC, when, zone, the UTC moment)
    ("2026-03-07 17:00", "tomorrow 9am", NY, "2026-03-08 13:00"),  # EDT from Sunday
    ("2026-03-07 17:00", "+1d", NY, "2026-03-08 16:00"),  # same wall clock: 23 hours
    ("2026-03-07 17:00", "in 24 hours", NY, "2026-03-08 17:00"),  # elapsed time
    ("2026-03-07 17:00", "tomorrow 2:30am", NY, "2026-03-08 07:30"),  # gap: 03:30 EDT
    ("2026-03-07 17:00", "tomorrow 3:30am", NY, "2026-03-08 07:30"),
    ("2026-10-31 16:00", "tomorrow 1:30am", NY, "2026-11-01 05:30"),  # fold: the first
    ("2026-10-31 16:00", "+1d", NY, "2026-11-01 17:00"),  # 25 hours
    ("2026-03-28 12:00", "tomorrow 1:30am", LONDON, "2026-03-29 01:30"),  # gap: 02:30 BST
    ("2026-03-28 12:00", "tomorrow 9am", LONDON, "2026-03-29 08:00"),
    ("2026-03-28 12:00", "+1d", LONDON, "2026-03-29 11:00"),
    ("2026-10-24 12:00", "tomorrow 1:30am", LONDON, "2026-10-25 00:30"),  # fold: BST
    ("2026-03-07 17:00", "tomorrow 9am", KOLKATA, "2026-03-08 03:30"),  # no DST in India
    # a fold at now: 01:30 EDT the first time; elapsed time is measured from now itself
    ("2026-11-01 05:30", "in 30 min", NY, "2026-11-01 06:00"),
    ("2026-11-01 06:30", "in 30 min", NY, "2026-11-01 07:00"),
]


@pytest.mark.parametrize(
    ("now", "text", "zone", "expected"), DST, ids=[" ".join(r[:3]) for r in DST]
)
def test_dst_gaps_move_forward_and_folds_take_the_first(
    now: str, text: str, zone: str, expected: str
) -> None:
    assert parse_when(text, now=utc(now), tz=zone) == utc(expected)


REFUSED: list[tuple[str, str, int, str]] = [
    # (when, zone, column, a phrase of the expectation)
    ("3pm", KOLKATA, 1, "a time after now"),  # 18:30 there: passed today, not tomorrow
    ("7am", NY, 1, "a time after now"),
    ("noon", KOLKATA, 1, "a time after now"),
    ("monday 10:00", LONDON, 1, "a time after now"),  # today, and 10:00 has passed
    ("nov 23 9am", KOLKATA, 1, "a time after now"),
    ("2026-11-01 09:00", NY, 1, "a time after now"),
    ("in 0 min", NY, 1, "a time after now"),
    ("in 53 weeks", NY, 1, "a time within a year"),
    ("2027-12-01 09:00", NY, 1, "a time within a year"),
    ("tomorrow", NY, 9, "a time of day"),
    ("tomorrow 9am hi", NY, 14, "the end"),
    ("dec 1", NY, 6, "a time of day"),
    ("9", NY, 2, "am or pm"),
    ("in 20", NY, 6, "a unit"),
    ("in", NY, 3, "a time"),
    ("+", NY, 2, "a time"),
    ("", NY, 1, "a time: 3pm"),
    ("soon", NY, 1, "a time: 3pm"),
    ("13pm", NY, 1, "an hour 1-12"),
    ("0am", NY, 1, "an hour 1-12"),
    ("123:00", NY, 1, "a time"),
    ("feb 29 9am", NY, 1, "a day of that month"),  # 2027 is no leap year
    ("apr 31 9am", NY, 1, "a day of that month"),
    ("dec 0 9am", NY, 5, "a day 1-31"),
    ("2026-02-30 09:00", NY, 1, "YYYY-MM-DD"),
]


@pytest.mark.parametrize(
    ("text", "zone", "column", "expected"), REFUSED, ids=[f"{r[0]!r} {r[1]}" for r in REFUSED]
)
def test_an_impossible_or_past_time_is_refused_where_it_goes_wrong(
    text: str, zone: str, column: int, expected: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_when(text, now=NOW, tz=zone)
    assert caught.value.column == column, caught.value.explain()
    assert expected in caught.value.expected, caught.value.explain()


def test_a_past_time_says_what_it_was_understood_as_in_local_time() -> None:
    with pytest.raises(CommandError) as caught:
        parse_when("3pm", now=NOW, tz=KOLKATA)
    assert caught.value.understood == "Mon 23 Nov 2026 15:00 IST"
    assert "(it is Mon 23 Nov 2026 18:30 IST)" in caught.value.problem


def test_a_past_time_in_a_dst_gap_says_it_was_moved() -> None:
    with pytest.raises(CommandError) as caught:
        parse_when("2:30am", now=utc("2026-03-08 12:00"), tz=NY)
    assert caught.value.understood == (
        "Sun 08 Mar 2026 03:30 EDT (02:30 does not exist that day in America/New_York: "
        "clocks go forward)"
    )


def test_a_misspelt_word_gets_a_suggestion() -> None:
    with pytest.raises(CommandError) as caught:
        parse_when("tomorow 9am", now=NOW, tz=NY)
    assert caught.value.suggestion == "tomorrow"


@pytest.mark.parametrize(
    ("text", "end", "when"),
    [
        ("tomorrow 9am Are you free?", 12, Moment(Clock(9, 0), Tomorrow())),
        ("9am may I call?", 3, Moment(Clock(9, 0))),
        ("9am Monique", 3, Moment(Clock(9, 0))),
        ("3pm monday's call", 10, Moment(Clock(15, 0), Weekday(0))),
        ("noon today is fine", 10, None),
        ("in 20 min or so", 9, Offset(elapsed=timedelta(minutes=20))),
        ("3pm,hi", 3, Moment(Clock(15, 0))),
    ],
)
def test_the_when_is_the_longest_prefix_that_is_a_whole_expression(
    text: str, end: int, when: object
) -> None:
    found = read_when(text)
    assert found.end == end
    if when is not None:
        assert found.when == when


def test_reading_needs_no_clock_and_refuses_with_offsets_into_the_text() -> None:
    with pytest.raises(Refusal) as caught:
        read_when("tomorrow hi")
    assert caught.value.pos == 9


# An ISO 8601 time with Z or an offset is that instant, whatever the issuer's zone; the
# rest of the line is the text, the zone never part of it.
INSTANTS: list[tuple[str, str, str, str]] = [
    # (^at line, issuer's zone, the UTC moment, the text)
    ("^at 2026-12-01T09:00Z Hello", NY, "2026-12-01 09:00", "Hello"),
    ("^at 2026-12-01T09:00Z Hello", KOLKATA, "2026-12-01 09:00", "Hello"),
    ("^at 2026-12-01t09:00z Hello", NY, "2026-12-01 09:00", "Hello"),
    ("^at 2026-12-01T09:00+02:00 Hello", NY, "2026-12-01 07:00", "Hello"),
    ("^at 2026-12-01T09:00+0200 Hello", LONDON, "2026-12-01 07:00", "Hello"),
    ("^at 2026-12-01T09:00+02 Hello", NY, "2026-12-01 07:00", "Hello"),
    ("^at 2026-12-01T09:00-0500 Hello", KOLKATA, "2026-12-01 14:00", "Hello"),
    ("^at 2026-12-01T09:00-05:00 Hello", LONDON, "2026-12-01 14:00", "Hello"),
    ("^at 2026-12-01T09:00+05:30 Hello", NY, "2026-12-01 03:30", "Hello"),
    ("^at 2026-12-01T09:00:00Z Hello", NY, "2026-12-01 09:00", "Hello"),
    ("^at 2026-12-01 09:00Z Hello", NY, "2026-12-01 09:00", "Hello"),  # RFC 3339's space
    ("^at 2026-12-01T09:00Z, Hello", NY, "2026-12-01 09:00", "Hello"),
    ("^at 2026-11-23T13:00-00:01 now-ish", NY, "2026-11-23 13:01", "now-ish"),
    # without a zone it is still wall time in the issuer's zone
    ("^at 2026-12-01T09:00 Hello", NY, "2026-12-01 14:00", "Hello"),
    ("^at 2026-12-01T09:00 Zoe will call", NY, "2026-12-01 14:00", "Zoe will call"),
    ("^at 2026-12-01T09:00 +02:00 is the zone", LONDON, "2026-12-01 09:00", "+02:00 is the zone"),
]


@pytest.mark.parametrize(
    ("line", "zone", "expected", "text"), INSTANTS, ids=[f"{r[0]} {r[1]}" for r in INSTANTS]
)
def test_an_iso_time_with_a_zone_is_that_instant(
    line: str, zone: str, expected: str, text: str
) -> None:
    command = parse_command(line, now=NOW, tz=zone)
    assert isinstance(command, At)
    assert command.send_at == utc(expected)
    assert command.text == text


INSTANTS_REFUSED: list[tuple[str, int, str]] = [
    # (when, column, a phrase of the expectation)
    ("2026-12-01T09:00+24:00", 17, "an offset from -23:59"),
    ("2026-12-01T09:00+02:60", 17, "an offset from -23:59"),
    ("2026-12-01T25:00Z", 1, "YYYY-MM-DDTHH:MM with Z"),
    ("2026-02-30T09:00Z", 1, "YYYY-MM-DDTHH:MM with Z"),
    ("2026-11-23T12:59Z", 1, "a time after now"),  # a minute ago, in any zone
    ("2027-12-01T09:00Z", 1, "a time within a year"),
]


@pytest.mark.parametrize(("text", "column", "expected"), INSTANTS_REFUSED)
def test_an_impossible_or_past_iso_instant_is_refused(
    text: str, column: int, expected: str
) -> None:
    with pytest.raises(CommandError) as caught:
        parse_when(text, now=NOW, tz=KOLKATA)
    assert caught.value.column == column, caught.value.explain()
    assert expected in caught.value.expected, caught.value.explain()
