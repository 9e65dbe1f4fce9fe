"""``<when>`` expressions of ^at: read them (when.lark), then resolve them to UTC.

Reading and resolving are separate so that what was understood can be told apart from
when it falls: ``read_when`` needs only the text, ``resolve_when`` needs ``now`` and the
issuer's time zone. Rules where people disagree (fixed here, listed in ^help at):

- a bare time is today, and refused once it has passed (``3pm`` at 4pm), not moved
  to tomorrow: the person meant something, and a guess a day off is worse than a
  question;
- a weekday is the nearest one, today included; ``next monday`` is the nearest one
  after today; a date without a year is the nearest one from today on;
- ``midnight`` is the end of the day it names (``tomorrow midnight`` is the night
  between tomorrow and the day after);
- ``in``/``+`` hours and minutes are elapsed time, days and weeks are calendar days at
  the same wall-clock time (``+1d`` across a DST change is still 9am);
- a wall time that does not exist (a DST gap) moves forward by the gap, 02:30 -> 03:30,
  and one that happens twice (a DST fold) is the first of the two;
- a time more than a year ahead is refused as a likely typo;
- an ISO 8601 time with ``Z`` or an offset (``2026-12-01T09:00Z``, ``...+02:00``,
  ``...-0500``) is that instant, whatever the issuer's zone (RFC 3339 section 5.6).
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
import re
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from lark import Lark, Token, Transformer, UnexpectedCharacters, UnexpectedInput, v_args
from lark.exceptions import UnexpectedToken
from lark.parsers.lalr_interactive_parser import InteractiveParser

from grammar.errors import Refusal

MAX_AHEAD = timedelta(days=366)

WHEN_EXAMPLES = "3pm, tomorrow 9am, monday 10:00, dec 1 9am, 2026-12-01 09:00, in 20 min or +3d"


@dataclasses.dataclass(frozen=True, slots=True)
class Clock:
    """A wall-clock time; ``end_of_day`` is midnight at the end of the day named."""

    hour: int
    minute: int
    end_of_day: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class Today:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Tomorrow:
    pass


@dataclasses.dataclass(frozen=True, slots=True)
class Weekday:
    """``index`` 0 is Monday; ``after_today`` is ``next monday``."""

    index: int
    after_today: bool = False


@dataclasses.dataclass(frozen=True, slots=True)
class MonthDay:
    """A date without a year; ``pos`` is where it was written, to point at ``feb 30``."""

    month: int
    day: int
    pos: int = 0


@dataclasses.dataclass(frozen=True, slots=True)
class OnDate:
    day: date


Day = Today | Tomorrow | Weekday | MonthDay | OnDate


@dataclasses.dataclass(frozen=True, slots=True)
class Moment:
    """A wall-clock time on a day; ``day`` None is today."""

    clock: Clock
    day: Day | None = None


@dataclasses.dataclass(frozen=True, slots=True)
class Offset:
    """``days`` are calendar days (weeks included), ``elapsed`` is hours and minutes."""

    days: int = 0
    elapsed: timedelta = timedelta()


@dataclasses.dataclass(frozen=True, slots=True)
class Instant:
    """An ISO 8601 time with a zone (``2026-12-01T09:00Z``, ``...+02:00``): that
    instant in UTC, whatever the issuer's time zone."""

    moment: datetime


When = Moment | Offset | Instant


@dataclasses.dataclass(frozen=True, slots=True)
class WhenMatch:
    """What ``read_when`` found: the expression and where in the text it ends."""

    when: When
    end: int


_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_VOCABULARY = (
    *("today", "tomorrow", "noon", "midnight", "next", "minutes", "hours", "days", "weeks"),
    *("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"),
    *("january", "february", "march", "april", "may", "june", "july", "august"),
    *("september", "october", "november", "december"),
)


def _number(token: Token, limit: int) -> int:
    if len(token) > 6 or int(token) > limit:
        raise Refusal(token.start_pos, f"{token} is too large", expected=f"at most {limit}")
    return int(token)


def _clock_parts(token: Token) -> tuple[int, int]:
    hour, _, minute = str(token).partition(":")
    if len(hour) > 2:
        raise Refusal(token.start_pos, f"{token} is not a time of day", expected="an hour 1-12")
    if minute and int(minute) > 59:
        raise Refusal(token.start_pos, f"{token} has no such minute", expected="minutes 00-59")
    return int(hour), int(minute or 0)


@v_args(inline=True)
class _Understand(Transformer[Token, When]):
    """when.lark's tree -> Moment or Offset, refusing impossible clocks and days."""

    def start(self, when: When, _text: Token | None = None) -> When:
        return when

    def twelve_hour(self, hour_token: Token, ampm: Token) -> Clock:
        hour, minute = _clock_parts(hour_token)
        if not 1 <= hour <= 12:
            raise Refusal(
                hour_token.start_pos,
                f"{hour_token}{ampm} is not a time of day",
                expected="an hour 1-12 before am or pm",
            )
        pm = ampm.lower().startswith("p")
        return Clock(hour % 12 + (12 if pm else 0), minute)

    def twenty_four(self, token: Token) -> Clock:
        hour, minute = _clock_parts(token)
        if hour > 23:
            raise Refusal(token.start_pos, f"{token} is not a time of day", expected="00:00-23:59")
        return Clock(hour, minute)

    def noon(self, _token: Token) -> Clock:
        return Clock(12, 0)

    def midnight(self, _token: Token) -> Clock:
        return Clock(0, 0, end_of_day=True)

    def today(self, _token: Token) -> Day:
        return Today()

    def tomorrow(self, _token: Token) -> Day:
        return Tomorrow()

    def weekday(self, token: Token) -> Day:
        return Weekday(_WEEKDAYS.index(token[:3].lower()))

    def next_weekday(self, token: Token) -> Day:
        return Weekday(_WEEKDAYS.index(token[:3].lower()), after_today=True)

    def month_day(self, month: Token, day: Token) -> Day:
        number = int(re.match(r"\d+", day).group())  # type: ignore[union-attr]
        if not 1 <= number <= 31:
            raise Refusal(day.start_pos, f"{month} {day} is not a date", expected="a day 1-31")
        return MonthDay(_MONTHS.index(month[:3].lower()) + 1, number, month.start_pos or 0)

    def day_month(self, day: Token, month: Token) -> Day:
        return self.month_day(month, day)

    def iso_date(self, token: Token) -> Day:
        try:
            return OnDate(date.fromisoformat(token))
        except ValueError:
            raise Refusal(
                token.start_pos, f"{token} is not a date", expected="a date as YYYY-MM-DD"
            ) from None

    def moment(self, clock: Clock, day: Day | None = None) -> Moment:
        return Moment(clock, day)

    def day_moment(self, day: Day, clock: Clock) -> Moment:
        return Moment(clock, day)

    def iso_moment(self, token: Token) -> Moment:
        day, _, clock = str(token).upper().partition("T")
        on = self.iso_date(Token("ISO_DATE", day, token.start_pos))
        at = self.twenty_four(Token("HHMM", clock, (token.start_pos or 0) + len(day) + 1))
        return Moment(at, on)

    def iso_instant(self, token: Token) -> Instant:
        text = re.sub(r"\s+", "T", str(token).upper())
        if text.endswith("Z"):
            text = text[:-1] + "+00:00"
        zone = re.search(r"[+-](\d{2}):?(\d{2})?$", text)
        assert zone is not None  # the terminal requires one
        hours, minutes = int(zone[1]), int(zone[2] or 0)
        if hours > 23 or minutes > 59:
            raise Refusal(
                (token.start_pos or 0) + zone.start(),
                f"{zone[0]} is not a UTC offset",
                expected="Z or an offset from -23:59 to +23:59, like +02:00 or -0500",
            )
        iso = f"{text[: zone.start()]}{zone[0][0]}{hours:02d}:{minutes:02d}"
        try:
            moment = datetime.fromisoformat(iso)
        except ValueError:
            raise Refusal(
                token.start_pos,
                f"{token} is not a date and time",
                expected="a time as YYYY-MM-DDTHH:MM with Z or an offset, like 2026-12-01T09:00Z",
            ) from None
        return Instant(moment.astimezone(UTC))

    def span(self, amount: Token, unit: Token) -> Offset:
        count = 1 if amount.type == "A_AN" else _number(amount, 999_999)
        kind = unit[0].lower()
        if kind == "w":
            return Offset(days=7 * count)
        if kind == "d":
            return Offset(days=count)
        return Offset(elapsed=timedelta(hours=count) if kind == "h" else timedelta(minutes=count))

    def offset(self, *spans: Offset) -> Offset:
        return Offset(sum(s.days for s in spans), sum((s.elapsed for s in spans), timedelta()))


@functools.cache
def when_parser() -> Lark:
    """The LALR parser of when.lark, built once per process."""
    return Lark.open(
        "when.lark", rel_to=__file__, parser="lalr", cache=True, transformer=_Understand()
    )


_FRIENDLY = {
    "NUMBER": "a time of day like 9am, 15:00 or noon",
    "HHMM": "a time of day like 9am, 15:00 or noon",
    "NOON": "a time of day like 9am, 15:00 or noon",
    "MIDNIGHT": "a time of day like 9am, 15:00 or noon",
    "AMPM": "am or pm",
    "MONTH": "a month",
    "TODAY": "a day like tomorrow, monday or dec 1",
    "TOMORROW": "a day like tomorrow, monday or dec 1",
    "WEEKDAY": "a weekday",
    "UNIT": "a unit: min, hours, days or weeks",
}


def _expected(names: set[str]) -> str:
    phrases = list(dict.fromkeys(phrase for name, phrase in _FRIENDLY.items() if name in names))
    if not phrases:
        return "a time: " + WHEN_EXAMPLES
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " or " + phrases[-1]


def _word_at(text: str, pos: int) -> str:
    match = re.compile(r"\S+").match(text, pos)
    return match.group() if match else ""


def _no_time(text: str, pos: int, names: set[str]) -> Refusal:
    """The refusal for a text that has no when-expression at its start."""
    word = _word_at(text, pos)
    bare = re.sub(r"[^a-z]", "", word.lower())
    close = difflib.get_close_matches(bare, _VOCABULARY, n=1, cutoff=0.75) if bare else []
    suggestion = close[0] if close and close[0] != bare else None
    if pos == 0 or not text[:pos].strip():
        problem = f"{word!r} is not a time" if word else "no time given"
        return Refusal(pos, problem, expected="a time: " + WHEN_EXAMPLES, suggestion=suggestion)
    said = text[:pos].strip()
    after = f", not {word!r}" if word else ""
    return Refusal(
        pos,
        f"{said!r} is not a whole time",
        expected=f"{_expected(names)} after {said!r}{after}",
        suggestion=suggestion,
    )


def read_when(text: str) -> WhenMatch:
    """The longest prefix of ``text`` that is a whole when-expression, understood.

    The parser is fed one token at a time and, wherever the input could end, a copy of
    it is kept: ``tomorrow 9am Are you free?`` ends after ``9am``, and ``9am may I
    call?`` after ``9am`` (``may`` would need a day number). Raises Refusal, with
    offsets into ``text``, when no prefix is a time or the time is impossible
    (``25pm``).
    """
    interactive = when_parser().parse_interactive(text)
    tokens = interactive.lexer_thread.lex(interactive.parser_state)
    complete: list[tuple[int, InteractiveParser]] = []
    end = 0
    failed_at, expected = len(text.rstrip()), set()
    while True:
        try:
            token = next(tokens)
        except StopIteration:
            expected = {name for name in interactive.choices() if name.isupper()}
            break
        except UnexpectedCharacters as error:
            failed_at, expected = error.pos_in_stream or 0, set(error.allowed or ())
            break
        except UnexpectedToken as error:  # the contextual lexer's "not allowed here"
            failed_at, expected = error.token.start_pos or 0, set(error.accepts or error.expected)
            break
        if token.type == "TEXT":  # the text after a whole expression, if it did end
            try:
                interactive.feed_token(token)
            except UnexpectedToken as error:  # LALR's merged lookahead let it through
                failed_at, expected = token.start_pos or 0, set(error.expected)
            else:
                complete.append((end, interactive))
            end = 0
            break
        if end and "$END" in interactive.choices():
            complete.append((end, interactive.copy(deepcopy_values=False)))
        try:
            interactive.feed_token(token)
        except UnexpectedToken as error:
            failed_at, expected = token.start_pos or 0, set(error.accepts or error.expected)
            end = 0  # the parser stopped part-way through a reduction: nothing to keep
            break
        end = token.end_pos or end
    if end and "$END" in interactive.choices():
        complete.append((end, interactive))
    for candidate_end, parser in reversed(complete):
        try:
            return WhenMatch(parser.feed_eof(), candidate_end)
        except UnexpectedInput:  # an LALR lookahead that promised $END too early
            continue
    raise _no_time(text, failed_at, expected)


def _zone(tz: str | ZoneInfo) -> ZoneInfo:
    return tz if isinstance(tz, ZoneInfo) else ZoneInfo(tz)


def describe_local(moment: datetime, tz: str | ZoneInfo) -> str:
    """``Tue 24 Nov 2026 09:00 EST``: how a send time reads to the person who set it."""
    local = moment.astimezone(_zone(tz))
    return f"{local:%a %d %b %Y %H:%M} {local.tzname()}"


def _wall_to_utc(day: date, clock: time, zone: ZoneInfo) -> tuple[datetime, str]:
    """Wall-clock time in ``zone`` -> UTC, and a note when a DST gap moved it."""
    wall = datetime.combine(day, clock)
    moment = wall.replace(tzinfo=zone).astimezone(UTC)  # fold=0: PEP 495's earlier offset
    seen = moment.astimezone(zone).replace(tzinfo=None)
    if seen != wall:
        return moment, f" ({wall:%H:%M} does not exist that day in {zone.key}: clocks go forward)"
    return moment, ""


def _day(day: Day | None, today: date) -> date:
    if day is None or isinstance(day, Today):
        return today
    if isinstance(day, Tomorrow):
        return today + timedelta(days=1)
    if isinstance(day, Weekday):
        ahead = (day.index - today.weekday()) % 7
        return today + timedelta(days=7 if day.after_today and ahead == 0 else ahead)
    if isinstance(day, MonthDay):
        year = today.year + ((day.month, day.day) < (today.month, today.day))
        try:
            return date(year, day.month, day.day)
        except ValueError:
            raise Refusal(
                day.pos,
                f"{date(2000, day.month, 1):%b} {day.day} does not exist in {year}",
                expected="a day of that month",
            ) from None
    return day.day


def resolve_when(when: When, *, now: datetime, tz: str | ZoneInfo, said: str = "") -> datetime:
    """The aware UTC moment ``when`` means at ``now`` for someone in ``tz``.

    Refuses (Refusal at offset 0) a moment not after ``now`` or over a year ahead,
    saying what it was understood as. ``said`` is the text, for those messages.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    zone = _zone(tz)
    local_now = now.astimezone(zone)
    said = said.strip() or "that"
    note = ""
    try:
        if isinstance(when, Instant):
            moment = when.moment  # already an instant: the issuer's zone does not apply
        elif isinstance(when, Offset) and not when.days:
            moment = now.astimezone(UTC) + when.elapsed  # elapsed time: no wall clock
        elif isinstance(when, Offset):
            wall = local_now.replace(tzinfo=None) + timedelta(days=when.days)
            moment, note = _wall_to_utc(wall.date(), wall.time(), zone)
            moment += when.elapsed
        else:
            day = _day(when.day, local_now.date())
            if when.clock.end_of_day:
                day += timedelta(days=1)
            clock = time(when.clock.hour, when.clock.minute)
            moment, note = _wall_to_utc(day, clock, zone)
    except OverflowError:
        raise Refusal(0, f"{said!r} is too far ahead", expected="a time within a year") from None
    if moment <= now:
        understood = describe_local(moment, zone) + note
        raise Refusal(
            0,
            f"{said!r} is {understood}, which has passed (it is {describe_local(now, zone)})",
            expected="a time after now",
            understood=understood,
        )
    if moment - now > MAX_AHEAD:
        understood = describe_local(moment, zone) + note
        raise Refusal(
            0,
            f"{said!r} is {understood}, more than a year ahead",
            expected="a time within a year",
            understood=understood,
        )
    return moment


def parse_when(text: str, *, now: datetime, tz: str | ZoneInfo) -> datetime:
    """The aware UTC moment a whole when-expression means; CommandError if it has none."""
    try:
        found = read_when(text)
        rest = text[found.end :]
        if rest.strip():
            pos = found.end + len(rest) - len(rest.lstrip())
            raise Refusal(pos, f"{_word_at(text, pos)!r} is not part of a time", expected="the end")
        return resolve_when(found.when, now=now, tz=tz, said=text[: found.end])
    except Refusal as refusal:
        raise refusal.at(text) from None
